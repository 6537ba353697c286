"""Tenancy cases for the audit trail (see tests/web/tenancy.py): its client administrator and
provider administrators read acme's events; acme's other people are refused."""

from mamori.core import audit
from tests.web.tenancy import LIST, PAGE, Case

EXEMPT: dict[str, str] = {}

AUDIT_READERS = frozenset({"owner", "provider_admin"})


def acme_event(s) -> dict:
    """One of acme's audit events (recorded once per scene)."""
    if not hasattr(s, "audit_event"):
        s.audit_event = audit.record(
            "endpoint.update",
            s.problem_endpoint,
            actor_label="test",
            changes={"port": [8443, 443]},
        )
    return {"sequence": s.audit_event.sequence}


CASES: dict[str, Case] = {
    "audit_list": Case(LIST, readers=AUDIT_READERS),
    "audit_detail": Case(PAGE, acme_event, readers=AUDIT_READERS),
}
