"""Tenancy cases for the SLA pages (see tests/web/tenancy.py). Provider administrators and
operators compute, finalize and edit; whoever sees acme reads its figures."""

from __future__ import annotations

from decimal import Decimal

from mamori.clients.models import Client
from mamori.monitoring import sla
from mamori.monitoring.models import SlaCredit, SlaPolicy
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, LIST, Case

EXEMPT: dict[str, str] = {}

MANAGERS = frozenset({"operator", "provider_admin"})


def acme_policy() -> SlaPolicy:
    policy, _ = SlaPolicy.objects.get_or_create(
        client=Client.objects.get(code="acme"),
        name="運用支援サービス SLA",
        defaults={
            "monthly_fee": Decimal(50000),
            "tiers": [{"below": 99.9, "credit_percent": 10}],
        },
    )
    return policy


def acme_credit() -> SlaCredit:
    """Last month of acme's policy, computed (no incidents: it can be finalized)."""
    policy, month = acme_policy(), sla.previous_month()
    existing = SlaCredit.objects.filter(policy=policy, month=month).first()
    return existing or sla.compute_month(policy, month)


def last_month() -> str:
    return f"{sla.previous_month():%Y-%m}"


def policy_rows() -> list[dict]:
    acme_policy()
    return list(SlaPolicy.objects.values().order_by("pk"))


def credit_rows() -> list[dict]:
    acme_policy()
    return list(SlaCredit.objects.values().order_by("pk"))


def computed_credit_rows() -> list[dict]:
    acme_credit()
    return credit_rows()


def policy_form(s) -> dict:
    return {
        "name": "Acme SLA 2",
        "monthly_fee": "80000",
        "currency": "JPY",
        "target_percent": "99.9",
        "tiers_text": "99.9 10\n99.0 25",
        "long_outage_hours": "6",
        "table": "availability",
        "length_tiers_text": "",
    }


def table_kwargs(s) -> dict:
    acme_policy()
    return {}


CASES: dict[str, Case] = {
    "sla_table": Case(LIST, table_kwargs, readers=ACME_PEOPLE),
    "sla_compute": Case(
        ACTION,
        lambda s: {"pk": acme_policy().pk},
        post=lambda s: {"month": last_month()},
        writers=MANAGERS,
        snapshot=credit_rows,
    ),
    "sla_finalize": Case(
        ACTION,
        lambda s: {"pk": acme_credit().pk},
        post=lambda s: {},
        writers=MANAGERS,
        snapshot=computed_credit_rows,
    ),
    "sla_policy_add": Case(
        FORM,
        lambda s: {"code": "acme"},
        post=policy_form,
        writers=MANAGERS,
        snapshot=policy_rows,
    ),
    "sla_policy_edit": Case(
        FORM,
        lambda s: {"pk": acme_policy().pk},
        post=policy_form,
        writers=MANAGERS,
        snapshot=policy_rows,
    ),
}
