"""API routes (being written)."""

from ninja import Router

router = Router(tags=["vault"])
