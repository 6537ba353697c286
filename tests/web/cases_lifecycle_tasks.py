"""Tenancy cases for tasks, revocations, changes of particulars and site seals (see
tests/web/tenancy.py). Lists get one of acme's objects when their URL is first built."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_noop

from mamori.certificates.models import Certificate
from mamori.clients.models import Client
from mamori.core.sentences import Text
from mamori.lifecycle.models import (
    ClientChange,
    IssuerKind,
    Revocation,
    SiteSeal,
    Task,
    TaskKind,
)
from tests.web.cases_lifecycle_orders import acme_manual
from tests.web.tenancy import ACME_EDITORS, ACME_PEOPLE, ACTION, FORM, LIST, PAGE, Case

EXEMPT: dict[str, str] = {}

STAFF = frozenset({"subcontractor", "operator", "provider_admin"})


def acme_task() -> Task:
    acme = Client.objects.get(code="acme")
    task, _ = Task.objects.get_or_create(
        key="test:acme:reissue",
        defaults={
            "client": acme,
            "kind": TaskKind.REISSUE,
            "title": "Re-issue www.acme.example after its revocation",
            # As Mamori opens tasks: the title as a code and parameters (mamori.core.sentences).
            "texts": {
                "title": Text(
                    gettext_noop("Re-issue %(name)s after its revocation"), name="www.acme.example"
                ).to_json()
            },
        },
    )
    return task


def acme_revocation(scene=None) -> Revocation:
    """A pending revocation of the certificate acme's shop serves (made on first use)."""
    acme = Client.objects.get(code="acme")
    cert = Certificate.objects.filter(sightings__endpoint__host="shop.acme.example").first()
    revocation = Revocation.objects.filter(certificate=cert).first()
    if revocation is None:
        revocation = Revocation.objects.create(
            client=acme,
            certificate=cert,
            reason=4,
            requested_by="Jane Smith",
            requested_at=timezone.now(),
            method=IssuerKind.MANUAL,
        )
    return revocation


def acme_seal(scene) -> SiteSeal:
    seal, _ = SiteSeal.objects.get_or_create(
        site=scene.site,
        ca_name="Example Trust",
        defaults={"page_url": "https://www.acme.example/", "marker": "seal.js"},
    )
    return seal


def task_rows() -> list[dict]:
    acme_task()
    return list(Task.objects.values().order_by("pk"))


def revocation_rows() -> list[dict]:
    acme_revocation()
    return list(Revocation.objects.values().order_by("pk"))


def change_rows() -> list[dict]:
    return [
        *ClientChange.objects.values().order_by("pk"),
        *Client.objects.values().order_by("pk"),
    ]


def seal_rows() -> list[dict]:
    return list(SiteSeal.objects.values().order_by("pk"))


def task_kwargs(s) -> dict:
    return {"pk": acme_task().pk}


def listing(make):
    """kwargs for a list URL that first makes one of acme's objects, so the list shows it."""

    def kwargs(s) -> dict:
        make(s)
        return {}

    return kwargs


CASES: dict[str, Case] = {
    "task_list": Case(LIST, listing(lambda s: acme_task()), readers=ACME_PEOPLE),
    "task_detail": Case(PAGE, task_kwargs, readers=ACME_PEOPLE),
    "task_wait": Case(
        ACTION,
        task_kwargs,
        post=lambda s: {"awaiting": "information", "note": "Registry extract"},
        writers=STAFF,
        snapshot=task_rows,
    ),
    "task_resume": Case(ACTION, task_kwargs, post=lambda s: {}, writers=STAFF, snapshot=task_rows),
    "task_close": Case(
        ACTION,
        task_kwargs,
        post=lambda s: {"resolution": "Re-issued"},
        writers=STAFF,
        snapshot=task_rows,
    ),
    "revocation_list": Case(LIST, listing(acme_revocation), readers=ACME_PEOPLE),
    "revocation_request": Case(
        FORM,
        post=lambda s: {
            "certificate": s.expiring_cert.fingerprint_sha256,
            "reason": "4",
            "requested_by": "Jane Smith",
        },
        writers=ACME_EDITORS,
        snapshot=revocation_rows,
    ),
    "revocation_mark": Case(
        ACTION,
        lambda s: {"pk": acme_revocation(s).pk},
        post=lambda s: {"ca_reference": "REV-1"},
        writers=STAFF,
        snapshot=revocation_rows,
    ),
    "key_compromise": Case(
        FORM,
        lambda s: {"pk": acme_manual().pk},
        post=lambda s: {"reported_by": "Security team"},
        writers=ACME_EDITORS,
        snapshot=task_rows,
    ),
    "client_change": Case(
        FORM,
        lambda s: {"code": s.acme.code},
        post=lambda s: {
            "field": "address",
            "new_value": "大阪市北区1-1",
            "effective_on": "2026-12-01",
        },
        writers=STAFF,
        snapshot=change_rows,
    ),
    "seal_list": Case(LIST, listing(acme_seal), readers=ACME_PEOPLE),
    "seal_add": Case(
        FORM,
        post=lambda s: {
            "site": s.site.pk,
            "ca_name": "Example Trust",
            "page_url": "https://new.acme.example/",
            "marker": "seal.js",
        },
        writers=ACME_EDITORS,
        snapshot=seal_rows,
    ),
}
