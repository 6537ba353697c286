"""The vocabulary of the generated tenancy tests (tests/web/test_tenancy.py).

Each app describes its web URLs in a module ``tests/web/cases_<app>.py`` that exports ``CASES``
(URL name → :class:`Case`) and ``EXEMPT`` (URL name → reason); the tenancy test merges them all
and fails for any named URL that none of them describes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mamori.inventory.models import Endpoint

PAGE = "page"  # GET; shows one of acme's objects
LIST = "list"  # GET; shows whatever the user may see
FORM = "form"  # GET shows a form to change data; POST changes it
ACTION = "action"  # POST only

# acme's people: its client admin and viewer, the subcontractor assigned to it, provider staff.
ACME_PEOPLE = frozenset({"owner", "member", "subcontractor", "operator", "provider_admin"})
ACME_EDITORS = ACME_PEOPLE - {"member"}


def endpoint_rows() -> list[dict]:
    return list(Endpoint.objects.values().order_by("pk"))


@dataclass
class Case:
    kind: str
    kwargs: Callable = field(default=lambda s: {})
    # POST data that would succeed for a writer.
    post: Callable | None = None
    # Which of acme's people may see it (GET) and change through it (POST); the others get 403.
    readers: frozenset[str] = ACME_PEOPLE
    writers: frozenset[str] = ACME_EDITORS
    # What a refused POST must leave unchanged: a snapshot of the rows it would touch.
    snapshot: Callable[[], object] = endpoint_rows
    # Whether the page must show acme's data (False for pages about the user's own account).
    shows_acme: bool = True
