"""The API and the commands of the desk's waits (CT-09, NOT-05): the unanswered list is the
provider staff's; refusals are precise (API 422, CLI one line and exit 2)."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from mamori.core.tokens import create_token
from mamori.desk.models import Direction, Request, RequestMessage, RequestState
from mamori.desk.services import create_request

pytestmark = [pytest.mark.req("NOT-05"), pytest.mark.django_db(databases="__all__")]


@pytest.fixture
def req(acme) -> Request:
    req = create_request(
        acme,
        channel="phone",
        subject="Add a news item",
        received_at=timezone.now() - dt.timedelta(days=80),
    )
    RequestMessage.objects.create(
        request=req,
        direction=Direction.OUTBOUND,
        body="Which date goes on the news item?",
        is_question=True,
        at=timezone.now() - dt.timedelta(days=70),
    )
    return req


def get(client, user, path):
    token = create_token(user, "test")[1]
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def post(client, user, path, body):
    token = create_token(user, "test")[1]
    return client.post(
        path,
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_the_unanswered_list_is_for_the_providers_staff(
    req, operator, owner, member, make_user, globex, client
):
    from mamori.core.models import Role

    found = get(client, operator, "/api/v1/desk/unanswered").json()
    assert [(i["kind"], i["request"], i["client"]) for i in found] == [
        ("question", req.number, "acme")
    ]
    for user in (owner, member):
        assert get(client, user, "/api/v1/desk/unanswered").status_code == 403
    stranger = make_user("stranger", Role.SUBCONTRACTOR)
    assert get(client, stranger, "/api/v1/desk/unanswered").json() == []


def test_the_api_refuses_an_empty_reason_and_a_second_suspension(req, operator, client):
    path = f"/api/v1/requests/{req.pk}/suspend"
    assert post(client, operator, path, {"reason": ""}).status_code == 422
    answer = post(client, operator, path, {"reason": "No answer since two months"})
    assert answer.status_code == 200 and answer.json()["state"] == "suspended"
    again = post(client, operator, path, {"reason": "No answer since two months"})
    assert again.status_code == 422
    assert again.json()["detail"][0]["loc"] == ["body", "payload"]


def test_the_commands_wait_list_suspend_and_resume(req):
    out = io.StringIO()
    call_command("desk", "unanswered", "--json", stdout=out)
    assert [i["request"] for i in json.loads(out.getvalue())] == [req.number]
    call_command("desk", "wait", req.number, "--awaited", "The date", stdout=io.StringIO())
    call_command("desk", "wait", req.number, "--stop", stdout=io.StringIO())
    call_command("desk", "suspend", req.number, "--reason", "No answer", stdout=io.StringIO())
    assert Request.objects.get(pk=req.pk).state == RequestState.SUSPENDED
    call_command("desk", "resume", req.number, stdout=io.StringIO())
    assert Request.objects.get(pk=req.pk).state == RequestState.NEW
    for args in (
        ["wait", "R-999", "--stop"],
        ["resume", req.number],
        ["wait", req.number, "--stop"],
    ):
        with pytest.raises(CommandError) as refused:
            call_command("desk", *args, stdout=io.StringIO())
        assert refused.value.returncode == 2 and "\n" not in str(refused.value)
