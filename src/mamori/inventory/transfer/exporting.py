"""``export_inventory``: write the inventory in the format ``import_file`` reads.

The output is deterministic (records sorted by their natural keys, fields in schema order), so
that exporting, importing into an empty database and exporting again gives the same text, and
two exports can be compared with ``diff``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from mamori.backups.models import BackupJob
from mamori.clients.models import Client, Contract, TermsProfile
from mamori.core import audit
from mamori.core.models import User
from mamori.inventory.models import Endpoint, Site
from mamori.inventory.transfer import support_hours
from mamori.inventory.transfer.schema import (
    CHILD_SECTIONS,
    CSV_COLUMNS,
    FORMAT_VERSION,
    FORMULA_STARTS,
    SECTIONS,
    FieldSpec,
    Kind,
    Section,
    canonical,
    contract_ref,
    endpoint_ref,
    local_iso,
)
from mamori.lifecycle.models import AcmeAccount, DeploymentTarget, ManagedCertificate
from mamori.monitoring.models import Check, MaintenanceWindow
from mamori.vault.models import Secret

EXPORT_FORMATS = ("yaml", "csv")
YAML_HEADER = "Mamori inventory. Format: docs/import-format.md"

# Natural sort order of each list, so that exports are stable.
SORT_KEYS = {
    "contacts": lambda o: (o.name, o.email),
    "contracts": lambda o: (o.start, o.type),
    "servers": lambda o: (o.name,),
    "sites": lambda o: (o.name, o.url),
    "domains": lambda o: (o.name,),
    "endpoints": lambda o: (o.host, o.port, o.sni),
    "acme_accounts": lambda o: (o.name,),
    "managed_certificates": lambda o: (o.name,),
    "deployment_targets": lambda o: (o.name,),
    "fees": lambda o: (o.kind, o.starts_on or dt.date.min, o.description),
    "catalogue": lambda o: (o.scope, o.code),
    "checks": lambda o: (o.name,),
    "maintenance_windows": lambda o: (o.starts_at, o.title),
    "backup_jobs": lambda o: (o.name,),
}
# Where the records nested in a record are found on it (``managed.targets``).
NESTED_RELATIONS = {"deployment_targets": "targets", "fees": "fees", "catalogue": "catalogue"}


class UnknownClients(LookupError):
    """Some requested client codes do not exist or are not visible to the user."""

    def __init__(self, codes: Sequence[str]) -> None:
        self.codes = list(codes)
        super().__init__(
            _("No such client or not allowed: %(codes)s.") % {"codes": ", ".join(self.codes)}
        )


def export_inventory(
    *,
    fmt: str = "yaml",
    clients: Sequence[str] | None = None,
    actor: User | None = None,
    request: HttpRequest | None = None,
) -> str:
    """The inventory of the clients ``actor`` may see (``None``: all), as YAML or as CSV of
    endpoints; ``clients`` limits it to those codes.

    Writes one ``export`` audit event per client exported (so each client's audit trail shows
    it). Raises :class:`UnknownClients` if a requested code is missing or not visible (without
    saying which), ``ValueError`` for an unknown format.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    selected = _clients(clients, actor)
    text = _yaml(selected) if fmt == "yaml" else _csv(selected)
    for client in selected:
        audit.record("export", client, actor=actor, request=request, changes={"format": fmt})
    if not selected:
        audit.record("export", None, actor=actor, request=request, changes={"format": fmt})
    return text


def _clients(codes: Sequence[str] | None, actor: User | None) -> list[Client]:
    queryset = Client.objects.visible_to(actor) if actor is not None else Client.objects.all()
    if codes:
        queryset = queryset.filter(code__in=codes)
    queryset = queryset.order_by("code").prefetch_related(
        "contacts",
        Prefetch(
            "contracts",
            queryset=Contract.objects.select_related(
                "terms_profile", "support_hours"
            ).prefetch_related("fees", "catalogue"),
        ),
        "servers",
        "domains",
        Prefetch("sites", queryset=Site.objects.select_related("server")),
        Prefetch(
            "endpoints", queryset=Endpoint.objects.select_related("site", "server", "contract")
        ),
        Prefetch("acme_accounts", queryset=AcmeAccount.objects.select_related("eab_hmac_secret")),
        Prefetch(
            "managed_certificates",
            queryset=ManagedCertificate.objects.select_related(
                "acme_account", "contract", "challenge_secret"
            ).prefetch_related(
                Prefetch(
                    "targets",
                    queryset=DeploymentTarget.objects.select_related(
                        "endpoint", "server", "ssh_secret"
                    ),
                )
            ),
        ),
        Prefetch("checks", queryset=Check.objects.select_related("site", "server")),
        Prefetch(
            "backup_jobs",
            queryset=BackupJob.objects.select_related(
                "contract", "site", "server", *BackupJob.SECRET_FIELDS
            ),
        ),
        Prefetch(
            "maintenance_windows",
            queryset=SECTIONS["maintenance_windows"].rows(
                MaintenanceWindow.objects.select_related("site", "server")
            ),
        ),
    )
    selected = list(queryset)
    missing = sorted(set(codes or ()) - {c.code for c in selected})
    if missing:
        raise UnknownClients(missing)
    return selected


def _records(owner: models.Model, section: str) -> list[models.Model]:
    """The records of ``section`` held by ``owner`` (a client, or a record they are nested
    in), in export order."""
    relation = NESTED_RELATIONS.get(section, section)
    rows = getattr(owner, relation).all()
    if section == "maintenance_windows":
        # An ended window is history, like a cancelled one: the import refuses to plan it
        # (it would take past downtime out of the SLA), and an import never deletes, so a
        # file without it loses nothing.
        now = timezone.now()
        rows = [w for w in rows if not w.has_ended(now)]
    return sorted(rows, key=SORT_KEYS[section])


def _value(spec: FieldSpec, obj: models.Model, contracts: list[Contract]) -> Any:
    """The value of one field as the file writes it; ``None`` to leave the field out."""
    value = getattr(obj, spec.model_attr)
    if spec.kind is Kind.REF:
        if value is None:
            return None
        if isinstance(value, Contract):
            return contract_ref(value, contracts)
        if isinstance(value, Endpoint):
            return endpoint_ref(value.host, value.port, value.sni)
        if isinstance(value, TermsProfile):
            return value.code
        if isinstance(value, Secret):
            # The secret's name, never its value; a destroyed secret no longer exists to name.
            return None if value.is_destroyed else value.name
        return value.url if isinstance(value, Site) else value.name
    value = canonical(spec, value)
    if spec.kind is Kind.PATHS:
        return value.splitlines() or None  # a list, one path a line
    if spec.kind is Kind.INT and isinstance(value, Decimal):
        value = int(value)  # a fee's amount: whole yen
    if isinstance(value, dt.datetime):
        return local_iso(value)
    if spec.name == "sni" and value == getattr(obj, "host", None):
        return None  # the same as leaving it empty
    if spec.name in ("allow_private_address", "applied_via_web") and not value:
        return None  # the default: a file mentions it only where the provider allowed it
    if value in ("", None, [], {}) and not spec.required:
        return None
    return value


# --- YAML ---------------------------------------------------------------------------------------


def _yaml_record(section: Section, obj: models.Model, contracts: list[Contract]) -> CommentedMap:
    record = CommentedMap()
    for spec in section.fields:
        value = _value(spec, obj, contracts)
        if value is None:
            continue
        if isinstance(value, list):
            value = CommentedSeq(value)
            value.fa.set_flow_style()  # notify: [certificates, incidents]
        elif isinstance(value, dict):
            value = CommentedMap(value)
            value.fa.set_flow_style()  # challenge_settings: {webroot: /var/www/html}
        elif isinstance(value, str) and "\n" in value:
            value = LiteralScalarString(value)
        record[spec.name] = value
    if "support_hours" in section.attached:
        hours = support_hours.export(obj)
        if hours is not None:
            record["support_hours"] = hours
    for name in section.children:
        nested = [_yaml_record(SECTIONS[name], child, contracts) for child in _records(obj, name)]
        if nested:
            record[name] = CommentedSeq(nested)
    return record


def _yaml(clients: list[Client]) -> str:
    document = CommentedMap()
    document["version"] = FORMAT_VERSION
    items = CommentedSeq()
    for client in clients:
        item = _yaml_record(SECTIONS["clients"], client, [])
        contracts = list(client.contracts.all())
        for name in CHILD_SECTIONS:
            records = [
                _yaml_record(SECTIONS[name], obj, contracts) for obj in _records(client, name)
            ]
            if records:
                item[name] = CommentedSeq(records)
        items.append(item)
    document["clients"] = items
    document.yaml_set_start_comment(YAML_HEADER)
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # long names and notes on one line, not folded
    yaml.allow_unicode = True  # Japanese as UTF-8, not \u escapes
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


# --- CSV ----------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv(clients: list[Client]) -> str:
    section = SECTIONS["endpoints"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for client in clients:
        contracts = list(client.contracts.all())
        for endpoint in _records(client, "endpoints"):
            row = [client.code]
            for column in CSV_COLUMNS[1:]:
                spec = section.spec(column)
                row.append(_cell(_value(spec, endpoint, contracts)))
            writer.writerow(row)
    return out.getvalue()
