"""What the pages show: the dashboard's attention list, a client, a certificate, an endpoint,
notices and the error pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from mamori.certificates.models import CertificateSighting
from mamori.core.models import Role
from mamori.core.views import server_error
from mamori.inventory.models import Endpoint, EndpointState
from tests.web.conftest import make_certificate, serve


def page(client, user, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_it_lists_problems_with_their_explanation_on_the_dashboard(scene, owner, client):
    body = page(client, owner, reverse("dashboard"))
    assert "shop.acme.example" in body
    assert "hostname_mismatch" in body
    assert "証明書がこのホスト名に対して有効ではありません。" in body
    assert "サーバーが中間証明書を送信していない" in body


def test_it_lists_certificates_inside_their_notice_window(scene, owner, client):
    body = page(client, owner, reverse("dashboard"))
    expiring = body.split('id="expiring"')[1].split("</section>")[0]
    assert "www.acme.example" in expiring
    assert "残り 20 日" in expiring
    assert "60 日前から" in expiring
    # 200 days left is outside the 60-day window of acme's contract.
    assert "legacy.acme.example" not in expiring


def test_it_orders_problems_most_urgent_first(scene, operator, client):
    body = page(client, operator, reverse("dashboard"))
    problems = body.split('id="problems"')[1].split("</section>")[0]
    # An expired certificate (globex) comes before a name mismatch (acme).
    assert problems.index("www.globex.example") < problems.index("shop.acme.example")


def test_it_lists_endpoints_not_checked_yet(scene, owner, client):
    body = page(client, owner, reverse("dashboard"))
    assert "mail.acme.example:993" in body.split('id="unchecked"')[1]


def test_it_shows_failed_notices_to_provider_staff_only(scene, operator, owner, client):
    assert "550 mailbox unavailable" in page(client, operator, reverse("dashboard"))
    client.logout()
    body = page(client, owner, reverse("dashboard"))
    assert 'id="failed-notices"' not in body
    assert "550 mailbox unavailable" not in body


def test_it_counts_what_the_user_may_see(scene, owner, client):
    body = page(client, owner, reverse("dashboard"))
    stats = body.split('class="stats"')[1].split("</div>\n\n")[0]
    values = [chunk.split("</div>")[0] for chunk in stats.split('class="value">')[1:]]
    # A client user gets no "clients" count: open incidents, checks down, endpoints,
    # certificates in use, endpoints with problems, expiring within 30 days.
    assert values == ["0", "0", "3", "2", "1", "1"]
    assert reverse("client_list") + '"' not in stats


def test_it_tells_a_newcomer_what_to_do(db, make_user, client):
    user = make_user("newcomer", Role.OPERATOR)
    body = page(client, user, reverse("dashboard"))
    assert "監視対象がまだありません" in body
    assert "mamori demo" in body
    assert reverse("inventory_import") in body
    assert reverse("endpoint_add") in body


def test_it_says_when_nothing_needs_attention(acme, owner, client, test_ca):
    endpoint = Endpoint.objects.create(
        client=acme, host="fine.acme.example", state=EndpointState.OK
    )
    serve(endpoint, make_certificate(test_ca, ["fine.acme.example"], days_left=300))
    body = page(client, owner, reverse("dashboard"))
    assert "対応が必要な項目はありません" in body


def test_it_uses_the_default_schedule_for_clients_without_a_contract(
    globex, outsider, client, test_ca
):
    # globex has no SSL management contract: the default schedule (90 days first) applies.
    endpoint = Endpoint.objects.create(
        client=globex, host="a.globex.example", state=EndpointState.OK
    )
    serve(endpoint, make_certificate(test_ca, ["a.globex.example"], days_left=80))
    body = page(client, outsider, reverse("dashboard"))
    assert "a.globex.example" in body.split('id="expiring"')[1]


def test_it_ignores_thresholds_longer_than_a_third_of_the_lifetime(acme, owner, client, test_ca):
    # A 90-day certificate with 50 days left is not "expiring" under a 60-day threshold: notices
    # for it start at 30 days (mamori.certificates.schedule).
    endpoint = Endpoint.objects.create(
        client=acme, host="short.acme.example", state=EndpointState.OK
    )
    serve(endpoint, make_certificate(test_ca, ["short.acme.example"], days_left=50, lifetime=90))
    body = page(client, owner, reverse("dashboard"))
    assert 'id="expiring"' not in body


def test_it_shows_a_client_with_everything_on_it(scene, owner, client):
    body = page(client, owner, scene.acme.get_absolute_url())
    for text in (
        "SSL証明書管理",  # contract type
        "2026-04-01",  # contract start
        "60, 30, 14, 7, 1 日前",  # notice schedule
        "山田太郎",
        "コーポレートサイト",
        "web01",
        "shop.acme.example",
        "残り 20 日",
        "【Mamori】SSL証明書の有効期限が近づいています",
    ):
        assert text in body, text


def test_it_shows_contact_addresses_to_staff_and_the_client_admin_only(
    scene, owner, member, operator, client
):
    url = scene.acme.get_absolute_url()
    assert "yamada@acme.example</td>" in page(client, owner, url)
    assert "yamada@acme.example</td>" in page(client, operator, url)
    assert "yamada@acme.example</td>" not in page(client, member, url)


def test_it_lists_clients_with_counts_and_worst_state(scene, operator, client):
    body = page(client, operator, reverse("client_list"))
    acme_row = body.split("株式会社アクメ")[1].split("</tr>")[0]
    assert "pill-problem" in acme_row
    assert ">3</td>" in acme_row  # endpoints


def test_it_shows_a_certificate_with_its_chain_and_where_it_is_served(scene, owner, client):
    cert = scene.expiring_cert
    body = page(client, owner, cert.get_absolute_url())
    assert cert.fingerprint_display in body
    assert "acme.example" in body
    assert cert.serial in body
    assert "Mamori Test Issuing CA" in body  # the intermediate, as served
    assert "ecdsa-with-SHA256" in body
    assert scene.expiring_endpoint.get_absolute_url() in body
    assert "残り 20 日" in body
    assert "【Mamori】SSL証明書の有効期限が近づいています" in body  # its notice


def test_it_accepts_a_fingerprint_with_colons(scene, owner, client):
    client.force_login(owner)
    url = reverse("certificate_detail", args=[scene.expiring_cert.fingerprint_display])
    assert client.get(url).status_code == 200


def test_it_shows_only_the_sightings_of_the_users_clients(scene, owner, client):
    # The same certificate served by a globex endpoint too: acme's people must not learn where.
    CertificateSighting.objects.create(
        certificate=scene.expiring_cert,
        endpoint=scene.globex_endpoint,
        first_seen_at=timezone.now() - dt.timedelta(days=1),
        last_seen_at=timezone.now(),
        ended_at=timezone.now(),
    )
    body = page(client, owner, scene.expiring_cert.get_absolute_url())
    assert "globex" not in body.lower()


def test_it_downloads_the_certificate_as_pem(scene, owner, client):
    client.force_login(owner)
    response = client.get(reverse("certificate_pem", args=[scene.expiring_cert.fingerprint_sha256]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-pem-file"
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode().strip() == scene.expiring_cert.pem.strip()


@pytest.mark.parametrize(
    "query, shown, hidden",
    [
        ("expiring_within=30", "www.acme.example", "legacy.acme.example"),
        ("problem=hostname_mismatch", "legacy.acme.example", "www.acme.example"),
        ("client=globex", "www.globex.example", "acme.example"),
    ],
)
def test_it_filters_the_certificate_list(scene, operator, client, query, shown, hidden):
    body = page(client, operator, reverse("certificate_list") + "?" + query)
    results = body.split('id="results"')[1]
    assert shown in results
    assert hidden not in results


def test_it_filters_the_endpoint_list(scene, operator, client):
    body = page(client, operator, reverse("endpoint_list") + "?problem=incomplete_chain")
    results = body.split('id="results"')[1]
    assert "shop.acme.example" in results
    assert "www.globex.example" not in results


def test_it_answers_htmx_filters_with_the_results_only(scene, operator, client):
    client.force_login(operator)
    response = client.get(
        reverse("endpoint_list") + "?state=unknown", headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "<html" not in body
    assert "mail.acme.example" in body
    assert "shop.acme.example" not in body


def test_it_shows_an_endpoint_with_its_problems_and_last_result(scene, owner, client):
    body = page(client, owner, scene.problem_endpoint.get_absolute_url())
    assert "証明書がこのホスト名に対して有効ではありません。" in body
    assert "TLSv1.3" in body
    assert "legacy.acme.example" in body  # served certificate history
    assert "問題を検出" in body  # event


def test_it_keeps_internal_notices_from_client_users(scene, member, operator, client):
    body = page(client, member, reverse("notice_list"))
    assert "SSL証明書の有効期限が近づいています" in body
    assert "internal alert" not in body
    assert client.get(reverse("notice_detail", args=[scene.internal_notice.pk])).status_code == 404
    client.logout()
    assert "internal alert" in page(client, operator, reverse("notice_list"))


def test_it_shows_a_notice_with_its_content_and_delivery_record(scene, member, client):
    body = page(client, member, reverse("notice_detail", args=[scene.notice.pk]))
    assert "山田太郎 様" in body
    assert "送信済み" in body
    assert "&lt;test-1@mamori&gt;" in body


def test_it_shows_its_own_not_found_page(owner, client):
    client.force_login(owner)
    response = client.get("/clients/nobody/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "このページは存在しません" in body
    assert "Traceback" not in body


def test_it_shows_its_own_server_error_page(rf: RequestFactory):
    response = server_error(rf.get("/clients/"))
    assert response.status_code == 500
    assert "システム側でエラーが発生しました" in response.content.decode()


def test_it_answers_unknown_api_paths_with_json(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_it_shows_a_friendly_page_when_the_csrf_token_is_missing(owner):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(owner)
    response = csrf_client.post(reverse("endpoint_add"), {})
    assert response.status_code == 403
    assert "フォームの有効期限が切れました" in response.content.decode()


def test_it_finds_its_stylesheet_and_htmx():
    from django.contrib.staticfiles import finders

    for name in ("mamori/mamori.css", "mamori/htmx.min.js", "mamori/favicon.svg"):
        assert finders.find(name), (
            f"static file {name} not found: settings.STATICFILES_DIRS must list BASE_DIR / 'static'"
        )
