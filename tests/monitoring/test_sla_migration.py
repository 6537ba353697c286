"""The migration of issue 16 keeps what a policy's long-outage credit paid (MON-07)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.req("MON-07")]

BEFORE = [("monitoring", "0003_sample_params")]
AFTER = [("monitoring", "0004_sla_contract_rules")]


def test_a_long_outage_credit_becomes_a_one_tier_length_table(acme):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("monitoring", "SlaPolicy")
    tiers = [{"below": 99.9, "credit_percent": 10}]
    old.objects.create(
        client_id=acme.pk,
        name="both",
        monthly_fee=1,
        tiers=tiers,
        long_outage_hours=6,
        long_outage_credit_percent=30,
    )
    old.objects.create(
        client_id=acme.pk,
        name="long only",
        monthly_fee=1,
        long_outage_hours=8,
        long_outage_credit_percent="7.5",
    )
    old.objects.create(client_id=acme.pk, name="tiers only", monthly_fee=1, tiers=tiers)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("monitoring", "SlaPolicy")
    found = {p.name: (p.table, p.length_tiers) for p in new.objects.all()}
    assert found == {
        "both": ("availability", [{"hours": 6, "credit_percent": 30}]),
        "long only": ("outage_length", [{"hours": 8, "credit_percent": 7.5}]),
        "tiers only": ("availability", []),
    }
