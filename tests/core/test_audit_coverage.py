"""Every way to change data is audited (ACC-03), generated from the tenancy cases.

For every web URL with a write case (``CASES`` of tests/web/cases_*.py with ``post``) and every
API operation that writes (POST, PUT, PATCH, DELETE), performing it successfully as a writer
appends at least one audit event naming that writer. A new mutating view or route without
``audit.record()`` fails here.
"""

# ruff: noqa: F811 (test arguments name the fixtures imported below)

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Max

from mamori.core.models import AuditEvent
from tests.api import test_tenancy as tenancy
from tests.api.test_tenancy import OPERATIONS, WRITE_METHODS, call, token_of
from tests.web.conftest import fast_password_hashing, scene, test_ca  # noqa: F401
from tests.web.test_import import GOOD, digest_of
from tests.web.test_tenancy import CASES, url_of

# Every database: writing a secret also writes its data key to the vault's keystore.
pytestmark = [pytest.mark.req("ACC-03"), pytest.mark.django_db(databases="__all__")]


def last_sequence() -> int:
    return AuditEvent.objects.aggregate(last=Max("sequence"))["last"] or 0


def import_a_file(http, url: str, scene):
    """The import changes data in two steps: a preview, then applying what was previewed."""
    file = SimpleUploadedFile("acme.yaml", GOOD.encode(), content_type="application/yaml")
    preview = http.post(url, {"file": file})
    return http.post(url, {"action": "apply", "digest": digest_of(preview.content.decode())})


# Cases whose ``post`` data alone changes nothing (the import posts no file).
PERFORM = {"inventory_import": import_a_file}

WEB_WRITES = sorted(name for name, case in CASES.items() if case.post is not None)
API_WRITES = [op for op in OPERATIONS if op[0] in WRITE_METHODS]


def writer_of(name: str) -> str:
    writers = CASES[name].writers
    return "owner" if "owner" in writers else sorted(writers)[0]


@pytest.mark.parametrize("name", WEB_WRITES)
def test_it_audits_every_web_write(name, scene, client, request):
    user = request.getfixturevalue(writer_of(name))
    client.force_login(user)
    url = url_of(name, scene)
    before = last_sequence()  # after the sign-in, which is audited too
    if name in PERFORM:
        response = PERFORM[name](client, url, scene)
    else:
        response = client.post(url, CASES[name].post(scene))
    assert response.status_code in (200, 302)
    new = AuditEvent.objects.filter(sequence__gt=before)
    assert new.filter(actor=user).exists(), f"{name} changed data without an audit event"


def stored_acme_secret(scene) -> int:
    """A secret of acme with a value: the tenancy tests' secret is metadata only, which cannot
    be revealed."""
    from mamori.vault import services
    from mamori.vault.models import SecretKind

    secret = services.store_secret(
        scene.acme, kind=SecretKind.SERVER_LOGIN, name="audited", value="s3cret", actor=None
    )
    return secret.pk


def registered_acme_account(scene, request) -> int:
    """An ACME account of acme at a real CA (Pebble): registering one needs the CA to answer."""
    from mamori.lifecycle.models import AcmeAccount

    pebble = request.getfixturevalue("pebble")
    account = AcmeAccount.objects.create(
        client=scene.acme,
        name="pebble",
        directory_url=pebble.directory_url,
        ca_bundle=pebble.ca_bundle_pem,
    )
    return account.pk


# Path parameters whose tenancy value cannot be acted on successfully, filled here instead.
WRITE_PARAMETERS = {
    "secret_id": lambda scene, request: stored_acme_secret(scene),
    "account_id": registered_acme_account,
}


def issuer() -> None:
    from mamori.billing.models import IssuerProfile

    IssuerProfile.objects.update_or_create(
        pk=1, defaults={"name": "株式会社まもり", "registration_number": "T1234567890123"}
    )


def waiting_incident(scene, request, monkeypatch) -> None:
    """Ending a wait needs an incident that waits for the client."""
    from mamori.monitoring import incidents
    from tests.web.cases_monitoring_incidents import acme_incident

    incidents.wait_for_client(
        acme_incident(), request.getfixturevalue("operator"), "The client's go-ahead"
    )


def invoice_with_a_line(scene, request, monkeypatch) -> None:
    """A credit note corrects lines: the tenancy invoice gets one (written as the run does)."""
    from decimal import Decimal

    from mamori.billing.models import InvoiceLine
    from tests.web.cases_payments import acme_invoice

    issuer()
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=acme_invoice(),
                position=1,
                kind="fee",
                quantity=Decimal(1),
                unit_price=Decimal(30000),
                amount=Decimal(30000),
                tax_rate=10,
            )
        ]
    )
    monkeypatch.setitem(tenancy.BODIES, "credit_invoice", lambda s: {"reason": "誤請求の訂正"})


def a_month_to_invoice(scene, request, monkeypatch) -> None:
    """A real run (not the tenancy test's dry run): an issuer and a fee due in the month."""
    import datetime as dt

    from mamori.billing.models import Fee

    issuer()
    contract = scene.acme.contracts.order_by("start").first()
    Fee.objects.create(contract=contract, kind="other", amount=10000, starts_on=dt.date(2026, 5, 1))
    monkeypatch.setitem(tenancy.BODIES, "run_invoices", lambda s: {"month": "2026-05"})


def unanswered_request(scene, request, monkeypatch) -> None:
    """Suspending needs a request whose question has gone unanswered for a month."""
    from tests.web.cases_desk_waits import waits_request

    pk = waits_request().pk
    monkeypatch.setitem(tenancy.PARAMETERS, "request_id", lambda s: pk)


def waiting_request(scene, request, monkeypatch) -> None:
    """Ending a request's wait needs a request that waits for the client."""
    from tests.web.cases_desk_waits import waiting_request as make

    pk = make().pk
    monkeypatch.setitem(tenancy.PARAMETERS, "request_id", lambda s: pk)


def suspended_request(scene, request, monkeypatch) -> None:
    """Resuming needs a suspended request."""
    from tests.web.cases_desk_waits import suspended_request as make

    pk = make().pk
    monkeypatch.setitem(tenancy.PARAMETERS, "request_id", lambda s: pk)


def a_draft_estimate(scene, request, monkeypatch) -> None:
    """Changing and issuing an estimate need a draft (the tenancy estimate is issued)."""
    from tests.web.cases_estimates import acme_draft

    draft = acme_draft().pk
    monkeypatch.setitem(tenancy.PARAMETERS, "estimate_id", lambda s: draft)


# Operations whose tenancy call changes nothing here, made to change something first.
def server_to_collect(scene, request, monkeypatch):
    """A server with a collection setup (nothing listens on its port: the run fails, on
    record)."""
    from tests.web.cases_software import acme_server

    server = acme_server()
    monkeypatch.setitem(tenancy.PARAMETERS, "server_id", lambda s: server.pk)


def a_draft_announcement(scene, request, monkeypatch) -> None:
    """Changing and sending an announcement need a draft (the tenancy one is sent); a draft is
    seen by the provider's administrators and operators only, so they are the ones to try."""
    import sys

    from tests.web.cases_announcements import acme_draft

    draft = acme_draft().pk
    monkeypatch.setitem(tenancy.PARAMETERS, "announcement_id", lambda s: draft)
    monkeypatch.setattr(sys.modules[__name__], "API_WRITERS", ("operator", "provider_admin"))


def site_with_log_setup(scene, request, monkeypatch):
    """A site whose access logs are set up (it has no server: the collection fails, on
    record)."""
    from tests.web.cases_weblogs import acme_site

    site = acme_site()
    monkeypatch.setitem(tenancy.PARAMETERS, "site_id", lambda s: site.pk)


def a_draft_report(scene, request, monkeypatch) -> None:
    """Releasing needs a draft (the tenancy report is sent); a draft is seen by the provider's
    staff only, and released by its administrators and operators."""
    import sys

    from tests.web.cases_reports import acme_draft_report

    draft = acme_draft_report().pk
    monkeypatch.setitem(tenancy.PARAMETERS, "report_id", lambda s: draft)
    monkeypatch.setattr(sys.modules[__name__], "API_WRITERS", ("operator", "provider_admin"))


PREPARE = {
    "release_report": a_draft_report,
    "update_announcement": a_draft_announcement,
    "send_announcement": a_draft_announcement,
    "collect_site_logs": site_with_log_setup,
    "collect_server_software": server_to_collect,
    "suspend_request": unanswered_request,
    "end_request_wait": waiting_request,
    "resume_request": suspended_request,
    "end_incident_wait": waiting_incident,
    "credit_invoice": invoice_with_a_line,
    "run_invoices": a_month_to_invoice,
    "update_estimate": a_draft_estimate,
    "issue_estimate": a_draft_estimate,
}

# Who tries an API write, in this order: the first whose role may do it must be audited.
API_WRITERS = ("owner", "subcontractor", "operator", "provider_admin")


@pytest.mark.parametrize(
    ("method", "path", "operation_id"), API_WRITES, ids=[f"{m} {p}" for m, p, _ in API_WRITES]
)
def test_it_audits_every_api_write(method, path, operation_id, scene, client, request, monkeypatch):
    for name, fill_in in WRITE_PARAMETERS.items():
        if f"{{{name}}}" in path:
            value = fill_in(scene, request)
            monkeypatch.setitem(tenancy.PARAMETERS, name, lambda s, value=value: value)
    if operation_id in PREPARE:
        PREPARE[operation_id](scene, request, monkeypatch)
    for role in API_WRITERS:
        user = request.getfixturevalue(role)
        before = last_sequence()
        response = call(client, method, path, operation_id, scene, token_of(user))
        if response.status_code != 403:
            break
    assert 200 <= response.status_code < 300, response.content
    new = AuditEvent.objects.filter(sequence__gt=before)
    assert new.filter(actor=user).exists(), f"{operation_id} changed data without an audit event"
