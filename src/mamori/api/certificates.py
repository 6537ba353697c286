"""Certificates: the inventory with the filters of the certificate list page."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router
from ninja.pagination import paginate

from mamori.api.schemas import CertificateDetailOut, CertificateOut, Error
from mamori.certificates import queries
from mamori.certificates.models import Certificate
from mamori.certificates.views import normalise_fingerprint
from mamori.clients.models import Client

router = Router(tags=["certificates"])


@router.get(
    "",
    response=list[CertificateOut],
    summary="List certificates",
    description=(
        "`client`: certificates served (now or before) by that client's endpoints. "
        "`expiring_within`: served now and expiring within that many days, already expired "
        "ones included. `problem`: served now by an endpoint with that problem code "
        "(e.g. `hostname_mismatch`). Ordered by expiry, soonest first."
    ),
)
@paginate
def list_certificates(
    request: HttpRequest,
    client: str | None = None,
    expiring_within: int | None = Query(None, ge=0, le=queries.EXPIRING_WITHIN_MAX),
    problem: str | None = None,
):
    user = request.auth
    certificates = Certificate.objects.visible_to(user)
    chosen = None
    if client:
        chosen = Client.objects.visible_to(user).filter(code=client).first()
        if chosen is None:
            return Certificate.objects.none()
    return queries.filter_certificates(
        certificates, user, client=chosen, expiring_within=expiring_within, problem=problem
    ).order_by("not_after", "pk")


@router.get(
    "/{fingerprint}",
    response={200: CertificateDetailOut, 404: Error},
    summary="Read a certificate",
    description="By its SHA-256 fingerprint (hex, with or without colons).",
)
def get_certificate(request: HttpRequest, fingerprint: str):
    fingerprint = normalise_fingerprint(fingerprint)
    if len(fingerprint) != 64:
        raise Http404
    return get_object_or_404(
        Certificate.objects.visible_to(request.auth), fingerprint_sha256=fingerprint
    )
