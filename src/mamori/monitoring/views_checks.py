"""Monitoring pages: the status overview and the checks (MON-01, MON-10).

- The overview: per client, how many checks are up, down, unknown, paused and in maintenance
  now, its open incidents, and the down checks. A constant number of queries whatever the
  number of checks.
- The check list (filters: client, state, kind, text) and a check's page: its settings, state,
  last result, graphs from the roll-ups (24 h of 5-minute, 30 days of hourly, 12 months of daily
  buckets), availability, recent failures, incidents and maintenance windows.
- Adding, editing, pausing and deleting checks: provider staff who see the client; the client's
  users read only.

Everything is fetched through ``visible_to``; every write is audited.
"""

from __future__ import annotations

import datetime as dt
from functools import reduce
from operator import or_

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.clients.models import Client
from mamori.core.permissions import may_change, require_change
from mamori.monitoring import charts, checks, heartbeat, maintenance, outcomes, services
from mamori.monitoring.forms import CheckForm, kind_fields
from mamori.monitoring.kinds import CheckKind
from mamori.monitoring.models import (
    Check,
    CheckState,
    Incident,
    IncidentState,
    MaintenanceWindow,
    Resolution,
    Rollup,
    Sample,
)
from mamori.monitoring.outcomes import target_of

PAGE_SIZE = 50
DOWN_LISTED = 200
#: How often a check's page asks for news: while the first result is awaited, and after.
WAITING_POLL_SECONDS = 2
LIVE_POLL_SECONDS = 20
EAGER_FOR = dt.timedelta(minutes=2)

#: (resolution, how far back, bucket length) of the three graphs.
GRAPHS = [
    (Resolution.FIVE_MINUTES, dt.timedelta(hours=24), dt.timedelta(minutes=5)),
    (Resolution.HOUR, dt.timedelta(days=30), dt.timedelta(hours=1)),
    (Resolution.DAY, dt.timedelta(days=365), dt.timedelta(days=1)),
]


def active_windows(user, now: dt.datetime) -> list[MaintenanceWindow]:
    """The maintenance windows the user sees that are in an occurrence at ``now``."""
    windows = MaintenanceWindow.objects.visible_to(user).filter(
        cancelled_at__isnull=True, starts_at__lte=now
    )
    end = now + dt.timedelta(microseconds=1)
    return [w for w in windows if any(True for _ in maintenance.occurrences(w, now, end))]


def in_window_filter(windows: list[MaintenanceWindow]) -> Q | None:
    """Checks covered by any of ``windows`` (see :func:`maintenance.covering_filter`)."""
    parts = []
    for w in windows:
        scope = Q(client_id=w.client_id)
        if w.site_id:
            scope &= Q(site_id=w.site_id)
        elif w.server_id:
            scope &= Q(server_id=w.server_id) | Q(site__server_id=w.server_id)
        parts.append(scope)
    return reduce(or_, parts) if parts else None


# --- overview ------------------------------------------------------------------------------------


@login_required
def monitoring_overview(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    user = request.user
    checks = Check.objects.visible_to(user)
    rows = {
        c.pk: {"client": c, "up": 0, "down": 0, "unknown": 0, "paused": 0, "maintenance": 0}
        for c in Client.objects.visible_to(user).order_by("name")
    }
    counts = checks.values("client_id").annotate(
        up=Count("pk", filter=Q(enabled=True, state=CheckState.UP)),
        down=Count("pk", filter=Q(enabled=True, state=CheckState.DOWN)),
        unknown=Count("pk", filter=Q(enabled=True, state=CheckState.UNKNOWN)),
        paused=Count("pk", filter=Q(enabled=False)),
    )
    for row in counts.order_by():
        if row["client_id"] in rows:
            rows[row["client_id"]].update({k: v for k, v in row.items() if k != "client_id"})
    covered = in_window_filter(active_windows(user, now))
    if covered is not None:
        for row in checks.filter(covered).values("client_id").annotate(n=Count("pk")).order_by():
            if row["client_id"] in rows:
                rows[row["client_id"]]["maintenance"] = row["n"]
    incidents = (
        Incident.objects.visible_to(user)
        .filter(state=IncidentState.OPEN)
        .values("client_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    open_total = 0
    for row in incidents:
        if row["client_id"] in rows:
            rows[row["client_id"]]["incidents"] = row["n"]
            open_total += row["n"]
    down = list(
        checks.filter(enabled=True, state=CheckState.DOWN)
        .select_related("client")
        .order_by("state_changed_at", "client__name", "name")[:DOWN_LISTED]
    )
    beats = heartbeat.recent(down)
    for c in down:
        c.problem = outcomes.of_last_result(c)
        c.beats = beats.get(c.pk, [])
    clients = [r for r in rows.values() if any(r[k] for k in ("up", "down", "unknown", "paused"))]
    clients += [r for r in rows.values() if r not in clients and r.get("incidents")]
    totals = {k: sum(r[k] for r in rows.values()) for k in ("up", "down", "unknown", "paused")}
    totals["maintenance"] = sum(r["maintenance"] for r in rows.values())
    totals["incidents"] = open_total
    context = {
        "rows": clients,
        "totals": totals,
        "down": down,
        "down_more": totals["down"] > len(down),
        "now": now,
        "may_add": user.is_provider_staff,
    }
    return render(request, "monitoring/overview.html", context)


# --- list and detail -----------------------------------------------------------------------------


@login_required
def check_list(request: HttpRequest) -> HttpResponse:
    qs = Check.objects.visible_to(request.user).select_related("client", "site", "server")
    client = request.GET.get("client", "")
    if client:
        qs = qs.filter(client__code=client)
    state = request.GET.get("state", "")
    if state in CheckState.values:
        qs = qs.filter(state=state, enabled=True)
    elif state == "paused":
        qs = qs.filter(enabled=False)
    kind = request.GET.get("kind", "")
    if kind in CheckKind.values:
        qs = qs.filter(kind=kind)
    text = request.GET.get("q", "").strip()
    if text:
        qs = qs.filter(
            Q(name__icontains=text)
            | Q(site__name__icontains=text)
            | Q(server__name__icontains=text)
            | Q(settings__icontains=text)
        )
    page = Paginator(qs.order_by("client__name", "name", "pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    beats = heartbeat.recent(page.object_list)
    for c in page.object_list:
        c.target = target_of(c)
        c.beats = beats.get(c.pk, [])
    context = {
        "page": page,
        "checks": page.object_list,
        "client": client,
        "clients": Client.objects.visible_to(request.user).order_by("name"),
        "state": state,
        "states": [*CheckState.choices, ("paused", _("Paused"))],
        "kind": kind,
        "kinds": CheckKind.choices,
        "q": text,
        "may_add": request.user.is_provider_staff,
    }
    return render(request, "monitoring/checks/list.html", context)


def visible_check(request: HttpRequest, pk: int) -> Check:
    return get_object_or_404(
        Check.objects.visible_to(request.user).select_related("client", "site", "server"), pk=pk
    )


def settings_summary(check: Check) -> list[tuple[str, str]]:
    """(label, value) of each setting, labelled like the form."""
    fields = kind_fields()
    summary = []
    for name, value in (check.settings or {}).items():
        field = fields.get(f"{check.kind}_{name}")
        label = str(field.label) if field else name
        if isinstance(value, bool):
            shown = _("yes") if value else _("no")
        elif isinstance(value, dict):
            shown = "; ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = str(value)
        summary.append((label, shown))
    return summary


def availability(check: Check, resolution: str, since: dt.datetime) -> float | None:
    """Percentage of successful runs since ``since`` from the roll-ups; None without data."""
    sums = Rollup.objects.filter(
        uptime_check=check, resolution=resolution, start__gte=since
    ).aggregate(count=Sum("count"), up=Sum("up_count"))
    if not sums["count"]:
        return None
    return 100 * sums["up"] / sums["count"]


@login_required
def check_detail(request: HttpRequest, pk: int) -> HttpResponse:
    check = visible_check(request, pk)
    now = timezone.now()
    graphs = []
    titles = {
        Resolution.FIVE_MINUTES: _("Last 24 hours"),
        Resolution.HOUR: _("Last 30 days"),
        Resolution.DAY: _("Last 12 months"),
    }
    for resolution, back, step in GRAPHS:
        start = now - back
        rollups = list(
            Rollup.objects.filter(
                uptime_check=check, resolution=resolution, start__gte=start - step
            ).order_by("start")
        )
        share = None
        if resolution == Resolution.FIVE_MINUTES:
            rollups += raw_rollups(check, rollups[-1].start + step if rollups else start - step)
            runs = [r for r in rollups if r.start >= start]
            count = sum(r.count for r in runs)
            share = 100 * sum(r.up_count for r in runs) / count if count else None
        title = titles[resolution]
        graphs.append(
            {
                "resolution": resolution,
                "title": title,
                "availability": share
                if resolution == Resolution.FIVE_MINUTES
                else availability(check, resolution, start),
                "response": charts.response_chart(
                    rollups, start, now, _("Response time, %(period)s") % {"period": title}
                ),
                "bars": charts.availability_chart(
                    rollups, start, now, step, _("Availability, %(period)s") % {"period": title}
                ),
            }
        )
    windows = maintenance.windows_for(check)
    failures = list(
        Sample.objects.filter(
            uptime_check=check, ok=False, at__gte=now - dt.timedelta(hours=48)
        ).order_by("-at")[:100]
    )
    for sample in failures:
        sample.label = outcomes.label(sample.error_code, check.kind)
        sample.sentence = outcomes.of_sample(sample, check)
    # Until the first result is in, the page asks again every 2 seconds (for the first minutes:
    # a check that still has none by then is not helped by asking so often); then calmly.
    waiting = check.enabled and check.last_run_at is None
    eager = waiting and check.next_run_at >= now - EAGER_FOR
    context = {
        "check": check,
        "settings": settings_summary(check),
        "graphs": graphs,
        "failures": failures,
        "last_result": outcomes.of_last_result(check),
        "incidents": check.incidents.order_by("-started_at")[:20],
        "windows": windows,
        "in_maintenance": maintenance.active_window(check, now, windows),
        "may_manage": may_change(request.user, check),
        "now": now,
        "beats": heartbeat.recent([check], heartbeat.PAGE_BARS).get(check.pk, []),
        "waiting": waiting,
        "poll_seconds": WAITING_POLL_SECONDS if eager else LIVE_POLL_SECONDS,
    }
    return render(request, "monitoring/checks/detail.html", context)


def raw_rollups(check: Check, since: dt.datetime) -> list[Rollup]:
    """5-minute buckets computed from the raw samples from ``since`` on: the 24-hour graph shows
    the latest runs (and a new check's first ones) before the roll-up job has stored them."""
    rows = (
        Sample.objects.filter(uptime_check=check, at__gte=since)
        .order_by("at")
        .values_list("uptime_check_id", "at", "ok", "duration_ms")
    )
    return sorted(services.five_minute_buckets(rows), key=lambda r: r.start)


# --- writes --------------------------------------------------------------------------------------


def _saved(request: HttpRequest, form: CheckForm, write) -> Check | None:
    """Run the service ``write`` on the valid form's check; its refusals go on the form."""
    try:
        return write(form.save(commit=False))
    except ValidationError as exc:
        for field, messages_ in exc.message_dict.items():
            name = field.replace("settings.", f"{form.cleaned_data.get('kind')}_", 1)
            for message in messages_:
                form.add_error(name if name in form.fields else None, message)
        return None


@login_required
def check_add(request: HttpRequest) -> HttpResponse:
    if not request.user.is_provider_staff:
        raise PermissionDenied
    initial = {
        "client": request.GET.get("client"),
        "site": request.GET.get("site"),
        "server": request.GET.get("server"),
        "kind": request.GET.get("kind") or CheckKind.HTTP,
    }
    form = CheckForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        check = _saved(
            request,
            form,
            lambda new: checks.create_check(
                new.client,
                actor=request.user,
                request=request,
                **{name: getattr(new, name) for name in checks.FIELDS},
            ),
        )
        if check is not None:
            messages.success(
                request,
                _("Check added. It runs now; its first result appears here within seconds.")
                if check.enabled
                else _("Check added."),
            )
            return redirect("check_detail", check.pk)
    return render(request, "monitoring/checks/form.html", {"form": form, "check": None})


def _managed_check(request: HttpRequest, pk: int) -> Check:
    check = visible_check(request, pk)
    require_change(request.user, check)
    return check


@login_required
def check_edit(request: HttpRequest, pk: int) -> HttpResponse:
    check = _managed_check(request, pk)
    form = CheckForm(request.POST or None, instance=check, user=request.user)
    if request.method == "POST" and form.is_valid():
        saved = _saved(
            request,
            form,
            lambda changed: checks.update_check(changed, actor=request.user, request=request),
        )
        if saved is not None:
            messages.success(request, _("Check saved."))
            return redirect("check_detail", saved.pk)
    return render(request, "monitoring/checks/form.html", {"form": form, "check": check})


@login_required
def check_delete(request: HttpRequest, pk: int) -> HttpResponse:
    check = _managed_check(request, pk)
    if request.method == "POST":
        checks.delete_check(check, actor=request.user, request=request)
        messages.success(request, _("Check deleted."))
        return redirect("check_list")
    return render(request, "monitoring/checks/delete.html", {"check": check})


@login_required
def check_pause(request: HttpRequest, pk: int) -> HttpResponse:
    """POST: pause an enabled check, resume a paused one."""
    if request.method != "POST":
        visible_check(request, pk)
        return redirect("check_detail", pk)
    check = _managed_check(request, pk)
    check = checks.set_enabled(check, not check.enabled, actor=request.user, request=request)
    messages.success(request, _("Check resumed.") if check.enabled else _("Check paused."))
    return redirect("check_detail", check.pk)


urlpatterns = [
    path("", monitoring_overview, name="monitoring_overview"),
    path("checks/", check_list, name="check_list"),
    path("checks/add/", check_add, name="check_add"),
    path("checks/<int:pk>/", check_detail, name="check_detail"),
    path("checks/<int:pk>/edit/", check_edit, name="check_edit"),
    path("checks/<int:pk>/delete/", check_delete, name="check_delete"),
    path("checks/<int:pk>/pause/", check_pause, name="check_pause"),
]
