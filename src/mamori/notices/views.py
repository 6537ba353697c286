"""The notices sent, and the record of each (NOT-01, NOT-02).

Provider staff see every notice of their clients, internal ones included; client users see only
the notices sent to their own contacts (``Notice.objects.visible_to``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _

from mamori.clients.models import Client
from mamori.core.filters import ALL, with_all
from mamori.core.htmx import wants_partial
from mamori.notices.models import Notice, NoticeKind, NoticeState

PAGE_SIZE = 50


class NoticeFilterForm(forms.Form):
    client = forms.ModelChoiceField(
        label=_("Client"), queryset=Client.objects.none(), to_field_name="code", required=False
    )
    state = forms.ChoiceField(label=_("State"), required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False)

    def __init__(self, *args: Any, user, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Client.objects.visible_to(user)
        self.fields["client"].empty_label = ALL
        self.fields["state"].choices = with_all(NoticeState.choices)
        self.fields["kind"].choices = with_all(NoticeKind.choices)


@login_required
def notice_list(request: HttpRequest) -> HttpResponse:
    form = NoticeFilterForm(request.GET or None, user=request.user)
    notices = Notice.objects.visible_to(request.user).select_related("client", "contact")
    if form.is_valid():
        data = form.cleaned_data
        if data["client"]:
            notices = notices.filter(client=data["client"])
        if data["state"]:
            notices = notices.filter(state=data["state"])
        if data["kind"]:
            notices = notices.filter(kind=data["kind"])
    page = Paginator(notices, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "notices/_list_results.html" if wants_partial(request) else "notices/list.html"
    return render(request, template, {"form": form, "page": page})


@login_required
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(
        Notice.objects.visible_to(request.user).select_related(
            "client", "contact", "endpoint", "certificate", "event"
        ),
        pk=pk,
    )
    return render(request, "notices/detail.html", {"notice": notice})
