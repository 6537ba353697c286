"""``mamori announce SUBCOMMAND``: provider-wide announcements (NOT-04).

- ``create --kind K --date YYYY-MM-DD (--subject-ja T | --subject-ja-file F) (--subject-en …)
  (--body-ja T | --body-ja-file F) (--body-en …) [--contract-type T …] [--terms-profile CODE …]
  [--server CLIENT/NAME …] [--dry-run] --user NAME``: save a draft (with ``--dry-run``: list
  whom it would reach, save nothing);
- ``send ID [--dry-run] --user NAME``: send it (a second send sends nothing); ``--dry-run``
  lists the recipients;
- ``list``; ``show ID`` (the recipients).

A date too early for an affected contract's notice period is refused (exit 2) with the earliest
allowed date.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from mamori.announcements import services
from mamori.announcements.models import Announcement, AnnouncementKind
from mamori.clients.models import ContractType, TermsProfile
from mamori.core.management import EXIT_USAGE, find_user
from mamori.inventory.models import Server


def usage(message: str) -> CommandError:
    return CommandError(" ".join(str(message).split()), returncode=EXIT_USAGE)


def _text(options, name: str) -> str:
    inline, path = options[name], options[f"{name}_file"]
    if inline and path:
        raise usage(_("Give --%(n)s or --%(n)s-file, not both.") % {"n": name.replace("_", "-")})
    if path:
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise usage(
                _("Cannot read %(path)s: %(error)s")
                % {"path": path, "error": exc.strerror or type(exc).__name__}
            ) from None
    return inline or ""


def _one_line(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(
            f"{name}: {' '.join(messages)}" if name != "__all__" else " ".join(messages)
            for name, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = _("Announcements to every affected client: create, send, list, show.")

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
        p = sub.add_parser("create", help=_("Save a draft announcement."))
        p.add_argument("--kind", required=True, choices=AnnouncementKind.values)
        p.add_argument("--date", required=True, help=_("YYYY-MM-DD"))
        for name in ("subject-ja", "subject-en", "body-ja", "body-en"):
            p.add_argument(f"--{name}", default="")
            p.add_argument(f"--{name}-file", default="", help=_("read it from a UTF-8 file"))
        p.add_argument("--contract-type", action="append", default=[], choices=ContractType.values)
        p.add_argument("--terms-profile", action="append", default=[], help=_("a profile code"))
        p.add_argument("--server", action="append", default=[], help=_("CLIENT/NAME"))
        p.add_argument("--dry-run", action="store_true", help=_("list the recipients only"))
        p.add_argument("--user", required=True, help=_("who writes it (a Mamori user)"))
        p = sub.add_parser("send", help=_("Send an announcement."))
        p.add_argument("id", type=int)
        p.add_argument("--dry-run", action="store_true", help=_("list the recipients only"))
        p.add_argument("--user", required=True, help=_("who sends it (a Mamori user)"))
        sub.add_parser("list", help=_("List the announcements."))
        p = sub.add_parser("show", help=_("Show an announcement and its recipients."))
        p.add_argument("id", type=int)

    def handle(self, *args, **options):
        name = options.get("subcommand")
        if name is None:
            raise usage(_("Name a subcommand: mamori announce --help"))
        return getattr(self, f"do_{name}")(options)

    def _announcement(self, pk: int) -> Announcement:
        found = Announcement.objects.filter(pk=pk).first()
        if found is None:
            raise usage(_("No such announcement: %(id)s") % {"id": pk})
        return found

    def _user(self, options):
        user = find_user(options["user"])
        if not services.may_announce(user):
            raise usage(_("Only provider administrators and operators send announcements."))
        return user

    def _recipients(self, preview: services.Preview) -> None:
        for row in preview.rows:
            to = ", ".join(r.label or r.address for r in row.recipients) or "-"
            self.stdout.write(f"{row.client.code}\t{row.earliest.isoformat()}\t{to}")
        self.stdout.write(
            _("%(clients)d clients, %(notices)d notices; earliest allowed date %(earliest)s")
            % {
                "clients": len(preview.rows),
                "notices": preview.notices,
                "earliest": preview.earliest.isoformat(),
            }
        )

    def do_create(self, options) -> None:
        user = self._user(options)
        try:
            day = dt.date.fromisoformat(options["date"])
        except ValueError:
            raise usage(
                _("--date is not a date (YYYY-MM-DD): %(v)s") % {"v": options["date"]}
            ) from None
        profiles = list(TermsProfile.objects.filter(code__in=options["terms_profile"]))
        missing = sorted(set(options["terms_profile"]) - {p.code for p in profiles})
        if missing:
            raise usage(_("No such terms profile: %(codes)s") % {"codes": ", ".join(missing)})
        servers = []
        for spec in options["server"]:
            client_code, _sep, server_name = spec.partition("/")
            server = Server.objects.filter(client__code=client_code, name=server_name).first()
            if server is None:
                raise usage(_("No such server: %(spec)s (CLIENT/NAME)") % {"spec": spec})
            servers.append(server)
        values = {
            "kind": options["kind"],
            "effective_on": day,
            "subject_ja": _text(options, "subject_ja"),
            "subject_en": _text(options, "subject_en"),
            "body_ja": _text(options, "body_ja"),
            "body_en": _text(options, "body_en"),
            "contract_types": options["contract_type"],
            "terms_profiles": profiles,
            "servers": servers,
        }
        if options["dry_run"]:
            preview = services.preview(services.selection_from(values))
            self._recipients(preview)
            if preview.problem:
                raise usage(preview.problem)
            return
        try:
            a = services.create(values, actor=user)
        except ValidationError as exc:
            raise usage(_one_line(exc)) from None
        except PermissionDenied:
            raise usage(
                _("Only provider administrators and operators send announcements.")
            ) from None
        self.stdout.write(_("Draft #%(id)d saved.") % {"id": a.pk})

    def do_send(self, options) -> None:
        user = self._user(options)
        a = self._announcement(options["id"])
        if options["dry_run"]:
            preview = services.preview(a)
            self._recipients(preview)
            if preview.problem:
                raise usage(preview.problem)
            return
        try:
            result = services.send(a, actor=user)
        except ValidationError as exc:
            raise usage(_one_line(exc)) from None
        if result.already_sent:
            self.stdout.write(_("Sent already: nothing more was sent."))
        else:
            self.stdout.write(
                _("Sent to %(clients)d clients: %(notices)d notices queued.")
                % {"clients": result.clients, "notices": result.notices}
            )

    def do_list(self, options) -> None:
        for a in Announcement.objects.all()[:1000]:
            self.stdout.write(
                f"#{a.pk}\t{a.effective_on.isoformat()}\t{a.kind}\t{a.state}\t{a.subject()}"
            )

    def do_show(self, options) -> None:
        a = self._announcement(options["id"])
        self.stdout.write(
            f"#{a.pk}\t{a.effective_on.isoformat()}\t{a.kind}\t{a.state}\n"
            f"ja: {a.subject_ja}\nen: {a.subject_en}"
        )
        self._recipients(services.preview(a))
