"""Template tags of waiting on the client (CT-09, NOT-05) and personal-data incidents (ACC-04):
the request page's waiting part (``desk/parts/wait.html``) and the client page's block."""

from __future__ import annotations

from django import template
from django.utils import timezone

from mamori.clients.models import ClientWait
from mamori.core.permissions import Rule, may_change

register = template.Library()


@register.inclusion_tag("desk/parts/_waits.html", takes_context=True)
def request_waits(context, req):
    """A request's waits on the client, what is unanswered for a month, its suspension and, for
    the provider's staff, the forms to change them."""
    from mamori.desk import wait_views, waits

    user = context.get("user")
    now = timezone.now()
    spans = list(ClientWait.objects.of(req).select_related("started_by", "ended_by"))
    may = may_change(user, req, Rule.STAFF)
    return {
        "req": req,
        "user": user,
        "now": now,
        "spans": spans,
        "open_wait": next((w for w in spans if w.until is None), None),
        "overdue": waits.unanswered_of(req, now),
        "may_change": may,
        "wait_form": wait_views.WaitForm() if may else None,
        "wait_end_form": wait_views.WaitEndForm() if may else None,
        "suspend_form": wait_views.SuspendForm() if may else None,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("desk/parts/_data_incidents.html", takes_context=True)
def data_incidents(context, client):
    """The client page's personal-data incidents: provider staff and the client's
    administrators see them; staff record them."""
    from mamori.desk.models import DataIncident
    from mamori.desk.wait_views import may_read_data_incidents

    user = context.get("user")
    shown = user is not None and may_read_data_incidents(user, client)
    return {
        "client": client,
        "shown": shown,
        "incidents": list(DataIncident.objects.filter(client=client)[:20]) if shown else [],
        "may_record": shown and may_change(user, client, Rule.STAFF),
    }
