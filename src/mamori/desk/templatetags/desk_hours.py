"""Template tags of support hours: a request's targets for ``desk/parts/targets.html``."""

from __future__ import annotations

from django import template
from django.utils import timezone

from mamori.desk import targets

register = template.Library()


@register.simple_tag
def request_targets(req) -> list[dict]:
    """The state of each target of ``req`` now: the due time, a state code, and the business
    time left (or over) split into hours and minutes."""
    result = []
    for target in targets.state(req, timezone.now()):
        minutes = abs(target.minutes)
        result.append(
            {
                "target": target.target,
                "due": target.due,
                "state": target.state,
                "met_at": target.met_at,
                "over": target.minutes < 0,
                "hours": minutes // 60,
                "minutes": minutes % 60,
                "total": minutes,
            }
        )
    return result
