"""API authentication: bearer tokens for scripts, the session for the browser; errors as JSON."""

# ruff: noqa: F811 (test arguments name the fixtures imported below)

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from mamori.core.models import ApiToken
from mamori.core.tokens import create_token

# The page tests' fixtures (a scene of two clients' data); pytest finds them here.
from tests.web.conftest import fast_password_hashing, scene, test_ca  # noqa: F401

pytestmark = pytest.mark.req("ACC-01")


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


def test_it_accepts_a_valid_token(scene, owner, client):
    _, value = create_token(owner, "ci")
    response = client.get("/api/v1/clients", headers=bearer(value))
    assert response.status_code == 200
    assert [c["code"] for c in response.json()["items"]] == ["acme"]
    assert ApiToken.objects.get(user=owner).last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [
        "Bearer mamori_not-a-real-token",
        "Bearer ",
        "Bearer something-else",
        "Basic b3duZXI6cGFzc3dvcmQ=",
        "mamori_no_scheme",
    ],
)
def test_it_refuses_a_bad_token(scene, owner, client, header):
    response = client.get("/api/v1/clients", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_it_refuses_a_revoked_token(scene, owner, client):
    token, value = create_token(owner, "old")
    token.revoked_at = timezone.now()
    token.save()
    assert client.get("/api/v1/clients", headers=bearer(value)).status_code == 401


def test_it_refuses_an_expired_token(scene, owner, client):
    _, value = create_token(owner, "short", expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert client.get("/api/v1/clients", headers=bearer(value)).status_code == 401


def test_it_refuses_the_token_of_a_deactivated_user(scene, owner, client):
    _, value = create_token(owner, "ci")
    owner.is_active = False
    owner.save()
    assert client.get("/api/v1/clients", headers=bearer(value)).status_code == 401


def test_it_accepts_the_browser_session(scene, owner, client):
    client.force_login(owner)
    response = client.get("/api/v1/endpoints")
    assert response.status_code == 200
    assert response.json()["count"] == 3


def test_it_requires_the_csrf_token_for_session_writes(scene, owner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    response = browser.delete(f"/api/v1/endpoints/{scene.problem_endpoint.pk}")
    assert response.status_code == 403
    assert response.json()["detail"]
    # With the token from a page of the app, the same request goes through.
    page = browser.get("/").content.decode()
    csrf = page.split('"X-CSRFToken": "')[1].split('"')[0]
    response = browser.delete(
        f"/api/v1/endpoints/{scene.problem_endpoint.pk}", headers={"X-CSRFToken": csrf}
    )
    assert response.status_code == 204


def test_it_does_not_need_csrf_with_a_token(scene, owner):
    _, value = create_token(owner, "ci")
    script = Client(enforce_csrf_checks=True)
    response = script.delete(
        f"/api/v1/endpoints/{scene.problem_endpoint.pk}", headers=bearer(value)
    )
    assert response.status_code == 204


def test_it_answers_errors_as_json_never_html(scene, owner, client):
    _, value = create_token(owner, "ci")
    for path in ("/api/v1/clients/nobody", "/api/v1/endpoints/999999", "/api/v1/nothing-here"):
        response = client.get(path, headers=bearer(value))
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
        assert response.json() == {"detail": "Not Found"}
    response = client.get("/api/v1/endpoints/not-a-number", headers=bearer(value))
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


def test_it_hides_internal_errors(scene, owner, client, monkeypatch):
    from mamori.api import clients

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(clients.Client.objects, "visible_to", broken)
    _, value = create_token(owner, "ci")
    response = client.get("/api/v1/clients/acme", headers=bearer(value))
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "secret" not in response.content.decode()
