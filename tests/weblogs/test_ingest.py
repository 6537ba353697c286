"""Reading access logs into counts: known answers, rotation, gzip, re-reading (MNT-06)."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import tempfile

import pytest

from mamori.weblogs import services
from mamori.weblogs.models import DayFigures, DaySalt, LogFile, VisitorMark
from tests.weblogs.conftest import day_one, day_two, line

OCTOBER = dt.date(2026, 10, 1)


def figures(site):
    return services.month_figures(site, OCTOBER)


def assert_known_answers(f):
    assert (f.hits, f.page_views, f.visitors) == (11, 5, 4)
    days = {d["day"]: d for d in f.days}
    first, second = days[dt.date(2026, 10, 10)], days[dt.date(2026, 10, 11)]
    assert (first["hits"], first["page_views"], first["visitors"], first["bot_hits"]) == (
        10,
        4,
        3,
        3,
    )
    assert (second["hits"], second["page_views"], second["visitors"]) == (1, 1, 1)
    assert f.search_bot_hits == 1 and f.bot_hits == 2
    assert dict(f.top["page"]) == {"/": 3, "/about/": 1, "/news/": 1}
    assert f.top["page"][0] == ("/", 3)
    assert dict(f.top["status"]) == {"200": 9, "304": 1, "404": 1}
    assert dict(f.top["referrer"]) == {"www.google.com": 1}  # the site's own host is not one
    assert dict(f.top["search_bot"]) == {"Googlebot": 1}
    assert dict(f.top["bot"]) == {"AhrefsBot": 1, "(no user agent)": 1}
    assert f.rejected_lines == 1


@pytest.mark.req("MNT-06")
def test_a_log_is_counted_with_known_answers(site, tmp_path):
    log = tmp_path / "access.log"
    log.write_text("".join(day_one() + day_two()))
    result = services.import_file(site, log)
    assert (result.lines, result.rejected) == (12, 1)
    assert_known_answers(figures(site))


@pytest.mark.req("MNT-06")
def test_small_chunks_count_the_same(site, tmp_path):
    log = tmp_path / "access.log"
    log.write_text("".join(day_one() + day_two()))
    services.import_file(site, log, chunk=300)  # many commits, lines never split
    assert_known_answers(figures(site))


@pytest.mark.req("MNT-06")
def test_a_file_read_again_is_not_counted_twice_and_new_lines_are(site, tmp_path):
    log = tmp_path / "access.log"
    log.write_text("".join(day_one()))
    services.import_file(site, log)
    again = services.import_file(site, log)
    assert again.lines == 0
    with log.open("a") as f:
        f.write("".join(day_two()))
        f.write(line("203.0.113.7", "11/Oct/2026", "GET /half", 200, "x")[:20])  # no line end
    more = services.import_file(site, log)
    assert more.lines == 1
    assert_known_answers(figures(site))


@pytest.mark.req("MNT-06")
def test_rotation_and_gzip_count_each_line_once(site, tmp_path):
    logs = tmp_path / "nginx"
    logs.mkdir()
    live = logs / "access.log"
    one = day_one()
    live.write_text("".join(one[:6]))
    services.import_file(site, live)
    with live.open("a") as f:  # written after the last read, before the rotation
        f.write("".join(one[6:]))
    os.rename(live, logs / "access.log.1")  # logrotate: rename, new file
    live.write_text("".join(day_two()))
    for name in ("access.log.1", "access.log"):
        services.import_file(site, logs / name)
    # delaycompress, a day later: access.log.1 becomes access.log.2.gz
    with gzip.open(logs / "access.log.2.gz", "wb") as f:
        f.write((logs / "access.log.1").read_bytes())
    os.remove(logs / "access.log.1")
    assert services.import_file(site, logs / "access.log.2.gz").lines == 0
    assert services.import_file(site, logs / "access.log.2.gz").skipped == "already read"
    assert_known_answers(figures(site))
    assert LogFile.objects.filter(site=site).count() == 2


@pytest.mark.req("MNT-06")
def test_a_gzipped_file_read_first_then_nothing_more(site, tmp_path):
    path = tmp_path / "access.log.3.gz"
    with gzip.open(path, "wb") as f:
        f.write("".join(day_one() + day_two()).encode())
    assert services.import_file(site, path).lines == 12
    assert services.import_file(site, path).lines == 0
    assert_known_answers(figures(site))


@pytest.mark.req("MNT-06")
def test_a_truncated_file_with_new_content_is_a_new_stream(site, tmp_path):
    log = tmp_path / "access.log"
    log.write_text("".join(day_one()))
    services.import_file(site, log)
    inode = os.stat(log).st_ino
    with log.open("w") as f:  # copytruncate: same inode, new content
        f.write("".join(day_two()))
    assert os.stat(log).st_ino == inode
    assert services.import_file(site, log).lines == 1
    assert_known_answers(figures(site))


@pytest.mark.req("MNT-06")
def test_visitors_are_counted_once_a_day_across_runs_without_keeping_addresses(site, tmp_path):
    d = "12/Oct/2026"
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text(line("192.0.2.1", d, "GET / HTTP/1.1", 200, "Mozilla/5.0 A"))
    second.write_text(
        line("192.0.2.1", d, "GET /x HTTP/1.1", 200, "Mozilla/5.0 A", hour="11:00:00")
        + line("192.0.2.2", d, "GET /x HTTP/1.1", 200, "Mozilla/5.0 A", hour="11:00:01")
    )
    services.import_file(site, first)
    services.import_file(site, second)
    day = DayFigures.objects.get(site=site, day=dt.date(2026, 10, 12))
    assert (day.hits, day.visitors) == (3, 2)
    marks = list(VisitorMark.objects.values_list("digest", flat=True))
    assert len(marks) == 2 and not any("192.0.2" in m for m in marks)
    # The day closes: hashes and their key go, the figures stay.
    DaySalt.objects.update(created_at=dt.datetime(2026, 10, 12, tzinfo=dt.UTC))
    assert services.close_days() == 1
    assert not VisitorMark.objects.exists() and not DaySalt.objects.exists()
    day.refresh_from_db()
    assert (day.hits, day.visitors, day.closed) == (3, 2, True)


def test_a_file_that_cannot_be_opened_is_a_precise_error(site, tmp_path):
    with pytest.raises(services.WeblogError, match="Cannot open"):
        services.import_file(site, tmp_path / "nope.log")


@pytest.mark.req("MNT-06")
def test_an_upload_over_the_limit_is_refused_and_leaves_nothing(site, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    parts = [line("203.0.113.1", "10/Oct/2026", "GET / HTTP/1.1", 200, "Firefox").encode()] * 3
    with pytest.raises(services.WeblogError, match="At most"):
        services.import_upload(site, iter(parts), name="big.log", limit=len(parts[0]) * 2)
    assert list(scratch.iterdir()) == []  # the temporary copy is gone
    assert not DayFigures.objects.filter(site=site).exists()  # nothing counted of it
    result = services.import_upload(site, iter(parts), name="big.log", limit=len(parts[0]) * 3)
    assert (result.path, result.lines) == ("big.log", 3)
    assert list(scratch.iterdir()) == []
