"""Sign-in, the dashboard, the language switch, the metrics and the error pages."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render, resolve_url
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.http import require_POST, require_safe

from mamori.access import services as access
from mamori.access import signin, throttle
from mamori.core import audit
from mamori.core import dashboard as attention
from mamori.core import metrics as prometheus
from mamori.core.middleware import LANGUAGE_COOKIE
from mamori.core.tokens import authenticate_token

logger = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    """Sign in, step one: the password.

    Throttled (:mod:`mamori.access.throttle`): a locked user name or address is refused before the
    password is even checked, with a message that does not say whether the user exists. A user
    with an authenticator, or one the 2FA policy requires to set one up, is not logged in here:
    the session only remembers the password step, and the second step
    (:mod:`mamori.access.views`) calls ``login()``.
    """

    template_name = "login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        signin.cancel(request)
        username = request.POST.get("username", "")
        if username and throttle.locked_until(username, audit.source_ip(request)):
            signin.failed(request, username, count=False)
            return self.render_to_response(
                self.get_context_data(
                    form=self.get_form_class()(request, initial={"username": username}), locked=True
                )
            )
        return super().post(request, *args, **kwargs)

    def form_valid(self, form) -> HttpResponse:
        user = form.get_user()
        if access.has_two_factor(user):
            step = signin.CODE
        elif access.requires_two_factor(user):
            step = signin.ENROL
        else:
            response = super().form_valid(form)
            throttle.forget_user(user.get_username())
            return response
        signin.begin(self.request, user, step, self.get_success_url())
        return HttpResponseRedirect(
            resolve_url("login_code" if step == signin.CODE else "login_enrol")
        )

    def form_invalid(self, form) -> HttpResponse:
        username = form.data.get("username", "")
        # Only a checked password counts; a form sent without one was never an attempt.
        if username and form.data.get("password"):
            throttle.record_failure(username, audit.source_ip(self.request))
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """Sign out (POST only, as Django requires)."""


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard.html", {"attention": attention.attention(request.user)})


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the UI language: saved on the user's profile, and in a cookie for the sign-in page.

    Open to anonymous users (the sign-in page has the switch too), so it only ever changes the
    caller's own preference.
    """
    language = request.POST.get("language", "")
    target = request.POST.get("next") or request.headers.get("referer") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = resolve_url("dashboard" if request.user.is_authenticated else "login")
    response = HttpResponseRedirect(target)
    if language not in dict(settings.LANGUAGES):
        return response
    if request.user.is_authenticated and request.user.language != language:
        request.user.language = language
        request.user.save(update_fields=["language"])
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
    )
    return response


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


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Not Found"}, status=404)
    return defaults.page_not_found(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Forbidden"}, status=403)
    return defaults.permission_denied(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Bad Request"}, status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Internal Server Error"}, status=500)
    return defaults.server_error(request)
