"""Clients: the list with their health at a glance, and one client's page with everything on it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Min, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.certificates import queries
from mamori.certificates.models import Certificate
from mamori.certificates.problems import severity
from mamori.clients import terms
from mamori.clients.models import Client, Contact, Contract, NoticeTopic
from mamori.core.htmx import wants_partial
from mamori.core.models import ALL_CLIENT_ROLES
from mamori.core.permissions import Rule, may_change
from mamori.inventory.models import Domain, Endpoint, EndpointState, Server, Site
from mamori.notices.models import Notice

PAGE_SIZE = 50
# A client's endpoints are listed worst first.
STATE_ORDER = {EndpointState.PROBLEM: 0, EndpointState.UNKNOWN: 1, EndpointState.OK: 2}
# A client page lists this many endpoints and notices; the endpoint and notice lists have more.
DETAIL_LIMIT = 200


def worst_state(
    endpoints: int,
    problems: int,
    unknown: int,
    *,
    checks: int = 0,
    down: int = 0,
    checks_unknown: int = 0,
    incidents: int = 0,
) -> str:
    """The client's overall state over its endpoints and its uptime checks: any problem, down
    check or open incident, else anything not checked yet, else OK ("" with nothing watched)."""
    if problems or down or incidents:
        return EndpointState.PROBLEM
    if unknown or checks_unknown:
        return EndpointState.UNKNOWN
    return EndpointState.OK if endpoints or checks else ""


def monitoring_counts(user, client_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per client: enabled checks, those down and not run yet, and open incidents."""
    from mamori.monitoring.models import Check, CheckState, Incident

    found: dict[int, dict[str, int]] = {
        pk: {"checks": 0, "down": 0, "checks_unknown": 0, "incidents": 0} for pk in client_ids
    }
    rows = (
        Check.objects.visible_to(user)
        .filter(client_id__in=client_ids, enabled=True)
        .values("client_id")
        .annotate(
            checks=Count("pk"),
            down=Count("pk", filter=Q(state=CheckState.DOWN)),
            checks_unknown=Count("pk", filter=Q(state=CheckState.UNKNOWN)),
        )
        .order_by()
    )
    for row in rows:
        found[row.pop("client_id")].update(row)
    incidents = (
        Incident.objects.visible_to(user)
        .open()
        .filter(client_id__in=client_ids)
        .values("client_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in incidents:
        found[row["client_id"]]["incidents"] = row["n"]
    return found


@login_required
def client_list(request: HttpRequest) -> HttpResponse:
    open_sighting = Q(endpoints__sightings__ended_at__isnull=True)
    clients = (
        Client.objects.visible_to(request.user)
        .annotate(
            endpoint_count=Count("endpoints", distinct=True),
            problem_count=Count(
                "endpoints", filter=Q(endpoints__state=EndpointState.PROBLEM), distinct=True
            ),
            unknown_count=Count(
                "endpoints", filter=Q(endpoints__state=EndpointState.UNKNOWN), distinct=True
            ),
            certificate_count=Count(
                "endpoints__sightings__certificate", filter=open_sighting, distinct=True
            ),
            next_expiry=Min("endpoints__sightings__certificate__not_after", filter=open_sighting),
        )
        .order_by("code")
    )
    query = request.GET.get("q", "").strip()
    if query:
        clients = clients.filter(Q(code__icontains=query) | Q(name__icontains=query))
    page = Paginator(clients, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    monitoring = monitoring_counts(request.user, [client.pk for client in page])
    for client in page:
        client.monitoring = monitoring[client.pk]
        client.worst_state = worst_state(
            client.endpoint_count, client.problem_count, client.unknown_count, **client.monitoring
        )
        if client.monitoring["down"] or client.monitoring["incidents"]:
            client.state_label = _("Down")
        client.next_expiry_remaining = queries.remaining(client.next_expiry, now)
    template = "clients/_list_results.html" if wants_partial(request) else "clients/list.html"
    # New clients come from the provider's administrators and operators (as in the import).
    may_add = request.user.is_superuser or request.user.role in ALL_CLIENT_ROLES
    return render(request, template, {"page": page, "query": query, "may_add": may_add})


@login_required
def client_detail(request: HttpRequest, code: str) -> HttpResponse:
    user = request.user
    client = get_object_or_404(Client.objects.visible_to(user), code=code)
    now = timezone.now()
    contracts = list(
        Contract.objects.visible_to(user)
        .filter(client=client)
        .select_related("client", "terms_profile")
        .prefetch_related("notices")
        .order_by("-start", "type")
    )
    today = timezone.localdate()
    for contract in contracts:
        contract.terms_status = terms.status(contract, today)
    ssl = queries.ssl_contracts({client.pk})
    endpoints_qs = (
        Endpoint.objects.visible_to(user)
        .filter(client=client)
        .select_related("client", "site", "server", "contract", "current_certificate")
    )
    endpoints = sorted(
        endpoints_qs[:DETAIL_LIMIT],
        key=lambda e: (STATE_ORDER.get(e.state, 9), severity(e.problems), e.host, e.port),
    )
    for endpoint in endpoints:
        endpoint.explained = queries.explain(endpoint.problems)
        cert = endpoint.current_certificate
        endpoint.remaining = queries.remaining(cert.not_after if cert else None, now)
        endpoint.window = queries.notice_window(endpoint, ssl, cert)
    certificates = list(
        queries.filter_certificates(
            Certificate.objects.visible_to(user), user, client=client
        ).order_by("not_after")[:DETAIL_LIMIT]
    )
    served = set(
        queries.current_sightings(user)
        .filter(endpoint__client=client)
        .values_list("certificate_id", flat=True)
    )
    for cert in certificates:
        cert.remaining = queries.remaining(cert.not_after, now)
        cert.served_now = cert.pk in served
    notices = (
        Notice.objects.visible_to(user)
        .filter(client=client)
        .select_related("client", "contact")
        .order_by("-created_at", "-pk")
    )
    contacts = list(Contact.objects.visible_to(user).filter(client=client))
    topics = dict(NoticeTopic.choices)
    for contact in contacts:
        contact.topics = [str(topics.get(t, t)) for t in contact.notify]
    context = {
        "client": client,
        "contracts": contracts,
        "contacts": contacts,
        # Contacts' addresses are personal data (ACC-04): shown to those who may edit the
        # client's records (its staff and administrators), not to its viewers.
        "show_emails": may_change(user, client, Rule.EDITOR),
        "sites": Site.objects.visible_to(user).filter(client=client).select_related("server"),
        # Each server's open vulnerability findings (its page: advisories' server page).
        "servers": Server.objects.visible_to(user)
        .filter(client=client)
        .annotate(
            open_findings=Count(
                "advisory_findings", filter=Q(advisory_findings__closed_at__isnull=True)
            )
        ),
        "domains": Domain.objects.visible_to(user).filter(client=client),
        # Which of the client's records the user may add, change and delete here.
        "may": {
            name: may_change(user, client, model.change_rule)
            for name, model in (
                ("contacts", Contact),
                ("contracts", Contract),
                ("servers", Server),
                ("sites", Site),
                ("domains", Domain),
            )
        },
        "endpoints": endpoints,
        "endpoint_total": endpoints_qs.count(),
        "certificates": certificates,
        "notices": notices[:DETAIL_LIMIT],
        "notice_total": notices.count(),
        "limit": DETAIL_LIMIT,
    }
    return render(request, "clients/detail.html", context)
