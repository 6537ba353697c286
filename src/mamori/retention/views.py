"""The retention page (END-02): what is kept after the contract and what is purged when."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from mamori.core.models import ALL_CLIENT_ROLES, User
from mamori.retention import services


def may_read_plan(user: User) -> bool:
    """Provider administrators and operators: the plan covers every client."""
    return user.is_authenticated and (user.is_superuser or user.role in ALL_CLIENT_ROLES)


@login_required
def plan_page(request: HttpRequest) -> HttpResponse:
    if not may_read_plan(request.user):
        raise PermissionDenied
    today = timezone.localdate()
    plans = services.plan(today)
    return render(
        request,
        "retention/plan.html",
        {
            "today": today,
            "ended": [p for p in plans if p.keep_until is not None],
            "others": sum(1 for p in plans if p.keep_until is None),
            "default_years": services.DEFAULT_YEARS,
            "invoice_years": services.INVOICE_STATUTORY_YEARS,
        },
    )
