"""Run a real PowerDNS authoritative server (Debian ``pdns-server`` + ``pdns-backend-sqlite3``)
on loopback for ACME tests: Pebble resolves the test names through it (HTTP-01 lands on
127.0.0.1) and DNS-01 records are written to it through its HTTP API (dns-lexicon's
``powerdns`` provider).

Example::

    with PowerDNS(tmp_path) as pdns:
        pdns.create_zone("acme-tests.example", a_records={"*": "127.0.0.1"})
        pdns.dns_address            # "127.0.0.1:<port>": for Pebble's -dnsserver and dnspython
        pdns.api_url, pdns.api_key  # for dns-lexicon

No pytest in here (the benchmark imports it too).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import requests

BINARY = "/usr/sbin/pdns_server"
SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")


class PowerDNSError(RuntimeError):
    """PowerDNS could not be started or configured."""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free for both TCP and UDP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise PowerDNSError("no free port found")


class PowerDNS:
    """A private pdns_server with a fresh sqlite database in ``directory``."""

    def __init__(self, directory: str | os.PathLike[str], *, binary: str = BINARY) -> None:
        self.directory = Path(directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.port = free_port()
        self.api_port = free_port()
        self.api_key = secrets.token_urlsafe(24)
        self.database = self.directory / "pdns.sqlite3"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def dns_address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The HTTP API root (what dns-lexicon's ``pdns_server`` option wants)."""
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, timeout: float = 15.0) -> PowerDNS:
        if not SCHEMA.is_file():
            raise PowerDNSError(f"{SCHEMA} is missing (install pdns-backend-sqlite3)")
        if self.database.exists():
            self.database.unlink()
        with sqlite3.connect(self.database) as db:
            db.executescript(SCHEMA.read_text())
        command = [
            self.binary,
            "--no-config",
            "--daemon=no",
            "--guardian=no",
            "--disable-syslog",
            "--write-pid=no",
            f"--socket-dir={self.directory}",
            "--launch=gsqlite3",
            f"--gsqlite3-database={self.database}",
            "--local-address=127.0.0.1",
            f"--local-port={self.port}",
            "--api=yes",
            f"--api-key={self.api_key}",
            "--webserver=yes",
            "--webserver-address=127.0.0.1",
            f"--webserver-port={self.api_port}",
            "--webserver-allow-from=127.0.0.0/8",
            "--cache-ttl=0",
            "--negquery-cache-ttl=0",
            "--query-cache-ttl=0",
            "--zone-cache-refresh-interval=0",
            "--loglevel=3",
        ]
        with open(self.directory / "pdns.log", "ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                output = (self.directory / "pdns.log").read_text(errors="replace")
                self._process = None
                raise PowerDNSError(f"pdns_server exited: {output[-2000:]}")
            try:
                response = self._api("GET", "/api/v1/servers/localhost")
                if response.ok:
                    return self
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise PowerDNSError("pdns_server did not answer in time")
            time.sleep(0.05)

    def _api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method,
            self.api_url + path,
            headers={"X-API-Key": self.api_key},
            timeout=10,
            **kwargs,
        )

    def create_zone(self, zone: str, *, a_records: dict[str, str] | None = None) -> None:
        """Create a native zone ``zone`` with an SOA and NS, and A records (relative name →
        address; ``"@"`` is the apex, ``"*"`` a wildcard)."""
        zone = zone.rstrip(".") + "."
        response = self._api(
            "POST",
            "/api/v1/servers/localhost/zones",
            json={"name": zone, "kind": "Native", "nameservers": [f"ns1.{zone}"]},
        )
        if response.status_code not in (201, 409):
            raise PowerDNSError(f"creating {zone}: {response.status_code} {response.text}")
        records = {"ns1": "127.0.0.1", **(a_records or {})}
        for name, address in records.items():
            self.set_record(zone, name, "A", [address])

    def set_record(self, zone: str, name: str, rtype: str, contents: list[str], ttl=60) -> None:
        zone = zone.rstrip(".") + "."
        fqdn = zone if name == "@" else f"{name}.{zone}"
        response = self._api(
            "PATCH",
            f"/api/v1/servers/localhost/zones/{zone}",
            json={
                "rrsets": [
                    {
                        "name": fqdn,
                        "type": rtype,
                        "ttl": ttl,
                        "changetype": "REPLACE",
                        "records": [{"content": c, "disabled": False} for c in contents],
                    }
                ]
            },
        )
        if response.status_code != 204:
            raise PowerDNSError(f"setting {fqdn} {rtype}: {response.status_code} {response.text}")

    def records(self, zone: str, rtype: str | None = None) -> list[tuple[str, str, str]]:
        """(name, type, content) of every record in ``zone`` (of ``rtype``)."""
        zone = zone.rstrip(".") + "."
        response = self._api("GET", f"/api/v1/servers/localhost/zones/{zone}")
        response.raise_for_status()
        return [
            (rrset["name"], rrset["type"], record["content"])
            for rrset in response.json()["rrsets"]
            for record in rrset["records"]
            if rtype is None or rrset["type"] == rtype
        ]

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=timeout)

    def __enter__(self) -> PowerDNS:
        return self.start() if self._process is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
