"""The dashboard (what needs attention across the clients the user may see) and the
Prometheus metrics."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from mamori.core.tokens import authenticate_token
from mamori.operations import dashboard as attention
from mamori.operations import metrics as prometheus

#: How often the dashboard asks for news (the page swaps in what changed, no reload).
POLL_SECONDS = 15


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {"attention": attention.attention(request.user), "poll_seconds": POLL_SECONDS}
    return render(request, "dashboard.html", context)


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics (docs/metrics.md) for a provider administrator or operator: by API
    token (``Authorization: Bearer mamori_…``) or a signed-in session. No or an unknown token:
    401; anyone else (client users, subcontractors): 403, since the figures cover every client.
    """
    user = request.user
    scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        user = authenticate_token(value.strip())
    if user is None or not user.is_authenticated:
        response = HttpResponse(
            _("Sign in or send an API token."), status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="mamori"'
        return response
    if not prometheus.may_see(user):
        with translation.override(user.preferred_language()):
            message = _("Only the provider's administrators and operators may read the metrics.")
        return HttpResponse(message, status=403, content_type="text/plain")
    body, content_type = prometheus.exposition(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)
