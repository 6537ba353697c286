"""The request page's estimates part (desk/templates/desk/parts/estimates.html): a desk request's
estimates as the reader may see them, and whether they may draft one. In billing, not in desk:
the desk does not import billing (tests/test_layers.py); a template loads this library by name."""

from __future__ import annotations

from django import template

from mamori.billing.estimates import may_estimate
from mamori.billing.models import Estimate

register = template.Library()


@register.simple_tag
def request_estimates(req, user) -> dict:
    """``{"estimates": [...], "may_create": bool}`` for the desk request ``req``."""
    if req is None or user is None or not user.is_authenticated:
        return {"estimates": [], "may_create": False}
    rows = list(Estimate.objects.visible_to(user).filter(request=req).order_by("created_at", "pk"))
    return {"estimates": rows, "may_create": may_estimate(user, req.client_id)}


@register.filter
def reads_estimates(user) -> bool:
    """Whether ``user`` reads estimates (billing.models.reads_estimates): the desk's pages link
    the estimates list only for them."""
    from mamori.billing.models import reads_estimates as reads

    return reads(user)
