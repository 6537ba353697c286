"""Mamori's own ACME HTTP-01 responder (CERT-06, challenge method ``http-responder``).

A site that forwards ``/.well-known/acme-challenge/`` to Mamori lets the CA fetch the key
authorization from here. Anonymous by design (the CA does not log in); it answers only for
challenges of open orders that Mamori has presented or answered, and 404 for anything else, so it
tells nobody anything they could not learn from the CA's own challenge.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_safe

from mamori.lifecycle.models import (
    OPEN_ORDER_STATES,
    ChallengeMethod,
    ChallengeState,
)


@require_safe
def acme_challenge(request: HttpRequest, token: str) -> HttpResponse:
    from mamori.lifecycle.models import Challenge

    challenge = (
        Challenge.objects.filter(
            token=token,
            challenge_type="http-01",
            state__in=[ChallengeState.PRESENTED, ChallengeState.ANSWERED],
            order__state__in=OPEN_ORDER_STATES,
            order__managed__challenge=ChallengeMethod.HTTP_RESPONDER,
        )
        .only("validation")
        .first()
    )
    if challenge is None:
        raise Http404
    return HttpResponse(challenge.validation, content_type="text/plain; charset=us-ascii")


urlpatterns = [
    path("<str:token>", acme_challenge, name="acme_challenge_response"),
]
