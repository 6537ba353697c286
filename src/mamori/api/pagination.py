"""How every list of the API is paged: ``limit`` and ``offset``, within bounds.

ninja's own limit/offset paging takes any integer, and a number past what the database can
hold (2^63) fails in the query. This class is ninja's pagination class for the whole API
(``NINJA_PAGINATION_CLASS`` in settings), so every ``@paginate`` route answers such input with a
422 naming the parameter, and the OpenAPI document states the bounds.
"""

from __future__ import annotations

from typing import Any

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

#: Items in one page: by default, and at most.
PAGE = 100
MAX_LIMIT = 1000
#: The furthest a list can be paged (far beyond any list Mamori keeps).
MAX_OFFSET = 1_000_000_000


class Pages(LimitOffsetPagination):
    class Input(Schema):
        limit: int = Field(PAGE, ge=1, le=MAX_LIMIT, description="Items in the page.")
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Items to skip.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=MAX_LIMIT, **kwargs)
