"""What other apps may listen to: ``collected`` is sent once after a collection's results are
committed (sender: :class:`~mamori.software.models.Collection`; ``collection=`` the row), when
it read the packages or the components. The vulnerability matching (mamori.advisories) listens
to refresh the server's findings right after; the inventory does not know who listens."""

from __future__ import annotations

from django.dispatch import Signal

collected = Signal()
