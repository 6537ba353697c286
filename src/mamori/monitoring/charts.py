"""Small server-side SVG charts of a check's roll-ups (MON-10): no JavaScript, no CDN.

:func:`response_chart` draws the mean response time (line) and the maximum (lighter line) over
a time range; :func:`availability_chart` draws one bar per bucket, its height the availability.
Both return safe markup ready for a template, with a ``<title>`` per point for hovering.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from mamori.monitoring.models import Rollup

WIDTH = 720
HEIGHT = 160
PAD_LEFT = 48
PAD_RIGHT = 8
PAD_TOP = 8
PAD_BOTTOM = 20


def _x(at: dt.datetime, start: dt.datetime, end: dt.datetime) -> float:
    span = (end - start).total_seconds() or 1
    inner = WIDTH - PAD_LEFT - PAD_RIGHT
    return PAD_LEFT + inner * (at - start).total_seconds() / span


def _y(value: float, top: float) -> float:
    inner = HEIGHT - PAD_TOP - PAD_BOTTOM
    share = min(1.0, max(0.0, value / top)) if top else 0.0
    return PAD_TOP + inner * (1 - share)


def _nice_top(value: float) -> float:
    for step in (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 60000, 120000):
        if value <= step:
            return step
    return value


def _frame(label: str, body: list[str], axis: list[str]) -> SafeString:
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        f'<line class="axis" x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH - PAD_RIGHT}" '
        f'y2="{HEIGHT - PAD_BOTTOM}" stroke="#999" stroke-width="1"/>',
        *axis,
        *body,
        "</svg>",
    ]
    return mark_safe("".join(parts))  # noqa: S308 (every text in it is escaped)


def _empty() -> str:
    text = escape(_("No data for this period."))
    return f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#888">{text}</text>'


def _time_labels(start: dt.datetime, end: dt.datetime, fmt: str) -> list[str]:
    labels = []
    for i in range(5):
        at = start + (end - start) * i / 4
        x = _x(at, start, end)
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        text = timezone.localtime(at).strftime(fmt)
        labels.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 5}" font-size="10" fill="#666" '
            f'text-anchor="{anchor}">{escape(text)}</text>'
        )
    return labels


def _label_format(start: dt.datetime, end: dt.datetime) -> str:
    span = end - start
    if span <= dt.timedelta(days=2):
        return "%H:%M"
    if span <= dt.timedelta(days=62):
        return "%m-%d"
    return "%Y-%m"


def response_chart(
    rollups: Sequence[Rollup], start: dt.datetime, end: dt.datetime, label: str
) -> SafeString:
    """Mean (solid) and maximum (faint) response time per bucket, in milliseconds."""
    fmt = _label_format(start, end)
    points = [r for r in rollups if r.count]
    top = _nice_top(max((max(r.max_ms, r.sum_ms / r.count) for r in points), default=0) or 1)
    axis = [
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 8}" font-size="10" fill="#666" '
        f'text-anchor="end">{top:g} ms</text>',
        f'<text x="{PAD_LEFT - 4}" y="{HEIGHT - PAD_BOTTOM}" font-size="10" fill="#666" '
        f'text-anchor="end">0</text>',
        *_time_labels(start, end, fmt),
    ]
    if not points:
        return _frame(label, [_empty()], axis)
    mean = " ".join(
        f"{_x(r.start, start, end):.1f},{_y(r.sum_ms / r.count, top):.1f}" for r in points
    )
    peak = " ".join(f"{_x(r.start, start, end):.1f},{_y(r.max_ms, top):.1f}" for r in points)
    body = [
        f'<polyline class="max" points="{peak}" fill="none" stroke="#f0a35e" stroke-width="1"/>',
        f'<polyline class="mean" points="{mean}" fill="none" stroke="#2b6cb0" stroke-width="1.5"/>',
    ]
    for r in points:
        when = timezone.localtime(r.start).strftime("%Y-%m-%d %H:%M")
        tip = _("%(when)s: mean %(mean)d ms, max %(max)d ms") % {
            "when": when,
            "mean": round(r.sum_ms / r.count),
            "max": r.max_ms,
        }
        body.append(
            f'<circle class="point" cx="{_x(r.start, start, end):.1f}" '
            f'cy="{_y(r.sum_ms / r.count, top):.1f}" r="1.5" fill="#2b6cb0">'
            f"<title>{escape(tip)}</title></circle>"
        )
    return _frame(label, body, axis)


def availability_chart(
    rollups: Sequence[Rollup],
    start: dt.datetime,
    end: dt.datetime,
    step: dt.timedelta,
    label: str,
) -> SafeString:
    """One bar per bucket of width ``step``: green at 100 %, amber above 99 %, red below."""
    fmt = _label_format(start, end)
    axis = [
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 8}" font-size="10" fill="#666" '
        f'text-anchor="end">100%</text>',
        f'<text x="{PAD_LEFT - 4}" y="{HEIGHT - PAD_BOTTOM}" font-size="10" fill="#666" '
        f'text-anchor="end">0%</text>',
        *_time_labels(start, end, fmt),
    ]
    points = [r for r in rollups if r.count]
    if not points:
        return _frame(label, [_empty()], axis)
    body = []
    for r in points:
        x0 = _x(r.start, start, end)
        width = max(1.0, _x(r.start + step, start, end) - x0 - 0.5)
        share = r.up_count / r.count
        y = _y(share, 1)
        color = "#38a169" if share >= 1 else "#d69e2e" if share >= 0.99 else "#e53e3e"
        when = timezone.localtime(r.start).strftime("%Y-%m-%d %H:%M")
        tip = _("%(when)s: %(percent)s %% available (%(up)d of %(count)d runs)") % {
            "when": when,
            "percent": f"{share * 100:.2f}",
            "up": r.up_count,
            "count": r.count,
        }
        body.append(
            f'<rect class="bar" x="{x0:.1f}" y="{y:.1f}" width="{width:.1f}" '
            f'height="{HEIGHT - PAD_BOTTOM - y:.1f}" fill="{color}">'
            f"<title>{escape(tip)}</title></rect>"
        )
    return _frame(label, body, axis)
