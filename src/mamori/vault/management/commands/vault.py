"""``mamori vault``: the master keyring and the keystore, for operators.

``mamori vault status`` shows where the keyring and keystore are and how the data keys stand;
``mamori vault rotate-master-key`` rotates the master key (see mamori.vault.rotation).
"""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from mamori.vault import keys, rotation
from mamori.vault.models import DataKey, Secret
from mamori.vault.router import KEYSTORE


class Command(BaseCommand):
    help = "Vault master key and keystore: status, rotate-master-key."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="Where the keys are, and the state of every data key.")
        rotate = sub.add_parser(
            "rotate-master-key",
            help="Re-wrap every data key under a new master key, then retire the old one. "
            "Safe to interrupt; run it again to finish.",
        )
        rotate.add_argument(
            "--grace",
            type=float,
            default=rotation.DEFAULT_GRACE_SECONDS,
            help="seconds to let running processes see the new key before re-wrapping",
        )

    def handle(self, *args, action: str, **options) -> None:
        try:
            if action == "status":
                self.status()
            else:
                self.rotate(options["grace"])
        except keys.KeyringError as e:
            raise CommandError(str(e)) from e

    def status(self) -> None:
        ring = keys.load(force=True)
        settings = connections[KEYSTORE].settings_dict
        self.stdout.write(f"Master keyring: {ring.source}")
        for number, key in enumerate(ring.keys):
            role = "active" if number == 0 else "old (rotation not finished)"
            self.stdout.write(f"  {key.id}  {role}")
        self.stdout.write(f"Keystore: {settings['ENGINE'].rsplit('.', 1)[-1]} {settings['NAME']}")
        by_master = Counter(DataKey.objects.values_list("master_key_id", flat=True))
        for key_id, count in sorted(by_master.items()):
            known = "" if ring.get(key_id) else "  MISSING FROM THE KEYRING"
            self.stdout.write(f"  {count} data keys wrapped by {key_id}{known}")
        live_refs = set(Secret.objects.live().values_list("key_ref", flat=True))
        stored = set(DataKey.objects.values_list("key_ref", flat=True))
        destroyed = Secret.objects.filter(destroyed_at__isnull=False).count()
        self.stdout.write(f"Secrets: {len(live_refs)} live, {destroyed} destroyed")
        missing = live_refs - stored
        if missing:
            self.stdout.write(
                self.style.ERROR(f"  {len(missing)} live secrets have no data key (unreadable)")
            )
        orphans = stored - live_refs
        if orphans:
            # Left by an interrupted store or value change; they open nothing.
            self.stdout.write(f"  {len(orphans)} data keys belong to no live secret")
        if len(ring.keys) > 1:
            self.stdout.write(
                self.style.WARNING(
                    "A rotation is unfinished: run `mamori vault rotate-master-key`."
                )
            )

    def rotate(self, grace: float) -> None:
        def progress(done: int) -> None:
            if done % 100 == 0:
                self.stdout.write(f"  {done} data keys re-wrapped")

        result = rotation.rotate_master_key(grace_seconds=grace, after_each=progress)
        verb = "Finished the interrupted rotation" if result.resumed else "Rotated the master key"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb}: {result.rewrapped} data keys re-wrapped under {result.new_key_id}; "
                f"retired {', '.join(result.retired_key_ids) or 'nothing'}."
            )
        )
