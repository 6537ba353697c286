"""``mamori demo``: Mamori with demo data and local HTTPS endpoints of its own.

The ``mamori`` entry point gives the demo its own data directory (``$MAMORI_DATA_DIR/demo``,
emptied at each start), so it never touches real data.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from mamori.demo.data import build_sites, create_data, create_lifecycle_data
from mamori.demo.monitoring import create_monitoring_data, create_report_data
from mamori.demo.servers import DemoServers
from mamori.vault import keys


class Command(BaseCommand):
    help = "Start Mamori with demo data and local HTTPS endpoints (loopback only)."

    def add_arguments(self, parser):
        parser.add_argument("--listen", default=None, help="host:port (default MAMORI_LISTEN)")

    def handle(self, *args, listen, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("migrate", database="keystore", interactive=False, verbosity=0)
        keys.create_keyring_file(keys.keyring_file())
        # Notices go to files in the demo directory, not to real people.
        mail_dir = settings.DATA_DIR / "mail"
        settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
        settings.EMAIL_FILE_PATH = str(mail_dir)

        sites, bundle, names = build_sites()
        servers = DemoServers(settings.DATA_DIR / "endpoints")
        ports = servers.start(sites)
        passwords = create_data(ports, names, bundle)
        create_lifecycle_data(sites)
        create_monitoring_data(ports)
        create_report_data()
        self.stdout.write(
            "Demo data created; local HTTPS endpoints on 127.0.0.1 ports "
            + ", ".join(str(p) for p in sorted(ports.values()))
            + ".\n"
            f"Log in as 'admin' (provider) with password {passwords['admin']!r}, "
            f"or as 'sample' (client) with password {passwords['sample']!r}.\n"
            f"Notices are written to {mail_dir} instead of being sent."
        )
        try:
            call_command("serve", listen=listen)
        finally:
            servers.stop()
