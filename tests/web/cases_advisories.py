"""Tenancy cases of the vulnerability and update pages (MNT-02; see tests/web/tenancy.py).
acme's objects are made on first use: a finding on its server, an update record."""

from __future__ import annotations

from django.utils import timezone

from mamori.advisories.models import Advisory, Finding, UpdateRecord
from mamori.inventory.models import Server
from tests.web.tenancy import ACME_PEOPLE, LIST, PAGE, Case

EXEMPT: dict[str, str] = {}

# Updates are the provider's work: its staff who see acme record them; acme reads them.
STAFF = frozenset({"subcontractor", "operator", "provider_admin"})


def acme_server() -> Server:
    return Server.objects.get(client__code="acme", name="web01")


def acme_finding(scene=None) -> dict:
    """Lists show acme through its finding and its update (made here, once)."""
    server = acme_server()
    now = timezone.now()
    advisory, _ = Advisory.objects.get_or_create(
        osv_id="DSA-9901-1",
        defaults={"level": "high", "modified": now, "imported_at": now, "summary": "openssl"},
    )
    Finding.objects.get_or_create(
        server=server,
        advisory=advisory,
        ecosystem="Debian:12",
        package="openssl",
        defaults={"installed_version": "3.0.11-1~deb12u2", "level": "high", "opened_at": now},
    )
    acme_update()
    return {}


def acme_update() -> UpdateRecord:
    server = acme_server()
    return UpdateRecord.objects.get_or_create(
        client=server.client,
        server=server,
        package="openssl",
        defaults={
            "kind": "urgent",
            "performed_at": timezone.now(),
            "performed_by_label": "operator",
            "reason": "acme.example の緊急対応",
            "notify_client": False,
        },
    )[0]


def update_rows():
    return [list(UpdateRecord.objects.values().order_by("pk"))]


CASES: dict[str, Case] = {
    "advisory_overview": Case(LIST, acme_finding, readers=ACME_PEOPLE),
    "advisory_server": Case(
        PAGE,
        lambda s: {"pk": s.server.pk},
        post=lambda s: {
            "package": "nginx",
            "kind": "urgent",
            "method": "manual",
            "notify_client": "",
        },
        readers=ACME_PEOPLE,
        writers=STAFF,
        snapshot=update_rows,
    ),
    "advisory_updates": Case(LIST, acme_finding, readers=ACME_PEOPLE),
    "advisory_update": Case(PAGE, lambda s: {"pk": acme_update().pk}, readers=ACME_PEOPLE),
}
