"""Answer ACME HTTP-01 challenges for any host name.

A site that forwards ``/.well-known/acme-challenge/`` to Mamori sends the site's own name in the
Host header, which is not one of Mamori's ``ALLOWED_HOSTS``: Django would refuse it (400) before
the responder ran. This middleware comes first and answers that one path itself, without reading
the host; every other request goes through the usual checks.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotFound

PREFIX = "/.well-known/acme-challenge/"


class AcmeResponderMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if not path.startswith(PREFIX):
            return self.get_response(request)
        from mamori.lifecycle.responder_urls import acme_challenge

        token = path[len(PREFIX) :]
        if not token or "/" in token:
            return HttpResponseNotFound("not found\n", content_type="text/plain")
        try:
            return acme_challenge(request, token)
        except Http404:
            return HttpResponseNotFound("not found\n", content_type="text/plain")
