"""``mamori offboard CLIENT``: list, return and destroy what Mamori holds for a client."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mamori.clients import offboarding
from mamori.clients.models import Client
from mamori.core.management import EXIT_USAGE, find_user


class Command(BaseCommand):
    help = (
        "List what Mamori holds for a client (END-01); with options, export its secrets and "
        "keys for return, destroy them, or write the certificate of destruction."
    )

    def add_arguments(self, parser):
        parser.add_argument("client", help="client code")
        parser.add_argument("--json", action="store_true", help="list as JSON")
        parser.add_argument("--export", metavar="FILE", help="write the encrypted archive here")
        parser.add_argument(
            "--passphrase-file", metavar="FILE", help="file holding the archive's passphrase"
        )
        parser.add_argument("--destroy", action="store_true", help="destroy all secrets and keys")
        parser.add_argument("--reason", default="", help="why they are destroyed")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        parser.add_argument("--certificate", metavar="FILE", help="write the certificate (HTML)")
        parser.add_argument("--language", choices=["ja", "en"], default="ja")
        parser.add_argument("--user", help="act as this user (audited as them)")

    def handle(self, *args, **o):
        try:
            client = Client.objects.get(code=o["client"])
        except Client.DoesNotExist:
            raise CommandError(f"No such client: {o['client']}", returncode=EXIT_USAGE) from None
        actor = find_user(o["user"])
        try:
            if o["export"]:
                self.export(client, o, actor)
            if o["destroy"]:
                self.destroy(client, o, actor)
            if o["certificate"]:
                html = offboarding.destruction_certificate(client, language=o["language"])
                Path(o["certificate"]).write_text(html, encoding="utf-8")
                self.stdout.write(f"Certificate of destruction written to {o['certificate']}.")
        except offboarding.OffboardingError as e:
            raise CommandError(str(e), returncode=EXIT_USAGE) from e
        if not (o["export"] or o["destroy"] or o["certificate"]):
            self.list(client, as_json=o["json"])

    def list(self, client: Client, *, as_json: bool) -> None:
        sections = offboarding.holdings(client)
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "client": client.code,
                        "holdings": [
                            {
                                "key": s.key,
                                "title": s.title,
                                "count": s.count,
                                "items": s.items,
                                "disposition": s.disposition,
                            }
                            for s in sections
                        ],
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
            return
        self.stdout.write(f"{client.name} ({client.code})")
        for s in sections:
            self.stdout.write(
                f"\n{s.title}: {s.count}" + (f"  — {s.disposition}" if s.disposition else "")
            )
            for item in s.items[:50]:
                self.stdout.write(f"  - {item}")
            if len(s.items) > 50:
                self.stdout.write(f"  … and {len(s.items) - 50} more")

    def export(self, client: Client, o: dict, actor) -> None:
        if not o["passphrase_file"]:
            raise CommandError(
                "--export needs --passphrase-file (the passphrase never goes on the command line)",
                returncode=EXIT_USAGE,
            )
        try:
            passphrase = Path(o["passphrase_file"]).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise CommandError(
                f"cannot read {o['passphrase_file']}: {e.strerror}", returncode=EXIT_USAGE
            ) from e
        data = offboarding.export_for_return(client, passphrase, actor=actor)
        target = Path(o["export"])
        target.touch(mode=0o600)
        target.write_bytes(data)
        self.stdout.write(f"Encrypted archive written to {target} ({len(data)} bytes).")

    def destroy(self, client: Client, o: dict, actor) -> None:
        if not o["yes"]:
            if not sys.stdin.isatty():
                raise CommandError(
                    "--destroy cannot be undone: add --yes, or run it on a terminal to confirm",
                    returncode=EXIT_USAGE,
                )
            answer = input(f"Destroy every secret and key of {client.name}? Type {client.code}: ")
            if answer.strip() != client.code:
                raise CommandError("Not confirmed; nothing was destroyed.", returncode=EXIT_USAGE)
        records = offboarding.destroy_all(client, actor=actor, reason=o["reason"])
        self.stdout.write(f"Destroyed {len(records)} secret(s) and key(s) of {client.code}.")
