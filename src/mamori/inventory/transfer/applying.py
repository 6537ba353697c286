"""Writing checked records to the database: match by natural key, create or update, audit.

Runs inside the transaction that :func:`~mamori.inventory.transfer.import_file` opens and rolls
back when anything was reported, so a record here may be written even though a later one fails:
the caller decides whether the transaction is kept.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Literal

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext as _

from mamori.backups import services as backup_services
from mamori.backups.models import BackupJob
from mamori.clients.models import Client, TermsProfile
from mamori.core.models import ALL_CLIENT_ROLES, User
from mamori.core.permissions import Rule, may_change
from mamori.inventory.services import (  # noqa: F401 (write_problem: imported from here too)
    Refused,
    jsonable,
    rule_message,
    save_record,
    write_problem,
)
from mamori.inventory.transfer import names, support_hours
from mamori.inventory.transfer.report import Change, ImportReport
from mamori.inventory.transfer.schema import (
    CHILD_SECTIONS,
    SECTIONS,
    ClientEntry,
    Entry,
    FieldProblem,
    FieldSpec,
    Kind,
    Section,
    canonical,
    describe,
    key_label,
    object_key,
    parse_endpoint_ref,
    show,
)
from mamori.monitoring import maintenance
from mamori.vault.models import Secret

# What else a change of a record sets off, as on its pages: a maintenance window moved or
# shortened withdraws the occurrences already announced that no longer happen then.
AFTER_CHANGE: dict[str, Callable[[Any], Any]] = {"maintenance_windows": maintenance.withdraw_moved}
# A reference to a record whose own entry had errors: already reported, so stay quiet.
_BROKEN = object()
# The fields by which other records refer to a record of each kind.
REFERENCE_FIELDS = {
    "servers": ("name",),
    "sites": ("url", "name"),
    "contracts": ("type",),
    "acme_accounts": ("name",),
}


def may_import(actor: User | None) -> bool:
    """Whether ``actor`` may import at all: anyone who may edit inventory (not client viewers)."""
    if actor is None:
        return True
    return bool(getattr(actor, "is_authenticated", False) and actor.can_edit)


def may_create_clients(actor: User | None) -> bool:
    """New clients come from the provider's side: its administrators and operators."""
    return actor is None or actor.is_superuser or actor.role in ALL_CLIENT_ROLES


class ClientRecords:
    """One client's existing records by natural key, kept up to date as the import writes, so
    that references resolve to records made earlier in the same file."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.by_key: dict[str, dict[tuple[Any, ...], models.Model]] = {}
        self.broken: dict[str, set[str]] = {name: set() for name in CHILD_SECTIONS}
        self.broken_keys: set[tuple[Any, ...]] = set()  # endpoints, referred to by key
        for name in CHILD_SECTIONS:
            section = SECTIONS[name]
            index: dict[tuple[Any, ...], models.Model] = {}
            for obj in section.rows(section.model.objects.filter(client=client)).order_by("pk"):
                index.setdefault(object_key(section, obj), obj)
            self.by_key[name] = index
        # Records nested in another (a certificate's deployment targets), by parent.
        self.nested: dict[tuple[str, int], dict[tuple[Any, ...], models.Model]] = {}
        # The client's vault secrets by name; only their names are ever read here.
        self.secrets: dict[str, list[Secret]] = {}
        for secret in Secret.objects.filter(client=client, destroyed_at__isnull=True).only(
            "id", "name", "client_id"
        ):
            self.secrets.setdefault(secret.name, []).append(secret)

    def children_of(self, section: Section, parent: models.Model) -> dict[tuple[Any, ...], Any]:
        """The existing records of ``section`` nested in ``parent``, by natural key."""
        slot = (section.name, parent.pk)
        if slot not in self.nested:
            index: dict[tuple[Any, ...], models.Model] = {}
            rows = section.rows(section.model.objects.filter(**{section.parent_attr: parent}))
            rows = rows.order_by("pk")
            for obj in rows:
                index.setdefault(object_key(section, obj), obj)
            self.nested[slot] = index
        return self.nested[slot]

    def add(self, section: str, key: tuple[Any, ...], obj: models.Model) -> None:
        self.by_key[section][key] = obj

    def is_broken(self, section: str, ref: str) -> bool:
        """Whether ``ref`` may name a record of the file that had errors."""
        if section == "endpoints":
            try:
                return parse_endpoint_ref(ref) in self.broken_keys
            except FieldProblem:
                return False
        if section not in self.broken:
            return False
        forms = {ref, ref.partition("/")[0].strip(), names.url_key(ref)}
        return bool(forms & self.broken[section])

    def mark_broken(self, entry: Entry) -> None:
        """Remember the names by which other records could refer to a bad entry."""
        section = entry.section.name
        if section == "endpoints" and "host" in entry.values:
            self.broken_keys.add(entry.key)
        for name in REFERENCE_FIELDS.get(section, ()):
            if isinstance(entry.values.get(name), str):
                self.broken[section].add(entry.values[name])


class Importer:
    """Applies the entries of one file for one actor; problems go to ``report``."""

    def __init__(
        self, report: ImportReport, actor: User | None, request: HttpRequest | None
    ) -> None:
        self.report = report
        self.actor = actor
        self.request = request
        self.visible = (
            Client.objects.visible_to(actor) if actor is not None else Client.objects.all()
        )

    def run(self, clients: list[ClientEntry]) -> None:
        for entry in clients:
            client = self._client(entry)
            if client is None:
                continue
            records = ClientRecords(client)
            for name in CHILD_SECTIONS:
                for child in entry.children.get(name, []):
                    self._child(records, child)

    # --- clients ---------------------------------------------------------------------------

    def _client(self, entry: ClientEntry) -> Client | None:
        code = entry.values.get("code")
        if not code:
            return None
        client = self.visible.filter(code=code).first()
        if client is None and (entry.must_exist or not may_create_clients(self.actor)):
            # The same words whether the client is missing or someone else's: an import must
            # not be a way to find out which client codes exist.
            for line, path in entry.mentions:
                self.report.add_error(
                    line, path, _("No such client or not allowed: %(code)s.") % {"code": show(code)}
                )
            return None
        if entry.must_exist:
            return client  # CSV rows name their client; they never change it
        if not entry.valid:
            # A client that exists still has its records checked; a new one cannot.
            self._check_rest(entry, {(code,): client} if client else {}, parent=None)
            return client
        written = self._upsert(entry, client, parent=None, refs={})
        return written if isinstance(written, Client) else client

    # --- records of a client ---------------------------------------------------------------

    def _child(
        self,
        records: ClientRecords,
        entry: Entry,
        *,
        parent: models.Model | None = None,
        writable: bool = True,
        label: str = "",
    ) -> None:
        """Create or update the record of ``entry`` (of the client, or nested in ``parent``),
        then the records nested in it. With ``writable`` false (its parent had problems) the
        record is only checked."""
        section = entry.section
        if parent is None:
            index = records.by_key[section.name]
        else:
            index = records.children_of(section, parent) if parent.pk else {}
        existing = index.get(entry.key) if entry.valid else None
        refs = self._references(records, entry, existing)
        obj: models.Model | None = None
        if not entry.valid or refs is None or not writable:
            records.mark_broken(entry)
            if not entry.valid or (refs is not None and not writable):
                self._check_rest(entry, index, parent=parent or records.client)
            obj = index.get(entry.key) if entry.valid else None
        else:
            owner = parent or records.client
            obj = self._upsert(entry, existing, parent=owner, refs=refs, label=label)
            if obj is None:
                records.mark_broken(entry)
            elif existing is None:
                index[entry.key] = obj
        written = obj is not None and obj.pk is not None and writable and entry.valid
        prefix = f"{label}{key_label(section.name, entry.key)}/" if entry.valid else label
        for attached in entry.attached.values():
            support_hours.apply(
                self,
                attached,
                obj if obj is not None else (existing or section.model()),
                client=records.client,
                writable=written,
                key=f"{label}{key_label(section.name, entry.key)}" if entry.valid else label,
            )
        for name in section.children:
            for child in entry.children.get(name, []):
                self._child(
                    records,
                    child,
                    # A record refused here still has its records, checked against it.
                    parent=obj if obj is not None else (existing or section.model()),
                    writable=written,
                    label=prefix,
                )

    def _references(
        self, records: ClientRecords, entry: Entry, existing: models.Model | None = None
    ) -> dict[str, models.Model | None] | None:
        """The records that ``entry``'s references name, or ``None`` if one names nothing
        usable (reported, unless it names a record whose own problems were reported)."""
        refs: dict[str, models.Model | None] = {}
        usable = True
        for spec in entry.section.fields:
            if spec.kind is not Kind.REF or spec.name not in entry.values:
                continue
            target = self._resolve(records, entry, spec.name, spec.refers_to)
            broken = target is _BROKEN or (target is None and entry.values[spec.name] is not None)
            if broken or not self._may_link(records, entry, spec, existing, target):
                usable = False
            else:
                refs[spec.name] = target
        return refs if usable else None

    def _may_link(
        self,
        records: ClientRecords,
        entry: Entry,
        spec: FieldSpec,
        existing: models.Model | None,
        target: Any,
    ) -> bool:
        """Only those who may manage the client's vault may link one of its secrets to a
        record, or remove the link; anyone may leave a link as it is (reported if not)."""
        if spec.refers_to != "secrets" or self.actor is None:
            return True
        current = getattr(existing, f"{spec.model_attr}_id", None) if existing else None
        if current == getattr(target, "pk", None) or may_change(
            self.actor, records.client, Secret.change_rule
        ):
            return True
        self.report.add_error(
            entry.line_of(spec.name),
            entry.path_of(spec.name),
            _("Only the provider's staff may link the client's vault secrets."),
        )
        return False

    def _resolve(self, records: ClientRecords, entry: Entry, field: str, target: str) -> Any:
        """The record a reference names, ``None`` for an empty reference (after reporting a
        reference that names nothing), or ``_BROKEN``."""
        ref = entry.values[field]
        if ref is None:
            return None
        candidates = self._candidates(records, target, ref)
        if len(candidates) == 1:
            return candidates[0]
        if records.is_broken(target, ref):
            return _BROKEN
        line, path = entry.line_of(field), entry.path_of(field)
        if len(candidates) > 1 and target == "secrets":
            hint = _("The client's vault has several secrets with this name; rename one of them.")
            self.report.add_error(line, path, f"{show(ref)}: {hint}")
            return None
        if len(candidates) > 1:
            hint = (
                _("Several sites have this name; refer to the site by its URL.")
                if target == "sites"
                else _(
                    "The client has several contracts of this type; "
                    "add the start date, e.g. %(example)s."
                )
                % {"example": f"{ref}/{candidates[0].start:%Y-%m-%d}"}
            )
            self.report.add_error(line, path, f"{show(ref)}: {hint}")
            return None
        messages = {
            "acme_accounts": _("No ACME account named %(ref)s for this client."),
            "endpoints": _(
                "No endpoint %(ref)s for this client (write it as host:port, or host:port/sni)."
            ),
            "secrets": _("No secret named %(ref)s in this client's vault."),
            "terms_profiles": _("No terms profile with the code %(ref)s."),
            "servers": _("No server named %(ref)s for this client."),
            "sites": _("No site with the URL or name %(ref)s for this client."),
            "contracts": _(
                "No contract %(ref)s for this client "
                "(refer to one by its type, e.g. ssl_management)."
            ),
        }
        self.report.add_error(line, path, messages[target] % {"ref": show(ref)})
        return None

    @staticmethod
    def _candidates(records: ClientRecords, target: str, ref: str) -> list[models.Model]:
        if target == "secrets":
            return list(records.secrets.get(ref, []))
        if target == "terms_profiles":
            # Shared by every client, named by its code.
            return list(TermsProfile.objects.filter(code=ref.strip()))
        index = records.by_key[target]
        if target == "endpoints":
            found = index.get(parse_endpoint_ref(ref))
            return [found] if found else []
        if target in ("servers", "acme_accounts"):
            found = index.get((ref,))
            return [found] if found else []
        if target == "sites":
            if "://" in ref:
                found = index.get((names.url_key(ref),))
                return [found] if found else []
            return [site for site in index.values() if site.name == ref]
        contract_type, _sep, start = ref.partition("/")
        matches = [c for c in index.values() if c.type == contract_type.strip()]
        if start:
            matches = [c for c in matches if f"{c.start:%Y-%m-%d}" == start.strip()]
        return sorted(matches, key=lambda c: c.start)

    def _check_rest(
        self,
        entry: Entry,
        existing: dict[tuple[Any, ...], models.Model],
        *,
        parent: models.Model | None,
    ) -> None:
        """For a record with problems in the file: run the model's checks on its other values
        too (without saving), so that one run also reports, say, a required field left out."""
        section = entry.section
        given = [f for f in section.key_fields if f.required or f.name in entry.lines]
        if not all(f.name in entry.values for f in given):
            return  # without its key, a new record cannot be told from an existing one
        found = existing.get(entry.key)
        obj = copy.copy(found) if found is not None else section.model()
        unsaved_parent = parent is None or parent.pk is None
        if not unsaved_parent:
            setattr(obj, section.parent_attr, parent)
        for name, value in entry.values.items():
            if section.spec(name).kind is not Kind.REF:
                setattr(obj, name, value)
        bad = [name for name in entry.lines if name not in entry.values]
        refs = [f.model_attr for f in section.fields if f.kind is Kind.REF]
        if unsaved_parent and section.name != "clients":
            refs.append(section.parent_attr)
        try:
            obj.full_clean(exclude=[*bad, *refs], validate_unique=False, validate_constraints=False)
        except ValidationError as e:
            self._report_model_errors(entry, obj, e)

    # --- create or update ------------------------------------------------------------------

    def _upsert(
        self,
        entry: Entry,
        obj: models.Model | None,
        *,
        parent: models.Model | None,
        refs: dict[str, models.Model | None],
        label: str = "",
    ) -> models.Model | None:
        """Create or update the record of ``entry``; ``None`` (and reported) if the model
        rejects it. Fields the file leaves out keep their value (or get the model default)."""
        section = entry.section
        desired: dict[str, Any] = {
            name: value
            for name, value in entry.values.items()
            if section.spec(name).kind is not Kind.REF
        }
        desired.update(refs)
        if obj is None:
            values = {section.spec(name).model_attr: value for name, value in desired.items()}
            if parent is not None:
                values[section.parent_attr] = parent
            obj = section.model(**values)
            if self.actor is not None and any(f.name == "created_by" for f in obj._meta.fields):
                obj.created_by = self.actor
            changes = {k: jsonable(v) for k, v in desired.items()}
            if not self._save(entry, obj, None, parent, "create", changes, label):
                return None
            return obj

        before = copy.copy(obj)
        changed: dict[str, list[Any]] = {}
        for name, new in desired.items():
            spec = section.spec(name)
            if spec.key:
                continue  # matched on it: an SNI equal to the host or an e-mail's case is no change
            attr = spec.model_attr
            if spec.kind is Kind.REF:
                # Compare ids: loading each related row just to compare it costs a query.
                attname = obj._meta.get_field(attr).attname
                same = getattr(obj, attname) == getattr(new, "pk", None)
            else:
                same = canonical(spec, getattr(obj, attr)) == new
            if not same:
                changed[name] = [jsonable(getattr(obj, attr)), jsonable(new)]
                setattr(obj, attr, new)
        if not changed:
            self.report.count(section.name, "unchanged")
            return obj
        if not self._save(entry, obj, before, parent, "update", changed, label):
            return None
        return obj

    def _save(
        self,
        entry: Entry,
        obj: models.Model,
        before: models.Model | None,
        parent: models.Model | None,
        action: Literal["create", "update"],
        changes: dict[str, Any],
        label: str,
    ) -> bool:
        """Write the record through the path every write of it takes
        (:func:`mamori.inventory.services.save_record`: the same permission and validation as
        its pages and API, and the audit event); report why not, at its line or its field's."""
        section = entry.section
        client = obj if parent is None else getattr(parent, "client", parent)
        if section.name in SERVICE_WRITERS:
            written = SERVICE_WRITERS[section.name](self, entry, obj, client, action, changes)
            if not written:
                return False
            self._written(entry, client, action, changes, label)
            return True
        # Only the fields the file changed: the checker writes an endpoint's watch state
        # concurrently, and a full save would put back what it read before.
        fields = [section.spec(n).model_attr for n in changes] if before is not None else None
        try:
            save_record(
                obj,
                section=section.name,
                client=client,
                actor=self.actor,
                action=f"import.{action}",
                changes=changes,
                before=before,
                update_fields=fields,
                request=self.request,
                after_save=AFTER_CHANGE.get(section.name) if before is not None else None,
            )
        except Refused as e:
            line = entry.line_of(e.field) if e.field else entry.line
            path = entry.path_of(e.field) if e.field else entry.path
            self.report.add_error(line, path, e.message)
            return False
        except ValidationError as e:
            self._report_model_errors(entry, obj, e)
            return False
        self._written(entry, client, action, changes, label)
        return True

    def _written(
        self,
        entry: Entry,
        client: Client,
        action: Literal["create", "update"],
        changes: dict[str, Any],
        label: str,
    ) -> None:
        section = entry.section
        self.report.count(section.name, "created" if action == "create" else "updated")
        key = label + key_label(section.name, entry.key)
        fields_changed = tuple(changes) if action == "update" else ()
        self.report.changes.append(Change(action, section.name, client.code, key, fields_changed))

    def _report_model_errors(self, entry: Entry, obj: models.Model, error: ValidationError) -> None:
        errors = (
            error.error_dict
            if hasattr(error, "error_dict")
            else {NON_FIELD_ERRORS: error.error_list}
        )
        section: Section = entry.section
        for field_name, items in errors.items():
            spec = section.by_attr(field_name)
            if spec is None:
                line, path, value, model_field = entry.line, entry.path, None, None
            else:
                line, path = entry.line_of(spec.name), entry.path_of(spec.name)
                value = getattr(obj, field_name, None)
                model_field = obj._meta.get_field(field_name)
            for message in describe(ValidationError(items), value, model_field):
                self.report.add_error(line, path, message)


def _write_backup_job(
    importer: Importer,
    entry: Entry,
    job: BackupJob,
    client: Client,
    action: Literal["create", "update"],
    changes: dict[str, Any],
) -> bool:
    """A backup job from the file, through :mod:`mamori.backups.services` (the job form's and
    the API's one write: its permission, its rules and its ``backup_job.*`` audit record)."""
    section = entry.section
    names_ = list(entry.values) if action == "create" else list(changes)
    fields = {section.spec(n).model_attr: getattr(job, section.spec(n).model_attr) for n in names_}
    try:
        if action == "create":
            written = backup_services.create_job(
                client, importer.actor, request=importer.request, **fields
            )
            job.__dict__.update(written.__dict__)  # the caller keeps ``job``: now the saved row
        else:
            backup_services.update_job(job, importer.actor, request=importer.request, **fields)
    except PermissionDenied:
        importer.report.add_error(entry.line, entry.path, rule_message(Rule.STAFF, BackupJob))
        return False
    except ValidationError as e:
        importer._report_model_errors(entry, job, e)
        return False
    return True


# Sections written by their app's own service rather than ``save_record``: the same write as
# their pages and API.
SERVICE_WRITERS: dict[str, Callable[..., bool]] = {"backup_jobs": _write_backup_job}
