"""The monitoring overview and the check pages (MON-01, MON-10): who sees what, the form and
its errors, the graphs from roll-ups, and a constant number of queries for 10,000 checks."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from mamori.core.models import AuditEvent
from mamori.monitoring.models import Check, CheckState, MaintenanceWindow, Rollup, Sample

pytestmark = pytest.mark.req("MON-01")


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def http_check(client_, name="www", state=CheckState.UP, **extra) -> Check:
    return Check.objects.create(
        client=client_,
        name=name,
        kind="http",
        settings={"url": f"https://{name}.example/"},
        state=state,
        **extra,
    )


def form_data(client_, **extra) -> dict:
    data = {
        "client": client_.pk,
        "name": "shop",
        "kind": "http",
        "interval_seconds": 60,
        "timeout_seconds": 10,
        "failures_to_confirm": 2,
        "recoveries_to_confirm": 2,
        "enabled": "on",
        "http_url": "https://shop.acme.example/",
        "http_method": "GET",
        "http_follow_redirects": "on",
        "http_verify_tls": "on",
        "dns_rdtype": "A",
    }
    data.update(extra)
    return data


def test_it_counts_each_clients_checks_on_the_overview(client, acme, globex, operator, owner):
    http_check(acme, "a-up")
    http_check(acme, "a-down", CheckState.DOWN, state_changed_at=timezone.now())
    http_check(acme, "a-unknown", CheckState.UNKNOWN)
    http_check(acme, "a-paused", enabled=False)
    http_check(globex, "g-down", CheckState.DOWN)
    MaintenanceWindow.objects.create(
        client=acme,
        title="Patch day",
        starts_at=timezone.now() - dt.timedelta(hours=1),
        ends_at=timezone.now() + dt.timedelta(hours=1),
    )
    client.force_login(operator)
    page = client.get(reverse("monitoring_overview"))
    assert page.status_code == 200
    rows = page.context["rows"]
    acme_row = next(r for r in rows if r["client"] == acme)
    assert (acme_row["up"], acme_row["down"], acme_row["unknown"], acme_row["paused"]) == (
        1,
        1,
        1,
        1,
    )
    assert acme_row["maintenance"] == 4
    assert {c.name for c in page.context["down"]} == {"a-down", "g-down"}
    client.force_login(owner)
    page = client.get(reverse("monitoring_overview"))
    assert [c.name for c in page.context["down"]] == ["a-down"]
    assert "g-down" not in page.content.decode()


@pytest.mark.req("MON-01")
def test_the_overview_shows_each_down_checks_recent_runs(client, acme, operator):
    check = http_check(acme, "a-down", CheckState.DOWN, state_changed_at=timezone.now())
    start = timezone.now() - dt.timedelta(minutes=5)
    for minute, ok in enumerate([True, True, False, False]):
        Sample.objects.create(
            uptime_check=check, at=start + dt.timedelta(minutes=minute), ok=ok, duration_ms=20
        )
    client.force_login(operator)
    table = client.get(reverse("monitoring_overview")).content.decode().split('id="down-checks"')[1]
    bars = re.findall(r'class="beat (beat-up|beat-down)"', table.split("</table>")[0])
    assert bars == ["beat-up", "beat-up", "beat-down", "beat-down"]  # oldest first


@pytest.mark.req("MON-10")
def test_it_shows_10000_checks_in_a_constant_number_of_queries(
    client, acme, globex, operator, django_assert_max_num_queries
):
    Check.objects.bulk_create(
        Check(
            client=acme if i % 2 else globex,
            name=f"check {i:05}",
            kind="tcp",
            settings={"host": f"h{i}.example", "port": 443},
            state=(CheckState.UP, CheckState.DOWN, CheckState.UNKNOWN)[i % 3],
        )
        for i in range(10_000)
    )
    client.force_login(operator)
    with django_assert_max_num_queries(15):
        page = client.get(reverse("monitoring_overview"))
    assert page.status_code == 200
    assert page.context["totals"]["down"] == 3333
    with django_assert_max_num_queries(15):
        page = client.get(reverse("check_list"), {"page": 3})
    assert len(page.context["checks"]) == 50
    assert page.context["page"].paginator.count == 10_000


def test_it_filters_the_check_list(client, acme, globex, operator):
    http_check(acme, "shop")
    http_check(acme, "blog", CheckState.DOWN)
    http_check(globex, "shop-g", CheckState.DOWN)
    client.force_login(operator)

    def names(**params):
        page = client.get(reverse("check_list"), params)
        return sorted(c.name for c in page.context["checks"])

    assert names() == ["blog", "shop", "shop-g"]
    assert names(client="acme") == ["blog", "shop"]
    assert names(state="down") == ["blog", "shop-g"]
    assert names(q="shop") == ["shop", "shop-g"]
    assert names(kind="tcp") == []


@pytest.mark.req("MON-10")
def test_it_draws_the_graphs_from_the_rollups(client, acme, member):
    check = http_check(acme, "shop")
    now = timezone.now()
    for i in range(6):
        Rollup.objects.create(
            uptime_check=check,
            resolution="5m",
            start=now - dt.timedelta(minutes=5 * (i + 1)),
            count=5,
            up_count=5 if i else 4,
            sum_ms=500 * (i + 1),
            min_ms=50,
            max_ms=300,
        )
    Rollup.objects.create(
        uptime_check=check,
        resolution="1d",
        start=now - dt.timedelta(days=3),
        count=1440,
        up_count=1440,
        sum_ms=144000,
        min_ms=50,
        max_ms=900,
    )
    Sample.objects.create(
        uptime_check=check,
        at=now - dt.timedelta(hours=1),
        ok=False,
        duration_ms=10000,
        error_code="timeout",
        detail="no answer in 10 s",
    )
    client.force_login(member)
    page = client.get(reverse("check_detail", args=[check.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    day = html[html.index('id="graph-5m"') : html.index('id="graph-1h"')]
    assert day.count('class="point"') == 6
    assert day.count('class="bar"') == 6
    assert "<polyline" in day
    year = html[html.index('id="graph-1d"') :]
    assert year.count('class="bar"') == 1
    graphs = {g["resolution"]: g for g in page.context["graphs"]}
    assert graphs["5m"]["availability"] == pytest.approx(100 * 29 / 30)
    assert graphs["1h"]["availability"] is None
    # The failure in the reader's language, from its code (a row stored without parameters
    # takes them from the check); the probe's English line is not shown.
    assert f"{check.timeout_seconds} 秒以内に" in html and "から応答がありませんでした" in html
    assert "no answer in 10 s" not in html
    # A viewer reads only.
    assert reverse("check_edit", args=[check.pk]) not in html


def test_it_adds_a_check_and_audits_it(client, acme, operator):
    client.force_login(operator)
    response = client.post(
        reverse("check_add"),
        form_data(acme, http_expect_status="200, 301", http_headers="X-Probe: mamori"),
    )
    check = Check.objects.get(name="shop")
    assert response.status_code == 302
    assert check.settings == {
        "url": "https://shop.acme.example/",
        "method": "GET",
        "expect_status": [200, 301],
        "headers": {"X-Probe": "mamori"},
        "follow_redirects": True,
        "verify_tls": True,
    }
    assert AuditEvent.objects.filter(action="check.create", object_id=str(check.pk)).exists()


def test_it_puts_errors_on_the_right_fields(client, acme, globex, operator):
    client.force_login(operator)
    post = form_data(acme, http_url="", timeout_seconds=60)
    form = client.post(reverse("check_add"), post).context["form"]
    assert form.errors["http_url"] == [gettext("This field is required.")]
    assert form.errors["timeout_seconds"] == [
        gettext("The timeout must be shorter than the interval.")
    ]
    post = form_data(acme, kind="tcp", tcp_host="db.acme.example", tcp_port=70000)
    form = client.post(reverse("check_add"), post).context["form"]
    # Settings problems come in the language of the page (Japanese here, the default).
    with translation.override("ja"):
        wanted = gettext("must be an integer from %(low)s to %(high)s") % {"low": 1, "high": 65535}
    assert form.errors["tcp_port"] == [wanted]
    assert "http_url" not in form.errors
    post = form_data(acme, kind="dns", dns_name="acme.example", dns_nameservers="resolver.example")
    form = client.post(reverse("check_add"), post).context["form"]
    assert "'resolver.example' は IP アドレスではありません" in form.errors["dns_nameservers"][0]
    post = form_data(acme, interval_seconds=10, timeout_seconds=5)
    form = client.post(reverse("check_add"), post).context["form"]
    assert "interval_seconds" in form.errors
    assert not Check.objects.exists()


def test_it_edits_pauses_and_deletes(client, acme, operator):
    check = Check.objects.create(
        client=acme, name="db", kind="tcp", settings={"host": "db.acme.example", "port": 5432}
    )
    client.force_login(operator)
    page = client.get(reverse("check_edit", args=[check.pk]))
    assert page.context["form"]["tcp_port"].value() == 5432
    post = form_data(acme, name="db", kind="tcp", tcp_host="db.acme.example", tcp_port=6432)
    assert client.post(reverse("check_edit", args=[check.pk]), post).status_code == 302
    check.refresh_from_db()
    assert check.settings == {"host": "db.acme.example", "port": 6432}
    client.post(reverse("check_pause", args=[check.pk]))
    check.refresh_from_db()
    assert check.enabled is False
    client.post(reverse("check_pause", args=[check.pk]))
    check.refresh_from_db()
    assert check.enabled is True
    client.post(reverse("check_delete", args=[check.pk]))
    assert not Check.objects.filter(pk=check.pk).exists()
    actions = list(
        AuditEvent.objects.filter(action__startswith="check.").values_list("action", flat=True)
    )
    assert sorted(actions) == ["check.delete", "check.pause", "check.resume", "check.update"]


def test_client_users_read_only(client, acme, owner):
    check = http_check(acme, "shop")
    client.force_login(owner)
    assert client.get(reverse("check_add")).status_code == 403
    assert client.post(reverse("check_add"), form_data(acme)).status_code == 403
    assert client.get(reverse("check_edit", args=[check.pk])).status_code == 403
    assert client.post(reverse("check_pause", args=[check.pk])).status_code == 403
    assert Check.objects.get(pk=check.pk).enabled
    page = client.get(reverse("check_detail", args=[check.pk])).content.decode()
    assert not re.search(r'action="[^"]*/pause/"', page)


def test_it_keeps_the_site_within_the_client(client, acme, globex, operator):
    from mamori.inventory.models import Site

    foreign = Site.objects.create(client=globex, name="globex shop")
    client.force_login(operator)
    form = client.post(reverse("check_add"), form_data(acme, site=foreign.pk)).context["form"]
    assert form.errors["site"] == [gettext("The site belongs to another client.")]
    assert not Check.objects.exists()
