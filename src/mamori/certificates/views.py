"""The certificate inventory (CERT-01): the list with filters, one certificate's page, its PEM."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _

from mamori.certificates import queries
from mamori.certificates.models import Certificate, CertificateEvent, CertificateSighting
from mamori.certificates.problems import problem_choices
from mamori.clients.models import Client
from mamori.core.filters import ALL
from mamori.core.htmx import wants_partial
from mamori.notices.models import Notice

PAGE_SIZE = 50
HISTORY_LIMIT = 100
PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


class CertificateFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    client = forms.ModelChoiceField(
        label=_("Client"), queryset=Client.objects.none(), to_field_name="code", required=False
    )
    expiring_within = forms.IntegerField(
        label=_("Expiring within (days)"),
        min_value=0,
        max_value=queries.EXPIRING_WITHIN_MAX,
        required=False,
    )
    problem = forms.ChoiceField(label=_("Problem"), required=False)

    def __init__(self, *args: Any, user, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Client.objects.visible_to(user)
        self.fields["client"].empty_label = ALL
        self.fields["problem"].choices = problem_choices()


def normalise_fingerprint(value: str) -> str:
    """Accept a fingerprint in any case, with or without colons."""
    return value.replace(":", "").strip().lower()


@login_required
def certificate_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = CertificateFilterForm(request.GET or None, user=user)
    certificates = Certificate.objects.visible_to(user)
    if form.is_valid():
        data = form.cleaned_data
        certificates = queries.filter_certificates(
            certificates,
            user,
            client=data["client"],
            expiring_within=data["expiring_within"],
            problem=data["problem"] or None,
        )
        if data["q"]:
            q = data["q"].strip()
            certificates = certificates.filter(
                Q(subject_cn__icontains=q)
                | Q(subject__icontains=q)
                | Q(issuer_cn__icontains=q)
                | Q(fingerprint_sha256__istartswith=normalise_fingerprint(q))
                | Q(serial__iexact=q)
            )
    certificates = certificates.order_by("not_after", "pk")
    page = Paginator(certificates, PAGE_SIZE).get_page(request.GET.get("page"))
    served = set(
        queries.current_sightings(user)
        .filter(certificate__in=[c.pk for c in page])
        .values_list("certificate_id", flat=True)
    )
    now = timezone.now()
    for cert in page:
        cert.remaining = queries.remaining(cert.not_after, now)
        cert.served_now = cert.pk in served
    context = {"form": form, "page": page}
    template = (
        "certificates/_list_results.html" if wants_partial(request) else "certificates/list.html"
    )
    return render(request, template, context)


@dataclass
class ChainEntry:
    """One certificate of a chain as the server sent it."""

    subject: str = ""
    issuer: str = ""
    not_before: datetime | None = None
    not_after: datetime | None = None
    fingerprint_sha256: str = ""
    key: str = ""
    signature_algorithm: str = ""
    is_ca: bool = False
    error: str = ""


def _cert_info():
    try:
        from mamori.probe import CertInfo
    except ImportError:
        from mamori.probe.x509info import CertInfo
    return CertInfo


def _parse_one(pem: str) -> ChainEntry:
    try:
        info = _cert_info().from_pem(pem)
    except ValueError:
        return ChainEntry(error=str(_("Not a readable certificate.")))
    key = f"{info.key_type} {info.key_bits}" if info.key_bits else info.key_type
    return ChainEntry(
        subject=info.subject,
        issuer=info.issuer,
        not_before=info.not_before,
        not_after=info.not_after,
        fingerprint_sha256=info.fingerprint_sha256,
        key=key,
        signature_algorithm=info.signature_algorithm,
        is_ca=info.is_ca,
    )


def parse_chain(chain_pem: str) -> list[ChainEntry]:
    """The certificates of a PEM chain, in the order served (leaf first)."""
    return [_parse_one(block) for block in PEM_BLOCK.findall(chain_pem or "")]


def served_chain(cert: Certificate, chain_pem: str) -> list[ChainEntry]:
    """The leaf followed by what the server sent after it. The checker records the
    certificates sent after the leaf; a chain that starts with the leaf is accepted too."""
    chain = parse_chain(chain_pem)
    if not chain or chain[0].fingerprint_sha256 != cert.fingerprint_sha256:
        chain.insert(0, _parse_one(cert.pem))
    return chain


def visible_certificate(request: HttpRequest, fingerprint: str) -> Certificate:
    fingerprint = normalise_fingerprint(fingerprint)
    if not re.fullmatch(r"[0-9a-f]{64}", fingerprint):
        raise Http404
    return get_object_or_404(
        Certificate.objects.visible_to(request.user), fingerprint_sha256=fingerprint
    )


@login_required
def certificate_detail(request: HttpRequest, fingerprint: str) -> HttpResponse:
    user = request.user
    cert = visible_certificate(request, fingerprint)
    now = timezone.now()
    sightings = list(
        CertificateSighting.objects.visible_to(user)
        .filter(certificate=cert)
        .select_related("endpoint__client", "endpoint__contract")
        .order_by("ended_at", "-last_seen_at")[:HISTORY_LIMIT]
    )
    latest = max(sightings, key=lambda s: s.last_seen_at, default=None)
    clients = sorted({s.endpoint.client for s in sightings}, key=lambda c: c.code)
    contracts = queries.ssl_contracts({c.pk for c in clients})
    contract_list = []
    for sighting in sightings:
        contract = sighting.endpoint.contract or contracts.get(sighting.endpoint.client_id)
        if contract is not None and contract not in contract_list:
            contract_list.append(contract)
    events = list(
        CertificateEvent.objects.visible_to(user)
        .filter(Q(certificate=cert) | Q(previous_certificate=cert))
        .select_related("endpoint", "certificate", "previous_certificate")[:HISTORY_LIMIT]
    )
    for event in events:
        event.explained = queries.explain(event.problems)
    context = {
        "cert": cert,
        "remaining": queries.remaining(cert.not_after, now),
        "lifetime_days": round(cert.lifetime_days),
        "sightings": sightings,
        "served_now": [s for s in sightings if s.ended_at is None],
        "chain": served_chain(cert, latest.chain_pem) if latest else [],
        "chain_sighting": latest,
        "clients": clients,
        "contracts": contract_list,
        "events": events,
        # Recorded by the lifecycle (lifecycle.Revocation), read through its reverse relation.
        "revocation": cert.revocations.in_force().first(),
        "notices": Notice.objects.visible_to(user)
        .filter(certificate=cert)
        .select_related("client", "contact")[:HISTORY_LIMIT],
    }
    return render(request, "certificates/detail.html", context)


@login_required
def certificate_pem(request: HttpRequest, fingerprint: str) -> HttpResponse:
    cert = visible_certificate(request, fingerprint)
    name = (
        re.sub(r"[^A-Za-z0-9.-]+", "_", cert.subject_cn.replace("*", "wildcard")) or "certificate"
    )
    filename = f"{name}-{cert.fingerprint_sha256[:12]}.pem"
    pem = cert.pem if cert.pem.endswith("\n") else cert.pem + "\n"
    return HttpResponse(
        pem,
        content_type="application/x-pem-file",
        headers={"Content-Disposition": content_disposition_header(True, filename)},
    )
