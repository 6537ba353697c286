"""Mamori's own HTTP-01 responder validated by Pebble against a live Mamori server, an order
resumed after its worker was killed with SIGKILL, renewal information (RFC 9773) and external
account binding (CERT-06)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from mamori.lifecycle import acme as engine
from mamori.lifecycle import orders
from mamori.lifecycle.models import AcmeAccount, ChallengeState, Order, OrderState
from tests.lifecycle.acme.conftest import unique_name
from tests.support.pebble import Pebble
from tests.vault.process import env_for, prepare, python

DB = ["default", "keystore"]


@pytest.fixture
def responder_pebble(tmp_path, pdns, live_server):
    # The CA asks for http://<name>:<port>/.well-known/... with the site's name as Host, which is
    # not in ALLOWED_HOSTS: the responder middleware answers it anyway.
    port = int(live_server.url.rsplit(":", 1)[1])
    server = Pebble(tmp_path / "pebble", dns_server=pdns.dns_address, http_port=port).start()
    yield server
    server.stop()


@pytest.mark.req("CERT-06")
@pytest.mark.django_db(transaction=True, databases=DB)
def test_responder_answers_pebble(acme, responder_pebble, make_managed, client, live_server):
    account = AcmeAccount.objects.create(
        client=acme,
        name="responder",
        directory_url=responder_pebble.directory_url,
        ca_bundle=responder_pebble.ca_bundle_pem,
    )
    managed = make_managed(challenge="http-responder", acme_account=account, name="resp")
    order = engine.drive_order(orders.create_order(managed).pk)
    assert order.state == OrderState.ISSUED, order.error_detail
    challenge = order.challenges.get()
    assert challenge.state == ChallengeState.VALID
    # Once the order is closed, the responder no longer answers for its token.
    response = client.get(f"/.well-known/acme-challenge/{challenge.token}")
    assert response.status_code == 404
    assert client.get("/.well-known/acme-challenge/unknown-token").status_code == 404


@pytest.mark.django_db(databases=DB)
def test_responder_serves_only_open_presented_challenges(make_managed, client):
    from mamori.lifecycle.models import Challenge

    managed = make_managed(challenge="http-responder")
    order = orders.create_order(managed)
    row = Challenge.objects.create(
        order=order,
        identifier=managed.names[0],
        authorization_url="https://ca.example/authz/1",
        challenge_type="http-01",
        token="tok-EN_123",
        validation="tok-EN_123.thumbprint",
    )
    url = "/.well-known/acme-challenge/tok-EN_123"
    assert client.get(url).status_code == 404  # not presented yet
    row.state = ChallengeState.PRESENTED
    row.save()
    response = client.get(url)
    assert response.status_code == 200
    # Whatever Host the forwarding site sends (not one of Mamori's ALLOWED_HOSTS).
    assert client.get(url, HTTP_HOST="www.client-site.example").content == response.content
    assert response.content == b"tok-EN_123.thumbprint"
    assert response["Content-Type"].startswith("text/plain")
    Order.objects.filter(pk=order.pk).update(state=OrderState.FAILED)
    assert client.get(url).status_code == 404


# --- kill -9 in the middle of an order -----------------------------------------------------------

DRIVER = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
import django
django.setup()
from mamori.lifecycle import acme, solvers

# Stop for good once the challenges are presented, so the parent can SIGKILL us there.
original = solvers.WebrootSolver.present
def present(self, rows):
    original(self, rows)
    from mamori.lifecycle.models import Challenge, ChallengeState
    from django.utils import timezone
    for row in rows:
        Challenge.objects.filter(pk=row.pk).update(
            state=ChallengeState.PRESENTED, location=row.location
        )
    print("PRESENTED", flush=True)
    import time
    time.sleep(600)
solvers.WebrootSolver.present = present
acme.drive_order(int(sys.argv[1]))
"""


SETUP = """
from mamori.clients.models import Client
from mamori.lifecycle import orders
from mamori.lifecycle.models import AcmeAccount, ManagedCertificate
client = Client.objects.get(code="acme")
account = AcmeAccount.objects.create(
    client=client, name=%(account)r, directory_url=%(directory)r, ca_bundle=%(bundle)r
)
managed = ManagedCertificate.objects.create(
    client=client, name=%(name)r, names=[%(name)r], acme_account=account,
    challenge="http-webroot", challenge_settings={"webroot": %(webroot)r},
)
print(orders.create_order(managed).pk)
"""

RESUME = """
import json
from mamori.lifecycle import acme
from mamori.lifecycle.models import Order
order = Order.objects.get(pk=%(pk)d)
before = {"state": order.state, "order_url": order.order_url,
          "challenges": list(order.challenges.values_list("state", flat=True))}
Order.objects.filter(pk=order.pk).update(lease_until=None)  # the dead worker's lease
order = acme.drive_order(order.pk)
print(json.dumps({"before": before, "state": order.state, "order_url": order.order_url,
                  "orders": Order.objects.filter(managed=order.managed).count(),
                  "challenges": order.challenges.count(), "error": order.error_detail}))
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A migrated data directory on files, shared by the tests that need several processes or
    threads on one database (the in-memory test database is neither)."""
    return prepare(tmp_path_factory.mktemp("data"))


@pytest.mark.req("CERT-06")
def test_kill_9_mid_order_resumes_the_same_order(tmp_path, data_dir, pebble, webroot_server):
    setup = SETUP % {
        "account": "killed",
        "directory": pebble.directory_url,
        "bundle": pebble.ca_bundle_pem,
        "name": unique_name("killed"),
        "webroot": str(webroot_server.webroot),
    }
    order_pk = int(python(data_dir, setup).stdout.strip().splitlines()[-1])
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER))
    child = subprocess.Popen(
        [sys.executable, str(script), str(order_pk)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env_for(data_dir),
    )
    try:
        line = child.stdout.readline()
        assert "PRESENTED" in line, line + child.stdout.read()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    result = json.loads(python(data_dir, RESUME % {"pk": order_pk}).stdout.strip().splitlines()[-1])
    assert result["before"]["state"] == OrderState.PLACED
    assert result["before"]["order_url"]
    assert result["before"]["challenges"] == [ChallengeState.PRESENTED]
    assert result["state"] == OrderState.ISSUED, result["error"]
    assert result["order_url"] == result["before"]["order_url"]  # the same order at the CA
    assert result["orders"] == 1
    assert result["challenges"] == 1


PARALLEL = """
import json, time
from mamori.lifecycle import acme
from mamori.lifecycle.models import Order
ids = %(ids)r
started = time.monotonic()
driven = acme.drive_due(workers=4)
print(json.dumps({"driven": driven, "again": acme.drive_due(),
                  "seconds": time.monotonic() - started,
                  "states": sorted(set(Order.objects.filter(pk__in=ids)
                                       .values_list("state", flat=True)))}))
"""


SETUP_MANY = """
import json
from mamori.clients.models import Client
from mamori.lifecycle import orders
from mamori.lifecycle.models import AcmeAccount, ManagedCertificate
client = Client.objects.get(code="acme")
accounts = [
    AcmeAccount.objects.create(
        client=client, name=f"parallel{i}", directory_url=%(directory)r, ca_bundle=%(bundle)r
    )
    for i in range(2)
]
ids = []
for i, name in enumerate(%(names)r):
    managed = ManagedCertificate.objects.create(
        client=client, name=name, names=[name], acme_account=accounts[i %% 2],
        challenge="http-webroot", challenge_settings={"webroot": %(webroot)r},
    )
    ids.append(orders.create_order(managed).pk)
print(json.dumps(ids))
"""


@pytest.mark.req("CERT-06")
def test_drive_due_issues_several_in_parallel(data_dir, pebble, webroot_server):
    setup = SETUP_MANY % {
        "directory": pebble.directory_url,
        "bundle": pebble.ca_bundle_pem,
        "names": [unique_name("parallel") for _ in range(8)],
        "webroot": str(webroot_server.webroot),
    }
    ids = json.loads(python(data_dir, setup).stdout.strip().splitlines()[-1])
    output = python(data_dir, PARALLEL % {"ids": ids}).stdout.strip().splitlines()[-1]
    result = json.loads(output)
    assert result["driven"] == 8
    assert result["states"] == [OrderState.ISSUED]
    assert result["again"] == 0
