"""``mamori advisories SUBCOMMAND``: the vulnerability data and findings (MNT-02).

- ``refresh [ECOSYSTEM …] [--force]``: fetch OSV's dumps (default: MAMORI_ADVISORY_ECOSYSTEMS),
  import what is new, match the servers again;
- ``import PATH``: import OSV records from a zip dump, a JSON file or a directory;
- ``status``: how fresh the data is;
- ``findings [--client C] [--server NAME] [--closed]``: the findings.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.advisories import feeds, matching
from mamori.advisories.models import LEVEL_RANK, Finding
from mamori.core.management import EXIT_PROBLEMS, EXIT_USAGE


def usage(message: str) -> CommandError:
    return CommandError(" ".join(str(message).split()), returncode=EXIT_USAGE)


class Command(BaseCommand):
    help = _("Vulnerability data (OSV records kept locally) and the findings on servers.")

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
        p = sub.add_parser("refresh", help=_("Fetch the OSV dumps and import what is new."))
        p.add_argument("ecosystems", nargs="*", help=_("default: MAMORI_ADVISORY_ECOSYSTEMS"))
        p.add_argument("--force", action="store_true", help=_("download even if unchanged"))
        p = sub.add_parser("import", help=_("Import OSV records from a file or directory."))
        p.add_argument("path")
        sub.add_parser("status", help=_("How fresh the vulnerability data is."))
        p = sub.add_parser("findings", help=_("List the findings."))
        p.add_argument("--client", help=_("client code"))
        p.add_argument("--server", help=_("server name"))
        p.add_argument("--closed", action="store_true", help=_("closed ones too"))

    def handle(self, *args, **options):
        name = options.get("subcommand")
        if name is None:
            raise usage(_("Name a subcommand: mamori advisories --help"))
        return getattr(self, "do_" + name)(options)

    def do_refresh(self, options) -> None:
        ecosystems = options["ecosystems"] or None
        from django.conf import settings

        from mamori.advisories import wordpress

        with_wordpress = bool(settings.MAMORI_WORDPRESS_FEED_URL) and (
            ecosystems is None or wordpress.FEED in ecosystems
        )
        if ecosystems is not None:
            ecosystems = [e for e in ecosystems if e != wordpress.FEED]
        if not with_wordpress and not (ecosystems or settings.MAMORI_ADVISORY_ECOSYSTEMS):
            raise usage(
                _("No ecosystems: name them or set MAMORI_ADVISORY_ECOSYSTEMS (e.g. Debian:12).")
            )
        named_only_wordpress = ecosystems is not None and not ecosystems
        results = {} if named_only_wordpress else feeds.refresh(ecosystems, force=options["force"])
        if with_wordpress:
            try:
                results[wordpress.FEED] = wordpress.refresh(force=options["force"])
            except feeds.FeedError as exc:
                results[wordpress.FEED] = exc
        failed = False
        for ecosystem, result in results.items():
            if isinstance(result, feeds.FeedError):
                failed = True
                self.stdout.write(_("%(e)s: failed: %(why)s") % {"e": ecosystem, "why": result})
            elif result.not_modified:
                self.stdout.write(_("%(e)s: unchanged since the last look") % {"e": ecosystem})
            else:
                self._report(ecosystem, result)
        if any(isinstance(r, feeds.ImportReport) and r.changed for r in results.values()):
            scanned = matching.rescan_all()
            self.stdout.write(_("Servers matched again: %(n)d") % {"n": len(scanned)})
        if failed:
            raise CommandError(
                _("Some ecosystems could not be refreshed."), returncode=EXIT_PROBLEMS
            )

    def _report(self, where: str, report: feeds.ImportReport) -> None:
        self.stdout.write(
            _(
                "%(where)s: %(added)d added, %(updated)d updated, %(unchanged)d unchanged, "
                "%(skipped)d skipped"
            )
            % {"where": where, **report.as_dict()}
        )
        for line in report.skipped[:50]:
            self.stdout.write("  " + _("skipped: %(why)s") % {"why": line})

    def do_import(self, options) -> None:
        try:
            report = feeds.import_path(options["path"])
        except feeds.FeedError as exc:
            raise usage(str(exc)) from None
        self._report(options["path"], report)
        if report.changed:
            matching.rescan_all()
        if report.skipped:
            raise CommandError(
                _("%(n)d records were skipped.") % {"n": len(report.skipped)},
                returncode=EXIT_PROBLEMS,
            )

    def do_status(self, options) -> None:
        age = feeds.data_age()
        now = timezone.now()
        self.stdout.write(_("Advisories kept: %(n)d") % {"n": age["advisories"]})
        if age["newest_record"]:
            days = (now - age["newest_record"]).days
            self.stdout.write(
                _("Newest record: %(at)s (%(days)d days old)")
                % {"at": age["newest_record"].isoformat(timespec="minutes"), "days": days}
            )
        self.stdout.write(
            _("Configured ecosystems: %(e)s") % {"e": ", ".join(age["configured"]) or "-"}
        )
        for feed in age["feeds"]:
            checked = feed.checked_at.isoformat(timespec="minutes") if feed.checked_at else "-"
            line = f"{feed.ecosystem}\t{feed.records}\t{checked}"
            self.stdout.write(line + (f"\t{feed.error}" if feed.error else ""))

    def do_findings(self, options) -> None:
        qs = Finding.objects.select_related("advisory", "server", "server__client")
        if options["client"]:
            qs = qs.filter(server__client__code=options["client"])
        if options["server"]:
            qs = qs.filter(server__name=options["server"])
        if not options["closed"]:
            qs = qs.filter(closed_at__isnull=True)
        rows = sorted(
            qs, key=lambda f: (f.server.client.code, f.server.name, LEVEL_RANK[f.level], f.package)
        )
        for f in rows:
            fix = f.fixed_version if f.official_fix else _("no official fix")
            closed = _("closed")
            state = "" if f.closed_at is None else f"\t{closed} {f.close_reason}"
            self.stdout.write(
                f"{f.server.client.code}\t{f.server.name}\t{f.level}\t{f.advisory.osv_id}\t"
                f"{f.package}\t{f.installed_version}\t{fix}{state}"
            )
        if not rows:
            self.stdout.write(_("No findings."))
