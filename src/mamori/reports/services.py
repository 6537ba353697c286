"""Building, releasing and sending the monthly report (RPT-01); the one write path of
pages, API, CLI and the periodic job.

- :func:`build_report` stores the month's figures: a draft is replaced in place; once a
  version is released it never changes, and a new build is the next version (a draft).
- :func:`release` releases a draft (an operator, or the job when the client's settings say so)
  and queues it to the contacts with the ``reports`` topic through the outbox, once per
  version and contact (``event_key`` ``monthly-report:<client>:<month>:v<version>``).
  Releasing again sends nothing.
- :func:`scheduled_run` (the ``reports_build`` job) builds last month's report of each client
  with a contract, on its business day (the 5th Japanese business day by default), once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.clients.models import Client, NoticeTopic
from mamori.core import audit
from mamori.core.models import User
from mamori.core.permissions import Rule, changes_every_client
from mamori.desk import hours
from mamori.notices import services as notices
from mamori.notices.models import Notice, NoticeKind
from mamori.reports import build as builder
from mamori.reports.models import Report, ReportSettings, ReportState

ATTACHMENT_KIND = "monthly_report_pdf"
DEFAULT_BUSINESS_DAY = 5


class ReportError(ValidationError):
    """A report that cannot be built or released; the message says why."""

    def __str__(self) -> str:
        return " ".join(self.messages)


def parse_month(text: str) -> dt.date:
    """``"2026-11"`` → 2026-11-01; anything else is a :class:`ReportError`."""
    try:
        year, month = (int(part) for part in str(text).strip().split("-"))
        return dt.date(year, month, 1)
    except (ValueError, TypeError):
        raise ReportError(
            _("%(value)s is not a month: write it as YYYY-MM, e.g. 2026-11.") % {"value": text},
            code="month",
        ) from None


def may_manage(user: User | None) -> bool:
    """Reports are built and released by the provider's administrators and operators."""
    return changes_every_client(user, Rule.STAFF)


def require_manager(user: User | None) -> None:
    if not may_manage(user):
        raise PermissionDenied


def visible_reports(user: User | None):
    """What ``user`` may read: staff see every version of the clients they see; client users
    see the released versions of their own client only."""
    found = Report.objects.visible_to(user).select_related("client")
    return found if may_manage(user) or _provider_staff(user) else found.released()


def _provider_staff(user: User | None) -> bool:
    from mamori.core.models import PROVIDER_ROLES

    return bool(user and user.is_authenticated and getattr(user, "role", None) in PROVIDER_ROLES)


def _this_month() -> dt.date:
    return timezone.localdate().replace(day=1)


# --- build ---------------------------------------------------------------------------------------


def build_report(
    client: Client, month: dt.date, *, actor: User | None = None, request=None
) -> Report:
    """Build ``client``'s report of ``month``: refresh the draft, or start the next version
    after the last released one. A month that has not ended is refused."""
    month = month.replace(day=1)
    if month >= _this_month():
        raise ReportError(
            _("%(month)s has not ended yet: a report is built for a past month.")
            % {"month": f"{month:%Y-%m}"},
            code="month",
        )
    figures = builder.build(client, month)
    with transaction.atomic():
        Client.objects.select_for_update().filter(pk=client.pk).first()
        latest = Report.objects.filter(client=client, month=month).order_by("-version").first()
        if latest is not None and latest.state == ReportState.DRAFT:
            report = latest
            report.figures = figures
            report.built_at = timezone.now()
            report.save(update_fields=["figures", "built_at"])
        else:
            version = latest.version + 1 if latest else 1
            report = Report.objects.create(
                client=client, month=month, version=version, figures=figures
            )
        audit.record(
            "report.build",
            report,
            actor=actor,
            request=request,
            actor_label=None if actor or request else "reports",
            changes={
                "month": f"{month:%Y-%m}",
                "version": report.version,
                "sections": sorted(figures["sections"]),
            },
        )
    return report


# --- release and send ----------------------------------------------------------------------------


def event_key(report: Report) -> str:
    return f"monthly-report:{report.client.code}:{report.month:%Y-%m}:v{report.version}"


def _queue(report: Report) -> int:
    recipients = notices.contact_recipients(report.client, NoticeTopic.REPORTS)
    context: dict[str, Any] = {
        "client": report.client,
        "month": report.month,
        "report_version": report.version,
        "corrected": report.version > 1,
        "url": settings.BASE_URL + reverse("report_detail", args=[report.pk]),
    }
    result = notices.enqueue(
        NoticeKind.MONTHLY_REPORT,
        event_key(report),
        recipients,
        context,
        client=report.client,
        attachments=[{"kind": ATTACHMENT_KIND, "report": report.pk}],
    )
    return len(result.created)


def release(report: Report, *, actor: User | None = None, request=None) -> Report:
    """Release ``report`` and queue it to the client's ``reports`` contacts, once. Releasing a
    released report again sends nothing more; an older version than the latest is refused."""
    with transaction.atomic():
        report = Report.objects.select_for_update().select_related("client").get(pk=report.pk)
        newer = Report.objects.filter(
            client=report.client, month=report.month, version__gt=report.version
        ).exists()
        if newer and report.state == ReportState.DRAFT:
            raise ReportError(_("A newer version of this report exists."), code="stale")
        if report.state == ReportState.SENT:
            return report
        queued = 0
        if report.state == ReportState.DRAFT:
            report.state = ReportState.RELEASED
            report.released_at = timezone.now()
            report.released_by = actor
        queued = _queue(report)
        report.state = ReportState.SENT
        report.sent_at = timezone.now()
        report.notices = queued
        report.save(update_fields=["state", "released_at", "released_by", "sent_at", "notices"])
        audit.record(
            "report.release",
            report,
            actor=actor,
            request=request,
            actor_label=None if actor or request else "reports",
            changes={"version": report.version, "notices": queued},
        )
    return report


def report_pdf_attachment(entry: dict[str, Any], notice: Notice) -> tuple[str, bytes, str]:
    from mamori.reports import pdf

    report = Report.objects.select_related("client").get(pk=entry["report"])
    language = notice.language
    return pdf.filename(report, language), pdf.render(report, language), "application/pdf"


# --- settings ------------------------------------------------------------------------------------


def settings_of(client: Client) -> ReportSettings:
    found = ReportSettings.objects.filter(client=client).first()
    return found or ReportSettings(client=client)


def change_settings(
    client: Client,
    *,
    business_day: int,
    auto_release: bool,
    actor: User | None,
    request=None,
) -> ReportSettings:
    """Set ``client``'s build day and automatic release: the one write of the settings page
    and the API, for provider administrators and operators (PermissionDenied otherwise), with
    its audit event. A bad value is a :class:`ReportError` naming the field."""
    require_manager(actor)
    row = settings_of(client)
    before = {"business_day": row.business_day, "auto_release": row.auto_release}
    row.business_day = business_day
    row.auto_release = auto_release
    try:
        row.full_clean(exclude=["client"])
    except ValidationError as exc:
        raise ReportError(exc.message_dict) from None
    after = {"business_day": row.business_day, "auto_release": row.auto_release}
    with transaction.atomic():
        row.save()
        audit.record(
            "report.settings",
            row,
            actor=actor,
            request=request,
            client_id=client.pk,
            changes={k: [before[k], v] for k, v in after.items() if before[k] != v},
        )
    return row


# --- the schedule --------------------------------------------------------------------------------


def build_day(client: Client, month: dt.date, row: ReportSettings | None = None) -> dt.date:
    """The day ``month``'s report is built: the Nth Japanese business day of the next month
    (the provider's closed days excluded; the desk's calendar, mamori.desk.hours)."""
    row = row or settings_of(client)
    last = month.replace(day=1) + relativedelta(months=1) - dt.timedelta(days=1)
    calendar = hours.Hours(closed=hours.closed_ranges())
    return calendar.business_days(last, row.business_day)[-1]


@dataclass
class RunResult:
    built: int = 0
    released: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"built": self.built, "released": self.released}


def scheduled_run(today: dt.date | None = None) -> RunResult:
    """Build last month's report of every client with a contract whose build day has come, if
    none is built yet; release it at once where the client's settings say so. Idempotent."""
    today = today or timezone.localdate()
    month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    result = RunResult()
    settings_rows = {s.client_id: s for s in ReportSettings.objects.all()}
    done = set(Report.objects.filter(month=month).values_list("client_id", flat=True))
    for client in Client.objects.filter(contracts__isnull=False).distinct().order_by("code"):
        if client.pk in done:
            continue
        row = settings_rows.get(client.pk) or ReportSettings(client=client)
        if today < build_day(client, month, row):
            continue
        if not builder.covered_types(client, month):
            continue
        report = build_report(client, month)
        result.built += 1
        if row.auto_release:
            release(report)
            result.released += 1
    return result


def build_job() -> dict[str, int]:
    """The ``reports_build`` job."""
    return scheduled_run().as_dict()


# --- registration --------------------------------------------------------------------------------


def register() -> None:
    from mamori.retention import services as retention

    notices.register_attachment(ATTACHMENT_KIND, report_pdf_attachment)
    retention.register(
        retention.Kind(
            "reports",
            gettext_lazy("Monthly reports"),
            lambda client: Report.objects.filter(client=client),
        )
    )
