"""Run Debian's Pebble (a small ACME test CA) on loopback.

Pebble serves the ACME API over HTTPS with a certificate this module makes with
:class:`mamori.demo.pki.CertificateAuthority` (``ca_bundle_pem`` is the trust for it), resolves
names through the DNS server given (our PowerDNS), and validates HTTP-01 on ``http_port`` of the
name's address. ``PEBBLE_VA_NOSLEEP=1`` and ``PEBBLE_WFE_NONCEREJECT=0`` keep it fast and
deterministic. The management interface gives the roots (``/roots/0``) and the revocation
status of a certificate (``/cert-status-by-serial/<hex>``).

Example::

    with Pebble(tmp_path, dns_server=pdns.dns_address, http_port=8080) as pebble:
        pebble.directory_url, pebble.ca_bundle_pem, pebble.management_url

No pytest in here (the benchmark imports it too).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from tests.support.pdns import free_port

BINARY = "/usr/bin/pebble"


class PebbleError(RuntimeError):
    """Pebble could not be started."""


class Pebble:
    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        dns_server: str | None = None,
        http_port: int | None = None,
        tls_port: int | None = None,
        eab_keys: dict[str, str] | None = None,
        binary: str = BINARY,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        """``eab_keys``: key ID → base64url HMAC key; when given, Pebble requires external
        account binding with one of them."""
        from mamori.demo.pki import CertificateAuthority

        self.directory = Path(directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.dns_server = dns_server
        self.port = free_port()
        self.management_port = free_port()
        self.http_port = http_port or free_port()
        self.tls_port = tls_port or free_port()
        self.eab_keys = dict(eab_keys or {})
        self.extra_env = dict(extra_env or {})
        self._process: subprocess.Popen[bytes] | None = None
        ca = CertificateAuthority.create("Pebble API Test Root")
        served = ca.issue(["localhost", "127.0.0.1"], days=30)
        self.ca_bundle_pem = ca.cert_pem
        (self.directory / "cert.pem").write_text(served.cert_pem)
        (self.directory / "key.pem").write_text(served.key_pem)
        (self.directory / "ca.pem").write_text(self.ca_bundle_pem)

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    @property
    def management_url(self) -> str:
        return f"https://127.0.0.1:{self.management_port}"

    @property
    def ca_bundle_path(self) -> str:
        return str(self.directory / "ca.pem")

    def config(self) -> dict:
        pebble = {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(self.directory / "cert.pem"),
            "privateKey": str(self.directory / "key.pem"),
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": bool(self.eab_keys),
        }
        if self.eab_keys:
            pebble["externalAccountMACKeys"] = self.eab_keys
        return {"pebble": pebble}

    def start(self, timeout: float = 20.0) -> Pebble:
        config = self.directory / "pebble-config.json"
        config.write_text(json.dumps(self.config(), indent=2))
        command = [self.binary, "-config", str(config)]
        if self.dns_server:
            command += ["-dnsserver", self.dns_server]
        env = {
            **os.environ,
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": "0",
            "PEBBLE_AUTHZREUSE": "0",
            **self.extra_env,
        }
        with open(self.directory / "pebble.log", "ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.directory,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                self._process = None
                raise PebbleError(f"pebble exited: {self.log()[-2000:]}")
            try:
                if requests.get(self.directory_url, verify=self.ca_bundle_path, timeout=2).ok:
                    return self
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise PebbleError(f"pebble did not answer in time: {self.log()[-2000:]}")
            time.sleep(0.05)

    def log(self) -> str:
        path = self.directory / "pebble.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def roots_pem(self) -> str:
        """The root of the certificates Pebble issues (changes at every start)."""
        return self._management("/roots/0").text

    def cert_status(self, serial: int) -> dict:
        """Pebble's record of a certificate it issued: ``{"Status": "Valid"|"Revoked", ...}``."""
        return self._management(f"/cert-status-by-serial/{serial:x}").json()

    def _management(self, path: str) -> requests.Response:
        response = requests.get(self.management_url + path, verify=self.ca_bundle_path, timeout=10)
        response.raise_for_status()
        return response

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

    def __enter__(self) -> Pebble:
        return self.start() if self._process is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
