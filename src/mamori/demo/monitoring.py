"""Demo monitoring: uptime checks on the demo's local servers, a year of history for the
graphs, last month's incidents with their causes, a weekly maintenance window and an SLA
policy, so that every monitoring page has something true to show."""

from __future__ import annotations

import datetime as dt
import math
import random

from django.utils import timezone

from mamori.clients.models import Client
from mamori.core.models import User
from mamori.inventory.models import Server, Site
from mamori.monitoring import incidents
from mamori.monitoring.models import (
    Cause,
    Check,
    CheckKind,
    Incident,
    IncidentEventKind,
    IncidentState,
    MaintenanceWindow,
    Recurrence,
    Resolution,
    Rollup,
    SlaPolicy,
)
from mamori.reports import services as reports

DOWN_HOURS = 7  # last month's long outage: past the 6-hour rule of 004 §30.4


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_monitoring_data(ports: dict[str, int]) -> None:
    sample = Client.objects.get(code="sample")
    hosting = Client.objects.get(code="hosting")
    admin = User.objects.get(username="admin")
    corporate = Site.objects.get(client=sample, url="https://www.sample.example/")
    shop = Site.objects.get(client=sample, url="https://shop.sample.example/")
    web01 = Server.objects.get(client=sample, name="web01")

    site_check = Check.objects.create(
        client=sample,
        site=corporate,
        name="コーポレートサイト HTTPS",
        kind=CheckKind.HTTP,
        settings={"url": f"https://127.0.0.1:{ports['healthy']}/", "verify_tls": False},
    )
    Check.objects.create(
        client=sample,
        site=shop,
        name="オンラインショップ HTTPS",
        kind=CheckKind.HTTP,
        settings={"url": f"https://127.0.0.1:{ports['expiring']}/", "verify_tls": False},
    )
    # Nothing listens here: the demo's first passes confirm it down and open an incident.
    Check.objects.create(
        client=sample,
        server=web01,
        name="web01 SSH",
        kind=CheckKind.TCP,
        settings={"host": "127.0.0.1", "port": _closed_port()},
    )
    Check.objects.create(
        client=hosting,
        name="old.hosting.example TLS port",
        kind=CheckKind.TCP,
        settings={"host": "127.0.0.1", "port": ports["expired"]},
    )
    outage = _last_month_outage()
    _history(site_check, outage)
    _incidents(sample, site_check, corporate, admin, outage)
    first_sunday = _next_weekday(timezone.localtime(), 6).replace(
        hour=2, minute=0, second=0, microsecond=0
    )
    MaintenanceWindow.objects.create(
        client=sample,
        server=web01,
        title="web01 OS アップデート",
        description="セキュリティ更新の適用と再起動。",
        starts_at=first_sunday,
        ends_at=first_sunday + dt.timedelta(hours=2),
        recurrence=Recurrence.WEEKLY,
        notify_hours_before=72,
        created_by=admin,
    )
    SlaPolicy.objects.create(
        client=sample,
        name="運用支援サービス SLA",
        monthly_fee=50000,
        target_percent=99.9,
        tiers=[
            {"below": 99.9, "credit_percent": 10},
            {"below": 99.0, "credit_percent": 25},
            {"below": 95.0, "credit_percent": 50},
        ],
        long_outage_hours=6,
        length_tiers=[{"hours": 6, "credit_percent": 30}],
    )


def _next_weekday(moment: dt.datetime, weekday: int) -> dt.datetime:
    return moment + dt.timedelta(days=(weekday - moment.weekday()) % 7 or 7)


def _last_month_outage() -> tuple[dt.datetime, dt.datetime]:
    today = timezone.localdate()
    first = today.replace(day=1)
    previous = (first - dt.timedelta(days=1)).replace(day=12)
    start = timezone.make_aware(dt.datetime(previous.year, previous.month, previous.day, 1, 10))
    return start, start + dt.timedelta(hours=DOWN_HOURS, minutes=20)


def _history(check: Check, outage: tuple[dt.datetime, dt.datetime]) -> None:
    """Hourly roll-ups for 30 days and daily ones for a year: response times with a daily
    rhythm, and the outage of last month."""
    rng = random.Random(7)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    rows: list[Rollup] = []

    def bucket(start: dt.datetime, runs: int, resolution: str) -> Rollup:
        hour = timezone.localtime(start).hour
        base = 180 + 90 * math.sin((hour - 8) / 24 * 2 * math.pi) + rng.uniform(-20, 20)
        down = sum(
            1 for i in range(runs) if outage[0] <= start + dt.timedelta(seconds=60 * i) < outage[1]
        )
        mean = max(40, int(base))
        return Rollup(
            uptime_check=check,
            resolution=resolution,
            start=start,
            count=runs,
            up_count=runs - down,
            sum_ms=mean * runs,
            min_ms=max(20, mean - 60),
            max_ms=mean + rng.randint(80, 400),
        )

    for hours_ago in range(1, 24 * 30):
        rows.append(bucket(now - dt.timedelta(hours=hours_ago), 60, Resolution.HOUR))
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    for days_ago in range(1, 366):
        rows.append(bucket(today - dt.timedelta(days=days_ago), 1440, Resolution.DAY))
    Rollup.objects.bulk_create(rows, batch_size=1000)


def _incidents(sample, check, site, admin, outage) -> None:
    start, end = outage
    long = Incident.objects.create(
        client=sample,
        uptime_check=check,
        site=site,
        title=f"{site}: {check.name}",
        state=IncidentState.CLOSED,
        started_at=start,
        confirmed_at=start + dt.timedelta(minutes=2),
        acknowledged_at=start + dt.timedelta(minutes=9),
        acknowledged_by=admin,
        recovered_at=end,
        closed_at=end + dt.timedelta(hours=20),
        closed_by=admin,
        cause=Cause.PROVIDER,
        cause_detail="web01 のディスク使用率が 100% に達し、PHP-FPM が停止した。",
        impact="コーポレートサイトが約 7 時間 20 分表示できなかった。",
        actions="不要ログの削除、PHP-FPM の再起動、ログローテーション設定の修正。",
        prevention="ディスク使用率 80% での警告監視を追加し、ログの保存期間を 14 日に短縮した。",
    )
    steps = [
        (IncidentEventKind.DETECTED, start, None, ""),
        (IncidentEventKind.CONFIRMED, start + dt.timedelta(minutes=2), None, ""),
        (IncidentEventKind.NOTIFIED, start + dt.timedelta(minutes=2), None, ""),
        (IncidentEventKind.ACKNOWLEDGED, start + dt.timedelta(minutes=9), admin, ""),
        (
            IncidentEventKind.NOTE,
            start + dt.timedelta(minutes=40),
            admin,
            "ディスクが満杯。アクセスログが 40 GB に肥大化している。",
        ),
        (IncidentEventKind.RECOVERED, end, None, ""),
        (IncidentEventKind.CLOSED, end + dt.timedelta(hours=20), admin, ""),
    ]
    for kind, at, user, text in steps:
        incidents.add_event(long, kind, at=at, user=user, text=text)
    incidents.add_event(
        long,
        IncidentEventKind.EMERGENCY_MEASURE,
        at=start + dt.timedelta(hours=6),
        user=admin,
        text="古いアクセスログを退避・削除し PHP-FPM を再起動。",
        minutes=45,
        billable=True,
    )
    short_start = start + dt.timedelta(days=9, hours=14)
    carrier = Incident.objects.create(
        client=sample,
        uptime_check=check,
        site=site,
        title=f"{site}: {check.name}",
        state=IncidentState.CLOSED,
        started_at=short_start,
        confirmed_at=short_start + dt.timedelta(minutes=2),
        recovered_at=short_start + dt.timedelta(minutes=35),
        closed_at=short_start + dt.timedelta(hours=3),
        closed_by=admin,
        cause=Cause.CARRIER,
        cause_detail="回線事業者の広域障害（事業者発表あり）。",
    )
    incidents.add_event(carrier, IncidentEventKind.DETECTED, at=short_start)
    incidents.add_event(
        carrier, IncidentEventKind.RECOVERED, at=short_start + dt.timedelta(minutes=35)
    )


def create_report_data() -> None:
    """Last month's report of the sample client, built as a draft for an operator to review:
    its availability, incident and SLA sections come from the data above."""
    last_month = (timezone.localdate().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    reports.build_report(Client.objects.get(code="sample"), last_month)
