"""The one place that decides which rows a user may see (ACC-01).

Every model that belongs to a client declares the lookup from itself to its client as
``client_lookup`` on its queryset class (``ClientScopedQuerySet``). Views, API endpoints, exports
and background jobs acting for a user call ``Model.objects.visible_to(user)`` and fetch single
objects from that queryset, so an outsider gets a 404, never someone else's data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from django.db import models

if TYPE_CHECKING:
    from mamori.core.models import User


def visible_client_ids(user: User) -> models.QuerySet | None:
    """Client ids the user may see, as a subquery; ``None`` means every client."""
    from mamori.clients.models import Client
    from mamori.core.models import ALL_CLIENT_ROLES, CLIENT_ROLES, Role

    if not user.is_authenticated or not user.is_active:
        return Client.objects.none().values("pk")
    if user.role in ALL_CLIENT_ROLES or user.is_superuser:
        return None
    if user.role in CLIENT_ROLES:
        return Client.objects.filter(pk=user.client_id).values("pk")
    if user.role == Role.SUBCONTRACTOR:
        return user.assigned_clients.values("pk")
    return Client.objects.none().values("pk")


class ClientScopedQuerySet(models.QuerySet):
    """Queryset of a model that belongs to clients through ``client_lookup``."""

    client_lookup: str = "client"
    # Whether the lookup crosses a to-many relation, so that rows could repeat.
    client_lookup_is_multi: bool = False

    def visible_to(self, user: User) -> Self:
        ids = visible_client_ids(user)
        if ids is None:
            return self.all()
        qs = self.filter(**{f"{self.client_lookup}__in": ids})
        return qs.distinct() if self.client_lookup_is_multi else qs

    def for_client(self, client_id: int) -> Self:
        qs = self.filter(**{self.client_lookup: client_id})
        return qs.distinct() if self.client_lookup_is_multi else qs
