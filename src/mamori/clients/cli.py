"""Finding a client and its contract by what an operator types on the command line; every
command that names them (``mamori contracts``, ``mamori desk``) reads them this way."""

from __future__ import annotations

from django.utils.translation import gettext as _

from mamori.clients.models import Client, Contract
from mamori.core.management import usage


def find_client(code: str) -> Client:
    """The client of ``code``; a usage error if there is none."""
    client = Client.objects.filter(code=code.strip()).first()
    if client is None:
        raise usage(_("No such client: %(code)s") % {"code": code})
    return client


def find_contract(client: Client, ref: str) -> Contract:
    """The client's contract ``ref``: an id, ``TYPE`` or ``TYPE/YYYY-MM-DD``."""
    contracts = client.contracts.select_related("client", "terms_profile")
    ref = ref.strip()
    if ref.isdigit():
        found = contracts.filter(pk=int(ref)).first()
        if found is None:
            raise usage(
                _("No contract %(ref)s for client %(client)s.")
                % {"ref": ref, "client": client.code}
            )
        return found
    kind, _sep, start = ref.partition("/")
    matches = [c for c in contracts if c.type == kind.strip()]
    if start:
        matches = [c for c in matches if f"{c.start:%Y-%m-%d}" == start.strip()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise usage(
            _("The client has several contracts of this type; add the start date, e.g. %(ex)s.")
            % {"ex": f"{kind}/{matches[0].start:%Y-%m-%d}"}
        )
    raise usage(
        _("No contract %(ref)s for client %(client)s.") % {"ref": ref, "client": client.code}
    )
