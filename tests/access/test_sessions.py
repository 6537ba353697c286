"""Sessions end after MAMORI_SESSION_HOURS without a request (an idle timeout)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.req("ACC-01")


def test_it_counts_the_session_age_from_the_last_request(client, operator):
    assert settings.SESSION_SAVE_EVERY_REQUEST
    client.force_login(operator)
    session = Session.objects.get()
    Session.objects.update(expire_date=timezone.now() + dt.timedelta(minutes=5))
    assert client.get(reverse("dashboard")).status_code == 200
    renewed = Session.objects.get(pk=session.pk).expire_date
    expected = timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs((renewed - expected).total_seconds()) < 60


def test_it_signs_out_after_the_idle_time(client, operator):
    client.force_login(operator)
    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_takes_the_idle_time_from_mamori_session_hours(monkeypatch):
    from mamori import conf

    monkeypatch.setenv("MAMORI_SESSION_HOURS", "3")
    assert 3600 * conf.env_int("SESSION_HOURS", 12, minimum=1) == 3 * 3600
