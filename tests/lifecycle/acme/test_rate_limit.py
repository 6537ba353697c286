"""A CA's rate limit (CERT-06): recognised, shown with the time the CA gives, and the order waits
for it instead of hammering the CA. Pebble has no rate limits, so a small CA on loopback plays
one that answers every new order with ``rateLimited`` and a Retry-After of one hour."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from mamori.lifecycle import acme as engine
from mamori.lifecycle import orders
from mamori.lifecycle.models import AcmeAccount, Failure, FailureKind, OrderState
from mamori.notices.models import Notice, NoticeKind

pytestmark = [pytest.mark.django_db(databases=["default", "keystore"])]


class RateLimitingCA(BaseHTTPRequestHandler):
    new_orders = 0

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: dict | None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Replay-Nonce", f"nonce-{RateLimitingCA.new_orders}-{status}")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            ctype = "application/problem+json" if status >= 400 else "application/json"
            self.send_header("Content-Type", ctype)
        self.end_headers()
        self.wfile.write(data)

    def do_HEAD(self):
        self._send(200, None)

    def do_GET(self):
        base = f"http://{self.headers['Host']}"
        if self.path == "/directory":
            self._send(
                200,
                {
                    "newNonce": f"{base}/nonce",
                    "newAccount": f"{base}/account",
                    "newOrder": f"{base}/order",
                    "revokeCert": f"{base}/revoke",
                    "keyChange": f"{base}/key-change",
                },
            )
        else:
            self._send(200, None)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        base = f"http://{self.headers['Host']}"
        if self.path == "/account":
            self._send(201, {"status": "valid", "contact": []}, {"Location": f"{base}/account/1"})
        elif self.path == "/order":
            RateLimitingCA.new_orders += 1
            self._send(
                429,
                {
                    "type": "urn:ietf:params:acme:error:rateLimited",
                    "detail": "too many new orders recently: see https://ca.example/rate-limits",
                    "status": 429,
                },
                {"Retry-After": "3600"},
            )
        else:
            self._send(404, {"type": "urn:ietf:params:acme:error:malformed", "status": 404})


@pytest.fixture
def rate_limiting_ca():
    RateLimitingCA.new_orders = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), RateLimitingCA)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/directory"
    server.shutdown()
    server.server_close()


@pytest.mark.req("CERT-06")
def test_a_rate_limit_is_recognised_shown_and_waited_for(
    make_managed, acme, rate_limiting_ca, operator
):
    account = AcmeAccount.objects.create(
        client=acme, name="limited", directory_url=rate_limiting_ca
    )
    managed = make_managed(acme_account=account)
    order = orders.create_order(managed)
    now = timezone.now()

    order = engine.drive_order(order.pk, now=now)

    assert RateLimitingCA.new_orders == 1
    assert order.state == OrderState.NEW  # still open: tried again once the limit has passed
    assert order.error_type == "urn:ietf:params:acme:error:rateLimited"
    assert "too many new orders" in order.error_detail
    # The CA's own Retry-After (an hour), not the first step of the back-off (a minute).
    assert order.rate_limited_until is not None
    assert dt.timedelta(minutes=55) < order.rate_limited_until - now < dt.timedelta(minutes=65)
    assert order.next_attempt_at >= order.rate_limited_until
    failure = Failure.objects.get(kind=FailureKind.RATE_LIMIT)
    assert failure.managed == managed and "too many new orders" in failure.message
    # Not due before the limit passes: the pass leaves the CA alone.
    assert engine.drive_due(now + dt.timedelta(minutes=5)) == 0
    assert RateLimitingCA.new_orders == 1
    # Once due again and refused again: the same failure, counted, still one alert.
    engine.drive_order(order.pk, now=order.next_attempt_at + dt.timedelta(seconds=1))
    assert RateLimitingCA.new_orders == 2
    failure.refresh_from_db()
    assert failure.count == 2
    assert Notice.objects.filter(kind=NoticeKind.LIFECYCLE_FAILURE).count() == 1
