"""When a certificate is renewed (CERT-06): a third of the lifetime left, half for lifetimes
under 10 days; from the CA's renewal information window where it offers one."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from mamori.lifecycle import orders, renewal
from mamori.lifecycle.models import AcmeAccount, ChallengeMethod, IssuerKind, ManagedCertificate

pytestmark = [pytest.mark.django_db(databases=["default", "keystore"]), pytest.mark.req("CERT-06")]


@pytest.mark.parametrize(
    ("lifetime", "renew_after_days"),
    [(6, 3), (47, 47 * 2 / 3), (90, 60), (200, 200 * 2 / 3), (398, 398 * 2 / 3)],
)
def test_it_renews_when_a_third_of_the_lifetime_remains(make_managed, lifetime, renew_after_days):
    managed = make_managed(lifetime_days=lifetime)
    cert = managed.certificate
    renew_at = renewal.schedule(managed)
    managed.refresh_from_db()
    assert managed.renew_at == renew_at
    assert managed.renewal_source == "lifetime"
    expected = cert.not_before + dt.timedelta(days=renew_after_days)
    assert abs((renew_at - expected).total_seconds()) < 1
    # What is left at the renewal time is a third (half under 10 days) of the lifetime.
    share = (cert.not_after - renew_at) / (cert.not_after - cert.not_before)
    assert share == pytest.approx(1 / 2 if lifetime < 10 else 1 / 3, abs=1e-6)


def test_a_short_lifetime_boundary_is_ten_days():
    start = timezone.now()
    assert (
        renewal.lifetime_renew_at(start, start + dt.timedelta(days=9.9))
        == start + dt.timedelta(days=9.9) / 2
    )
    assert (
        renewal.lifetime_renew_at(start, start + dt.timedelta(days=10))
        == start + dt.timedelta(days=10) * 2 / 3
    )


def test_the_pass_schedules_and_keeps_the_schedule_until_a_new_certificate(make_managed):
    managed = make_managed(lifetime_days=90, instruction="standing")
    assert managed.renew_at is None  # a new certificate clears the schedule
    renewal.run_pass()
    managed.refresh_from_db()
    first = managed.renew_at
    assert first is not None and managed.renewal_source == "lifetime"
    renewal.run_pass(timezone.now() + dt.timedelta(days=1))
    managed.refresh_from_db()
    assert managed.renew_at == first
    assert not managed.orders.open().exists()  # not due yet: nothing ordered


@pytest.mark.parametrize("lifetime", [6, 47, 90, 200, 398])
def test_overdue_comes_after_the_renewal_time_and_before_expiry(make_managed, lifetime):
    managed = make_managed(lifetime_days=lifetime)
    renewal.schedule(managed)
    moment = renewal.overdue_at(managed)
    assert managed.renew_at < moment < managed.certificate.not_after
    assert not renewal.is_overdue(managed, managed.renew_at)
    assert renewal.is_overdue(managed, moment)


class _Directory(BaseHTTPRequestHandler):
    """An ACME server's directory, with or without renewalInfo (RFC 9773), and the window it
    suggests for every certificate."""

    offers_ari = True
    window = (dt.datetime(2030, 1, 1, tzinfo=dt.UTC), dt.datetime(2030, 1, 3, tzinfo=dt.UTC))
    asked: list[str] = []

    def log_message(self, *args):
        return None

    def do_GET(self):
        base = f"http://127.0.0.1:{self.server.server_port}"
        if self.path == "/dir":
            body = {"newNonce": f"{base}/nonce", "newAccount": f"{base}/acct"}
            body |= {"newOrder": f"{base}/order", "revokeCert": f"{base}/revoke"}
            if self.offers_ari:
                body["renewalInfo"] = f"{base}/renewal-info"
        elif self.path.startswith("/renewal-info/"):
            type(self).asked.append(self.path)
            start, end = self.window
            body = {
                "suggestedWindow": {
                    "start": start.isoformat().replace("+00:00", "Z"),
                    "end": end.isoformat().replace("+00:00", "Z"),
                }
            }
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Retry-After", "7200")
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def directory():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Directory)
    _Directory.asked = []
    _Directory.offers_ari = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def acme_managed(acme, directory, renewal_ca, lifetime_days=90):
    account = AcmeAccount.objects.create(
        client=acme, name="ca", directory_url=f"http://127.0.0.1:{directory.server_port}/dir"
    )
    issued = renewal_ca.issue(["www.ari.acme.example"], days=lifetime_days)
    return ManagedCertificate.objects.create(
        client=acme,
        name="ari",
        names=["www.ari.acme.example"],
        issuer=IssuerKind.ACME,
        acme_account=account,
        challenge=ChallengeMethod.HTTP_RESPONDER,
        certificate=orders.certificate_from_pem(issued.cert_pem),
    )


def test_it_follows_the_cas_renewal_window_where_offered(acme, directory, renewal_ca):
    managed = acme_managed(acme, directory, renewal_ca)
    renew_at = renewal.schedule(managed)
    managed.refresh_from_db()
    start, end = _Directory.window
    assert managed.renewal_source == "ari"
    assert start <= renew_at <= end and managed.renew_at == renew_at
    assert (managed.ari_window_start, managed.ari_window_end) == (start, end)
    # Retry-After says when to ask again; until then the CA is not asked again.
    assert managed.ari_next_check_at > timezone.now() + dt.timedelta(minutes=119)
    renewal.schedule(managed)
    assert len(_Directory.asked) == 1
    # Once the time has come, it asks again and follows a moved window.
    _Directory.window = (start + dt.timedelta(days=5), end + dt.timedelta(days=5))
    try:
        renewal.schedule(managed, managed.ari_next_check_at + dt.timedelta(seconds=1))
    finally:
        moved, _Directory.window = _Directory.window, (start, end)
    managed.refresh_from_db()
    assert len(_Directory.asked) == 2
    assert moved[0] <= managed.renew_at <= moved[1]


def test_without_renewal_information_it_uses_the_lifetime(acme, directory, renewal_ca):
    _Directory.offers_ari = False
    managed = acme_managed(acme, directory, renewal_ca)
    renew_at = renewal.schedule(managed)
    cert = managed.certificate
    assert managed.renewal_source == "lifetime"
    assert renew_at == renewal.lifetime_renew_at(cert.not_before, cert.not_after)
