from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.utils import translation

LANGUAGE_COOKIE = settings.LANGUAGE_COOKIE_NAME


class UserLanguageMiddleware:
    """Speak the user's language: their profile, else their cookie, else ``MAMORI_LANGUAGE``.

    The browser's Accept-Language is deliberately not used: a Japanese provider's staff often run
    English-language browsers but expect the Japanese UI the company chose.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user and user.is_authenticated else ""
        if not language:
            cookie = request.COOKIES.get(LANGUAGE_COOKIE, "")
            language = cookie if cookie in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response


class UnstorableInputMiddleware:
    """Text that cannot be stored (a NUL character: PostgreSQL refuses it in any text) is
    refused where it enters through the URL, its path or its query, before any view compares it
    with the database: a 422 naming the parameter for the API, like its other input errors
    (request bodies are checked by :class:`mamori.api.schemas.Input`), a 400 page otherwise."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from mamori.core.text import unstorable

        problem = None
        if message := unstorable(request.path_info):
            problem = (("path",), message)
        else:
            for name, values in request.GET.lists():
                if message := unstorable([name, *values]):
                    problem = (("query", name), message)
                    break
        if problem is None:
            return self.get_response(request)
        location, message = problem
        if request.path_info.startswith("/api/"):
            from django.http import JsonResponse

            from mamori.api.errors import problem as field_problem

            error = field_problem("", message, location=location)
            return JsonResponse({"detail": [error]}, status=422)
        raise BadRequest(message)
