"""Tenancy cases of the retention plan (END-02; see tests/web/tenancy.py): a provider-wide page
for provider administrators and operators; acme's own people and subcontractors get 403."""

from tests.web.tenancy import LIST, Case

EXEMPT: dict[str, str] = {}

CASES: dict[str, Case] = {
    # acme's contract is in force, so the plan has nothing of acme to show.
    "retention_plan": Case(
        LIST, readers=frozenset({"operator", "provider_admin"}), shows_acme=False
    ),
}
