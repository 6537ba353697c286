"""Benchmark issuing and renewing certificates by ACME: Mamori against certbot, same run, same CA.

One command::

    python bench/issue_bench.py [--count 100]

It starts, on loopback: PowerDNS (tests/support/pdns.py) with a zone whose names all resolve
to 127.0.0.1, nginx (tests/support/nginx.py) serving one webroot over plain HTTP on the port
where Pebble validates HTTP-01, and Pebble (tests/support/pebble.py, Debian's ``pebble``, with
``PEBBLE_VA_NOSLEEP=1`` and no authorization reuse) as the CA. Then, for K names each:

1. **Mamori**, in this process: a temporary data directory with its own SQLite databases and
   vault keyring, one client, one ACME account (registered before the clock starts), K managed
   certificates (ECDSA P-256, HTTP-01 through the webroot). *Issue*: ``create_order`` for each,
   then ``mamori.lifecycle.acme.drive_due`` until every order is issued. *Renew*: the same again
   (orders of purpose ``renew``: new keys, new certificates).
2. **certbot**, from its own virtualenv (``bench/results/certbot-venv``, created with pip on
   first use; certbot pins its own ``acme``/``josepy``), run once per certificate as a shell
   loop or a provisioning script would: ``certbot certonly --webroot`` for each name (account
   registered before the clock starts), then ``certbot certonly --force-renewal`` for each.

Every certificate of both tools is checked (names, a new serial after renewal). Mamori and
certbot use different names, so neither profits from the other's authorizations. Figures are
printed and written to ``bench/results/issue-latest.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support.*

RESULTS = ROOT / "bench" / "results"
CERTBOT_VENV = RESULTS / "certbot-venv"
ZONE = "issue-bench.example"
CONTACT = "bench@issue-bench.example"
PHASE_TIMEOUT = 3600.0


def log(message: str) -> None:
    print(message, flush=True)


# --- servers ---------------------------------------------------------------------------------


class Servers:
    """PowerDNS + nginx (webroot on Pebble's HTTP-01 port) + Pebble, all on loopback."""

    def __init__(self, workdir: Path) -> None:
        from tests.support.nginx import Nginx, free_port
        from tests.support.pdns import PowerDNS
        from tests.support.pebble import Pebble

        self.pdns = PowerDNS(workdir / "pdns").start()
        self.pdns.create_zone(ZONE, a_records={"*": "127.0.0.1"})
        self.nginx = Nginx(workdir / "nginx")
        self.http_port = self.nginx.add_files(
            "webroot", {"index.html": b"bench\n"}, port=free_port()
        )
        self.webroot = self.nginx.prefix / "http" / "webroot"
        self.nginx.start()
        self.pebble = Pebble(
            workdir / "pebble", dns_server=self.pdns.dns_address, http_port=self.http_port
        ).start()

    def stop(self) -> None:
        for server in (self.pebble, self.nginx, self.pdns):
            try:
                server.stop()
            except Exception as e:  # keep stopping the others
                log(f"  stopping {type(server).__name__}: {e}")


def names_of(pem: bytes) -> tuple[list[str], int]:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(san.get_values_for_type(x509.DNSName)), cert.serial_number


# --- certbot ---------------------------------------------------------------------------------


def ensure_certbot(explicit: str | None) -> Path | None:
    """The certbot executable (creating the virtualenv with pip if needed)."""
    if explicit:
        return Path(explicit)
    certbot = CERTBOT_VENV / "bin" / "certbot"
    if not certbot.exists():
        log("  creating bench/results/certbot-venv with certbot (one-time)…")
        subprocess.run([sys.executable, "-m", "venv", str(CERTBOT_VENV)], check=True)
        install = subprocess.run(
            [str(CERTBOT_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "certbot"],
            capture_output=True,
            check=False,
        )
        if install.returncode != 0:
            log(f"  could not install certbot: {install.stderr.decode()[-500:]}")
            return None
    return certbot


class Certbot:
    def __init__(self, binary: Path, servers: Servers, workdir: Path) -> None:
        self.binary = binary
        self.servers = servers
        self.base = workdir / "certbot"
        self.dirs = {name: self.base / name for name in ("config", "work", "logs")}
        for path in self.dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "REQUESTS_CA_BUNDLE": servers.pebble.ca_bundle_path}

    def _run(self, *args: str) -> None:
        command = [
            str(self.binary),
            *args,
            "--server",
            self.servers.pebble.directory_url,
            "--non-interactive",
            "--agree-tos",
            "-m",
            CONTACT,
            "--config-dir",
            str(self.dirs["config"]),
            "--work-dir",
            str(self.dirs["work"]),
            "--logs-dir",
            str(self.dirs["logs"]),
        ]
        result = subprocess.run(command, env=self.env, capture_output=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"certbot {' '.join(args[:1])} failed: {result.stderr.decode()[-1500:]}"
            )

    def register(self) -> None:
        self._run("register")

    def certonly(self, name: str, *, renew: bool = False) -> None:
        extra = ["--force-renewal"] if renew else []
        self._run(
            "certonly",
            "--webroot",
            "-w",
            str(self.servers.webroot),
            "-d",
            name,
            "--cert-name",
            name,
            "--key-type",
            "ecdsa",
            "--elliptic-curve",
            "secp256r1",
            *extra,
        )

    def served(self, name: str) -> tuple[list[str], int]:
        return names_of((self.dirs["config"] / "live" / name / "cert.pem").read_bytes())


def bench_certbot(certbot: Certbot, names: list[str], *, renew: bool) -> dict:
    before = {name: certbot.served(name)[1] for name in names} if renew else {}
    started = time.perf_counter()
    for name in names:
        certbot.certonly(name, renew=renew)
    seconds = time.perf_counter() - started
    correct = True
    for name in names:
        served, serial = certbot.served(name)
        correct &= served == [name] and (not renew or serial != before[name])
    return {
        "seconds": round(seconds, 2),
        "per_second": round(len(names) / seconds, 2),
        "correct": correct,
    }


# --- Mamori ----------------------------------------------------------------------------------


def setup_mamori(workdir: Path) -> None:
    """A data directory of its own (SQLite, vault keyring), migrated; Django set up."""
    data = workdir / "mamori-data"
    data.mkdir()
    for name in ("MAMORI_DATABASE_URL", "MAMORI_KEYSTORE_URL", "MAMORI_MASTER_KEY"):
        os.environ.pop(name, None)
    os.environ["MAMORI_DATA_DIR"] = str(data)
    os.environ["MAMORI_MASTER_KEY_FILE"] = str(data / "master_key")
    os.environ["DJANGO_SETTINGS_MODULE"] = "mamori.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from mamori.vault import keys

    keys.create_keyring_file(data / "master_key")
    call_command("migrate", verbosity=0)
    call_command("migrate", database="keystore", verbosity=0)


def mamori_certificates(servers: Servers, names: list[str]) -> list:
    """One client, one registered ACME account, a managed certificate per name."""
    from mamori.clients.models import Client
    from mamori.lifecycle import acme
    from mamori.lifecycle.models import AcmeAccount, ManagedCertificate

    client = Client.objects.create(code="bench", name="Bench K.K.")
    account = AcmeAccount.objects.create(
        client=client,
        name="pebble",
        directory_url=servers.pebble.directory_url,
        contact_email=CONTACT,
        ca_bundle=servers.pebble.ca_bundle_pem,
    )
    acme.register_account(account)
    return [
        ManagedCertificate.objects.create(
            client=client,
            name=name,
            names=[name],
            key_type="ec256",
            acme_account=account,
            challenge="http-webroot",
            challenge_settings={"webroot": str(servers.webroot)},
            renewal_instruction="standing",
        )
        for name in names
    ]


def bench_mamori(managed: list, *, renew: bool, workers: int) -> dict:
    from mamori.lifecycle import acme
    from mamori.lifecycle.models import ManagedCertificate, Order, OrderState
    from mamori.lifecycle.orders import create_order

    before = {m.pk: m.certificate_id for m in ManagedCertificate.objects.all()}
    started = time.perf_counter()
    selected = ManagedCertificate.objects.filter(pk__in=[m.pk for m in managed])
    orders = [create_order(m).pk for m in selected]
    deadline = time.monotonic() + PHASE_TIMEOUT
    while True:
        acme.drive_due(workers=workers)
        open_states = [s for s in OrderState.values if s not in ("issued", "failed", "canceled")]
        if not Order.objects.filter(pk__in=orders, state__in=open_states).exists():
            break
        if time.monotonic() > deadline:
            raise RuntimeError("Mamori's orders did not finish in time")
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    states = dict(Order.objects.filter(pk__in=orders).values_list("pk", "state"))
    failed = [pk for pk, state in states.items() if state != "issued"]
    if failed:
        errors = Order.objects.filter(pk__in=failed[:3]).values_list("error_detail", flat=True)
        log(f"  {len(failed)} orders not issued, e.g. {list(errors)}")
    correct = not failed
    for m in ManagedCertificate.objects.select_related("certificate"):
        if m.certificate is None:
            correct = False
            continue
        served, _serial = names_of(m.certificate.pem.encode())
        correct &= served == sorted(m.names) and (not renew or m.certificate_id != before[m.pk])
    return {
        "seconds": round(seconds, 2),
        "per_second": round(len(orders) / seconds, 2),
        "correct": correct,
    }


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100, help="certificates per tool (K)")
    parser.add_argument(
        "--workers", type=int, default=8, help="orders Mamori drives at a time (drive_due)"
    )
    parser.add_argument("--certbot", help="certbot executable to use instead of the venv's")
    parser.add_argument("--no-certbot", action="store_true", help="skip certbot")
    args = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="mamori-issue-bench-"))
    os.chmod(workdir, 0o755)  # nginx's worker reads the webroot below it
    report: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {platform.platform()}",
        "count": args.count,
        "workers": args.workers,
    }
    certbot_binary = None if args.no_certbot else ensure_certbot(args.certbot)
    if certbot_binary is not None:
        version = subprocess.run([str(certbot_binary), "--version"], capture_output=True)
        report["certbot_version"] = version.stdout.decode().strip()
    log("Setting up Mamori, PowerDNS, nginx and Pebble…")
    setup_mamori(workdir)
    servers = Servers(workdir)
    try:
        mamori_names = [f"m{i:05d}.{ZONE}" for i in range(args.count)]
        certbot_names = [f"c{i:05d}.{ZONE}" for i in range(args.count)]
        managed = mamori_certificates(servers, mamori_names)
        log(f"mamori: issue {args.count}…")
        report["mamori_issue"] = bench_mamori(managed, renew=False, workers=args.workers)
        log(f"  {report['mamori_issue']}")
        log(f"mamori: renew {args.count}…")
        report["mamori_renew"] = bench_mamori(managed, renew=True, workers=args.workers)
        log(f"  {report['mamori_renew']}")
        if certbot_binary is not None:
            certbot = Certbot(certbot_binary, servers, workdir)
            certbot.register()
            log(f"certbot: issue {args.count} (one run per certificate)…")
            report["certbot_issue"] = bench_certbot(certbot, certbot_names, renew=False)
            log(f"  {report['certbot_issue']}")
            log(f"certbot: renew {args.count} (one run per certificate)…")
            report["certbot_renew"] = bench_certbot(certbot, certbot_names, renew=True)
            log(f"  {report['certbot_renew']}")
    finally:
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    log("")
    log(f"{'phase':<10}{'tool':<10}{'certs/s':>10}{'seconds':>10}{'correct':>9}")
    for phase in ("issue", "renew"):
        for tool in ("mamori", "certbot"):
            entry = report.get(f"{tool}_{phase}")
            if entry:
                row = f"{phase:<10}{tool:<10}{entry['per_second']:>10}{entry['seconds']:>10}"
                log(f"{row}{entry['correct']!s:>9}")
    for phase in ("issue", "renew", "total"):
        if "certbot_issue" not in report:
            break
        if phase == "total":
            mamori = report["mamori_issue"]["seconds"] + report["mamori_renew"]["seconds"]
            certbot = report["certbot_issue"]["seconds"] + report["certbot_renew"]["seconds"]
        else:
            mamori = report[f"mamori_{phase}"]["seconds"]
            certbot = report[f"certbot_{phase}"]["seconds"]
        ratio = certbot / mamori
        report[f"ratio_{phase}"] = round(ratio, 1)
        log(f"certbot / mamori ({phase}): {ratio:.1f}×")
    (RESULTS / "issue-latest.json").write_text(json.dumps(report, indent=2) + "\n")
    ok = all(v["correct"] for k, v in report.items() if isinstance(v, dict) and "correct" in v)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
