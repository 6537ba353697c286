"""Visitors of managed sites from their access logs (MNT-06).

Whoever sees a site reads its month's figures; provider staff set up where its access logs are
and collect them now. Every write goes through :mod:`mamori.weblogs.services` and is audited.
Log files are also sent as the raw body of ``POST /sites/{site_id}/visitors/logs`` (plain or
gzip), as on the site's page and with ``mamori logs import``.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema

from mamori.api.errors import conflict, invalid, invalid_from, problem, query_problem
from mamori.api.schemas import Error, Input
from mamori.core.permissions import require_change
from mamori.inventory.models import Site
from mamori.weblogs import parse, services
from mamori.weblogs.models import LogSetup

router = Router(tags=["visitors"])


class WeblogSetupOut(Schema):
    site: int
    enabled: bool
    paths: list[str]
    log_format: str
    interval_hours: int
    next_collection_at: dt.datetime | None
    last_collected_at: dt.datetime | None
    last_error_code: str = Field(
        ...,
        description="Why the last collection failed (no_login, no_host_key, ssh); "
        "empty: it did not.",
    )
    last_error: str = Field(..., description="The SSH library's words of an ssh error.")

    @staticmethod
    def resolve_site(obj) -> int:
        return obj.site_id

    @staticmethod
    def resolve_paths(obj) -> list[str]:
        return obj.path_list()


class WeblogSetupIn(Input):
    enabled: bool = True
    paths: list[str] = Field(
        ...,
        min_length=1,
        max_length=20,
        description="Absolute paths on the site's server, shell patterns allowed "
        "(e.g. /var/log/nginx/example.access.log*).",
    )
    log_format: str = Field("combined", description="combined or vhost_combined")
    interval_hours: int = Field(6, ge=1, le=744)


class DayOut(Schema):
    day: dt.date
    hits: int
    page_views: int
    visitors: int
    bot_hits: int


class CountOut(Schema):
    key: str
    count: int


class MonthOut(Schema):
    site: int
    client: str = Field(..., description="The site's client's code.")
    month: str = Field(..., description="YYYY-MM")
    hits: int
    page_views: int
    visitors: int = Field(..., description="Each day's distinct visitors, summed over the days.")
    search_bot_hits: int
    bot_hits: int
    rejected_lines: int = Field(..., description="Lines of the site's logs never read (all time).")
    days: list[DayOut]
    pages: list[CountOut]
    statuses: list[CountOut]
    referrers: list[CountOut]
    search_bots: list[CountOut]
    bots: list[CountOut]
    countries: list[CountOut] = Field(
        ...,
        description="New visitors of each day by country, ISO 3166 code (-- unknown); empty "
        "unless MAMORI_GEOIP_DATABASE is set.",
    )


class FileReadOut(Schema):
    path: str
    lines: int
    rejected: int
    skipped: str


class CollectOut(Schema):
    files: list[FileReadOut]
    error: str = Field("", description="Why the collection failed (empty when it did not).")


class MonthQuery(Schema):
    month: str | None = Field(None, description="YYYY-MM; default: this month")


def _site(request: HttpRequest, site_id: int) -> Site:
    return get_object_or_404(
        Site.objects.visible_to(request.auth).select_related("client"), pk=site_id
    )


def _pairs(rows) -> list[dict]:
    return [{"key": k, "count": n} for k, n in rows]


@router.get(
    "/sites/{site_id}/visitors",
    response={200: MonthOut, 404: Error, 422: Error},
    summary="A site's visitors, page views, top pages, status codes, referrers and bots in a "
    "month (MNT-06)",
)
def get_site_visitors(request: HttpRequest, site_id: int, query: Query[MonthQuery]):
    site = _site(request, site_id)
    if query.month:
        try:
            month = dt.datetime.strptime(query.month, "%Y-%m").date()
        except ValueError:
            raise invalid(query_problem("month", "A month is written YYYY-MM.")) from None
    else:
        month = dt.date.today()
    f = services.month_figures(site, month)
    return {
        "site": site.pk,
        "client": site.client.code,
        "month": f.month.strftime("%Y-%m"),
        "hits": f.hits,
        "page_views": f.page_views,
        "visitors": f.visitors,
        "search_bot_hits": f.search_bot_hits,
        "bot_hits": f.bot_hits,
        "rejected_lines": f.rejected_lines,
        "days": f.days,
        "pages": _pairs(f.top["page"]),
        "statuses": _pairs(f.top["status"]),
        "referrers": _pairs(f.top["referrer"]),
        "search_bots": _pairs(f.top["search_bot"]),
        "bots": _pairs(f.top["bot"]),
        "countries": _pairs(f.top["country"]),
    }


@router.put(
    "/sites/{site_id}/visitors/setup",
    response={200: WeblogSetupOut, 403: Error, 404: Error, 422: Error},
    summary="Set up or change where a site's access logs are read over SSH",
)
def set_weblog_setup(request: HttpRequest, site_id: int, payload: WeblogSetupIn):
    site = _site(request, site_id)
    require_change(request.auth, LogSetup.objects.filter(site=site).first() or LogSetup(site=site))
    if payload.log_format not in parse.FORMATS:
        from mamori.api.errors import problem

        raise invalid(problem("log_format", "Unknown log format (combined or vhost_combined)."))
    values = payload.dict()
    values["paths"] = "\n".join(values["paths"])
    try:
        return services.save_setup(site, values, actor=request.auth)
    except ValidationError as exc:
        raise invalid_from(exc) from None


@router.post(
    "/sites/{site_id}/visitors/collect",
    response={200: CollectOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Read a site's access logs over SSH now; a server that cannot be reached gives "
    "an error in the answer",
)
def collect_site_logs(request: HttpRequest, site_id: int):
    site = _site(request, site_id)
    require_change(request.auth, LogSetup(site=site))
    try:
        results = services.collect_site(site, actor=request.auth)
    except services.Busy as exc:
        raise conflict(str(exc)) from None
    except ValidationError as exc:
        raise invalid_from(exc) from None
    except services.WeblogError as exc:
        return {"files": [], "error": str(exc)}
    return {"files": [vars(r) for r in results], "error": ""}


class UploadQuery(Schema):
    name: str = Field(
        "upload",
        min_length=1,
        max_length=200,
        description="The file's name, recorded with what was read (e.g. access.log.2.gz).",
    )
    log_format: str = Field(
        "combined", alias="format", description="combined (nginx, Apache) or vhost_combined"
    )


@router.post(
    "/sites/{site_id}/visitors/logs",
    response={200: FileReadOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Count an access log file of a site: the request's body is the file, plain or "
    "gzip, at most 2 GiB; lines already counted are not counted again",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
def upload_site_log(request: HttpRequest, site_id: int, query: Query[UploadQuery]):
    site = _site(request, site_id)
    require_change(request.auth, LogSetup(site=site))
    if query.log_format not in parse.FORMATS:
        raise invalid(query_problem("format", f"One of: {', '.join(parse.FORMATS)}."))

    def body():  # read as it comes, never held whole in memory
        while part := request.read(1 << 20):
            yield part

    try:
        result = services.import_upload(
            site, body(), name=query.name, log_format=query.log_format, actor=request.auth
        )
    except services.Busy as exc:
        raise conflict(str(exc)) from None
    except services.WeblogError as exc:
        raise invalid(problem("", str(exc), location=("body",))) from None
    return vars(result)
