"""Notices: what was sent to whom, and how it went."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router
from ninja.pagination import paginate

from mamori.api.schemas import Error, NoticeDetailOut, NoticeOut
from mamori.notices.models import Notice

router = Router(tags=["notices"])


def _notices(request: HttpRequest):
    return Notice.objects.visible_to(request.auth).select_related(
        "client", "contact", "certificate"
    )


@router.get("", response=list[NoticeOut], summary="List notices")
@paginate
def list_notices(request: HttpRequest, client: str | None = None, state: str | None = None):
    notices = _notices(request)
    if client:
        notices = notices.filter(client__code=client)
    if state:
        notices = notices.filter(state=state)
    return notices.order_by("-created_at", "-pk")


@router.get("/{notice_id}", response={200: NoticeDetailOut, 404: Error}, summary="Read a notice")
def get_notice(request: HttpRequest, notice_id: int):
    return get_object_or_404(_notices(request), pk=notice_id)
