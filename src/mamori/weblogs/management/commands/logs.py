"""``mamori logs import|collect|show``: visitors of managed sites from access logs (MNT-06)."""

from __future__ import annotations

import datetime as dt
import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from mamori.core.management import EXIT_USAGE
from mamori.inventory.models import Site
from mamori.weblogs import geo, parse, services
from mamori.weblogs.models import Dimension, LogSetup


def _refuse(message: str) -> CommandError:
    return CommandError(str(message).replace("\n", " "), returncode=EXIT_USAGE)


def find_site(spec: str) -> Site:
    """A site by ``CLIENT/NAME`` (the client's code and the site's name) or by its id."""
    client, sep, name = spec.partition("/")
    if sep:
        sites = list(Site.objects.filter(client__code=client, name=name)[:2])
    elif spec.isdigit():
        sites = list(Site.objects.filter(pk=int(spec)))
    else:
        sites = []
    if len(sites) > 1:
        raise _refuse(_("Several sites are named %(spec)s: give its id.") % {"spec": spec})
    if not sites:
        raise _refuse(_("No site %(spec)s (give CLIENT/NAME or its id).") % {"spec": spec})
    return sites[0]


def _month(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise _refuse(_("A month is written YYYY-MM, not %(text)s.") % {"text": text}) from None


class Command(BaseCommand):
    help = _("Visitors of managed sites from their access logs: import, collect, show.")

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
        sub.required = True
        imp = sub.add_parser("import", help=_("Count an access log file of a site."))
        imp.add_argument("site", metavar="CLIENT/NAME")
        imp.add_argument("files", nargs="+", metavar="FILE")
        imp.add_argument(
            "--format", default="combined", choices=sorted(parse.FORMATS), dest="log_format"
        )
        collect = sub.add_parser("collect", help=_("Read sites' access logs over SSH now."))
        collect.add_argument("site", nargs="*", metavar="CLIENT/NAME")
        show = sub.add_parser("show", help=_("A site's figures for a month."))
        show.add_argument("site", metavar="CLIENT/NAME")
        show.add_argument("--month", help="YYYY-MM (default: this month)")
        show.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        return getattr(self, f"do_{options['subcommand']}")(options)

    def do_import(self, options) -> None:
        site = find_site(options["site"])
        for path in options["files"]:
            try:
                r = services.import_file(site, path, log_format=options["log_format"])
            except services.WeblogError as exc:
                raise _refuse(str(exc)) from None
            note = f" ({r.skipped})" if r.skipped else ""
            self.stdout.write(
                _("%(file)s: %(lines)d lines, %(rejected)d rejected")
                % {"file": path, "lines": r.lines, "rejected": r.rejected}
                + note
            )

    def do_collect(self, options) -> None:
        if options["site"]:
            sites = [find_site(s) for s in options["site"]]
        else:
            sites = [s.site for s in LogSetup.objects.filter(enabled=True).select_related("site")]
        failed = False
        for site in sites:
            try:
                results = services.collect_site(site)
            except ValidationError:
                raise _refuse(
                    _("%(site)s has no access log setup.") % {"site": site.name}
                ) from None
            except services.Busy as exc:
                raise _refuse(str(exc)) from None
            except services.WeblogError as exc:
                self.stdout.write(f"{site.client.code}/{site.name}: ! {exc}")
                failed = True
                continue
            for r in results:
                note = f" ({r.skipped})" if r.skipped else ""
                self.stdout.write(
                    f"{site.client.code}/{site.name} {r.path}: "
                    + _("%(lines)d lines, %(rejected)d rejected")
                    % {"lines": r.lines, "rejected": r.rejected}
                    + note
                )
        services.close_days()
        if failed:
            raise CommandError(_("A collection failed."), returncode=1)

    def do_show(self, options) -> None:
        site = find_site(options["site"])
        month = _month(options["month"]) if options["month"] else dt.date.today()
        f = services.month_figures(site, month)
        data = {
            "site": f"{site.client.code}/{site.name}",
            "month": f.month.strftime("%Y-%m"),
            "hits": f.hits,
            "page_views": f.page_views,
            "visitors": f.visitors,
            "search_bot_hits": f.search_bot_hits,
            "bot_hits": f.bot_hits,
            "rejected_lines": f.rejected_lines,
            "days": [{**d, "day": d["day"].isoformat()} for d in f.days],
            "top": {k: [list(p) for p in v] for k, v in f.top.items()},
        }
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
            return
        for key in (
            "site",
            "month",
            "hits",
            "page_views",
            "visitors",
            "search_bot_hits",
            "bot_hits",
            "rejected_lines",
        ):
            self.stdout.write(f"{key}: {data[key]}")
        for dimension, rows in data["top"].items():
            self.stdout.write(f"{dimension}:")
            for k, n in rows:
                name = f" {geo.country_name(k)}" if dimension == Dimension.COUNTRY else ""
                self.stdout.write(f"  {n:>8}  {k}{name}")
