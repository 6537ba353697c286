"""The words around a report's figures, in the reader's language, and its availability chart.

:func:`document` turns the stored snapshot into what the one template
(``reports/_document.html``, used by the page and the PDF) shows: labels for the codes, dates
in the reader's time zone, minutes as hours and minutes. :func:`availability_chart` draws the
daily availability of each check as an SVG (vector, drawn here, no library), which WeasyPrint
keeps as vector graphics in the PDF.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from mamori.advisories.models import Level, UpdateKind
from mamori.announcements.models import AnnouncementKind
from mamori.backups.models import RunState
from mamori.lifecycle.models import ApprovalState, OrderPurpose, RevocationReason
from mamori.monitoring.models import Cause
from mamori.reports.models import Report
from mamori.weblogs.geo import country_name

LANGUAGES = ("ja", "en")


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else "ja"


def _label(choices, code) -> str:
    try:
        return str(choices(code).label)
    except ValueError:
        return str(code)


def _at(text: str | None) -> dt.datetime | None:
    return timezone.localtime(dt.datetime.fromisoformat(text)) if text else None


def duration(minutes: int | None) -> str:
    """``125`` → "2 h 5 min" / "2時間5分"."""
    if minutes is None:
        return "—"
    h, m = divmod(int(minutes), 60)
    if h and m:
        return _("%(h)d h %(m)d min") % {"h": h, "m": m}
    if h:
        return _("%(h)d h") % {"h": h}
    return _("%(m)d min") % {"m": m}


def percent(value: str | None) -> str:
    return "—" if value is None else f"{Decimal(value):.3f}%"


# --- the chart ------------------------------------------------------------------------------------

WIDTH, HEIGHT = 640, 150
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 24
FLOOR = 95  # the chart's usual lowest value, percent: the days that matter are near 100


def chart_floor(values: list[float]) -> float:
    """The chart's lowest value: 95 %, or lower (a multiple of 10) so that the worst day's bar
    is drawn to scale rather than cut off."""
    lowest = min(values, default=100.0)
    return FLOOR if lowest >= FLOOR else math.floor(lowest / 10) * 10


def availability_chart(check: dict[str, Any], month: dt.date) -> SafeString:
    """Bars of each day's availability (runs up ÷ runs) of one check, from :func:`chart_floor`
    to 100 %, as SVG."""
    days = calendar.monthrange(month.year, month.month)[1]
    inner_w = WIDTH - LEFT - RIGHT
    inner_h = HEIGHT - TOP - BOTTOM
    slot = inner_w / days
    shares = {}
    for day in range(1, days + 1):
        key = dt.date(month.year, month.month, day).isoformat()
        counts = check["days"].get(key)
        if counts and counts[0]:
            shares[day] = 100 * counts[1] / counts[0]
    floor = chart_floor(list(shares.values()))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape(_("Availability per day"))}">'
    ]
    for value in (floor, (floor + 100) / 2, 100):
        y = TOP + inner_h * (100 - value) / (100 - floor)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="#d0d7de" stroke-width="0.6"/>'
            f'<text x="{LEFT - 4}" y="{y + 3.5:.1f}" font-size="10" text-anchor="end" '
            f'fill="#57606a">{value:g}%</text>'
        )
    for day in range(1, days + 1):
        key = dt.date(month.year, month.month, day).isoformat()
        x = LEFT + slot * (day - 1) + slot * 0.15
        if day == 1 or day % 5 == 0:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - 8}" font-size="10" '
                f'text-anchor="middle" fill="#57606a">{day}</text>'
            )
        if day not in shares:
            continue
        value = shares[day]
        # At least a sliver, so that a day at the floor is still seen as measured.
        height = max(2.0, inner_h * (value - floor) / (100 - floor))
        colour = "#1a7f37" if value >= 99.9 else "#bf8700" if value >= 99 else "#cf222e"
        parts.append(
            f'<rect x="{x:.1f}" y="{TOP + inner_h - height:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{height:.1f}" fill="{colour}"><title>{key} {value:.2f}%</title></rect>'
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + inner_h}" x2="{WIDTH - RIGHT}" y2="{TOP + inner_h}" '
        f'stroke="#57606a" stroke-width="0.8"/></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text in it is escaped or a number


# --- the document ---------------------------------------------------------------------------------


@dataclass
class Document:
    report: Report
    language: str
    month: dt.date
    sections: dict[str, Any] = field(default_factory=dict)
    provider_name: str = ""

    @property
    def empty(self) -> bool:
        return not self.sections

    @property
    def separator(self) -> str:
        """Between a label and a date in a list line: "、" in Japanese, ", " in English."""
        return "、" if self.language == "ja" else ", "


def _with(rows: list[dict], **makers) -> list[dict]:
    return [{**row, **{k: f(row) for k, f in makers.items()}} for row in rows]


def _sections(figures: dict[str, Any], month: dt.date, language: str) -> dict[str, Any]:
    found = figures.get("sections", {})
    out: dict[str, Any] = {}
    if "availability" in found:
        out["availability"] = _with(
            found["availability"]["checks"],
            shown=lambda r: percent(r["percent"]),
            up_shown=lambda r: f"{r['up']:,}",
            runs_shown=lambda r: f"{r['runs']:,}",
            chart=lambda r: availability_chart(r, month),
        )
    if "incidents" in found:
        out["incidents"] = _with(
            found["incidents"]["incidents"],
            cause_label=lambda r: _label(Cause, r["cause"]),
            started=lambda r: _at(r["started_at"]),
            recovered=lambda r: _at(r["recovered_at"]),
            duration=lambda r: duration(r["minutes"]),
        )
    if "sla" in found:
        out["sla"] = _with(
            found["sla"]["policies"],
            availability=lambda r: percent(r["availability_percent"]),
            target=lambda r: percent(r["target_percent"]),
            downtime=lambda r: duration(r["downtime_minutes"]),
            maintenance=lambda r: duration(r["maintenance_minutes"]),
            client_delay=lambda r: duration(r["client_delay_minutes"]),
        )
    if "maintenance" in found:
        out["maintenance"] = _with(
            found["maintenance"]["windows"],
            starts=lambda r: _at(r["starts_at"]),
            ends=lambda r: _at(r["ends_at"]),
            duration=lambda r: duration(r["minutes"]),
        )
    if "certificates" in found:
        c = found["certificates"]
        out["certificates"] = {
            "expiring": _with(c["expiring"], until=lambda r: _at(r["not_after"])),
            "issued": _with(
                c["issued"],
                purpose_label=lambda r: _label(OrderPurpose, r["purpose"]),
                when=lambda r: _at(r["at"]),
            ),
            "installed": _with(c["installed"], when=lambda r: _at(r["at"])),
            "revoked": _with(
                c["revoked"],
                reason_label=lambda r: _label(RevocationReason, r["reason"]),
                when=lambda r: _at(r["at"]),
            ),
            "approvals_decided": _with(
                c["approvals_decided"],
                state_label=lambda r: _label(ApprovalState, r["state"]),
                when=lambda r: _at(r["at"]),
            ),
            "approvals_awaited": _with(c["approvals_awaited"], when=lambda r: _at(r["since"])),
        }
    if "backups" in found:
        out["backups"] = [
            {
                "name": j["name"],
                "backup": {_label(RunState, k): n for k, n in j["backup"].items()},
                "drill": {_label(RunState, k): n for k, n in j["drill"].items()},
                "backups_ok": j["backup"].get("succeeded", 0),
                "backups_all": sum(j["backup"].values()),
                "drills_ok": j["drill"].get("succeeded", 0),
                "drills_all": sum(j["drill"].values()),
                # What did not succeed, by state ("Failed 2", "Missed 1").
                "backup_other": [
                    (_label(RunState, k), n) for k, n in j["backup"].items() if k != "succeeded"
                ],
                "drill_other": [
                    (_label(RunState, k), n) for k, n in j["drill"].items() if k != "succeeded"
                ],
            }
            for j in found["backups"]["jobs"]
        ]
    if "updates" in found:
        u = found["updates"]
        levels = [lvl for lvl in Level.values]
        out["updates"] = {
            "records": _with(
                u["updates"],
                kind_label=lambda r: _label(UpdateKind, r["kind"]),
                when=lambda r: _at(r["at"]),
            ),
            "findings": [
                {
                    "level": _label(Level, lvl),
                    "opened": u["findings_opened"].get(lvl, 0),
                    "closed": u["findings_closed"].get(lvl, 0),
                    "open": u["findings_open_at_end"].get(lvl, 0),
                }
                for lvl in levels
                if any(
                    u[k].get(lvl)
                    for k in ("findings_opened", "findings_closed", "findings_open_at_end")
                )
            ],
        }
    if "work" in found:
        w = found["work"]
        out["work"] = {
            **w,
            "time": duration(w["minutes"]),
            "wait": duration(w["client_wait_minutes"]),
            "requests": _with(w["requests"], time=lambda r: duration(r["minutes"])),
        }
    if "visitors" in found:
        out["visitors"] = _with(
            found["visitors"]["sites"],
            countries=lambda r: [
                (country_name(code, language), n) for code, n in r.get("top_countries", [])
            ],
        )
    if "announcements" in found:
        out["announcements"] = _with(
            found["announcements"]["announcements"],
            kind_label=lambda r: _label(AnnouncementKind, r["kind"]),
            subject=lambda r: (
                r["subject_en"] if language == "en" and r["subject_en"] else r["subject_ja"]
            ),
            effective=lambda r: dt.date.fromisoformat(r["effective_on"]),
        )
    if "next_month" in found:
        n = found["next_month"]
        out["next_month"] = {
            "month": dt.date.fromisoformat(n["month"] + "-01"),
            "windows": _with(
                n.get("windows", []),
                starts=lambda r: _at(r["starts_at"]),
                ends=lambda r: _at(r["ends_at"]),
            ),
            "expiring": _with(n.get("expiring", []), until=lambda r: _at(r["not_after"])),
            "updates": n.get("updates", []),
        }
    return out


def document(report: Report, language: str) -> Document:
    """What the report shows in ``language`` (ja or en)."""
    from mamori.access.services import provider_name

    language = language_of(language)
    with translation.override(language):
        sections = _sections(report.figures, report.month, language)
    return Document(
        report,
        language,
        report.month,
        sections,
        provider_name=provider_name(),
    )
