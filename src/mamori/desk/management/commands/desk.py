"""``mamori desk SUBCOMMAND …``: the work desk from the command line (MNT-03..05, CT-09,
NOT-05, ACC-04). The subcommands live in :mod:`mamori.desk.cli`, one module per part."""

from __future__ import annotations

import importlib

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from mamori.core.management import EXIT_USAGE
from mamori.desk.cli import MODULES


class Command(BaseCommand):
    help = _(
        "The work desk: client requests, their scope and work, support hours, the desk's "
        "mailbox, waiting on the client."
    )

    def add_arguments(self, parser) -> None:
        subparsers = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
        subparsers.required = True
        for name in MODULES:
            importlib.import_module(name).register(subparsers)

    def handle(self, *args, **options):
        handler = options.get("handler")
        if handler is None:
            raise CommandError(_("Name a subcommand: mamori desk --help"), returncode=EXIT_USAGE)
        handler(options, self.stdout)
