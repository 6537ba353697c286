"""What the request page's parts of the scope of work show (``desk/parts/classify.html`` and
``work.html``): ``{% scope_of req user as scope %}``, ``{% work_of req user as log %}``."""

from __future__ import annotations

from django import template

from mamori.desk import classify, work
from mamori.desk.models import CatalogueItem, Scope, WorkLog

register = template.Library()


@register.simple_tag
def scope_of(req, user) -> dict:
    """The proposal with its words, the contract's items, the allowance of the month the
    request counts in, and whether ``user`` decides."""
    items = (
        list(CatalogueItem.objects.filter(contract_id=req.contract_id)) if req.contract_id else []
    )
    month = req.allowance_month or classify.month_of(req.received_at)
    allowances = classify.allowance(req.contract, month) if req.contract_id else []
    by_item = {a.item.pk: a for a in allowances}
    for item in items:
        item.allowance = by_item.get(item.pk)
    current = by_item.get(req.catalogue_item_id)
    return {
        "proposal": classify.propose(req),
        "in_scope": [i for i in items if i.scope == Scope.IN_SCOPE],
        "out_of_scope": [i for i in items if i.scope == Scope.OUT_OF_SCOPE],
        "month": month,
        "current": current,
        "may_classify": classify.may_change(user, req, classify.Rule.STAFF),
    }


@register.simple_tag
def work_of(req, user) -> dict:
    entries = list(WorkLog.objects.filter(request=req).select_related("user", "request__client"))
    for entry in entries:
        entry.editable = work.may_edit_entry(user, entry)
    return {
        "entries": entries,
        "minutes": sum(e.minutes for e in entries),
        "may_log": work.may_log(user, req),
    }
