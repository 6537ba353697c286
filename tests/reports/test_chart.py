"""The report's availability chart (RPT-01): each day's bar drawn to scale, a bad day too."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from mamori.reports import render

pytestmark = pytest.mark.req("RPT-01")

NOVEMBER = dt.date(2026, 11, 1)
INNER = render.HEIGHT - render.TOP - render.BOTTOM


def bars(svg: str) -> dict[str, float]:
    """Each day's bar height, by its date."""
    found = re.findall(r'height="([\d.]+)" fill="#\w+"><title>(\S+) [\d.]+%</title>', svg)
    return {day: float(height) for height, day in found}


def check(days: dict[int, tuple[int, int]]) -> dict:
    return {"days": {dt.date(2026, 11, d).isoformat(): list(c) for d, c in days.items()}}


def test_a_good_month_is_drawn_from_95_percent():
    svg = render.availability_chart(check({1: (1440, 1440), 2: (1440, 1418)}), NOVEMBER)
    assert ">95%<" in svg and ">100%<" in svg
    heights = bars(svg)
    assert heights["2026-11-01"] == pytest.approx(INNER, abs=0.1)
    # 98.47 %: (98.47 - 95) / 5 of the height.
    assert heights["2026-11-02"] == pytest.approx(INNER * (100 * 1418 / 1440 - 95) / 5, abs=0.1)
    assert len(heights) == 2  # days without runs have no bar


def test_a_day_far_below_95_percent_lowers_the_axis_instead_of_disappearing():
    # The demo's outage: 1,000 of 1,440 runs up (69.4 %) on the 12th.
    svg = render.availability_chart(check({11: (1440, 1440), 12: (1440, 1000)}), NOVEMBER)
    assert ">60%<" in svg and ">80%<" in svg and ">95%<" not in svg
    heights = bars(svg)
    assert heights["2026-11-12"] == pytest.approx(INNER * (100 * 1000 / 1440 - 60) / 40, abs=0.1)
    assert heights["2026-11-11"] == pytest.approx(INNER, abs=0.1)
    assert 'fill="#cf222e"><title>2026-11-12 69.44%' in svg


def test_a_day_without_any_run_up_is_drawn_at_the_bottom_of_a_0_to_100_axis():
    svg = render.availability_chart(check({5: (1440, 0)}), NOVEMBER)
    assert ">0%<" in svg and ">50%<" in svg
    assert bars(svg)["2026-11-05"] == 2.0  # a sliver: measured, and nothing was up
