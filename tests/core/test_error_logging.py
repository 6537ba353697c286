"""What a refused or failed request leaves in the log (security review, issue 13): a 403 is
one warning line without a traceback, on the pages and the API; a 500 keeps its traceback."""

from __future__ import annotations

import json
import logging

from django.http import HttpResponse
from django.test import Client
from django.urls import path, reverse

from mamori.core.tokens import create_token
from mamori.urls import urlpatterns as mamori_urlpatterns


def fail(request) -> HttpResponse:
    raise RuntimeError("a bug in a view")


urlpatterns = [*mamori_urlpatterns, path("test-failure/", fail)]


def request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("django.")]


def test_a_page_refused_with_403_is_logged_as_one_line(client, operator, caplog):
    client.force_login(operator)
    with caplog.at_level(logging.INFO):
        assert client.get(reverse("staff_create")).status_code == 403
    [record] = request_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.getMessage() == f"Forbidden (Permission denied): {reverse('staff_create')}"
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


def test_an_api_call_refused_with_403_is_logged_as_one_line(client, member, caplog):
    token = create_token(member, "test")[1]
    with caplog.at_level(logging.INFO):
        response = client.post(
            "/api/v1/endpoints",
            json.dumps({"client": "acme", "host": "new.acme.example"}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 403
    [record] = request_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


def test_a_server_error_keeps_its_traceback(db, settings, caplog):
    settings.ROOT_URLCONF = __name__
    with caplog.at_level(logging.INFO):
        response = Client(raise_request_exception=False).get("/test-failure/")
    assert response.status_code == 500
    [record] = request_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "Internal Server Error: /test-failure/"
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


def test_a_forged_host_header_is_logged_as_one_line(db, caplog):
    with caplog.at_level(logging.INFO):
        response = Client(raise_request_exception=False).get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    records = request_records(caplog)
    assert records and all(r.exc_info is None for r in records)
    assert "Traceback" not in caplog.text
