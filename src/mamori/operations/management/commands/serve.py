"""``mamori serve``: everything of embedded mode in one command.

Migrates the database, creates the first administrator if there is none, then runs the web UI
(waitress), and the checker and notice sender in a background thread, until Ctrl-C or SIGTERM.
With ``MAMORI_METRICS_LISTEN`` it also answers ``GET /metrics`` on that address, without a
token (docs/metrics.md).
"""

from __future__ import annotations

import getpass
import ipaddress
import secrets
import signal
import sys
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from mamori import conf
from mamori.core.models import Role, User


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"cannot listen on {value!r}: expected host:port, e.g. 127.0.0.1:8000")
    return host.strip("[]") or "127.0.0.1", int(port)


class Command(BaseCommand):
    help = "Run Mamori: web UI, checker and notice sender in one process (embedded mode)."

    def add_arguments(self, parser):
        parser.add_argument("--listen", default=None, help="host:port (default MAMORI_LISTEN)")
        parser.add_argument("--threads", type=int, default=8, help="web server threads")
        parser.add_argument(
            "--no-worker", action="store_true", help="web UI only; run checks elsewhere"
        )

    def handle(self, *args, listen, threads, no_worker, **options):
        from waitress import create_server

        from mamori.operations.runner import run_forever
        from mamori.wsgi import application

        host, port = parse_listen(listen or settings.MAMORI_LISTEN)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("migrate", database="keystore", interactive=False, verbosity=0)
        self.ensure_admin()
        self.ensure_master_key()

        stop = threading.Event()
        worker = None
        if settings.MAMORI_BROKER_URL and not no_worker:
            # Scaled out: the scheduler and the Celery workers do the background work.
            self.stdout.write("MAMORI_BROKER_URL is set: web only (run `mamori scheduler`).")
            no_worker = True
        try:
            server = create_server(
                application, host=host, port=port, threads=threads, ident="Mamori"
            )
        except OSError as e:
            raise CommandError(f"cannot listen on {host}:{port}: {e.strerror}") from e
        metrics_server = self.start_metrics_server(server)
        if not no_worker:
            # Only once the port is ours: the worker starts probe processes, which must not be
            # left half-started by an exit on a taken port.
            worker = threading.Thread(
                target=run_forever, args=(stop,), name="mamori-worker", daemon=True
            )
            worker.start()

        def terminate(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, terminate)
        shown = f"[{host}]" if ":" in host else host
        if not conf.env("BASE_URL"):
            # Links in notices point where this process actually listens.
            settings.BASE_URL = f"http://{shown}:{port}"
        self.stdout.write(
            f"Mamori is running at http://{shown}:{port}/ (data: {settings.DATA_DIR}). "
            "Press Ctrl-C to stop."
        )
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            self.stdout.write("Stopping...")
            server.close()
            if metrics_server is not None:
                metrics_server.close()
            stop.set()
            if worker is not None:
                worker.join(timeout=30)
            self.stdout.write("Stopped.")

    def start_metrics_server(self, web):
        """The metrics of ``MAMORI_METRICS_LISTEN`` in a thread of their own, or None when it is
        not set. Refuses (closing ``web``) an address it cannot listen on."""
        from waitress import create_server

        from mamori.operations.metrics import wsgi_app

        if not settings.MAMORI_METRICS_LISTEN:
            return None
        host, port = parse_listen(settings.MAMORI_METRICS_LISTEN)
        try:
            server = create_server(wsgi_app, host=host, port=port, threads=2, ident="Mamori")
        except OSError as e:
            web.close()
            raise CommandError(f"cannot listen on {host}:{port} for metrics: {e.strerror}") from e
        thread = threading.Thread(target=server.run, name="mamori-metrics", daemon=True)
        thread.start()
        shown = f"[{host}]" if ":" in host else host
        self.stdout.write(f"Metrics for Prometheus at http://{shown}:{port}/metrics (no token).")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and (address.is_unspecified or address.is_global):
            self.stdout.write(
                self.style.WARNING(
                    f"MAMORI_METRICS_LISTEN={settings.MAMORI_METRICS_LISTEN} needs no token: "
                    "make sure only Prometheus can reach it."
                )
            )
        return server

    def ensure_master_key(self) -> None:
        """Create the vault's master keyring on first run (mode 0600), unless one is configured."""
        from mamori.vault import keys

        path = keys.ensure_keyring()
        if path is not None:
            self.stdout.write(self.style.WARNING(keys.created_notice(path)))

    def ensure_admin(self) -> None:
        """Create the first provider administrator, once: prompted on a terminal, else generated
        and printed (the only time the password is shown)."""
        if User.objects.filter(role=Role.PROVIDER_ADMIN).exists():
            return
        username, email, password = "admin", "", ""
        if sys.stdin.isatty():
            self.stdout.write("No administrator yet; let's create one.")
            username = input("User name [admin]: ").strip() or "admin"
            email = input("E-mail (for operator notices): ").strip()
            while True:
                password = getpass.getpass("Password (empty = generate one): ")
                if not password or password == getpass.getpass("Again: "):
                    break
                self.stdout.write("The two passwords differ; try again.")
        generated = not password
        password = password or secrets.token_urlsafe(12)
        # Stored in its one form (mamori.core.usernames): "Admin" is created as "admin".
        username = User.objects.create_superuser(
            username=username, email=email, password=password, role=Role.PROVIDER_ADMIN
        ).get_username()
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"Created the first administrator: user {username!r}, password {password!r}. "
                    "This is shown once; change it after logging in."
                )
            )
        else:
            self.stdout.write(f"Created the administrator {username!r}.")
