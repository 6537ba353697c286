"""An audit filter whose dates are reversed says why it finds nothing (ACC-03, issue 15)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from mamori.core import audit
from mamori.core.tokens import create_token

pytestmark = pytest.mark.req("ACC-03")

REVERSED = {"date_from": "2026-12-05", "date_to": "2026-11-01"}


def reversed_message(language: str) -> str:
    with translation.override(language):
        return gettext("“Until” (%(to)s) is before “Since” (%(since)s): swap the dates.") % {
            "to": "2026-11-01",
            "since": "2026-12-05",
        }


@pytest.fixture
def trail(acme):
    return audit.record("endpoint.update", acme, actor_label="alice", changes={"port": [1, 2]})


@pytest.mark.parametrize("language", ["ja", "en"])
def test_reversed_dates_are_a_form_error_not_an_empty_list(trail, provider_admin, client, language):
    provider_admin.language = language
    provider_admin.save(update_fields=["language"])
    client.force_login(provider_admin)
    response = client.get(reverse("audit_list"), REVERSED)
    assert response.status_code == 200
    assert response.context["form"].errors["date_to"] == [reversed_message(language)]
    body = response.content.decode()
    assert reversed_message(language) in body
    with translation.override(language):
        assert gettext("No audit events.") not in body
        assert gettext("Correct the filter above to see the audit events.") in body
    # The htmx partial (what the filter form swaps in) says it too.
    partial = client.get(reverse("audit_list"), REVERSED, HTTP_HX_REQUEST="true")
    assert reversed_message(language) in partial.content.decode()
    # The same day on both sides is a valid one-day filter.
    ok = client.get(reverse("audit_list"), {"date_from": "2026-11-01", "date_to": "2026-11-01"})
    assert not ok.context["form"].errors


def test_the_api_answers_422_for_reversed_dates(trail, provider_admin, client):
    token = create_token(provider_admin, "test")[1]
    response = client.get(
        "/api/v1/audit",
        REVERSED,
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["query", "date_to"]
