"""``mamori desk list|show|new|reply|resolve|close`` (MNT-03, MNT-05)."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from mamori.desk.models import Request
from mamori.notices.models import Notice
from tests.desk.requests_support import make_request

pytestmark = [pytest.mark.req("MNT-03"), pytest.mark.django_db(databases="__all__")]


def desk(*args) -> str:
    out = io.StringIO()
    call_command("desk", *args, stdout=out)
    return out.getvalue()


def test_a_phone_call_is_entered_answered_and_resolved(acme, operator):
    number = desk(
        "new",
        "acme",
        "--subject",
        "バナー画像の差し替え",
        "--text",
        "春のキャンペーン用に",
        "--from",
        "佐藤様",
        "--user",
        operator.username,
    ).strip()
    req = Request.objects.get()
    assert number == f"R-{req.pk}"
    assert req.channel == "phone" and req.requester == "佐藤様" and req.created_by == operator
    desk("reply", number, "--text", "本日差し替えます。", "--user", operator.username)
    req.refresh_from_db()
    assert req.state == "open" and req.first_responded_at
    shown = json.loads(desk("show", str(req.pk), "--json"))
    assert [m["direction"] for m in shown["messages"]] == ["in", "out"]
    desk("resolve", number, "--user", operator.username)
    desk("close", number, "--user", operator.username)
    req.refresh_from_db()
    assert req.state == "closed"


def test_a_contacts_address_as_from_makes_them_the_requests_contact(acme, operator):
    desk(
        "new",
        "acme",
        "--subject",
        "文言修正",
        "--text",
        "…",
        "--channel",
        "email",
        "--from",
        "jane@acme.example",
    )
    req = Request.objects.get()
    assert req.contact.name == "Jane Smith"
    assert Notice.objects.filter(kind="request_received", recipient="jane@acme.example").exists()


@pytest.mark.req("MNT-05")
def test_the_list_is_the_queue_by_due_time_with_the_late_ones_marked(acme, globex):
    now = timezone.now()
    later = make_request(acme, subject="later")
    late = make_request(globex, subject="late one")
    Request.objects.filter(pk=later.pk).update(first_response_due=now + dt.timedelta(hours=3))
    Request.objects.filter(pk=late.pk).update(first_response_due=now - dt.timedelta(minutes=5))
    rows = json.loads(desk("list", "--json"))
    assert [(r["subject"], r["late"]) for r in rows] == [("late one", True), ("later", False)]
    text = desk("list", "--client", "acme")
    assert "later" in text and "late one" not in text


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("show", "R-x"), "Not a request number"),
        (("show", "R-999"), "No such request"),
        (("new", "nobody", "--subject", "s", "--text", "t"), "No such client"),
        (("new", "acme", "--subject", "  ", "--text", "t"), "subject"),
        (("list", "--state", "pending"), "Unknown state"),
        (("reply", "R-999", "--text", "t", "--user", "operator"), "No such request"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(acme, operator, args, words, settings):
    settings.LANGUAGE_CODE = "en"
    with pytest.raises(CommandError) as caught:
        desk(*args)
    assert caught.value.returncode == 2
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_reply_needs_an_operator_who_works_on_the_client(acme, owner):
    req = make_request(acme)
    with pytest.raises(CommandError) as caught:
        desk("reply", req.number, "--text", "t")
    assert caught.value.returncode == 2 and "--user" in str(caught.value)
    with pytest.raises(CommandError) as caught:
        desk("reply", req.number, "--text", "t", "--user", owner.username)
    assert caught.value.returncode == 2
