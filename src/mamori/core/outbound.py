"""Which addresses Mamori's outbound connections may reach, and who may allow more
(docs/access.md, "Which addresses Mamori connects to, for whom").

The guard itself is :mod:`mamori.probe.netguard` (no Django). This module is its one link to
Django: the networks of ``MAMORI_ALLOW_PRIVATE_NETWORKS``, the policy for a record, the one
permission to allow a private address on a record, and the words for the kinds of address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mamori.probe import netguard
from mamori.probe.netguard import AddressPolicy

if TYPE_CHECKING:
    from mamori.core.models import User

# The answer to anyone else who tries to allow a private address on a record.
STAFF_ONLY = _("Only the provider's administrators and operators may allow a private address.")

KIND_LABELS = {
    netguard.LOOPBACK: pgettext_lazy("address kind", "loopback"),
    netguard.PRIVATE: pgettext_lazy("address kind", "private"),
    netguard.LINK_LOCAL: pgettext_lazy("address kind", "link-local"),
    netguard.MULTICAST: pgettext_lazy("address kind", "multicast"),
    netguard.UNSPECIFIED: pgettext_lazy("address kind", "unspecified"),
    netguard.RESERVED: pgettext_lazy("address kind", "reserved"),
}


def may_allow_private_address(user: User | None) -> bool:
    """Whether ``user`` may let a record (an endpoint, a chat channel) reach a non-public
    address: the provider's administrators and operators only — not subcontractors, not the
    client's users. The UI, the API and the import all ask this."""
    from mamori.core.models import ALL_CLIENT_ROLES

    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_superuser or user.role in ALL_CLIENT_ROLES)


def allowance_problem(user: User | None, before: bool, after: bool) -> str | None:
    """Why ``user`` may not change a record's allowance from ``before`` to ``after``
    (``STAFF_ONLY``), else ``None``: leaving it as it is needs no permission."""
    if before == after or may_allow_private_address(user):
        return None
    return str(STAFF_ONLY)


def policy(allow_private: bool = False) -> AddressPolicy:
    """The policy for a record: public addresses and ``MAMORI_ALLOW_PRIVATE_NETWORKS``, or
    any address when provider staff allowed the record (``allow_private``)."""
    return AddressPolicy(
        allow_private=allow_private, networks=tuple(settings.MAMORI_ALLOW_PRIVATE_NETWORKS)
    )


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))
