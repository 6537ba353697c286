"""Announcements (NOT-04): who is affected, whether the date leaves the contracts' notice
periods, and sending each recipient's notice exactly once.

One function per write (:func:`create`, :func:`update`, :func:`send`, :func:`set_period`), called
by the pages, the API and the CLI alike; each checks the permission (provider administrators and
operators: announcements are provider-wide) and writes its audit record in the same transaction.

Sending is resumable and exactly-once: the first call turns the draft into ``sending`` and
records every affected client as a :class:`~mamori.announcements.models.Recipient` (unique per
announcement and client) in one transaction; then each recipient row is claimed and its notices
queued in the outbox in a transaction of its own (``notices.services.enqueue``, idempotent by the
event key ``announcement:<id>:client:<id>`` and the contact). A process that dies halfway leaves
the announcement in ``sending``; sending it again queues the rest. A sent announcement sends
nothing more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from mamori.announcements.models import (
    Announcement,
    AnnouncementKind,
    AnnouncementState,
    NoticePeriod,
    Recipient,
)
from mamori.clients.models import Client, Contract, ContractType, NoticeTopic, TermsProfile
from mamori.clients.terms import effective_end
from mamori.core import audit
from mamori.core.permissions import Rule, changes_every_client
from mamori.inventory.models import Server

#: Which notice topic a contact must take to receive an announcement of a kind.
TOPICS = {
    AnnouncementKind.TERMS_CHANGE: NoticeTopic.CONTRACTS,
    AnnouncementKind.SERVICE_END: NoticeTopic.CONTRACTS,
    AnnouncementKind.MAINTENANCE: NoticeTopic.MAINTENANCE,
}


def may_announce(user) -> bool:
    """Whether ``user`` may write and send announcements: they reach clients across the
    provider, so its administrators and operators (not subcontractors, not clients)."""
    return changes_every_client(user, Rule.STAFF)


def require_announce(user) -> None:
    if user is not None and not may_announce(user):
        raise PermissionDenied


# --- notice periods ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    days: int = 0
    months: int = 0
    source: str = ""

    def earliest(self, today: dt.date) -> dt.date:
        """The earliest date an announcement made on ``today`` may name."""
        return today + relativedelta(months=self.months, days=self.days)

    def label(self) -> str:
        parts = []
        if self.months:
            parts.append(ngettext("%(n)d month", "%(n)d months", self.months) % {"n": self.months})
        if self.days or not parts:
            parts.append(ngettext("%(n)d day", "%(n)d days", self.days) % {"n": self.days})
        return " ".join(parts)


def periods(kind: str) -> dict[int, Period]:
    """terms profile id → the notice period of announcements of ``kind``."""
    return {
        p.terms_profile_id: Period(p.days, p.months, p.source)
        for p in NoticePeriod.objects.filter(kind=kind)
    }


def period_of(contract: Contract, kind: str, table: dict[int, Period] | None = None) -> Period:
    """The notice period ``contract`` gives an announcement of ``kind``: its terms profile's,
    none (any date) for a contract without a profile or a profile without a row."""
    table = periods(kind) if table is None else table
    return table.get(contract.terms_profile_id or 0, Period())


# --- who is affected ----------------------------------------------------------------------------


@dataclass
class Selection:
    """What an announcement is about and whom it concerns (saved or not)."""

    kind: str
    effective_on: dt.date
    contract_types: list[str] = field(default_factory=list)
    terms_profiles: list[TermsProfile] = field(default_factory=list)
    servers: list[Server] = field(default_factory=list)

    @classmethod
    def of(cls, announcement: Announcement) -> Selection:
        return cls(
            announcement.kind,
            announcement.effective_on,
            list(announcement.contract_types or []),
            list(announcement.terms_profiles.all()) if announcement.pk else [],
            list(announcement.servers.all()) if announcement.pk else [],
        )


@dataclass
class Affected:
    client: Client
    contracts: list[Contract]
    # The contract whose notice period asks the latest date, with that date.
    earliest: dt.date
    binding: Contract | None = None
    period: Period = field(default_factory=Period)


def affected(selection: Selection, today: dt.date) -> list[Affected]:
    """The clients concerned, each with its matching contracts still in force on the
    announcement's date: of the chosen contract types and terms profiles (none chosen: any), of
    the clients of the chosen servers (none chosen: any client)."""
    contracts = Contract.objects.select_related("client", "terms_profile").prefetch_related(
        "notices"
    )
    if selection.contract_types:
        contracts = contracts.filter(type__in=selection.contract_types)
    if selection.terms_profiles:
        contracts = contracts.filter(terms_profile__in=[p.pk for p in selection.terms_profiles])
    if selection.servers:
        contracts = contracts.filter(client__in={s.client_id for s in selection.servers})
    table = periods(selection.kind)
    found: dict[int, Affected] = {}
    for contract in contracts.order_by("client__code", "start", "pk"):
        end = effective_end(contract)
        if end is not None and end < selection.effective_on:
            continue  # over before the date: not concerned
        period = period_of(contract, selection.kind, table)
        earliest = max(today, period.earliest(today))
        entry = found.get(contract.client_id)
        if entry is None:
            entry = found[contract.client_id] = Affected(contract.client, [], today)
        entry.contracts.append(contract)
        if entry.binding is None or earliest > entry.earliest:
            entry.earliest, entry.binding, entry.period = earliest, contract, period
    return sorted(found.values(), key=lambda a: a.client.code)


def earliest_date(found: Iterable[Affected], today: dt.date) -> tuple[dt.date, Affected | None]:
    """The earliest date every affected contract allows, and the client whose contract asks it."""
    latest: Affected | None = None
    for entry in found:
        if latest is None or entry.earliest > latest.earliest:
            latest = entry
    return (latest.earliest if latest else today), latest


def date_problem(selection: Selection, found: list[Affected], today: dt.date) -> str | None:
    """Why the announcement's date is too early (one sentence with the earliest allowed date),
    or None."""
    earliest, binding = earliest_date(found, today)
    if selection.effective_on >= earliest:
        return None
    if binding is None or binding.binding is None or earliest == today:
        return _("The date is in the past: the earliest allowed date is %(earliest)s.") % {
            "earliest": earliest.isoformat()
        }
    contract = binding.binding
    return _(
        "Too late to announce for %(client)s's contract (%(contract)s): its notice period is "
        "%(period)s (%(source)s), so the earliest allowed date is %(earliest)s."
    ) % {
        "client": binding.client.name,
        "contract": contract.get_type_display(),
        "period": binding.period.label(),
        "source": binding.period.source or "-",
        "earliest": earliest.isoformat(),
    }


def recipients_of(kind: str, client: Client):
    """The client's contacts who take the kind's topic; if none does, every contact with an
    e-mail address (a change of terms must reach the client)."""
    from mamori.notices.services import Recipient as To
    from mamori.notices.services import RecipientKind, contact_recipients

    found = contact_recipients(client, TOPICS[AnnouncementKind(kind)])
    if found:
        return found
    return [
        To(RecipientKind.CONTACT, c.email, c.language, contact=c)
        for c in client.contacts.all()
        if c.email
    ]


@dataclass(frozen=True)
class Queued:
    """Whom a recorded recipient's notice went to (as the outbox names them)."""

    label: str
    address: str


def event_key(announcement_id: int, client_id: int) -> str:
    """The outbox's event key of one announcement to one client (one notice per contact)."""
    return f"announcement:{announcement_id}:client:{client_id}"


def queued_to(row: Recipient) -> list[Queued]:
    """The notices queued for a recorded recipient client, from the outbox."""
    from mamori.notices.models import Notice

    key = event_key(row.announcement_id, row.client_id) + "|"
    names = Notice.objects.filter(key__startswith=key).order_by("pk")
    return [Queued(n.recipient, n.recipient) for n in names.only("recipient")]


@dataclass
class PreviewRow:
    client: Client
    contracts: list[Contract]
    recipients: list
    earliest: dt.date
    recorded: Recipient | None = None


@dataclass
class Preview:
    rows: list[PreviewRow]
    earliest: dt.date
    problem: str | None

    @property
    def notices(self) -> int:
        return sum(len(r.recipients) for r in self.rows)


def preview(announcement: Announcement | Selection, today: dt.date | None = None) -> Preview:
    """The recipients a draft would reach now, with the date check; for an announcement being
    or already sent, the recorded recipients."""
    today = today or timezone.localdate()
    if isinstance(announcement, Announcement) and not announcement.is_draft:
        rows = []
        for r in Recipient.objects.filter(announcement=announcement).select_related("client"):
            contracts = list(Contract.objects.filter(pk__in=r.contracts))
            rows.append(PreviewRow(r.client, contracts, queued_to(r), today, r))
        return Preview(rows, today, None)
    selection = (
        Selection.of(announcement) if isinstance(announcement, Announcement) else announcement
    )
    found = affected(selection, today)
    rows = [
        PreviewRow(a.client, a.contracts, recipients_of(selection.kind, a.client), a.earliest)
        for a in found
    ]
    earliest, _binding = earliest_date(found, today)
    return Preview(rows, earliest, date_problem(selection, found, today))


# --- writes -----------------------------------------------------------------------------------

FIELDS = ("kind", "effective_on", "subject_ja", "subject_en", "body_ja", "body_en")


def _validate(values: dict[str, Any]) -> None:
    problems: dict[str, str] = {}
    if values.get("kind") not in AnnouncementKind.values:
        problems["kind"] = _("Choose one of: %(kinds)s.") % {
            "kinds": ", ".join(AnnouncementKind.values)
        }
    unknown = sorted(set(values.get("contract_types") or []) - set(ContractType.values))
    if unknown:
        problems["contract_types"] = _("Unknown contract types: %(types)s (use %(valid)s).") % {
            "types": ", ".join(unknown),
            "valid": ", ".join(ContractType.values),
        }
    for name in ("subject_ja", "subject_en", "body_ja", "body_en"):
        if not str(values.get(name) or "").strip():
            problems[name] = _("Write this in Japanese and in English.")
    if not isinstance(values.get("effective_on"), dt.date):
        problems["effective_on"] = _("Enter a date (YYYY-MM-DD).")
    if problems:
        raise ValidationError(problems)


def _check_date(selection: Selection, today: dt.date) -> None:
    found = affected(selection, today)
    problem = date_problem(selection, found, today)
    if problem:
        raise ValidationError({"effective_on": problem})


def _snapshot(a: Announcement) -> dict[str, Any]:
    return {
        "kind": a.kind,
        "effective_on": a.effective_on,
        "subject_ja": a.subject_ja,
        "subject_en": a.subject_en,
        "contract_types": list(a.contract_types or []),
        "terms_profiles": sorted(p.code for p in a.terms_profiles.all()),
        "servers": sorted(s.pk for s in a.servers.all()),
    }


def _apply(a: Announcement, values: dict[str, Any]) -> None:
    for name in FIELDS:
        setattr(a, name, values[name])
    a.contract_types = list(values.get("contract_types") or [])


def selection_from(values: dict[str, Any]) -> Selection:
    return Selection(
        values["kind"],
        values["effective_on"],
        list(values.get("contract_types") or []),
        list(values.get("terms_profiles") or []),
        list(values.get("servers") or []),
    )


def create(
    values: dict[str, Any], *, actor, request=None, today: dt.date | None = None
) -> Announcement:
    """Save a draft. ``values``: kind, effective_on, subject_ja/en, body_ja/en, contract_types
    (codes), terms_profiles and servers (objects). The date is checked against the notice
    periods of the contracts it concerns now, and again when it is sent."""
    require_announce(actor)
    _validate(values)
    today = today or timezone.localdate()
    _check_date(selection_from(values), today)
    with transaction.atomic():
        a = Announcement(created_by=actor)
        _apply(a, values)
        a.save()
        a.terms_profiles.set(values.get("terms_profiles") or [])
        a.servers.set(values.get("servers") or [])
        audit.record("announcement.create", a, actor=actor, request=request, changes=_snapshot(a))
    return a


def update(
    a: Announcement, values: dict[str, Any], *, actor, request=None, today: dt.date | None = None
) -> Announcement:
    """Change a draft (a sent announcement stays as it was sent)."""
    require_announce(actor)
    if not a.is_draft:
        raise ValidationError(_("This announcement has been sent and can no longer be changed."))
    _validate(values)
    today = today or timezone.localdate()
    _check_date(selection_from(values), today)
    with transaction.atomic():
        if not Announcement.objects.filter(pk=a.pk, state=AnnouncementState.DRAFT).exists():
            raise ValidationError(
                _("This announcement has been sent and can no longer be changed.")
            )
        before = _snapshot(a)
        _apply(a, values)
        a.save()
        a.terms_profiles.set(values.get("terms_profiles") or [])
        a.servers.set(values.get("servers") or [])
        after = _snapshot(a)
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        audit.record("announcement.edit", a, actor=actor, request=request, changes=changes)
    return a


@dataclass
class SendResult:
    clients: int = 0
    notices: int = 0
    already_sent: bool = False


def _notify(a: Announcement, row: Recipient, now: dt.datetime) -> int:
    """Queue one recipient client's notices, once: the row is claimed in the transaction that
    queues them."""
    from mamori.notices.models import NoticeKind
    from mamori.notices.services import enqueue

    with transaction.atomic():
        claimed = Recipient.objects.filter(pk=row.pk, notified_at__isnull=True).update(
            notified_at=now
        )
        if not claimed:
            return 0
        result = enqueue(
            NoticeKind.ANNOUNCEMENT,
            event_key(a.pk, row.client_id),
            recipients_of(a.kind, row.client),
            {"announcement": a, "client": row.client},
            client=row.client,
        )
        count = len(result.created) + result.existing
        Recipient.objects.filter(pk=row.pk).update(notices=count)
    return len(result.created)


def send(
    announcement: Announcement, *, actor, request=None, now: dt.datetime | None = None
) -> SendResult:
    """Send ``announcement`` to every affected client (see the module's notes). Refused with the
    earliest allowed date when the date no longer leaves an affected contract its notice
    period; a second call sends nothing."""
    require_announce(actor)
    now = now or timezone.now()
    today = timezone.localdate(now)
    result = SendResult()
    a = Announcement.objects.get(pk=announcement.pk)
    if a.state == AnnouncementState.SENT:
        return SendResult(already_sent=True)
    if a.state == AnnouncementState.DRAFT:
        selection = Selection.of(a)
        found = affected(selection, today)
        problem = date_problem(selection, found, today)
        if problem:
            raise ValidationError({"effective_on": problem})
        if not found:
            raise ValidationError(_("No client has a contract in force that this concerns."))
        with transaction.atomic():
            claimed = Announcement.objects.filter(pk=a.pk, state=AnnouncementState.DRAFT).update(
                state=AnnouncementState.SENDING, sent_by=actor
            )
            if not claimed:
                return SendResult(already_sent=True)
            for entry in found:
                Recipient.objects.get_or_create(
                    announcement=a,
                    client=entry.client,
                    defaults={"contracts": [c.pk for c in entry.contracts]},
                )
            audit.record(
                "announcement.send",
                a,
                actor=actor,
                request=request,
                changes={
                    "clients": len(found),
                    "effective_on": a.effective_on,
                    "client_codes": [e.client.code for e in found][:100],
                },
            )
    rows = list(
        Recipient.objects.filter(announcement=a, notified_at__isnull=True).select_related("client")
    )
    if a.state == AnnouncementState.SENDING and rows:
        # Resuming a send that stopped halfway: who resumed it, for how many clients.
        audit.record(
            "announcement.send",
            a,
            actor=actor,
            request=request,
            changes={"resumed": True, "clients": len(rows)},
        )
    for row in rows:
        result.notices += _notify(a, row, now)
    with transaction.atomic():
        Announcement.objects.filter(pk=a.pk, state=AnnouncementState.SENDING).update(
            state=AnnouncementState.SENT, sent_at=now
        )
    result.clients = Recipient.objects.filter(announcement=a).count()
    announcement.refresh_from_db()
    return result


def set_period(
    profile: TermsProfile, kind: str, *, days: int, months: int, actor, request=None
) -> NoticePeriod:
    """Set the notice period of announcements of ``kind`` for contracts of ``profile``."""
    require_announce(actor)
    problems = {}
    if kind not in AnnouncementKind.values:
        problems["kind"] = _("Choose one of: %(kinds)s.") % {
            "kinds": ", ".join(AnnouncementKind.values)
        }
    for name, value, top in (("days", days, 400), ("months", months, 24)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
            problems[name] = _("Enter a whole number from 0 to %(top)d.") % {"top": top}
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        period, _created = NoticePeriod.objects.get_or_create(terms_profile=profile, kind=kind)
        before = (period.days, period.months)
        period.days, period.months = days, months
        period.save()
        audit.record(
            "announcement.period",
            period,
            actor=actor,
            request=request,
            changes={
                "terms_profile": profile.code,
                "kind": kind,
                "days": [before[0], days],
                "months": [before[1], months],
            },
        )
    return period


# --- the monthly report (RPT-01) --------------------------------------------------------------


def sent_for(client: Client, month: dt.date) -> list[dict[str, Any]]:
    """The announcements told to ``client`` in the calendar month of ``month`` (the operators'
    time zone), oldest first: id, kind, date, subjects in both languages, when it was told and
    how many notices were queued. The monthly report's section on announcements reads this."""
    start = timezone.make_aware(dt.datetime(month.year, month.month, 1))
    end = timezone.make_aware(dt.datetime(month.year, month.month, 1) + relativedelta(months=1))
    rows = (
        Recipient.objects.filter(client=client, notified_at__gte=start, notified_at__lt=end)
        .select_related("announcement")
        .order_by("notified_at", "pk")
    )
    return [
        {
            "id": r.announcement_id,
            "kind": r.announcement.kind,
            "effective_on": r.announcement.effective_on,
            "subject_ja": r.announcement.subject_ja,
            "subject_en": r.announcement.subject_en,
            "notified_at": r.notified_at,
            "notices": r.notices,
        }
        for r in rows
    ]
