"""Tenancy cases of the software inventory's pages (MNT-01, MNT-07; see tests/web/tenancy.py).
acme's people read its servers' software; provider staff set up, collect and acknowledge."""

from __future__ import annotations

import asyncssh
from django.utils import timezone

from mamori.clients.models import Client
from mamori.inventory.models import Server
from mamori.software.models import AccountEvent, Collection, CollectionSetup
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, PAGE, Case

STAFF = frozenset({"subcontractor", "operator", "provider_admin"})
HOST_KEY = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()


def acme_server() -> Server:
    acme = Client.objects.get(code="acme")
    server = Server.objects.get_or_create(client=acme, name="software-web", kind="vps")[0]
    CollectionSetup.objects.get_or_create(
        server=server,
        defaults={
            # Nothing listens on port 1: a collection fails at once, and is recorded.
            "ssh_host": "127.0.0.1",
            "ssh_port": 1,
            "ssh_username": "root",
            "ssh_host_key": HOST_KEY,
        },
    )
    return server


def acme_account_event() -> AccountEvent:
    server = acme_server()
    collection = Collection.objects.get_or_create(
        server=server, state="ok", defaults={"started_at": timezone.now()}
    )[0]
    return AccountEvent.objects.get_or_create(
        server=server,
        collection=collection,
        subject="account",
        change="added",
        username="mallory",
        defaults={"at": timezone.now()},
    )[0]


def software_rows():
    acme_account_event()  # the objects first: the snapshot is taken before the request
    return [
        list(CollectionSetup.objects.values().order_by("pk")),
        list(Collection.objects.values().order_by("pk")),
        list(AccountEvent.objects.values().order_by("pk")),
    ]


EXEMPT: dict[str, str] = {}

CASES: dict[str, Case] = {
    "software:server": Case(PAGE, lambda s: {"pk": acme_server().pk}, readers=ACME_PEOPLE),
    "software:packages": Case(PAGE, lambda s: {"pk": acme_server().pk}, readers=ACME_PEOPLE),
    "software:setup": Case(
        FORM,
        lambda s: {"pk": acme_server().pk},
        post=lambda s: {
            "enabled": "on",
            "interval_hours": "12",
            "ssh_host": "127.0.0.1",
            "ssh_port": "1",
            "ssh_username": "deploy",
            "ssh_host_key": HOST_KEY,
            "os_release_path": "/etc/os-release",
            "passwd_path": "/etc/passwd",
            "group_path": "/etc/group",
            "sudoers_path": "/etc/sudoers",
            "dpkg_admin_dir": "",
            "wordpress_paths": "/var/www/html",
        },
        readers=STAFF,
        writers=STAFF,
        snapshot=software_rows,
    ),
    "software:collect": Case(
        ACTION,
        lambda s: {"pk": acme_server().pk},
        post=lambda s: {},
        writers=STAFF,
        snapshot=software_rows,
    ),
    "software:account_event_acknowledge": Case(
        ACTION,
        lambda s: {"pk": acme_account_event().pk},
        post=lambda s: {},
        writers=STAFF,
        snapshot=software_rows,
    ),
}
