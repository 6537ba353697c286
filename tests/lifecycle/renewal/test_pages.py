"""The managed-certificate pages and API for each role: provider staff manage and press the
buttons, the client's administrator approves, its viewer only looks, outsiders see nothing
(CERT-04, CERT-05). Every write leaves an audit event."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.lifecycle import renewal
from mamori.lifecycle.models import (
    Approval,
    ApprovalState,
    IssuerKind,
    ManagedCertificate,
    OrderPurpose,
)

pytestmark = [pytest.mark.django_db(databases=["default", "keystore"]), pytest.mark.req("CERT-04")]


def test_the_list_shows_each_state_to_the_clients_people_only(
    make_managed, owner, outsider, client
):
    due = make_managed(age_days=61)
    make_managed(age_days=5)
    renewal.run_pass()
    client.force_login(owner)
    page = client.get(reverse("managed_list")).content.decode()
    assert due.names[0] in page
    assert 'data-state="approval"' in page and 'data-state="valid"' in page
    assert reverse("approval_decide", args=[Approval.objects.get().pk]) in page
    client.force_login(outsider)
    page = client.get(reverse("managed_list")).content.decode()
    assert "acme.example" not in page
    assert client.get(reverse("managed_detail", args=[due.pk])).status_code == 404


def test_staff_add_a_certificate_and_issue_it(operator, owner, acme, client):
    client.force_login(owner)
    assert client.get(reverse("managed_add")).status_code == 403
    client.force_login(operator)
    response = client.post(
        reverse("managed_add"),
        {
            "client": acme.pk,
            "name": "shop",
            "names": "Shop.Acme.Example\nacme.example",
            "key_type": "ec384",
            "key_policy": "rotate",
            "issuer": "manual",
            "ca_name": "Example Trust",
            "renewal_instruction": "",
            "challenge_settings": "",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    managed = ManagedCertificate.objects.get(name="shop")
    assert managed.names == ["shop.acme.example", "acme.example"]
    assert AuditEvent.objects.filter(action="managed.create", actor=operator).exists()
    # An ACME certificate needs an account and a challenge: a precise error, not a traceback.
    response = client.post(
        reverse("managed_add"),
        {"client": acme.pk, "name": "x", "names": "x.acme.example", "key_type": "ec256",
         "key_policy": "rotate", "issuer": "acme", "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "An ACME certificate needs an ACME account." in response.content.decode()

    page = client.get(managed.get_absolute_url()).content.decode()
    assert reverse("managed_issue", args=[managed.pk]) in page
    client.force_login(owner)
    assert client.post(reverse("managed_issue", args=[managed.pk])).status_code == 403
    client.force_login(operator)
    assert client.post(reverse("managed_issue", args=[managed.pk])).status_code == 302
    order = managed.orders.get()
    assert order.purpose == OrderPurpose.ISSUE and order.key_type == "ec384"
    assert AuditEvent.objects.filter(action="order.create", actor=operator).exists()


def test_renew_now_follows_the_instruction(make_managed, operator, client):
    managed = make_managed(age_days=20)  # approval needed
    client.force_login(operator)
    url = reverse("managed_renew", args=[managed.pk])
    page = client.post(url, follow=True).content.decode()
    assert "only with the client" in page
    assert not managed.orders.filter(purpose=OrderPurpose.RENEW).exists()
    managed.renewal_instruction = "standing"
    managed.save()
    client.post(url)
    assert managed.orders.filter(purpose=OrderPurpose.RENEW).count() == 1


def test_staff_record_an_approval_and_hold_on_the_page(make_managed, operator, client):
    managed = make_managed(age_days=61)
    client.force_login(operator)
    response = client.post(
        reverse("managed_record_approval", args=[managed.pk]),
        {"given_by": "", "channel": "phone"},
    )
    assert response.status_code == 200 and not Approval.objects.exists()
    response = client.post(
        reverse("managed_record_approval", args=[managed.pk]),
        {"given_by": "山田太郎", "channel": "letter", "note": "signed letter"},
    )
    assert response.status_code == 302
    approval = Approval.objects.get()
    assert approval.state == ApprovalState.APPROVED and approval.given_by == "山田太郎"

    response = client.post(
        reverse("managed_hold", args=[managed.pk]),
        {"awaiting": "decision", "note": "Which names?", "notify": "on"},
    )
    assert response.status_code == 302
    page = client.get(managed.get_absolute_url()).content.decode()
    assert 'data-state="hold"' in page and "Which names?" in page
    assert reverse("managed_release", args=[managed.pk]) in page
    assert renewal.run_pass().ordered == 0
    client.post(reverse("managed_release", args=[managed.pk]))
    assert renewal.run_pass().ordered == 1


def test_the_client_decides_on_its_approval_page(make_managed, owner, member, operator, client):
    managed = make_managed(age_days=61)
    renewal.run_pass()
    approval = Approval.objects.get()
    url = reverse("approval_decide", args=[approval.pk])
    client.force_login(member)
    assert client.get(url).status_code == 403
    # Staff recording on the client's behalf must say who and how.
    client.force_login(operator)
    page = client.post(url, {"decision": "approve"}).content.decode()
    assert "say who gave it and how" in page
    approval.refresh_from_db()
    assert approval.state == ApprovalState.REQUESTED
    client.force_login(owner)
    page = client.get(url).content.decode()
    assert managed.names[0] in page and 'name="decision"' in page
    client.post(url, {"decision": "decline", "note": "we are closing the site"})
    approval.refresh_from_db()
    assert approval.state == ApprovalState.DECLINED and approval.decided_by == owner


def api(client, user, method, path, body=None):
    token = create_token(user, "test")[1]
    return client.generic(
        method,
        f"/api/v1{path}",
        json.dumps(body) if body is not None else "",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_the_api_approves_and_renews_under_the_same_rules(make_managed, owner, operator, client):
    managed = make_managed(age_days=61)
    renewal.run_pass()
    approval = Approval.objects.get()
    response = api(client, operator, "POST", f"/managed-certificates/{managed.pk}/renew")
    assert response.status_code == 409 and "approval" in response.json()["detail"]
    response = api(client, operator, "POST", f"/approvals/{approval.pk}/approve", {"note": "x"})
    assert response.status_code == 422  # staff must say who and how
    response = api(client, owner, "POST", f"/approvals/{approval.pk}/approve", {"note": "ok"})
    assert response.status_code == 200
    assert response.json()["state"] == "approved" and response.json()["channel"] == "api"
    response = api(client, owner, "POST", f"/approvals/{approval.pk}/approve", {})
    assert response.status_code == 409
    response = api(client, operator, "POST", f"/managed-certificates/{managed.pk}/renew")
    assert response.status_code == 201
    assert response.json()["purpose"] == "renew" and response.json()["approval"] == approval.pk
    got = api(client, owner, "GET", f"/managed-certificates/{managed.pk}").json()
    assert got["state"] == "ordering" and got["effective_instruction"] == "approval"
    assert got["open_order"] == response.json()["id"]


def test_the_api_creates_and_holds(operator, acme, client):
    response = api(
        client,
        operator,
        "POST",
        "/managed-certificates",
        {"client": "acme", "name": "api", "names": ["api.acme.example"], "issuer": "manual"},
    )
    assert response.status_code == 201, response.content
    managed_id = response.json()["id"]
    assert response.json()["state"] == "none"
    body = {"client": "acme", "name": "bad", "names": ["bad name"], "issuer": "manual"}
    bad = api(client, operator, "POST", "/managed-certificates", body)
    assert bad.status_code == 422 and "bad name" in json.dumps(bad.json())
    held = api(client, operator, "POST", f"/managed-certificates/{managed_id}/hold",
               {"awaiting": "payment", "note": "invoice"})  # fmt: skip
    assert held.status_code == 200 and held.json()["awaiting"] == "payment"
    released = api(client, operator, "POST", f"/managed-certificates/{managed_id}/release")
    assert released.json()["awaiting"] == ""
    assert ManagedCertificate.objects.get(pk=managed_id).issuer == IssuerKind.MANUAL
