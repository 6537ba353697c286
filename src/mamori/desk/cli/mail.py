"""``mamori desk poll``: take the new e-mails of the desk's mailbox (docs/desk-mail.md)."""

from __future__ import annotations

import time

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from mamori.core.management import EXIT_USAGE


def register(subparsers) -> None:
    """Adds ``poll``."""
    parser = subparsers.add_parser(
        "poll",
        help=_("Take the new e-mails of the desk's mailbox (MAMORI_DESK_IMAP_URL)."),
    )
    parser.add_argument("--once", action="store_true", help=_("Poll once and exit."))
    parser.add_argument(
        "--interval",
        type=int,
        default=60,
        help=_("Seconds between two polls without --once (default 60)."),
    )
    parser.set_defaults(handler=poll)


def poll(options, out) -> None:
    from mamori.desk import mailbox

    try:
        config = mailbox.configured()
    except mailbox.MailboxError as e:
        raise CommandError(str(e), returncode=EXIT_USAGE) from None
    if config is None:
        raise CommandError(
            _("MAMORI_DESK_IMAP_URL is not set: there is no desk mailbox to poll."),
            returncode=EXIT_USAGE,
        )
    if options["interval"] < 5:
        raise CommandError(_("--interval must be at least 5 seconds."), returncode=EXIT_USAGE)
    while True:
        try:
            report = mailbox.poll(config)
        except mailbox.MailboxError as e:
            raise CommandError(str(e), returncode=EXIT_USAGE) from None
        _print(report, out)
        if options["once"]:
            return
        time.sleep(options["interval"])


def _print(report, out) -> None:
    if report.busy:
        out.write(_("Another process is polling the mailbox; nothing done."))
        return
    out.write(_("Mailbox: %(name)s") % {"name": report.mailbox})
    for label, value in (
        (_("New requests"), report.requests),
        (_("Replies threaded"), report.replies),
        (_("Unmatched (for an operator)"), report.unmatched),
        (_("Ignored (automatic replies, bounces)"), report.ignored),
        (_("Could not be read"), report.failed),
        (_("Duplicates skipped"), report.duplicates),
    ):
        out.write(f"{label}: {value}")
