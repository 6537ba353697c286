"""The request pages (MNT-03, MNT-05): the operators' queue, a request with its thread, a new
request, and the same pages for the client's people in the portal.

Who sees what: ``Request.objects.visible_to(user)`` (an outsider gets 404). The provider's
staff who see a client work on its requests (reply, question, note, assign, resolve, close,
reopen); the client's administrators file requests and write on them; its viewers read. Client
users never see internal notes.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mamori.clients.models import Client
from mamori.core.htmx import wants_partial
from mamori.core.permissions import Rule, may_change
from mamori.desk import services
from mamori.desk.models import (
    ACTIVE_STATES,
    Channel,
    Direction,
    Request,
    RequestAttachment,
    RequestState,
)
from mamori.desk.request_forms import (
    ACTIVE,
    EVERY,
    AssignForm,
    MessageForm,
    PurposeForm,
    QueueFilterForm,
    RequestForm,
)

PAGE_SIZE = 50


def _visible(request: HttpRequest):
    return Request.objects.visible_to(request.user).select_related(
        "client", "contract", "contact", "assignee"
    )


@login_required
def desk_queue(request: HttpRequest) -> HttpResponse:
    """Staff: the queue, what is due first on top, the late ones marked. Client users: their
    organisation's requests, with the way to file a new one."""
    user = request.user
    form = QueueFilterForm(request.GET or None, user=user)
    qs = _visible(request)
    state = ""
    if form.is_valid():
        if form.cleaned_data["client"]:
            qs = qs.filter(client=form.cleaned_data["client"])
        state = form.cleaned_data["state"]
    qs = qs.annotate(next_due=services.next_due_expression())
    if state == EVERY:
        qs = qs.order_by("-received_at", "-pk")
    elif state and state != ACTIVE:
        qs = qs.filter(state=state).order_by("-received_at", "-pk")
    else:
        qs = services.queue(qs)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    services.mark_late(page.object_list)
    client = user.client if user.is_client_user else None
    context = {
        "form": form,
        "page": page,
        "may_ask": client is not None and services.may_ask(user, client),
        **_desk_links(user),
        "late_count": sum(1 for r in page.object_list if r.late),
    }
    template = "desk/_queue_results.html" if wants_partial(request) else "desk/queue.html"
    return render(request, template, context)


def _desk_links(user) -> dict:
    """What the queue's header links to besides the requests, by who may open it: the desk's
    unmatched e-mail (with how many wait), what has gone unanswered for a month, closed days."""
    from mamori.desk import hours_services, mailbox
    from mamori.desk.mail_models import OPEN_OUTCOMES, InboundMail

    may_mail = mailbox.may_assign(user)
    return {
        "may_mail": may_mail,
        "unmatched_mail": (
            InboundMail.objects.filter(outcome__in=OPEN_OUTCOMES).count() if may_mail else 0
        ),
        "may_unanswered": user.is_provider_staff,
        "may_closed_days": hours_services.may_manage_closed_days(user),
    }


def _save_files(req, files, message, user, http_request) -> None:
    for upload in files:
        services.add_attachment(
            req,
            filename=upload.name,
            content=upload.read(),
            content_type=upload.content_type or "application/octet-stream",
            message=message,
            actor=user,
            http_request=http_request,
        )


@login_required
def request_new(request: HttpRequest, code: str) -> HttpResponse:
    """A new request of the client ``code``: filed by its administrator in the portal, or
    entered by an operator (a phone call)."""
    user = request.user
    client = get_object_or_404(Client.objects.visible_to(user), code=code)
    if not services.may_ask(user, client):
        raise PermissionDenied
    staff = user.is_provider_staff
    form = RequestForm(request.POST or None, request.FILES or None, client=client, staff=staff)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                req = services.create_request(
                    client,
                    channel=data["channel"] if staff else Channel.PORTAL,
                    subject=data["subject"],
                    body=data["body"],
                    contract=data.get("contract"),
                    contact=data.get("contact"),
                    requester=data.get("requester") or "",
                    confidential=data["confidential"],
                    actor=user,
                    http_request=request,
                )
                first = req.messages.order_by("at", "pk").first()
                _save_files(req, data["files"], first, user, request)
        except services.DeskError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            messages.success(request, _("Request %(number)s filed.") % {"number": req.number})
            return redirect(req)
    return render(request, "desk/request_new.html", {"client": client, "form": form})


def _thread(req: Request, user):
    thread = req.messages.select_related("user", "contact", "notice").prefetch_related(
        "attachments"
    )
    if not user.is_provider_staff:
        thread = thread.exclude(direction=Direction.NOTE)
    return thread


@login_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    req = get_object_or_404(_visible(request), pk=pk)
    return render(request, "desk/request_detail.html", _detail_context(request, req))


def _detail_context(request: HttpRequest, req: Request, **forms) -> dict:
    user = request.user
    staff = may_change(user, req, Rule.STAFF)
    writes = staff or (
        may_change(user, req, Rule.CLIENT_ADMIN) and req.state != RequestState.CLOSED
    )
    attachments = req.attachments.select_related("message")
    if not user.is_provider_staff:
        attachments = attachments.exclude(message__direction=Direction.NOTE)
    req.next_due = (
        req.first_response_due or req.resolution_due
        if req.first_responded_at is None
        else req.resolution_due
    )
    services.mark_late([req])
    return {
        "req": req,
        "thread": _thread(req, user),
        "attachments": attachments,
        "staff": staff,
        "writes": writes,
        "message_form": forms.get("message_form") or (MessageForm(staff=staff) if writes else None),
        "assign_form": forms.get("assign_form")
        or (AssignForm(req=req, initial={"assignee": req.assignee_id}) if staff else None),
        "active": req.state in ACTIVE_STATES,
    }


@login_required
@require_POST
def request_message(request: HttpRequest, pk: int) -> HttpResponse:
    """A message on the request: the operator's reply, question or note, or the client's."""
    req = get_object_or_404(_visible(request), pk=pk)
    user = request.user
    staff = may_change(user, req, Rule.STAFF)
    if not staff and not may_change(user, req, Rule.CLIENT_ADMIN):
        raise PermissionDenied
    form = MessageForm(request.POST, request.FILES or None, staff=staff)
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                if not staff:
                    message = services.client_reply(req, data["body"], user, http_request=request)
                elif data["kind"] == "note":
                    message = services.add_note(req, data["body"], user, http_request=request)
                else:
                    message = services.reply(
                        req,
                        data["body"],
                        user,
                        is_question=data["kind"] == "question",
                        http_request=request,
                    )
                _save_files(req, data["files"], message, user, request)
        except services.DeskError as error:
            form.add_error("body", str(error))
        else:
            messages.success(request, _("Message added."))
            return redirect(req)
    return render(
        request, "desk/request_detail.html", _detail_context(request, req, message_form=form)
    )


ACTIONS = {
    "resolve": (services.resolve, gettext_lazy("Request resolved.")),
    "close": (services.close, gettext_lazy("Request closed.")),
    "reopen": (services.reopen, gettext_lazy("Request reopened.")),
}


@login_required
@require_POST
def request_action(request: HttpRequest, pk: int) -> HttpResponse:
    """The operators' actions: assign, resolve, close, reopen."""
    req = get_object_or_404(_visible(request), pk=pk)
    if not may_change(request.user, req, Rule.STAFF):
        raise PermissionDenied
    action = request.POST.get("action", "")
    if action == "assign":
        form = AssignForm(request.POST, req=req)
        if not form.is_valid():
            return render(
                request, "desk/request_detail.html", _detail_context(request, req, assign_form=form)
            )
        try:
            services.assign(req, form.cleaned_data["assignee"], request.user, http_request=request)
        except services.DeskError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Assignment saved."))
        return redirect(req)
    if action not in ACTIONS:
        messages.error(request, _("Unknown action."))
        return redirect(req)
    function, done = ACTIONS[action]
    try:
        function(req, request.user, http_request=request)
    except services.DeskError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, str(done))
    return redirect(req)


def _file_response(content: bytes, attachment: RequestAttachment) -> HttpResponse:
    response = HttpResponse(content, content_type=attachment.content_type)
    from urllib.parse import quote

    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(attachment.filename)}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def attachment_download(request: HttpRequest, pk: int) -> HttpResponse:
    """A request's file: its bytes (always as a download, never shown inline), or for a
    confidential one a vault read that states a purpose (VLT-02), audited."""
    from mamori.vault import keys
    from mamori.vault import services as vault

    attachment = get_object_or_404(
        RequestAttachment.objects.visible_to(request.user).select_related(
            "request__client", "secret", "message"
        ),
        pk=pk,
    )
    user = request.user
    if (
        attachment.message_id
        and attachment.message.direction == Direction.NOTE
        and not user.is_provider_staff
    ):
        raise PermissionDenied
    if not attachment.encrypted:
        return _file_response(bytes(attachment.data or b""), attachment)
    may_read = vault.may_reveal(user, attachment.secret)
    form = PurposeForm(request.POST or None)
    if request.method == "POST":
        if not may_read:
            raise PermissionDenied
        if form.is_valid():
            try:
                value = vault.reveal_secret(
                    attachment.secret,
                    actor=user,
                    purpose=form.cleaned_data["purpose"],
                    request=request,
                )
            except ValidationError as error:
                form.add_error(None, error)
            except (vault.VaultError, keys.KeyringError):
                form.add_error(None, _("The file cannot be read. Ask the administrator."))
            else:
                content = value if isinstance(value, bytes) else value.encode()
                return _file_response(content, attachment)
    return render(
        request,
        "desk/attachment.html",
        {"attachment": attachment, "req": attachment.request, "form": form, "may_read": may_read},
    )
