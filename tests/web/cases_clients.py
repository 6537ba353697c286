"""Tenancy cases for the pages of a client's records (see tests/web/tenancy.py)."""

from mamori.inventory.models import Server, Site
from tests.web.cases_access import CONTACT_MANAGERS, contact_rows, jane
from tests.web.tenancy import FORM, Case

EXEMPT = {
    "client_add": "adds a new client, of no one's: provider administrators and operators only, "
    "403 for everyone else (tests/web/test_client_records.py)",
    "import_format": "the same format document for everyone who may import; no client's data "
    "(tests/web/test_client_records.py)",
    "import_template": "the same template file for everyone who may import; no client's data "
    "(tests/web/test_client_records.py)",
}


def server_rows() -> list[dict]:
    return list(Server.objects.values().order_by("pk"))


def site_rows() -> list[dict]:
    return list(Site.objects.values().order_by("pk"))


CASES: dict[str, Case] = {
    "record_add": Case(
        FORM,
        lambda s: {"code": s.acme.code, "kind": "servers"},
        post=lambda s: {"name": "db01", "kind": "vps"},
        snapshot=server_rows,
    ),
    "record_edit": Case(
        FORM,
        lambda s: {"code": s.acme.code, "kind": "sites", "pk": s.site.pk},
        post=lambda s: {"name": "本社サイト", "url": s.site.url, "server": s.server.pk},
        snapshot=site_rows,
    ),
    "record_delete": Case(
        FORM,
        lambda s: {"code": s.acme.code, "kind": "contacts", **jane(s)},
        post=lambda s: {},
        readers=CONTACT_MANAGERS,
        writers=CONTACT_MANAGERS,
        snapshot=contact_rows,
    ),
}
