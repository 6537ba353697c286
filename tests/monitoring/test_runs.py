"""Running checks against real servers on loopback: results, confirmation (MON-02) and the
schedule."""

from __future__ import annotations

import datetime as dt

import pytest

from mamori.monitoring import incidents, services
from mamori.monitoring.models import Check, CheckState, Sample
from mamori.monitoring.services import claim_due, run_due
from tests.support.nginx import free_port

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def changes(monkeypatch):
    """The confirmed state changes, as the incident work sees them."""
    seen: list[tuple[int, str, str]] = []
    before: dict[int, str] = {}
    evaluate = incidents.evaluate

    def spy(check, result, at, changed):
        if changed:
            seen.append((check.pk, before.get(check.pk, "unknown"), check.state))
        before[check.pk] = check.state
        evaluate(check, result, at, changed)

    monkeypatch.setattr(incidents, "evaluate", spy)
    return seen


def make_check(client, kind: str, settings: dict, **extra) -> Check:
    check = Check(
        client=client,
        name=extra.pop("name", f"{kind} check"),
        kind=kind,
        settings=settings,
        next_run_at=extra.pop("next_run_at", T0),
        timeout_seconds=extra.pop("timeout_seconds", 3),
        **extra,
    )
    check.full_clean()
    check.save()
    return check


@pytest.mark.req("MON-01")
def test_an_http_check_against_nginx_is_up(acme, acme_site, web, changes):
    check = make_check(acme, "http", {"url": web, "keyword": "Welcome"}, site=acme_site)

    report = run_due(T0)

    check.refresh_from_db()
    assert (report.ran, report.up, report.down) == (1, 1, 0)
    assert check.state == CheckState.UP and check.state_changed_at == T0
    assert check.last_result["ok"] is True and check.last_result["data"]["status_code"] == 200
    sample = Sample.objects.get(uptime_check=check)
    assert (sample.at, sample.ok, sample.error_code, sample.detail) == (T0, True, "", "")
    assert changes == [(check.pk, "unknown", "up")]


@pytest.mark.req("MON-01")
def test_keyword_and_closed_port_failures_carry_their_codes(acme, web):
    missing = make_check(acme, "http", {"url": web, "keyword": "Goodbye"}, name="kw")
    closed = make_check(acme, "tcp", {"host": "127.0.0.1", "port": free_port()}, name="tcp")
    open_port = make_check(
        acme, "tcp", {"host": "127.0.0.1", "port": int(web.split(":")[2].split("/")[0])}, name="ok"
    )

    run_due(T0)

    codes = dict(Sample.objects.values_list("uptime_check_id", "error_code"))
    assert codes == {
        missing.pk: "keyword_missing",
        closed.pk: "connection_refused",
        open_port.pk: "",
    }
    assert "does not contain 'Goodbye'" in Sample.objects.get(uptime_check=missing).detail


@pytest.mark.req("MON-02")
def test_down_only_after_two_failures_and_up_only_after_two_successes(acme, nginx, web, changes):
    check = make_check(acme, "http", {"url": web})

    def run(minutes: int) -> Check:
        run_due(T0 + minutes * MINUTE)
        check.refresh_from_db()
        return check

    assert run(0).state == CheckState.UP
    nginx.stop()
    assert (run(1).state, check.consecutive_failures) == (CheckState.UP, 1)
    assert run(2).state == CheckState.DOWN
    assert check.state_changed_at == T0 + 2 * MINUTE
    assert check.last_result["error_code"] == "connection_refused"
    assert run(3).state == CheckState.DOWN  # a third failure changes nothing
    nginx.start()
    assert (run(4).state, check.consecutive_successes) == (CheckState.DOWN, 1)
    assert run(5).state == CheckState.UP
    assert check.state_changed_at == T0 + 5 * MINUTE
    assert changes == [
        (check.pk, "unknown", "up"),
        (check.pk, "up", "down"),
        (check.pk, "down", "up"),
    ]


@pytest.mark.req("MON-02")
def test_a_single_failure_between_successes_changes_nothing(acme, web, changes):
    check = make_check(acme, "http", {"url": web}, failures_to_confirm=3)
    run_due(T0)
    Check.objects.filter(pk=check.pk).update(settings={"url": web.replace("index", "missing")})
    run_due(T0 + MINUTE)
    run_due(T0 + 2 * MINUTE)
    Check.objects.filter(pk=check.pk).update(settings={"url": web})
    run_due(T0 + 3 * MINUTE)
    check.refresh_from_db()
    assert check.state == CheckState.UP and check.consecutive_failures == 0
    assert [ok for ok in Sample.objects.order_by("at").values_list("ok", flat=True)] == [
        True,
        False,
        False,
        True,
    ]
    assert changes == [(check.pk, "unknown", "up")]


@pytest.mark.req("MON-01")
def test_the_schedule_keeps_its_cadence_and_skips_missed_slots(acme):
    port = free_port()
    check = make_check(acme, "tcp", {"host": "127.0.0.1", "port": port}, interval_seconds=60)

    run_due(T0 + dt.timedelta(seconds=7))  # late by 7 s: the next slot is still T0 + 60 s
    check.refresh_from_db()
    assert check.next_run_at == T0 + MINUTE and check.lease_until is None

    assert run_due(T0 + dt.timedelta(seconds=59)).ran == 0  # not due yet
    assert run_due(T0 + dt.timedelta(seconds=61)).ran == 1
    assert run_due(T0 + dt.timedelta(seconds=62)).ran == 0  # the same slot runs once

    run_due(T0 + dt.timedelta(seconds=330))  # slots at 120 … 300 s were missed: one run
    check.refresh_from_db()
    assert check.next_run_at == T0 + dt.timedelta(seconds=360)
    assert Sample.objects.filter(uptime_check=check).count() == 3


@pytest.mark.req("MON-01")
def test_a_leased_check_is_not_claimed_again_until_recorded(acme):
    check = make_check(acme, "tcp", {"host": "127.0.0.1", "port": free_port()}, interval_seconds=30)
    assert [c.pk for c in claim_due(T0, 10)] == [check.pk]
    # Its next slot has come, but the first run has not been recorded: it stays with its worker.
    assert claim_due(T0 + dt.timedelta(seconds=40), 10) == []
    # A worker that died: once the lease is over, the check runs again.
    assert [c.pk for c in claim_due(T0 + services.LEASE + MINUTE, 10)] == [check.pk]


def test_disabled_checks_do_not_run_and_invalid_settings_do_not_crash(acme):
    make_check(acme, "tcp", {"host": "127.0.0.1", "port": 1}, enabled=False, name="off")
    broken = make_check(acme, "tcp", {"host": "127.0.0.1", "port": 1}, name="broken")
    Check.objects.filter(pk=broken.pk).update(settings={"host": "127.0.0.1"})

    report = run_due(T0)

    assert (report.ran, report.down) == (1, 1)
    sample = Sample.objects.get()
    assert (sample.uptime_check_id, sample.error_code) == (broken.pk, "invalid_target")
    assert sample.detail == "invalid settings: port: required"


@pytest.mark.req("MON-01")
def test_a_tls_check_uses_the_certificate_probe(acme, nginx, settings, tmp_path):
    from mamori.demo.pki import CertificateAuthority

    ca = CertificateAuthority.create("Mamori Monitoring Test Root")
    port = nginx.add_site("tls", cert=ca.issue(["www.acme.example"]))
    nginx.start()
    bundle = tmp_path / "ca.pem"
    bundle.write_text(ca.cert_pem)
    settings.MAMORI_CA_BUNDLE = str(bundle)
    good = make_check(
        acme, "tls", {"host": "127.0.0.1", "port": port, "sni": "www.acme.example"}, name="good"
    )
    wrong = make_check(
        acme, "tls", {"host": "127.0.0.1", "port": port, "sni": "other.example"}, name="wrong"
    )

    run_due(T0)

    results = {s.uptime_check_id: (s.ok, s.error_code) for s in Sample.objects.all()}
    assert results[good.pk] == (True, "")
    assert results[wrong.pk][0] is False


@pytest.mark.req("MON-01")
def test_rdap_icmp_and_dns_checks_run_through_the_probes(acme, nginx):
    import json

    def registration(days: int) -> bytes:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)  # RDAP checks run now
        return json.dumps(
            {
                "objectClassName": "domain",
                "ldhName": "acme.example",
                "events": [{"eventAction": "expiration", "eventDate": expires.isoformat()}],
            }
        ).encode()

    port = nginx.add_files(
        "rdap",
        {"domain/acme.example": registration(400), "domain/soon.example": registration(10)},
    )
    nginx.start()
    base = f"http://127.0.0.1:{port}/"
    registered = make_check(acme, "rdap", {"domain": "acme.example", "base_url": base}, name="r1")
    expiring = make_check(
        acme, "rdap", {"domain": "soon.example", "base_url": base, "warn_days": 30}, name="r2"
    )
    ping = make_check(acme, "icmp", {"host": "127.0.0.1"}, name="ping")
    dns = make_check(
        acme,
        "dns",
        {"name": "acme.example", "nameservers": [f"127.0.0.1:{free_port()}"]},
        name="dns",
        timeout_seconds=1,
    )

    run_due(T0)

    samples = {s.uptime_check_id: s for s in Sample.objects.all()}
    assert (samples[registered.pk].ok, samples[registered.pk].error_code) == (True, "")
    assert (samples[expiring.pk].ok, samples[expiring.pk].error_code) == (True, "expiring")
    assert samples[expiring.pk].detail  # a flag keeps its detail line
    assert samples[ping.pk].ok or samples[ping.pk].error_code == "icmp_not_permitted"
    assert not samples[dns.pk].ok and samples[dns.pk].error_code in ("timeout", "dns_failure")


@pytest.mark.req("MON-01")
def test_the_list_says_so_when_there_are_no_checks(db):
    from io import StringIO

    from django.core.management import call_command
    from django.utils import translation

    out = StringIO()
    with translation.override("en"):
        call_command("checks", "list", stdout=out)
    assert out.getvalue().strip() == "No checks."


@pytest.mark.req("MON-01")
def test_the_list_has_a_header_and_columns_aligned_with_japanese_names(acme, make_check):
    from io import StringIO

    from django.core.management import call_command
    from django.utils import translation

    from mamori.core.tables import display_width

    make_check(acme, "tcp", {"host": "db.acme.example", "port": 5432}, name="データベース")
    make_check(acme, "tcp", {"host": "www.acme.example", "port": 443}, name="www")
    out = StringIO()
    with translation.override("en"):
        call_command("checks", "list", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["ID", "CLIENT", "KIND", "STATE", "EVERY", "NAME", "LAST"]
    # Each name starts in the same terminal column as the header's NAME.
    column = display_width(lines[0][: lines[0].index("NAME")])
    for line, name in zip(lines[1:], ["www", "データベース"], strict=True):
        assert display_width(line[: line.index(name)]) == column, lines
