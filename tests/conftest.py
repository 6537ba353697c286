"""Shared fixtures: two clients and one user of every role, so that each permission test can
use an owner (client admin of ``acme``), a member (viewer of ``acme``) and an outsider (admin of
``globex``)."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.conf import settings as django_settings

from mamori import conf
from mamori.clients.models import Client, Contact, Contract, ContractType
from mamori.core.models import Role, User
from mamori.vault import keys

# Real ACME servers (Pebble, PowerDNS, an nginx webroot), session-scoped, started on first use.
from tests.support.acme_servers import pdns, pebble, sshd, webroot_server  # noqa: F401

PASSWORD = "correct horse battery staple 42"

# The suite's real servers listen on loopback, so every test may connect to loopback, as
# MAMORI_ALLOW_PRIVATE_NETWORKS lets a deployment reach its own networks: the environment for
# the processes tests start (mamori serve, demo, workers), the settings for this one (already
# read by pytest-django). Tests of the address guard set it to [] through the settings fixture.
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"
os.environ["MAMORI_ALLOW_PRIVATE_NETWORKS"] = LOOPBACK_NETWORKS
django_settings.MAMORI_ALLOW_PRIVATE_NETWORKS = conf.env_networks("ALLOW_PRIVATE_NETWORKS")


@pytest.fixture
def acme(db) -> Client:
    client = Client.objects.create(code="acme", name="株式会社アクメ", address="東京都千代田区1-1")
    Contract.objects.create(
        client=client,
        type=ContractType.SSL_MANAGEMENT,
        start=dt.date(2026, 4, 1),
        expiry_notice_days=[60, 30, 14, 7, 1],
    )
    Contact.objects.create(
        client=client,
        name="山田太郎",
        email="yamada@acme.example",
        language="ja",
        notify=["certificates", "incidents"],
    )
    Contact.objects.create(
        client=client,
        name="Jane Smith",
        email="jane@acme.example",
        language="en",
        notify=["certificates"],
    )
    Contact.objects.create(
        client=client,
        name="経理担当",
        email="keiri@acme.example",
        language="ja",
        notify=["contracts"],
    )
    return client


@pytest.fixture
def globex(db) -> Client:
    return Client.objects.create(code="globex", name="Globex 株式会社")


@pytest.fixture
def make_user(db):
    def make(username: str, role: str, client: Client | None = None, assigned=(), **extra) -> User:
        user = User.objects.create_user(
            username=username,
            email=extra.pop("email", f"{username}@provider.example"),
            password=PASSWORD,
            role=role,
            client=client,
            **extra,
        )
        if assigned:
            user.assigned_clients.set(assigned)
        return user

    return make


@pytest.fixture
def provider_admin(make_user) -> User:
    return make_user("padmin", Role.PROVIDER_ADMIN, is_staff=True)


@pytest.fixture
def operator(make_user) -> User:
    return make_user("operator", Role.OPERATOR, language="ja")


@pytest.fixture
def subcontractor(make_user, acme) -> User:
    return make_user("subcon", Role.SUBCONTRACTOR, assigned=[acme])


@pytest.fixture
def owner(make_user, acme) -> User:
    return make_user("owner", Role.CLIENT_ADMIN, client=acme, email="owner@acme.example")


@pytest.fixture
def member(make_user, acme) -> User:
    return make_user("member", Role.CLIENT_VIEWER, client=acme, email="member@acme.example")


@pytest.fixture
def outsider(make_user, globex) -> User:
    return make_user("outsider", Role.CLIENT_ADMIN, client=globex, email="boss@globex.example")


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback, with Django's mail settings pointed at it."""
    from tests.support.smtp import SMTPServer

    server = SMTPServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def deploy_roots(tmp_path_factory, monkeypatch):
    """Local deployment targets and HTTP-01 webroots may write under the suite's own temporary
    directory, nowhere else (MAMORI_DEPLOY_ROOTS, for this process and the Mamori processes a
    test starts); no reload command is allowed unless a test allows it
    (MAMORI_DEPLOY_COMMANDS). Tests of those rules set their own."""
    from django.test import override_settings

    root = str(tmp_path_factory.getbasetemp())
    monkeypatch.setenv("MAMORI_DEPLOY_ROOTS", root)
    monkeypatch.delenv("MAMORI_DEPLOY_COMMANDS", raising=False)
    # Not the ``settings`` fixture: some tests have a parameter of that name.
    with override_settings(MAMORI_DEPLOY_ROOTS=[root], MAMORI_DEPLOY_COMMANDS=[]):
        yield [root]


@pytest.fixture(autouse=True)
def master_keyring(tmp_path, monkeypatch):
    """A fresh vault keyring file for each test, so no test reads or writes a real one."""
    monkeypatch.delenv("MAMORI_MASTER_KEY", raising=False)
    path = tmp_path / "master_key"
    monkeypatch.setenv("MAMORI_MASTER_KEY_FILE", str(path))
    assert keys.create_keyring_file(path)
    return path
