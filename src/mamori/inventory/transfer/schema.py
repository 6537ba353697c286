"""The inventory file's schema: the fields of each kind of record and how their values are read.

A value passes two checks before it reaches the database: its *type* here (a port is a whole
number, a start date is a date), then the model field's own ``clean()`` (choices, lengths, the
e-mail and URL validators, ``validate_topics`` ...), so that every rule about what a valid
contact or endpoint is stays in the models.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.backups.models import BackupJob
from mamori.billing.models import Fee
from mamori.clients.models import Client, Contact, Contract, NoticeTopic
from mamori.desk.models import CatalogueItem
from mamori.inventory.models import Domain, Endpoint, Server, Site
from mamori.inventory.transfer import names
from mamori.lifecycle.models import AcmeAccount, DeploymentTarget, ManagedCertificate
from mamori.monitoring.models import Check, MaintenanceWindow

FORMAT_VERSION = 1
MAX_LIST_ITEMS = 100
TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WHOLE_NUMBER = re.compile(r"^[+-]?\d+$")


class Kind(enum.Enum):
    """How a field's value is written in the file."""

    TEXT = "text"
    EMAIL = "email"
    URL = "url"
    INT = "int"
    BOOL = "bool"
    DATE = "date"
    DAYS = "days"  # a list of whole days, e.g. [60, 30, 14]
    TOPICS = "topics"  # a list of notice topics
    HOST = "host"
    SNI = "sni"
    DOMAIN = "domain"
    REF = "ref"  # the natural key of another record of the same client
    NAMES = "names"  # a list of DNS names (a certificate's), wildcards allowed
    MAPPING = "mapping"  # name: value settings (a challenge's), never secrets
    JSON = "json"  # a mapping of JSON values (a check's settings), checked by the model
    DATETIME = "datetime"  # ISO 8601, e.g. 2027-01-10T01:00:00+09:00 (local time if no offset)
    LINES = "lines"  # words one per line (or a list), blank lines and repeats dropped
    PATHS = "paths"  # file paths, a list (or one per line), exactly as written


@dataclass(frozen=True)
class FieldSpec:
    """One field of a record. ``key`` fields identify the record within its client; a key field
    with a ``default`` may be left out (port 443, SNI empty)."""

    name: str
    kind: Kind = Kind.TEXT
    key: bool = False
    required: bool = False
    default: Any = None
    refers_to: str = ""
    multiline: bool = False
    attr: str = ""  # the model field, when the file calls it something else

    @property
    def model_attr(self) -> str:
        return self.attr or self.name


@dataclass(frozen=True)
class Section:
    """A kind of record: its name in the file, its model and its fields in file order."""

    name: str
    model: type[models.Model]
    fields: tuple[FieldSpec, ...]
    # Lists of records nested in each record of this kind (a certificate's deployment
    # targets), and the model field that links such a nested record to its parent.
    children: tuple[str, ...] = ()
    parent_attr: str = "client"
    # Only these rows are matched, exported and counted as existing (a maintenance window that
    # was cancelled is history: a file naming it again plans it again).
    live: tuple[tuple[str, Any], ...] = ()
    # Single mappings nested in each record, with their own reading and writing (a contract's
    # ``support_hours``: mamori.inventory.transfer.support_hours).
    attached: tuple[str, ...] = ()

    def rows(self, queryset: models.QuerySet) -> models.QuerySet:
        """``queryset`` limited to the rows the file deals with (``live``)."""
        return queryset.filter(**dict(self.live)) if self.live else queryset

    def field(self, name: str) -> FieldSpec | None:
        """The field called ``name``, or ``None`` if the section has none (a typo)."""
        return next((f for f in self.fields if f.name == name), None)

    def spec(self, name: str) -> FieldSpec:
        """The field called ``name``, which must exist; raises ``KeyError``."""
        found = self.field(name)
        if found is None:
            raise KeyError(name)
        return found

    def by_attr(self, attr: str) -> FieldSpec | None:
        """The field stored in the model field ``attr``, or ``None``."""
        return next((f for f in self.fields if f.model_attr == attr), None)

    @property
    def key_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.key)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


F = FieldSpec
SECTIONS: dict[str, Section] = {
    s.name: s
    for s in [
        Section(
            "clients",
            Client,
            (
                F("code", key=True, required=True),
                F("name"),
                F("address"),
                F("representative"),
                F("notes", multiline=True),
            ),
        ),
        Section(
            "contacts",
            Contact,
            (
                F("name"),
                F("email", Kind.EMAIL, key=True, required=True),
                F("language"),
                F("notify", Kind.TOPICS),
            ),
        ),
        Section(
            "contracts",
            Contract,
            (
                F("type", key=True, required=True),
                F("start", Kind.DATE, key=True, required=True),
                F("title"),
                F("term_months", Kind.INT),
                F("auto_renew", Kind.BOOL),
                F("renewal_policy"),
                F("expiry_notice_days", Kind.DAYS),
                F("notes", multiline=True),
                F("terms_profile", Kind.REF, refers_to="terms_profiles"),
                F("formed_on", Kind.DATE),
                F("applied_via_web", Kind.BOOL),
            ),
            children=("fees", "catalogue"),
            attached=("support_hours",),
        ),
        # A contract's fees (BIL-01): matched by kind, start and description, so that a file
        # can hold a fee and its successor from a later date.
        Section(
            "fees",
            Fee,
            (
                F("kind", key=True, required=True),
                F("starts_on", Kind.DATE, key=True, default=None),
                F("description", key=True, default=""),
                F("amount", Kind.INT, required=True),
                F("tax_rate", Kind.INT),
                F("tax_included", Kind.BOOL),
                F("ends_on", Kind.DATE),
            ),
            parent_attr="contract",
        ),
        # A contract's free-work catalogue and out-of-scope kinds (MNT-03, MNT-04), by code.
        Section(
            "catalogue",
            CatalogueItem,
            (
                F("code", key=True, required=True),
                F("scope"),
                F("name_ja"),
                F("name_en"),
                F("keywords", Kind.LINES, multiline=True),
                F("monthly_limit", Kind.INT),
                F("clause"),
            ),
            parent_attr="contract",
        ),
        Section(
            "servers",
            Server,
            (
                F("name", key=True, required=True),
                F("kind"),
                F("provider"),
                F("os"),
                F("middleware"),
                F("network", multiline=True),
                F("notes", multiline=True),
            ),
        ),
        Section(
            "sites",
            Site,
            (
                F("name"),
                F("url", Kind.URL, key=True, required=True),
                F("server", Kind.REF, refers_to="servers"),
                F("cms"),
                F("related_systems", multiline=True),
            ),
        ),
        Section(
            "domains",
            Domain,
            (
                F("name", Kind.DOMAIN, key=True, required=True),
                F("registrar"),
                F("expires_on", Kind.DATE),
            ),
        ),
        Section(
            "endpoints",
            Endpoint,
            (
                F("host", Kind.HOST, key=True, required=True),
                F("port", Kind.INT, key=True, default=443),
                F("sni", Kind.SNI, key=True, default=""),
                F("site", Kind.REF, refers_to="sites"),
                F("server", Kind.REF, refers_to="servers"),
                F("contract", Kind.REF, refers_to="contracts"),
                F("check_interval", Kind.INT),
                F("enabled", Kind.BOOL),
                F("trust_bundle", multiline=True),
                # Only the provider's administrators and operators may change it (applying.py).
                F("allow_private_address", Kind.BOOL),
            ),
        ),
        Section(
            "acme_accounts",
            AcmeAccount,
            (
                F("name", key=True, required=True),
                F("directory_url", Kind.URL),
                F("contact_email", Kind.EMAIL),
                F("key_type"),
                F("eab_kid"),
                F("eab_hmac_secret", Kind.REF, refers_to="secrets"),
                F("ca_bundle", multiline=True),
            ),
        ),
        Section(
            "managed_certificates",
            ManagedCertificate,
            (
                F("name", key=True, required=True),
                F("names", Kind.NAMES),
                F("key_type"),
                F("key_policy"),
                F("issuer"),
                F("acme_account", Kind.REF, refers_to="acme_accounts"),
                F("acme_profile"),
                F("ca_name"),
                F("product"),
                F("challenge"),
                F("challenge_settings", Kind.MAPPING),
                F(
                    "challenge_credential",
                    Kind.REF,
                    refers_to="secrets",
                    attr="challenge_secret",
                ),
                F("renewal_instruction"),
                F("contract", Kind.REF, refers_to="contracts"),
                F("enabled", Kind.BOOL),
            ),
            children=("deployment_targets",),
        ),
        Section(
            "deployment_targets",
            DeploymentTarget,
            (
                F("name", key=True, required=True),
                F("kind"),
                F("endpoint", Kind.REF, refers_to="endpoints"),
                F("server", Kind.REF, refers_to="servers"),
                F("ssh_host"),
                F("ssh_port", Kind.INT),
                F("ssh_username"),
                F("ssh_credential", Kind.REF, refers_to="secrets", attr="ssh_secret"),
                F("ssh_host_key", multiline=True),
                F("cert_path"),
                F("chain_path"),
                F("fullchain_path"),
                F("key_path"),
                F("owner"),
                F("group"),
                F("cert_mode"),
                F("key_mode"),
                F("reload_command"),
                F("enabled", Kind.BOOL),
            ),
            parent_attr="managed",
        ),
        Section(
            "checks",
            Check,
            (
                F("name", key=True, required=True),
                F("site", Kind.REF, refers_to="sites"),
                F("server", Kind.REF, refers_to="servers"),
                F("kind"),
                F("settings", Kind.JSON),
                F("interval_seconds", Kind.INT),
                F("timeout_seconds", Kind.INT),
                F("failures_to_confirm", Kind.INT),
                F("recoveries_to_confirm", Kind.INT),
                F("enabled", Kind.BOOL),
            ),
        ),
        Section(
            "maintenance_windows",
            MaintenanceWindow,
            (
                F("title", key=True, required=True),
                F("starts_at", Kind.DATETIME, key=True, required=True),
                F("ends_at", Kind.DATETIME),
                F("site", Kind.REF, refers_to="sites"),
                F("server", Kind.REF, refers_to="servers"),
                F("recurrence"),
                F("repeat_until", Kind.DATE),
                F("notify_hours_before", Kind.INT),
                F("description", multiline=True),
            ),
            live=(("cancelled_at__isnull", True),),
        ),
        # Backups (BKP-01): written through mamori.backups.services (applying.py), like the job
        # form and the API. Passwords and keys are vault secrets named here, never their values.
        Section(
            "backup_jobs",
            BackupJob,
            (
                F("name", key=True, required=True),
                F("contract", Kind.REF, refers_to="contracts"),
                F("site", Kind.REF, refers_to="sites"),
                F("server", Kind.REF, refers_to="servers"),
                F("paths", Kind.PATHS),
                F("dump_command"),
                F("dump_filename"),
                F("dump_load"),
                F("dump_load_connection"),
                F("dump_load_password", Kind.REF, refers_to="secrets"),
                F("interval_hours", Kind.INT),
                F("keep_daily", Kind.INT),
                F("keep_weekly", Kind.INT),
                F("keep_monthly", Kind.INT),
                F("repository", required=True),
                F("repository_password", Kind.REF, refers_to="secrets", required=True),
                F("repository_key", Kind.REF, refers_to="secrets"),
                F("repository_host_key", multiline=True),
                F("repository_access_key_id", Kind.REF, refers_to="secrets"),
                F("repository_secret_access_key", Kind.REF, refers_to="secrets"),
                F("run_on", required=True),
                F("ssh_host"),
                F("ssh_port", Kind.INT),
                F("ssh_username"),
                F("ssh_credential", Kind.REF, refers_to="secrets", attr="ssh_secret"),
                F("ssh_host_key", multiline=True),
                F("drill_every_days", Kind.INT),
                F("drill_read_percent", Kind.INT),
                F("drill_files", Kind.INT),
                F("timeout_minutes", Kind.INT),
                F("enabled", Kind.BOOL),
            ),
        ),
    ]
}
# The lists a client holds, in file order. It is also a valid order to import them in: sites
# refer to servers, endpoints to sites, servers and contracts, managed certificates to ACME
# accounts and contracts, their deployment targets to endpoints and servers; each comes after
# what it refers to. (Vault secrets are referred to by name but never imported.)
CHILD_SECTIONS: tuple[str, ...] = (
    "contacts",
    "contracts",
    "servers",
    "sites",
    "domains",
    "endpoints",
    "acme_accounts",
    "managed_certificates",
    "checks",
    "maintenance_windows",
    "backup_jobs",
)
# Words that mark a setting as a secret: those belong in the vault, named by a credential field.
SECRET_WORDS: tuple[str, ...] = ("password", "passwd", "secret", "token", "api_key", "apikey")
MAX_SETTINGS_ITEMS = 50
# The settings each challenge method reads (mamori.lifecycle.solvers); ``options`` is a mapping
# of dns-lexicon provider options.
CHALLENGE_SETTINGS: dict[str, tuple[str, ...]] = {
    "http-webroot": ("webroot",),
    "http-ssh": ("webroot", "ssh_host", "ssh_port", "ssh_username", "ssh_host_key"),
    "http-responder": (),
    "dns": (
        "provider",
        "zone",
        "options",
        "credential_option",
        "propagation_timeout",
        "resolvers",
        "ttl",
    ),
}
ALL_CHALLENGE_SETTINGS: tuple[str, ...] = tuple(
    dict.fromkeys(name for names_ in CHALLENGE_SETTINGS.values() for name in names_)
)
CSV_COLUMNS: tuple[str, ...] = (
    "client",
    "host",
    "port",
    "sni",
    "site",
    "server",
    "contract",
    "check_interval",
    "enabled",
)
CSV_REQUIRED_COLUMNS: tuple[str, ...] = ("client", "host")
# Excel runs a cell that starts with one of these as a formula (CSV injection): the exporter
# writes such a cell with a leading apostrophe, and the CSV importer removes it again.
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


class FieldProblem(ValueError):
    """A value that does not fit its field; the message is for the operator."""


# --- keys ---------------------------------------------------------------------------------------


def entry_key(section: Section, values: dict[str, Any]) -> tuple[Any, ...]:
    """The natural key of a record read from a file (``values`` already normalised)."""
    parts = [values.get(f.name, f.default) for f in section.key_fields]
    return _key(section.name, parts)


def object_key(section: Section, obj: models.Model) -> tuple[Any, ...]:
    """The natural key of a database row, normalised like a file's values so that rows written
    through the web UI before these rules still match."""
    parts = [getattr(obj, f.name) for f in section.key_fields]
    if section.name == "sites":
        parts = [names.url_key(parts[0])]
    elif section.name == "domains":
        parts = [names.host_key(parts[0])]
    elif section.name == "endpoints":
        parts = [names.host_key(parts[0]), parts[1], names.host_key(parts[2]) if parts[2] else ""]
    elif section.name in (
        "clients",
        "servers",
        "acme_accounts",
        "managed_certificates",
        "deployment_targets",
        "checks",
        "backup_jobs",
    ):
        parts = [parts[0].strip()]
    elif section.name == "maintenance_windows":
        parts = [parts[0].strip(), parts[1]]
    return _key(section.name, parts)


def _key(section: str, parts: list[Any]) -> tuple[Any, ...]:
    if section == "contacts":
        # Mailbox names are case-sensitive in theory and never in practice: one person.
        return (str(parts[0]).lower(),)
    if section == "endpoints":
        host, port, sni = parts
        # An empty SNI means "the host", so both spellings name the same endpoint.
        return (host, port, sni or host)
    return tuple(parts)


def key_label(section: str, key: tuple[Any, ...]) -> str:
    """A short human-readable form of a natural key, for reports."""
    if section == "contracts":
        return f"{key[0]} {key[1]:%Y-%m-%d}" if isinstance(key[1], dt.date) else f"{key[0]}"
    if section == "endpoints":
        host, port, sni = key
        text = f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
        return text if sni == host else f"{text} ({sni})"
    if section == "maintenance_windows" and isinstance(key[1], dt.datetime):
        return f"{key[0]} {local_iso(key[1])}"
    return str(key[0])


def local_iso(moment: dt.datetime) -> str:
    """A moment as the file writes it: ISO 8601 in the local time zone, with its offset."""
    return timezone.localtime(moment).isoformat()


def endpoint_ref(host: str, port: int, sni: str) -> str:
    """How a file refers to an endpoint: ``host:port``, or ``host:port/sni`` when the SNI is
    not the host (IPv6 addresses in brackets)."""
    text = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"{text}/{sni}" if sni and sni != host else text


def parse_endpoint_ref(ref: str) -> tuple[str, int, str]:
    """The natural key ``(host, port, sni)`` an endpoint reference names (see
    :func:`endpoint_ref`; the port may be left out for 443); raises :class:`FieldProblem`."""
    hostport, _slash, sni_text = ref.strip().partition("/")
    hostport = hostport.strip()
    port_text = ""
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise FieldProblem(
                _("%(value)s: write an endpoint as host:port or host:port/sni.")
                % {"value": show(ref)}
            )
        port_text = rest[1:]
    elif hostport.count(":") == 1:
        host, _colon, port_text = hostport.partition(":")
    else:
        host = hostport  # a bare IPv6 address, or a host without a port
    if port_text:
        if not WHOLE_NUMBER.match(port_text) or not 1 <= int(port_text) <= 65535:
            raise FieldProblem(
                _("%(value)s: the port must be a whole number from 1 to 65535.")
                % {"value": show(ref)}
            )
        port = int(port_text)
    else:
        port = 443
    try:
        host = names.normalise_host(host)
        sni = names.normalise_sni(sni_text)
    except names.NameProblem as e:
        raise FieldProblem(f"{show(ref)}: {e}") from None
    return _key("endpoints", [host, port, sni])


def contract_ref(contract: Contract, siblings: list[Contract]) -> str:
    """How a file refers to a contract: its type, plus ``/start`` when the client has several
    contracts of that type."""
    same_type = [c for c in siblings if c.type == contract.type]
    if len(same_type) > 1:
        return f"{contract.type}/{contract.start:%Y-%m-%d}"
    return contract.type


def canonical(spec: FieldSpec, value: Any) -> Any:
    """One spelling for values whose order carries no meaning, for comparing and exporting."""
    if (
        spec.kind is Kind.DAYS
        and isinstance(value, list)
        and all(isinstance(d, int) for d in value)
    ):
        return sorted(set(value), reverse=True)
    if spec.kind is Kind.TOPICS and isinstance(value, list):
        known = [t for t in NoticeTopic.values if t in value]
        return known + sorted({t for t in value if t not in NoticeTopic.values}, key=str)
    if spec.kind in (Kind.MAPPING, Kind.JSON) and isinstance(value, dict):
        return dict(sorted(value.items()))
    if spec.kind is Kind.PATHS and isinstance(value, str):
        return "\n".join(line.strip() for line in value.splitlines() if line.strip())
    if spec.kind is Kind.LINES and isinstance(value, str):
        from mamori.desk.catalogue import keyword_lines

        return "\n".join(keyword_lines(value))
    if spec.multiline and isinstance(value, str):
        # A browser sends a textarea's lines with CR LF, YAML reads every line break as LF:
        # compare and export with LF so that the same text is not seen as a change.
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


# --- converting values --------------------------------------------------------------------------


def show(value: Any, limit: int = 60) -> str:
    """A value quoted for a message, shortened if long."""
    if isinstance(value, str):
        text = value if len(value) <= limit else value[: limit - 1] + "…"
        # Control characters would be invisible in the message: show them escaped.
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
        return f"'{text}'"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return _("true/false")
    if isinstance(value, int | float):
        return _("a number")
    if isinstance(value, dt.date):
        return _("a date")
    if isinstance(value, list):
        return _("a list")
    if isinstance(value, dict):
        return _("a mapping")
    return type(value).__name__


def convert(spec: FieldSpec, raw: Any, *, from_text: bool) -> Any:
    """The value of ``spec`` written as ``raw`` (a YAML value, or a CSV cell if
    ``from_text``), normalised; raises :class:`FieldProblem` if it has the wrong type."""
    kind = spec.kind
    if kind in (Kind.DAYS, Kind.TOPICS):
        return canonical(spec, _list(spec, raw, from_text))
    if kind is Kind.NAMES:
        return _dns_names([] if raw is None else raw)
    if kind is Kind.MAPPING:
        return canonical(spec, _settings({} if raw is None else raw))
    if kind is Kind.JSON:
        return canonical(spec, _json_mapping({} if raw is None else raw))
    if kind in (Kind.LINES, Kind.PATHS) and isinstance(raw, list):
        raw = "\n".join(_text(line) for line in raw)
    if kind is Kind.PATHS and isinstance(raw, str):
        return canonical(spec, raw)
    if raw is None:
        # "key:" with no value clears a text field; elsewhere it means "no value" (null),
        # which the model accepts only where a field may be empty.
        if kind is Kind.BOOL:
            raise FieldProblem(_("Expected true or false."))
        return "" if kind in (Kind.TEXT, Kind.EMAIL, Kind.URL, Kind.SNI) else None
    if isinstance(raw, list | dict):
        raise FieldProblem(_("Expected a single value, not %(type)s.") % {"type": type_name(raw)})
    if kind is Kind.INT:
        return _int(raw)
    if kind is Kind.BOOL:
        return _bool(raw)
    if kind is Kind.DATE:
        return _date(raw)
    if kind is Kind.DATETIME:
        return _datetime(raw)
    text = _text(raw)
    try:
        if kind is Kind.HOST:
            return names.normalise_host(text) if text.strip() else ""
        if kind is Kind.SNI:
            return names.normalise_sni(text)
        if kind is Kind.DOMAIN:
            return names.normalise_host(text, allow_ip=False) if text.strip() else ""
    except names.NameProblem as e:
        raise FieldProblem(f"{show(text)}: {e}") from None
    if kind is Kind.EMAIL:
        return names.normalise_email(text)
    if kind is Kind.URL:
        return names.normalise_url(text)
    if kind is Kind.REF:
        if spec.refers_to == "endpoints" and text.strip():
            parse_endpoint_ref(text)  # only to report a malformed reference early
        return text.strip() or None
    return canonical(spec, text) if spec.multiline else text.strip()


def _text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    # YAML turned it into something else: 1.10 would become "1.1" and 01 "1", so say so
    # rather than guess what was meant.
    raise FieldProblem(
        _('Expected text, not %(type)s; put the value in quotes: "%(value)s".')
        % {"type": type_name(raw), "value": raw}
    )


def _int(raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and WHOLE_NUMBER.match(raw.strip()):
        return int(raw.strip())
    raise FieldProblem(_("%(value)s is not a whole number.") % {"value": show(raw)})


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise FieldProblem(_("%(value)s is not true or false.") % {"value": show(raw)})


def _date(raw: Any) -> dt.date:
    if isinstance(raw, dt.datetime):
        raise FieldProblem(_("Expected a date without a time, e.g. 2026-04-01."))
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str) and ISO_DATE.match(raw.strip()):
        try:
            return dt.date.fromisoformat(raw.strip())
        except ValueError as e:
            raise FieldProblem(
                _("%(value)s is not a valid date: %(problem)s.")
                % {"value": show(raw), "problem": e}
            ) from None
    raise FieldProblem(
        _("%(value)s is not a date; write it as YYYY-MM-DD, e.g. 2026-04-01.")
        % {"value": show(raw)}
    )


def _datetime(raw: Any) -> dt.datetime:
    """A moment: ISO 8601 text (or a YAML timestamp); without an offset, local time."""
    moment = raw
    if isinstance(raw, str):
        try:
            moment = dt.datetime.fromisoformat(raw.strip())
        except ValueError:
            moment = None
    if not isinstance(moment, dt.datetime):
        raise FieldProblem(
            _("%(value)s is not a date and time; write it as 2027-01-10T01:00:00+09:00.")
            % {"value": show(raw)}
        )
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _json_mapping(raw: Any, depth: int = 0) -> Any:
    """A mapping of JSON values (text, numbers, true/false, null, lists and mappings of them),
    as a check's settings are; what they must hold is the model's to say."""
    if depth == 0 and not isinstance(raw, dict):
        raise FieldProblem(_("Expected a mapping of settings (name: value)."))
    if depth > 5:
        raise FieldProblem(_("The settings are nested too deeply."))
    if isinstance(raw, dict):
        if len(raw) > MAX_SETTINGS_ITEMS:
            raise FieldProblem(_("Too many items (at most %(max)d).") % {"max": MAX_SETTINGS_ITEMS})
        return {str(k): _json_mapping(v, depth + 1) for k, v in raw.items()}
    if isinstance(raw, list):
        if len(raw) > MAX_LIST_ITEMS:
            raise FieldProblem(_("Too many items (at most %(max)d).") % {"max": MAX_LIST_ITEMS})
        return [_json_mapping(v, depth + 1) for v in raw]
    if isinstance(raw, str | int | float | bool | type(None)):
        return raw
    raise FieldProblem(
        _('Expected text, not %(type)s; put the value in quotes: "%(value)s".')
        % {"type": type_name(raw), "value": raw}
    )


def _list(spec: FieldSpec, raw: Any, from_text: bool) -> list[Any]:
    if from_text and isinstance(raw, str):
        raw = [item for item in re.split(r"[,\s]+", raw.strip()) if item]
    if not isinstance(raw, list):
        example = "[60, 30, 14, 7, 1]" if spec.kind is Kind.DAYS else "[certificates, incidents]"
        raise FieldProblem(_("Expected a list, e.g. %(example)s.") % {"example": example})
    if len(raw) > MAX_LIST_ITEMS:
        raise FieldProblem(_("Too many items (at most %(max)d).") % {"max": MAX_LIST_ITEMS})
    if spec.kind is Kind.DAYS:
        return [_int(item) for item in raw]
    for item in raw:
        if not isinstance(item, str):
            raise FieldProblem(
                _("%(value)s is not a notice topic (use %(valid)s).")
                % {"value": show(item), "valid": ", ".join(NoticeTopic.values)}
            )
    return [item.strip() for item in raw]


def _dns_names(raw: Any) -> list[str]:
    """A certificate's DNS names, normalised like hosts; ``*.`` wildcards allowed."""
    if not isinstance(raw, list):
        raise FieldProblem(_("Expected a list of DNS names, e.g. [www.example.jp, example.jp]."))
    if len(raw) > MAX_LIST_ITEMS:
        raise FieldProblem(_("Too many items (at most %(max)d).") % {"max": MAX_LIST_ITEMS})
    result: list[str] = []
    for item in raw:
        text = _text(item).strip()
        wildcard = text.startswith("*.")
        try:
            name = names.normalise_host(text[2:] if wildcard else text, allow_ip=False)
        except names.NameProblem as e:
            raise FieldProblem(f"{show(text)}: {e}") from None
        name = f"*.{name}" if wildcard else name
        if name in result:
            raise FieldProblem(_("%(value)s is given twice.") % {"value": show(name)})
        result.append(name)
    return result


def _settings(raw: Any, *, nested: bool = False) -> dict[str, Any]:
    """Challenge settings: a mapping of known setting names to plain values (text, numbers,
    true/false, or lists of them); ``options`` is a mapping of such values. A setting named
    like a secret is refused: secrets live in the vault."""
    if not isinstance(raw, dict):
        raise FieldProblem(_("Expected a mapping of settings (name: value)."))
    if len(raw) > MAX_SETTINGS_ITEMS:
        raise FieldProblem(_("Too many items (at most %(max)d).") % {"max": MAX_SETTINGS_ITEMS})
    plain_types = (str, int, float, bool, type(None))
    result: dict[str, Any] = {}
    for name, value in raw.items():
        if any(word in name.lower() for word in SECRET_WORDS):
            raise FieldProblem(
                _(
                    "%(name)s looks like a secret: keep it in the vault and name it with "
                    "challenge_credential."
                )
                % {"name": show(name)}
            )
        if not nested and name not in ALL_CHALLENGE_SETTINGS:
            # Imported here to keep the message in one place (entries imports schema).
            from mamori.inventory.transfer.entries import unknown_field_message

            raise FieldProblem(unknown_field_message(name, ALL_CHALLENGE_SETTINGS))
        if name == "options" and not nested:
            result[name] = dict(sorted(_settings(value, nested=True).items()))
            continue
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, plain_types) for v in items):
            raise FieldProblem(
                _("%(name)s: expected text, a number, true/false or a list of them.")
                % {"name": show(name)}
            )
        result[name] = value
    return result


# --- the model's own rules ------------------------------------------------------------------------


def model_clean(section: Section, spec: FieldSpec, value: Any) -> Any:
    """Run the model field's ``clean()`` on a converted value; raises :class:`FieldProblem`.

    Choice values are accepted in any letter case (``VPS`` for ``vps``) and stored as the
    choice itself.
    """
    if spec.kind is Kind.REF:
        return value
    model_field = section.model._meta.get_field(spec.name)
    if model_field.choices and isinstance(value, str):
        values = [str(choice) for choice, _label in model_field.flatchoices]
        if value not in values and value.lower() in values:
            value = value.lower()
    try:
        return model_field.clean(value, None)
    except ValidationError as e:
        raise FieldProblem(" ".join(describe(e, value, model_field))) from None


def describe(error: ValidationError, value: Any, model_field: models.Field | None) -> list[str]:
    """Messages of a model ``ValidationError`` that also show the offending value."""
    messages = []
    for item in error.error_list:
        text = item.message % item.params if item.params else str(item.message)
        if item.code == "invalid" and isinstance(model_field, models.EmailField):
            text = _("%(value)s is not a valid e-mail address.") % {"value": show(value)}
        elif item.code == "invalid" and isinstance(model_field, models.URLField):
            text = _("%(value)s is not a valid URL.") % {"value": show(value)}
        elif item.code == "invalid_choice" and model_field is not None:
            valid = ", ".join(str(choice) for choice, _label in model_field.flatchoices)
            text = _("%(value)s is not one of: %(valid)s.") % {"value": show(value), "valid": valid}
        elif item.code in ("blank", "null"):
            text = _("A value is required.")
        elif (
            value not in (None, "") and not isinstance(value, list | dict) and item.code != "unique"
        ):
            text = f"{show(value)}: {text}"
        messages.append(text)
    return messages


# --- records ------------------------------------------------------------------------------------


@dataclass(eq=False)
class Entry:
    """One record read from the file: the values of the fields it gives, already converted,
    and the line of each. ``valid`` is false once any of its values was reported."""

    section: Section
    path: str
    line: int
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    valid: bool = True
    children: dict[str, list[Entry]] = field(default_factory=dict)
    # The single mappings nested in it (``Section.attached``), as their modules read them.
    attached: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[Any, ...]:
        return entry_key(self.section, self.values)

    def line_of(self, name: str) -> int:
        return self.lines.get(name, self.line)

    def path_of(self, name: str) -> str:
        """``clients[0].contacts[1].email`` in YAML; just the column name in CSV."""
        return f"{self.path}.{name}" if self.path else name


@dataclass(eq=False)
class ClientEntry(Entry):
    """A client with its lists of records (``children``). ``must_exist`` for CSV rows, which
    name a client but never create one; ``mentions`` are the places that name the client's code."""

    must_exist: bool = False
    mentions: list[tuple[int, str]] = field(default_factory=list)
