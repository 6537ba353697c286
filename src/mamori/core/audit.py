"""The audit trail (ACC-03): appending events to a hash chain, reading and verifying it.

Every change, sign-in, secret read and export is appended with :func:`record`. Events are
numbered without gaps (``sequence``) and chained: each event's ``hash`` is the SHA-256 of its
canonical content (:func:`canonical_content`) including ``prev_hash``, the hash of the event
before it. Appending is serialised so the chain stays linear with several writers;
:func:`verify_chain` walks it and names the first broken link. See docs/audit.md.

Secret values never reach the trail: :func:`record` replaces the value of every key of
``changes`` that looks like a secret (:func:`is_secret_key`) with ``"[redacted]"``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import hmac
import ipaddress
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.core.models import AuditEvent, PurgedAuditEvent, Role, User

SYSTEM_ACTOR = "mamori"
REDACTED = "[redacted]"
# prev_hash of the first event.
GENESIS_HASH = "0" * 64
# Bumped if the canonical serialisation ever changes; it is part of what is hashed.
CHAIN_VERSION = 1
# pg_advisory_xact_lock key: the first 8 bytes of SHA-256("mamori.audit"), as a signed bigint.
PG_LOCK_KEY = int.from_bytes(hashlib.sha256(b"mamori.audit").digest()[:8], "big", signed=True)

# The redaction rule. A key of ``changes`` (at any depth) is split into lower-case words
# ("apiKey" → api, key; "ssh-private_key" → ssh, private, key). It names a secret when
# - one of its words is in SECRET_WORDS (password, token, passphrase ...), or
# - it contains the word "private" (private key material), or
# - its last word is in SECRET_LAST_WORDS ("key", "value": api_key, key, secret_value) or it
#   ends with key material ("key_pem", "key_material", "key_data").
# "key_type" or "key_bits" describe a key without revealing it and are kept.
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "tokens",
        "credential",
        "credentials",
        "otp",
        "totp",
        "pin",
        "privkey",
        "cookie",
        "sessionid",
    }
)
SECRET_LAST_WORDS = frozenset({"key", "keys", "value", "values"})
# Keys the rule would take for secrets but that only say what is allowed (a yes or no).
NOT_SECRET_KEYS = frozenset({"allow_private_address"})
KEY_MATERIAL_WORDS = frozenset({"pem", "material", "data", "der", "bytes"})

_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def key_words(key: str) -> list[str]:
    """The lower-case words of a key: ``"sshPrivate_KEY"`` → ``["ssh", "private", "key"]``."""
    return [w.lower() for w in _WORD.findall(str(key))]


def is_secret_key(key: str) -> bool:
    """Whether a key of ``changes`` names a secret, by the rule above."""
    words = key_words(key)
    if not words or key in NOT_SECRET_KEYS:
        return False
    if SECRET_WORDS.intersection(words) or "private" in words:
        return True
    if words[-1] in SECRET_LAST_WORDS:
        return True
    return len(words) >= 2 and words[-2] == "key" and words[-1] in KEY_MATERIAL_WORDS


def redact(value: Any) -> Any:
    """``value`` with the value of every secret-looking key replaced by ``"[redacted]"``,
    in nested mappings and lists too."""
    if isinstance(value, Mapping):
        return {k: REDACTED if is_secret_key(k) else redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def client_id_of(obj: models.Model | None) -> int | None:
    if obj is None:
        return None
    if obj._meta.label == "clients.Client":
        return obj.pk
    return getattr(obj, "client_id", None)


def source_ip(request: HttpRequest | None) -> str | None:
    """The peer address. No forwarding header is trusted: a proxy in front must set REMOTE_ADDR."""
    if request is None:
        return None
    return _ip_text(request.META.get("REMOTE_ADDR"))


def _ip_text(value: Any) -> str | None:
    """One spelling per address, so the hash of what was written and of what the database
    returns agree (PostgreSQL's inet may format an address differently)."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return None


def record(
    action: str,
    obj: models.Model | None = None,
    *,
    actor: User | None = None,
    request: HttpRequest | None = None,
    changes: dict[str, Any] | None = None,
    actor_label: str | None = None,
    client_id: int | None = None,
) -> AuditEvent:
    """Append one audit event and return it.

    ``actor`` defaults to the request's user; no user means the system (``actor_label`` names
    the process). ``client_id`` defaults to the object's client. ``changes`` holds field names
    and non-secret values; secret-looking keys are redacted anyway (:func:`is_secret_key`).
    Runs in its own transaction (a savepoint inside the caller's), so the event is committed
    with, and only with, the change it describes.
    """
    request_user = getattr(request, "user", None)
    if actor is None and request_user is not None and request_user.is_authenticated:
        actor = request_user
    label = actor_label or (actor.get_username() if actor else SYSTEM_ACTOR)
    # Through JSON once, so the hashed value is exactly what the database gives back.
    stored_changes = json.loads(json.dumps(redact(changes or {}), cls=DjangoJSONEncoder))
    return _append(
        # By id: request.user is a lazy object, which database routers cannot inspect.
        actor_id=actor.pk if actor is not None else None,
        actor_label=label[:150],
        action=action[:40],
        object_type=obj._meta.label[:60] if obj is not None else "",
        object_id=str(obj.pk)[:64] if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        client_id=client_id if client_id is not None else client_id_of(obj),
        changes=stored_changes,
        source_ip=source_ip(request),
    )


def _append(**fields: Any) -> AuditEvent:
    db = router.db_for_write(AuditEvent)
    with transaction.atomic(using=db):
        lock_chain(connections[db])
        last = (
            AuditEvent.objects.using(db)
            .order_by("-sequence")
            .values_list("sequence", "hash")
            .first()
        )
        sequence, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        event = AuditEvent(
            sequence=sequence, prev_hash=prev_hash, created_at=timezone.now(), **fields
        )
        event.hash = event_hash(event)
        event.save(using=db)
    return event


def lock_chain(connection: BaseDatabaseWrapper) -> None:
    """Make this transaction the only one appending until it ends.

    PostgreSQL: a transaction-level advisory lock, released at commit or rollback; under READ
    COMMITTED the next holder's query then sees the event just committed. SQLite: nothing to do,
    every write transaction already holds the database's single write lock from its start
    (settings: ``transaction_mode`` IMMEDIATE). On any database the unique ``sequence`` turns a
    lost race into an error rather than a fork of the chain.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PG_LOCK_KEY])


def _field(event: Any, name: str) -> Any:
    return event[name] if isinstance(event, Mapping) else getattr(event, name)


def canonical_content(event: Any) -> bytes:
    """The bytes that an event's hash covers: its content and ``prev_hash`` as compact JSON
    with sorted keys. ``event`` is an :class:`AuditEvent` (current or historical model) or a
    mapping of its field values.

    The actor's user id is left out on purpose: it is set to NULL when the user is deleted;
    the name in ``actor_label`` is what the chain vouches for.
    """
    created_at: dt.datetime = _field(event, "created_at")
    content = {
        "v": CHAIN_VERSION,
        "sequence": _field(event, "sequence"),
        "created_at": created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": _field(event, "actor_label"),
        "action": _field(event, "action"),
        "object_type": _field(event, "object_type"),
        "object_id": _field(event, "object_id"),
        "object_repr": _field(event, "object_repr"),
        "client": _field(event, "client_id"),
        "changes": _field(event, "changes"),
        "source_ip": _ip_text(_field(event, "source_ip")),
        "prev_hash": _field(event, "prev_hash"),
    }
    return json.dumps(
        content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder
    ).encode()


def event_hash(event: Any) -> str:
    """SHA-256 (hex) of :func:`canonical_content`."""
    return hashlib.sha256(canonical_content(event)).hexdigest()


# Verifying the chain.

MISSING = "missing"
RELINKED = "relinked"
ALTERED = "altered"
UNRECORDED = "unrecorded"


@dataclass(frozen=True)
class ChainBreak:
    """The first broken link: at which event, and what is wrong (``problem`` is one of
    ``missing``, ``relinked``, ``altered``)."""

    sequence: int
    created_at: dt.datetime | None  # None: the event was purged (only its link is left)
    problem: str
    message: str


@dataclass(frozen=True)
class ChainReport:
    events: int  # how many events were checked (up to the break)
    head_sequence: int | None  # the last intact event
    head_hash: str | None
    broken: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        if self.broken is not None:
            when = self.broken.created_at
            data["broken"]["created_at"] = when.isoformat() if when else None
        return data


_VERIFY_FIELDS = (
    "sequence",
    "created_at",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "client_id",
    "changes",
    "source_ip",
    "prev_hash",
    "hash",
)


def _events_in_order(using: str | None) -> Iterator[dict[str, Any]]:
    qs = AuditEvent.objects.using(using) if using else AuditEvent.objects.all()
    # One statement: a consistent snapshot on SQLite and PostgreSQL, without blocking writers.
    return qs.order_by("sequence").values(*_VERIFY_FIELDS).iterator(chunk_size=2000)


def _purged_in_order(using: str | None) -> Iterator[dict[str, Any]]:
    qs = PurgedAuditEvent.objects.using(using) if using else PurgedAuditEvent.objects.all()
    fields = ("sequence", "prev_hash", "hash", "purge_sequence")
    return qs.order_by("sequence").values(*fields).iterator(chunk_size=2000)


def verify_chain(using: str | None = None) -> ChainReport:
    """Walk the chain from event 1 and report the first broken link, if any.

    Detects an edited event (its content no longer matches its hash), a deleted one (a gap in
    the sequence) and an inserted, re-ordered or re-hashed one (its ``prev_hash`` is not the
    hash of the event before it). Events removed by a retention purge (END-02) leave their link
    (:class:`PurgedAuditEvent`): the walk checks the link, and at the end that every removed
    event belongs to a recorded purge whose count, digest and seal match
    (:func:`purge_events`). Events deleted from the end, or a chain rewritten from some point
    on, can only be caught against a head recorded elsewhere (docs/audit.md).
    """
    expected, prev_hash, count = 1, GENESIS_HASH, 0
    head: tuple[int | None, str | None] = (None, None)
    # Purge events seen (sequence -> what they recorded), and the links each one removed.
    purges: dict[int, Any] = {}
    removed: dict[int, list[tuple[int, str]]] = {}
    rows = heapq.merge(
        _events_in_order(using), _purged_in_order(using), key=lambda r: r["sequence"]
    )
    for row in rows:
        sequence = row["sequence"]
        purged = "purge_sequence" in row
        if purged:
            stamp = _("purged")
        else:
            when = timezone.localtime(row["created_at"])
            stamp = f"{when:%Y-%m-%d %H:%M:%S %Z}"
        problem = None
        if sequence != expected:
            problem = MISSING
            message = _(
                "Event %(sequence)d (%(time)s): events %(first)d to %(last)d are missing before "
                "it; they were deleted from the database."
            ) % {"sequence": sequence, "time": stamp, "first": expected, "last": sequence - 1}
        elif row["prev_hash"] != prev_hash:
            problem = RELINKED
            message = _(
                "Event %(sequence)d (%(time)s) does not follow the event before it: its "
                "previous hash is not that event's hash (an event was inserted, re-ordered or "
                "re-hashed)."
            ) % {"sequence": sequence, "time": stamp}
        elif not purged and event_hash(row) != row["hash"]:
            problem = ALTERED
            message = _(
                "Event %(sequence)d (%(time)s) was changed after it was written: its content "
                "does not match its hash."
            ) % {"sequence": sequence, "time": stamp}
        if problem is not None:
            created = None if purged else row["created_at"]
            broken = ChainBreak(sequence, created, problem, message)
            return ChainReport(count, head[0], head[1], broken)
        if purged:
            removed.setdefault(row["purge_sequence"], []).append((sequence, row["hash"]))
        elif row["action"] == PURGE_ACTION:
            purges[sequence] = (row["changes"] or {}).get(PURGE_AUDIT_KEY)
        count += 1
        expected, prev_hash, head = sequence + 1, row["hash"], (sequence, row["hash"])
    for purge_sequence, links in sorted(removed.items(), key=lambda item: item[1][0][0]):
        if not _purge_matches(purges.get(purge_sequence), links):
            first = links[0][0]
            message = _(
                "Event %(sequence)d was removed without a matching recorded purge: the purge "
                "event %(purge)d does not exist or does not vouch for the events removed."
            ) % {"sequence": first, "purge": purge_sequence}
            broken = ChainBreak(first, None, UNRECORDED, message)
            return ChainReport(count, head[0], head[1], broken)
    return ChainReport(count, head[0], head[1], None)


# Purging at the end of the retention period (END-02).

PURGE_ACTION = "retention.purge"
# The key of the purge event's ``changes`` that vouches for the audit events it removed.
PURGE_AUDIT_KEY = "audit_events"


def links_digest(links: Iterable[tuple[int, str]]) -> str:
    """SHA-256 (hex) over ``"<sequence>:<hash>\n"`` of each removed event, in sequence order."""
    digest = hashlib.sha256()
    for sequence, event_hash_ in links:
        digest.update(f"{sequence}:{event_hash_}\n".encode())
    return digest.hexdigest()


def _seal(count: int, digest: str, key: str) -> str:
    message = f"mamori.audit.purge:{CHAIN_VERSION}:{count}:{digest}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def _purge_matches(recorded: Any, links: list[tuple[int, str]]) -> bool:
    """Whether a purge event's record (count, digest, seal) vouches for exactly ``links``."""
    if not isinstance(recorded, Mapping):
        return False
    digest = links_digest(links)
    if recorded.get("count") != len(links) or recorded.get("digest") != digest:
        return False
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    seal = str(recorded.get("seal", ""))
    return any(hmac.compare_digest(seal, _seal(len(links), digest, key)) for key in keys)


def purge_events(
    events: models.QuerySet[AuditEvent],
    *,
    client_id: int | None,
    changes: dict[str, Any],
    actor_label: str = SYSTEM_ACTOR,
) -> AuditEvent:
    """Remove ``events`` from the trail and append the ``retention.purge`` event recording it.

    Must run inside the caller's transaction (with the removal of the records the events
    describe). Each removed event leaves its link (:class:`PurgedAuditEvent`); the purge
    event's ``changes`` are ``changes`` plus ``audit_events``: the count, the digest of the
    removed links (:func:`links_digest`) and a seal (HMAC-SHA-256 with the ``SECRET_KEY``), so
    :func:`verify_chain` passes and still catches an event removed any other way. Earlier purge
    events are never removed (they vouch for the links). Returns the purge event.
    """
    db = router.db_for_write(AuditEvent)
    with transaction.atomic(using=db):
        lock_chain(connections[db])
        links = list(
            events.using(db)
            .exclude(action=PURGE_ACTION)
            .order_by("sequence")
            .values_list("sequence", "prev_hash", "hash")
        )
        digest = links_digest((sequence, hash_) for sequence, _prev, hash_ in links)
        vouch = {
            "count": len(links),
            "digest": digest,
            "seal": _seal(len(links), digest, settings.SECRET_KEY),
        }
        event = record(
            PURGE_ACTION,
            None,
            actor_label=actor_label,
            client_id=client_id,
            changes={**changes, PURGE_AUDIT_KEY: vouch},
        )
        PurgedAuditEvent.objects.using(db).bulk_create(
            PurgedAuditEvent(
                sequence=sequence, prev_hash=prev, hash=hash_, purge_sequence=event.sequence
            )
            for sequence, prev, hash_ in links
        )
        sequences = [sequence for sequence, _prev, _hash in links]
        for start in range(0, len(sequences), 500):
            chunk = AuditEvent.objects.using(db).filter(sequence__in=sequences[start : start + 500])
            # The one sanctioned removal: the append-only queryset refuses delete() itself.
            models.QuerySet.delete(chunk)
    return event


# Reading the trail.

READER_ROLES = frozenset({Role.PROVIDER_ADMIN, Role.CLIENT_ADMIN})


def may_read_trail(user: User) -> bool:
    """Provider administrators read the whole trail, client administrators their client's."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.role in READER_ROLES


def readable_events(user: User) -> models.QuerySet[AuditEvent]:
    """The events the user may read. Raises PermissionDenied for roles that may read none."""
    if not may_read_trail(user):
        raise PermissionDenied
    return AuditEvent.objects.visible_to(user).select_related("client")


def check_period(date_from: dt.date | None, date_to: dt.date | None) -> None:
    """Refuse a period that ends before it begins (it would match nothing, silently):
    ``ValidationError`` with code ``period_reversed``, for the ``date_to`` filter."""
    if date_from and date_to and date_to < date_from:
        raise ValidationError(
            _("“Until” (%(to)s) is before “Since” (%(since)s): swap the dates."),
            code="period_reversed",
            params={"to": date_to.isoformat(), "since": date_from.isoformat()},
        )


def filter_events(
    events: models.QuerySet[AuditEvent],
    *,
    actor: str | None = None,
    action: str | None = None,
    client: str | None = None,
    object_type: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    text: str | None = None,
) -> models.QuerySet[AuditEvent]:
    """The events matching every filter given; the web list and the API share it.

    ``action`` matches itself and its sub-actions ("endpoint" finds "endpoint.update");
    ``client`` is a client code; dates are whole days in the local time zone, both included;
    ``text`` searches the object's name and id.
    """
    if actor:
        events = events.filter(actor_label__icontains=actor)
    if action:
        events = events.filter(models.Q(action=action) | models.Q(action__startswith=f"{action}."))
    if client:
        events = events.filter(client__code=client)
    if object_type:
        events = events.filter(object_type=object_type)
    if date_from:
        events = events.filter(created_at__gte=_local_midnight(date_from))
    if date_to:
        events = events.filter(created_at__lt=_local_midnight(date_to + dt.timedelta(days=1)))
    if text:
        events = events.filter(models.Q(object_repr__icontains=text) | models.Q(object_id=text))
    return events


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Fields whose value changed, as ``{field: [old, new]}``."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
