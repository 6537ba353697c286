"""Sign-in, the language switch and the error pages."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from django.views.decorators.http import require_POST

from mamori.access import services as access
from mamori.access import signin, throttle
from mamori.core import audit
from mamori.core.middleware import LANGUAGE_COOKIE

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
