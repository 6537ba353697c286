"""A contact's chat channels (NOT-03): list, add, remove, send a test message.

Provider staff who see the client and the client's own administrators manage them
(``may_change`` of a ``ContactChannel``); whoever sees the client sees the channel labels. The
URL or token is write-only: it goes to the vault and is never shown again.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from mamori.clients.models import Contact, NoticeTopic
from mamori.core import outbound
from mamori.core.permissions import may_change
from mamori.notices import channels, services
from mamori.notices.models import CHAT_CHANNELS, Channel, ContactChannel, Notice, NoticeKind

RECENT_TESTS = 10


class ContactChannelForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=[(c.value, c.label) for c in CHAT_CHANNELS])
    label = forms.CharField(
        label=_("Label"),
        max_length=100,
        help_text=_("A name for the channel, e.g. the room or workspace."),
    )
    url = forms.CharField(
        label=_("Webhook URL or API token"),
        max_length=2000,
        widget=forms.PasswordInput(render_value=False),
        help_text=_(
            "Slack, Teams workflow, Discord, LINE or JSON webhook: the URL (e.g. "
            "https://hooks.slack.com/services/…, workflows://…, json://…). Chatwork: the API "
            "token. Stored encrypted in the vault and never shown again."
        ),
    )
    room_id = forms.CharField(
        label=_("Chatwork room id"),
        max_length=20,
        required=False,
        help_text=_("Chatwork only: the number after rid in the room's address."),
    )
    topics = forms.MultipleChoiceField(
        label=_("Receives"),
        choices=NoticeTopic.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    allow_private_address = forms.BooleanField(
        label=_("Allow a private address"),
        help_text=ContactChannel._meta.get_field("allow_private_address").help_text,
        required=False,
    )

    def __init__(self, *args: Any, user=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if not outbound.may_allow_private_address(user):
            # Shown, but read-only: a value posted anyway is ignored for the initial one.
            self.fields["allow_private_address"].disabled = True

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, url = data.get("kind"), (data.get("url") or "").strip()
        if not kind or not url:
            return data
        data["url"] = url
        if kind == Channel.CHATWORK:
            room = (data.get("room_id") or "").strip()
            if not room.isdigit():
                self.add_error("room_id", _("Enter the Chatwork room id (digits)."))
            if any(c.isspace() for c in url) or "://" in url:
                self.add_error("url", _("Enter the Chatwork API token, not a URL."))
        elif channels.apprise_kind(url) != kind:
            label = Channel(kind).label
            self.add_error("url", _("This is not a valid %(kind)s URL.") % {"kind": label})
        else:
            # Whoever adds a channel must not make Mamori call into the provider's network.
            policy = outbound.policy(bool(data.get("allow_private_address")))
            refused = channels.refused_kind(kind, url, policy)
            if refused is not None:
                self.add_error(
                    "url",
                    _(
                        "This URL points at a %(kind)s address. Mamori sends only to public "
                        "addresses, unless the provider's administrators or operators allow a "
                        "private address for this channel."
                    )
                    % {"kind": outbound.kind_label(refused)},
                )
        return data


def _contact(request: HttpRequest, pk: int) -> Contact:
    return get_object_or_404(
        Contact.objects.visible_to(request.user).select_related("client"), pk=pk
    )


def _channel(request: HttpRequest, pk: int) -> ContactChannel:
    channel = get_object_or_404(
        ContactChannel.objects.visible_to(request.user).select_related("contact", "client"), pk=pk
    )
    if not may_change(request.user, channel):
        raise PermissionDenied
    return channel


@login_required
def channel_list(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact(request, pk)
    contact_channels = list(ContactChannel.objects.filter(contact=contact))
    tests = Notice.objects.filter(
        contact_channel__contact=contact, kind=NoticeKind.CHANNEL_TEST
    ).select_related("contact_channel")[:RECENT_TESTS]
    topics = dict(NoticeTopic.choices)
    for channel in contact_channels:
        channel.topic_names = [str(topics.get(t, t)) for t in channel.topics]
    context = {
        "contact": contact,
        "client": contact.client,
        "channels": contact_channels,
        "tests": tests,
        "may_manage": may_change(request.user, contact.client, ContactChannel.change_rule),
    }
    return render(request, "notices/channel_list.html", context)


@login_required
def channel_add(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact(request, pk)
    if not may_change(request.user, contact.client, ContactChannel.change_rule):
        raise PermissionDenied
    form = ContactChannelForm(
        request.POST or None, initial={"topics": list(contact.notify)}, user=request.user
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        channel = services.add_contact_channel(
            contact,
            kind=data["kind"],
            label=data["label"],
            secret=data["url"],
            topics=list(data["topics"]),
            room_id=data["room_id"].strip() if data["kind"] == Channel.CHATWORK else "",
            allow_private_address=data["allow_private_address"],
            actor=request.user,
            request=request,
        )
        messages.success(request, _("Channel %(label)s added.") % {"label": channel.label})
        return redirect("channel_list", pk=contact.pk)
    context = {"form": form, "contact": contact, "client": contact.client}
    return render(request, "notices/channel_form.html", context)


@login_required
def channel_delete(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _channel(request, pk)
    contact = channel.contact
    if request.method == "POST":
        services.remove_contact_channel(channel, actor=request.user, request=request)
        messages.success(request, _("Channel %(label)s removed.") % {"label": channel.label})
        return redirect("channel_list", pk=contact.pk)
    context = {"channel": channel, "contact": contact, "client": channel.client}
    return render(request, "notices/channel_delete.html", context)


@login_required
@require_POST
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _channel(request, pk)
    notice = services.send_test_message(channel, actor=request.user, request=request)
    if notice.sent_at:
        messages.success(request, _("Test message sent to %(label)s.") % {"label": channel.label})
    else:
        messages.error(
            request,
            _("The test message to %(label)s failed: %(error)s")
            % {"label": channel.label, "error": notice.last_error},
        )
    return redirect("channel_list", pk=channel.contact_id)
