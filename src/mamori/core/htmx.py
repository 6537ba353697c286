"""The one helper that decides whether a request wants an htmx partial instead of a full page."""

from __future__ import annotations

from django.http import HttpRequest


def wants_partial(request: HttpRequest) -> bool:
    """True for an htmx request that swaps part of a page.

    Boosted links and history restores (the user pressed Back and htmx lost its cache) need the
    whole page, so they get it.
    """
    htmx = getattr(request, "htmx", None)
    if not htmx:
        return False
    return not htmx.boosted and not htmx.history_restore_request
