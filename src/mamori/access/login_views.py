"""Sign in, step one (the password), and sign out; the second step is in
:mod:`mamori.access.views`."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url

from mamori.access import services as access
from mamori.access import signin, throttle
from mamori.core import audit


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
