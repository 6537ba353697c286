"""Security headers on every response, and templates the Content-Security-Policy can serve
(security review, issue 13). tests/browser/test_csp.py checks the pages in Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

import mamori
from tests.web.cases_offboarding import destroyed

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.mark.parametrize("signed_in", [False, True])
def test_every_page_says_what_it_may_load(client, operator, signed_in):
    if signed_in:
        client.force_login(operator)
    for path in [reverse("login"), reverse("dashboard"), "/no-such-page/", "/api/v1/docs"]:
        response = client.get(path)
        assert directives(response["Content-Security-Policy"]) == POLICY, path
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Frame-Options"] == "DENY"


def test_the_certificate_of_destruction_runs_only_its_own_nonced_style_and_script(
    client, provider_admin, acme
):
    destroyed(acme)
    client.force_login(provider_admin)
    response = client.get(reverse("client_destruction_certificate", args=["acme"]))
    policy = directives(response["Content-Security-Policy"])
    nonce = re.search(r"'nonce-([^']+)'", policy["script-src"]).group(1)
    assert policy["style-src"] == f"'self' 'nonce-{nonce}'"
    html = response.content.decode()
    assert html.count(f'nonce="{nonce}"') == 2
    assert "unsafe-inline" not in response["Content-Security-Policy"]


TEMPLATES = sorted(
    path
    for path in Path(mamori.__file__).parent.rglob("templates/**/*.html")
    # E-mail HTML is not served; the certificate's head carries the response's nonce.
    if "notices/email" not in path.as_posix() and path.name != "_certificate_head.html"
)
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|\sstyle\s*=|<style|javascript:", re.I
)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_no_template_has_inline_script_handlers_or_styles(path):
    found = INLINE.findall(path.read_text())
    assert not found, f"{path}: {found} (move it to static/mamori/mamori.js or mamori.css)"
