"""The client portal (issue 15, ACC-01): a client's people get a navigation of their own — their
sites, certificates, incidents, maintenance, reports, approvals, notices — and no page they can
open offers the provider's tools (import, add endpoint, tasks, ACME accounts, the clients list)
or a link that would only answer 403."""

from __future__ import annotations

import contextlib
import re

import pytest
from django.urls import Resolver404, resolve, reverse

from tests.web.test_language import PAGES
from tests.web.test_tenancy import CASES, url_of

pytestmark = pytest.mark.req("ACC-01")

NAV = re.compile(r'<nav class="mainnav[^"]*"[^>]*>(.*?)</nav>', re.S)
HREF = re.compile(r'href="(/[^"#?]*)')
ACTION = re.compile(r'(?:<form[^>]*\baction|\bhx-post)="(/[^"#?]*)"')

# What a client's people come for; its administrators also manage its users and read its audit
# trail.
SHARED = ["dashboard", "client_detail", "certificate_list", "incident_list", "maintenance_calendar"]
SHARED += ["sla_table", "managed_list", "desk_queue", "notice_list", "vault_list"]
# Its administrators also read its invoices (BIL-02), listed after the reports.
OWNER = [*SHARED[:6], "invoice_list", *SHARED[6:], "user_list", "audit_list"]
PORTAL = {"owner": OWNER, "member": SHARED}
# The provider's tools: never offered to a client's people, on any page.
OPERATOR_TOOLS = {
    *("inventory_import", "endpoint_add", "task_list", "acme_account_list", "acme_account_add"),
    *("client_list", "managed_add", "check_add", "incident_add", "maintenance_add"),
    *("staff_create", "provider_settings", "client_offboarding", "revocation_list", "seal_list"),
    "monitoring_overview",
}

# Pages a client's people may open by their address (a task of theirs, a revocation), but which
# the portal does not lead to: they belong to the provider's work and link to its lists.
BEHIND_THE_PORTAL = {"task_list", "task_detail", "seal_add", "seal_list", "revocation_list"}


def linked(body: str) -> set[str]:
    names = set()
    for path in HREF.findall(body):
        with contextlib.suppress(Resolver404):
            names.add(resolve(path).url_name)
    return names


@pytest.mark.parametrize("role", ["owner", "member"])
def test_the_portal_navigation_offers_the_clients_own_things(role, scene, client, request):
    client.force_login(request.getfixturevalue(role))
    body = client.get(reverse("dashboard")).content.decode()
    nav = NAV.search(body).group(1)
    assert "portalnav" in body
    assert [resolve(p).url_name for p in HREF.findall(nav)] == PORTAL[role]
    assert reverse("client_detail", args=["acme"]) in nav
    assert not linked(nav) & OPERATOR_TOOLS
    assert "Menu" in body or "メニュー" in body


def test_provider_staff_keep_the_operators_navigation(scene, operator, client):
    client.force_login(operator)
    nav = NAV.search(client.get(reverse("dashboard")).content.decode()).group(1)
    assert {"client_list", "task_list", "endpoint_list", "managed_list"} <= linked(nav)


def readable(name: str, role: str) -> bool:
    case = CASES[name]
    return role in (case.writers if case.kind == "form" else case.readers)


@pytest.mark.parametrize(
    ("name", "role"),
    [
        (name, role)
        for name in PAGES
        for role in ("owner", "member")
        # Only the pages the role may open and reaches from the portal.
        if readable(name, role) and name not in BEHIND_THE_PORTAL
    ],
)
def test_no_page_offers_a_client_the_providers_tools(name, role, scene, client, request):
    """And no link on it leads to a page the role may not open."""
    client.force_login(request.getfixturevalue(role))
    response = client.get(url_of(name, scene))
    assert response.status_code == 200
    targets = linked(response.content.decode())
    assert targets & OPERATOR_TOOLS == set()
    closed = {t for t in targets if t in CASES and not readable(t, role)}
    assert closed == set(), f"{name} links to pages {role} may not open"
    buttons = set()
    for path in ACTION.findall(response.content.decode()):
        with contextlib.suppress(Resolver404):
            buttons.add(resolve(path).url_name)
    refused = {b for b in buttons if b in CASES and role not in CASES[b].writers}
    assert refused == set(), f"{name} offers {role} buttons that would be refused"


@pytest.mark.parametrize(
    "name",
    [
        *("certificate_list", "notice_list", "vault_list", "endpoint_list", "check_list"),
        *("incident_list", "maintenance_calendar", "sla_table"),
    ],
)
def test_a_clients_lists_do_not_offer_to_filter_by_client(name, scene, owner, operator, client):
    """A client's people see one client: no "all clients" choice (provider staff keep it)."""
    client.force_login(owner)
    assert 'name="client"' not in client.get(reverse(name)).content.decode()
    client.force_login(operator)
    assert 'name="client"' in client.get(reverse(name)).content.decode()


@pytest.mark.req("CERT-04")
def test_the_approval_page_speaks_to_the_client_and_to_staff_in_its_own_words(
    scene, owner, operator, client
):
    """The client reads what it is asked; staff read what the client is asked and record the
    answer; after the decision the page says what follows, not what was asked."""
    from mamori.lifecycle import approvals
    from mamori.lifecycle.models import Approval, IssuerKind, ManagedCertificate

    managed = ManagedCertificate.objects.create(
        client=scene.acme,
        name="www",
        names=["www.acme.example"],
        issuer=IssuerKind.ACME,
        certificate=scene.expiring_cert,
    )
    approval = Approval.objects.create(managed=managed, renewal_of=scene.expiring_cert)
    url = reverse("approval_decide", args=[approval.pk])
    owner.language = "en"
    owner.save()
    client.force_login(owner)
    page = client.get(url).content.decode()
    assert "Your approval is needed: renewal of www.acme.example" in page
    assert "No certificate fee" in page  # an ACME CA charges nothing
    assert "If you decline" in page and "Answer needed by" in page
    assert "waiting for the client" not in page.lower()
    assert 'name="given_by"' not in page
    client.force_login(operator)  # Japanese
    page = client.get(url).content.decode()
    assert "お客様へのご確認内容" in page and "お客様が見送った場合" in page
    # Japanese sentences follow each other without the space English puts between them.
    assert "、 " not in page and "。 " not in page
    assert 'name="given_by"' in page
    approvals.approve(approval, actor=owner, channel="portal")
    client.force_login(owner)
    page = client.get(url).content.decode()
    assert "You approved this renewal" in page and "About this renewal" in page
    assert "If you decline" not in page and 'name="decision"' not in page
