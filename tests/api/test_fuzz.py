"""The API fuzzed from its own OpenAPI document (schemathesis), every operation included.

Each operation gets requests that follow the document (positive) and requests that break it
(negative), generated deterministically from a fixed seed with a fixed number of examples, and
sent through Django's WSGI application (no server, no network). Every answer must be no 5xx, a
status code the document lists for the operation, and a body matching the listed schema; a
request that breaks the document must be refused.

The callers are a provider administrator (sees and may change everything) and acme's client
administrator, with bearer tokens. Deployment targets may only write under a temporary root and
run no command; nothing leaves the machine (connections go to loopback only).
"""

# ruff: noqa: F811 (test arguments name the fixtures imported below)

from __future__ import annotations

import socket
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from mamori.core.tokens import create_token
from mamori.lifecycle import deploy
from tests.vault.conftest import KEYSTORE_DB
from tests.web.cases_lifecycle_acme import acme_account
from tests.web.cases_lifecycle_deploy import acme_deployment
from tests.web.cases_lifecycle_orders import acme_order
from tests.web.cases_lifecycle_tasks import acme_revocation, acme_task
from tests.web.cases_monitoring_checks import acme_check
from tests.web.cases_monitoring_incidents import acme_incident
from tests.web.cases_monitoring_maintenance import acme_window
from tests.web.cases_monitoring_sla import acme_credit
from tests.web.cases_vault import acme_secret

# The page tests' fixtures (a scene of two clients' data); pytest finds them here.
from tests.web.conftest import fast_password_hashing, scene, test_ca  # noqa: F401

pytestmark = KEYSTORE_DB

#: Examples per operation in the fuzzing phase; with the coverage phase's boundary cases this
#: keeps the whole run to a few minutes on two cores.
MAX_EXAMPLES = 25
SEED = 20261205
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def _loopback_only(monkeypatch) -> None:
    """Refuse every connection and name lookup that would leave the machine."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("localhost", "127.0.0.1", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, "fuzz test: no lookups off the machine")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and host not in ("127.0.0.1", "::1")
            and self.family
            in (
                socket.AF_INET,
                socket.AF_INET6,
            )
        ):
            raise ConnectionRefusedError("fuzz test: loopback only")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


def _confine_deployments(monkeypatch, root: Path) -> None:
    """Local deployment targets write under ``root`` only and run no command, whatever the
    fuzzer asks for (the settings do this in the product; this makes sure of it here)."""
    real_write, real_remove = deploy.LocalFiles.write_file, deploy.LocalFiles.remove

    def inside(path: str) -> bool:
        return Path(path).resolve().is_relative_to(root.resolve())

    def write_file(self, path, *args, **kwargs):
        if not inside(path):
            raise deploy.DeploymentError(f"fuzz test: {path} is outside the temporary root")
        return real_write(self, path, *args, **kwargs)

    def remove(self, path):
        if inside(path):
            real_remove(self, path)

    def run(self, command, timeout=deploy.COMMAND_TIMEOUT):
        return -1, "fuzz test: commands are not run"

    monkeypatch.setattr(deploy.LocalFiles, "write_file", write_file)
    monkeypatch.setattr(deploy.LocalFiles, "remove", remove)
    monkeypatch.setattr(deploy.LocalFiles, "run", run)


@pytest.fixture
def keep_test_connection():
    """The fuzzer calls the WSGI application itself, not through Django's test client, so the
    end of each request would close the database connection that holds the test's transaction
    (PostgreSQL then answers "the connection is closed"); as the test client does, keep it."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_scene(scene, settings, tmp_path, monkeypatch, keep_test_connection):
    """acme's objects of every kind (so that small ids hit real rows), a deployment root."""
    settings.MAMORI_DEPLOY_ROOTS = [str(tmp_path)]
    settings.MAMORI_DEPLOY_COMMANDS = []
    _loopback_only(monkeypatch)
    _confine_deployments(monkeypatch, tmp_path)
    acme_order()
    acme_account()
    acme_secret()
    acme_deployment(scene)
    acme_revocation(scene)
    acme_task()
    acme_incident()
    acme_check()
    acme_window()
    acme_credit()
    return scene


def _config():
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                "with-security-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
        }
    )


def _load():
    from mamori.api.api import api
    from mamori.wsgi import application

    schema = schemathesis.openapi.from_dict(api.get_openapi_schema(), config=_config())
    schema.app = application
    return schema


schema = _load()


@pytest.fixture
def admin_headers(fuzz_scene, provider_admin):
    return {"Authorization": f"Bearer {create_token(provider_admin, 'fuzz')[1]}"}


@pytest.fixture
def owner_headers(fuzz_scene, owner):
    return {"Authorization": f"Bearer {create_token(owner, 'fuzz')[1]}"}


# Each test takes function-scoped fixtures (the callers' tokens) and may be slow on 2 cores.
FUZZ_SETTINGS = hypothesis.settings(
    suppress_health_check=[
        hypothesis.HealthCheck.function_scoped_fixture,
        hypothesis.HealthCheck.too_slow,
    ]
)


@schema.parametrize()
@FUZZ_SETTINGS
def test_it_answers_a_provider_administrator_as_documented(case, admin_headers):
    case.call_and_validate(headers=admin_headers, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_it_answers_a_client_administrator_as_documented(case, owner_headers):
    case.call_and_validate(headers=owner_headers, checks=CHECKS)
