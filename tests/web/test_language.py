"""Every page in Japanese (MAMORI_LANGUAGE's default) and in English, and the language switch."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from tests.web.test_tenancy import CASES, url_of

# Documents without the app's navigation: a PEM file, a printable certificate of destruction, an
# invoice's PDF (in the language asked for, tests/billing), a request's file (as it was sent).
STANDALONE = {"certificate_pem", "client_destruction_certificate", "incident_report", "invoice_pdf"}
STANDALONE |= {"attachment_download", "estimate_pdf", "report_pdf"}

PAGES = sorted(
    n for n, c in CASES.items() if c.kind in ("page", "list", "form") and n not in STANDALONE
)


@pytest.mark.parametrize("name", PAGES)
def test_it_speaks_japanese_by_default(name, scene, owner, client):
    client.force_login(owner)
    body = client.get(url_of(name, scene)).content.decode()
    assert '<html lang="ja">' in body
    assert "ダッシュボード" in body
    assert "ログアウト" in body
    assert ">Dashboard<" not in body


@pytest.mark.parametrize("name", PAGES)
def test_it_speaks_english_to_users_who_chose_it(name, scene, owner, client):
    owner.language = "en"
    owner.save()
    client.force_login(owner)
    body = client.get(url_of(name, scene)).content.decode()
    assert '<html lang="en">' in body
    assert ">Dashboard<" in body
    assert "Sign out" in body
    assert "ダッシュボード" not in body
    assert "ログアウト" not in body


def test_it_explains_problems_in_the_users_language(scene, owner, client):
    owner.language = "en"
    owner.save()
    client.force_login(owner)
    body = client.get(reverse("dashboard")).content.decode()
    assert "The certificate is not valid for this host name." in body
    assert "20 days left" in body


def test_it_saves_the_chosen_language_on_the_user(scene, owner, client):
    client.force_login(owner)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/clients/"})
    assert response.status_code == 302
    assert response["Location"] == "/clients/"
    owner.refresh_from_db()
    assert owner.language == "en"
    assert "Clients" in client.get("/clients/").content.decode()


def test_it_keeps_an_anonymous_visitors_choice_in_a_cookie(db, client):
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    body = client.get(reverse("login")).content.decode()
    assert '<html lang="en">' in body
    assert "Sign in" in body


def test_it_ignores_unknown_languages_and_foreign_redirects(owner, client):
    client.force_login(owner)
    response = client.post(
        reverse("set_language"), {"language": "xx", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("dashboard")
    owner.refresh_from_db()
    assert owner.language == ""


def test_it_only_switches_by_post(client, db):
    assert client.get(reverse("set_language")).status_code == 405


def test_it_signs_in_through_the_login_form(owner, client):
    from tests.conftest import PASSWORD

    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_it_signs_out_by_post_only(owner, client):
    client.force_login(owner)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert client.get(reverse("dashboard")).status_code == 302


def test_it_tells_a_wrong_password_without_saying_which_part(owner, client):
    response = client.post(reverse("login"), {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert 'class="form-errors"' in response.content.decode()
