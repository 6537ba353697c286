"""What every ``mamori desk`` subcommand reads the same way: a request by its number."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from mamori.core.management import usage
from mamori.desk.models import Request

NUMBER = re.compile(r"^(?:R-)?(\d{1,18})$", re.IGNORECASE)


def find_request(value: str) -> Request:
    """The request numbered ``value`` (``R-12`` or ``12``); a usage error if there is none."""
    match = NUMBER.match(value.strip())
    if not match:
        raise usage(_("Not a request number: %(value)s (R-12 or 12)") % {"value": value})
    req = (
        Request.objects.select_related("client", "contract", "assignee")
        .filter(pk=int(match[1]))
        .first()
    )
    if req is None:
        raise usage(_("No such request: %(value)s") % {"value": value})
    return req
