"""The real servers of the lifecycle tests, for every test that needs them: PowerDNS (the test
names resolve to 127.0.0.1 through it), nginx serving a webroot on the port where Pebble
validates HTTP-01, Pebble itself, and an sshd on loopback (deployment and HTTP-01 over SSH).
Session-scoped: started once, on first use (tests/conftest.py)."""

from __future__ import annotations

import itertools

import pytest

from tests.support.env import require_binary
from tests.support.nginx import Nginx, find_nginx, free_port
from tests.support.pdns import BINARY as PDNS_BINARY
from tests.support.pdns import PowerDNS
from tests.support.pebble import BINARY as PEBBLE_BINARY
from tests.support.pebble import Pebble
from tests.support.sshd import Sshd

ZONE = "acme-tests.example"
_names = itertools.count(1)


def unique_name(prefix: str = "www") -> str:
    """A fresh name in the test zone (Pebble may reuse authorizations of a name otherwise)."""
    return f"{prefix}{next(_names)}.{ZONE}"


@pytest.fixture(scope="session")
def pdns(tmp_path_factory):
    require_binary("pdns_server", PDNS_BINARY)
    server = PowerDNS(tmp_path_factory.mktemp("pdns")).start()
    server.create_zone(ZONE, a_records={"*": "127.0.0.1"})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def webroot_server(tmp_path_factory):
    """nginx serving ``webroot`` over plain HTTP (Pebble's HTTP-01 port)."""
    require_binary("nginx", find_nginx() or "/usr/sbin/nginx")
    server = Nginx(tmp_path_factory.mktemp("nginx"))
    port = server.add_files("webroot", {"index.html": b"webroot\n"}, port=free_port())
    server.start()
    server.webroot = server.prefix / "http" / "webroot"
    server.http_port = port
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pebble(tmp_path_factory, pdns, webroot_server):
    require_binary("pebble", PEBBLE_BINARY)
    server = Pebble(
        tmp_path_factory.mktemp("pebble"),
        dns_server=pdns.dns_address,
        http_port=webroot_server.http_port,
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    require_binary("sshd", "/usr/sbin/sshd")
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()
