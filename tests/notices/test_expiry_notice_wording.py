"""The expiry notice says how many days are actually left when it is sent, not the schedule's
threshold, and is signed with the provider's name from the provider settings (CERT-03, NOT-01,
NOT-03; issue 15)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.access.models import AccessPolicy
from mamori.certificates.services import RecordOutcome, _record_expiry
from mamori.inventory.models import Endpoint
from mamori.notices.models import Notice, NoticeKind
from tests.web.conftest import make_certificate, test_ca  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.req("CERT-03"), pytest.mark.req("NOT-03")]


@pytest.fixture
def late(acme, test_ca):  # noqa: F811
    """acme's certificate with 4½ days left, first noticed now: the 7-day notice is due."""
    issued = make_certificate(test_ca, ["www.acme.example"], days_left=4.5, lifetime=90)
    endpoint = Endpoint.objects.create(
        client=acme, host="www.acme.example", current_certificate=issued.certificate
    )
    return endpoint, issued.certificate


def send(endpoint, certificate) -> list[Notice]:
    _record_expiry(endpoint, certificate, timezone.now(), RecordOutcome())
    notices = list(Notice.objects.filter(kind=NoticeKind.CERT_EXPIRING))
    # The schedule's 7-day notice (the one due with 4½ days left).
    assert notices and all(n.key.split("|")[0].endswith(":7") for n in notices)
    return notices


def by_address(notices: list[Notice], address: str) -> Notice:
    return next(n for n in notices if address in n.recipient)


def test_it_says_the_days_left_not_the_threshold_in_both_languages(late):
    notices = send(*late)
    ja = by_address(notices, "yamada@acme.example")
    en = by_address(notices, "jane@acme.example")
    assert "残り4日" in ja.subject and "残り4日" in ja.body_text
    assert "7日前" not in ja.body_text
    assert "expires in 4 days" in en.subject and "expires in 4 days" in en.body_text
    assert "7-day" not in en.body_text


def test_it_is_signed_with_the_providers_name_from_the_settings(
    late, client, provider_admin, settings
):
    settings.MAMORI_PROVIDER_NAME = "Mamori"
    client.force_login(provider_admin)
    response = client.post(
        reverse("provider_settings"), {"policy-provider_name": "株式会社まもりホスティング"}
    )
    assert response.status_code == 302
    assert AccessPolicy.current().provider_name == "株式会社まもりホスティング"
    notices = send(*late)
    for address, rule in (("yamada@acme.example", "――"), ("jane@acme.example", "--")):
        signature = by_address(notices, address).body_text.rpartition(rule)[2]
        assert "株式会社まもりホスティング" in signature
        assert "Mamori" not in signature


def test_without_a_name_in_the_settings_the_setting_signs(late, settings):
    settings.MAMORI_PROVIDER_NAME = "Example Hosting KK"
    notices = send(*late)
    assert "Example Hosting KK" in by_address(notices, "jane@acme.example").body_text
