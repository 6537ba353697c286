"""Offboarding pages: what Mamori holds for a client, return, destruction, certificate."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mamori.clients import offboarding
from mamori.clients.models import Client
from mamori.core.models import Role

# Who may look at a client's holdings, and who may return or destroy them.
VIEWERS = {Role.PROVIDER_ADMIN, Role.OPERATOR}
ACTORS = {Role.PROVIDER_ADMIN}


def _client(request: HttpRequest, code: str, roles: set[str]) -> Client:
    """The client, if the user may see it (else 404) and has one of ``roles`` (else 403)."""
    client = get_object_or_404(Client.objects.visible_to(request.user), code=code)
    if request.user.role not in roles:
        raise PermissionDenied
    return client


@login_required
def client_offboarding(request: HttpRequest, code: str) -> HttpResponse:
    client = _client(request, code, VIEWERS)
    return render(
        request,
        "clients/offboarding/page.html",
        {
            "client": client,
            "sections": offboarding.holdings(client),
            "certificate_refusal": offboarding.certificate_refusal(client),
            "may_act": request.user.role in ACTORS,
            "min_passphrase": offboarding.MIN_PASSPHRASE,
        },
    )


@login_required
@require_POST
def client_offboarding_export(request: HttpRequest, code: str) -> HttpResponse:
    client = _client(request, code, ACTORS)
    passphrase = request.POST.get("passphrase", "")
    if passphrase != request.POST.get("passphrase_again", ""):
        messages.error(request, _("The two passphrases differ; nothing was exported."))
        return redirect("client_offboarding", code=client.code)
    try:
        data = offboarding.export_for_return(
            client, passphrase, actor=request.user, request=request
        )
    except offboarding.OffboardingError as e:
        messages.error(request, str(e))
        return redirect("client_offboarding", code=client.code)
    response = HttpResponse(data, content_type="application/zip")
    stamp = timezone.localtime().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="{client.code}-secrets-{stamp}.zip"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def client_offboarding_destroy(request: HttpRequest, code: str) -> HttpResponse:
    client = _client(request, code, ACTORS)
    if request.POST.get("confirm_code", "").strip() != client.code:
        messages.error(request, _("Type the client's code to confirm; nothing was destroyed."))
        return redirect("client_offboarding", code=client.code)
    try:
        records = offboarding.destroy_all(
            client, actor=request.user, reason=request.POST.get("reason", ""), request=request
        )
    except offboarding.OffboardingError as e:
        messages.error(request, str(e))
        return redirect("client_offboarding", code=client.code)
    messages.success(request, _("%(n)d secret(s) and key(s) destroyed.") % {"n": len(records)})
    return redirect("client_offboarding", code=client.code)


@login_required
def client_destruction_certificate(request: HttpRequest, code: str) -> HttpResponse:
    """The certificate of destruction; also for the client's own administrators."""
    client = get_object_or_404(Client.objects.visible_to(request.user), code=code)
    if request.user.role not in VIEWERS and request.user.role != Role.CLIENT_ADMIN:
        raise PermissionDenied
    language = request.GET.get("lang") or request.LANGUAGE_CODE
    if language not in ("ja", "en"):
        language = "ja"
    try:
        html = offboarding.destruction_certificate(
            client, language=language, csp_nonce=str(request.csp_nonce)
        )
    except offboarding.OffboardingError as e:
        messages.error(request, str(e))
        if request.user.role in VIEWERS:
            return redirect("client_offboarding", code=client.code)
        return redirect(client.get_absolute_url())
    return HttpResponse(html)
