"""A contract's dates, computed from its terms (CT-02 to CT-05). Pure: no database writes and no
clock; the caller passes the day and the notices.

Rules (:class:`Rules`) come from the contract's terms profile, or, for a contract without one,
from its own ``term_months`` and ``auto_renew`` with 30 days' notice (how the fixed-term seed
contracts read).

How dates are counted, from the contract texts and the Civil Code (民法 §140–143):

- A fixed term of N months starting on day S ends on the day before the day of S's number N
  months later; when that month has no such day (Jan 31 + 1 month, Feb 29 + 1 year), it ends on
  the last day of that month. A renewed term starts the day after the previous one ends and is
  counted the same way from its own start.
- "Notice at least 30 days before the end" (期間満了日の30日前までに): the last day a notice may
  arrive is the end minus 30 days; a notice received ON that day is in time.
- Calendar-month terms (004 §12): every month from the 1st to its last day; the first term runs
  from the start to the end of its month and counts as a whole month. Minimum term: to the end of
  the month after formation. A cancellation accepted in month M ends the contract at the end of
  M+1, or at the end of a later month the client names (§26.2–3).
- Mid-term cancellation with N days' notice (001 §18): the contract ends N days after the notice
  arrives, or at the end of a later month the client names.
- Cooling-off (004 §42): a contract applied for through the web may be withdrawn within K days
  including the application day (the formation date): the last day is formation + K - 1.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from mamori.clients.models import Contract, ContractNotice, TermsProfile

FIXED = "fixed"
CALENDAR_MONTH = "calendar_month"
TERM_END = "term_end"
MONTH_AFTER_ACCEPTANCE = "month_after_acceptance"
ON_RECEIPT = "on_receipt"
END_OF_NEXT_MONTH = "end_of_next_month"
#: Notice days of a contract without a terms profile (the seeds' fixed terms: 30 days).
LEGACY_NOTICE_DAYS = 30
#: How many terms the computation walks at most (a century of yearly terms).
MAX_TERMS = 1200


class State:
    IN_FORCE = "in_force"
    NOTICE_GIVEN = "notice_given"
    ENDING = "ending"
    ENDED = "ended"
    WITHDRAWN = "withdrawn"


STATE_LABELS = {
    State.IN_FORCE: _("In force"),
    State.NOTICE_GIVEN: _("Notice given"),
    State.ENDING: _("Ending"),
    State.ENDED: _("Ended"),
    State.WITHDRAWN: _("Withdrawn"),
}

# Why a notice's effective date is later than the notice asked for (stored as the code).
REASONS = {
    "after_deadline": _(
        "The notice arrived after the deadline %(deadline)s for the term ending %(term_end)s; "
        "the contract renews and ends at the end of the next term."
    ),
    "mid_term": _(
        "The notice arrived after the deadline %(deadline)s for the end of the term; the "
        "contract ends by mid-term cancellation %(days)s days after the notice."
    ),
    "term_end_only": _(
        "The contract ends only at the end of a term; the first term end on or after the month "
        "asked for is taken."
    ),
    "requested_too_early": _(
        "The month asked for is earlier than the notice allows; the earliest possible end is taken."
    ),
    "minimum_term": _("The contract cannot end before its minimum term ends (%(minimum)s)."),
}

# Why a notice is refused (raised as TermsError, rendered in the reader's language).
REFUSALS = {
    "not_via_web": _("Only a contract applied for through the web can be withdrawn (cooling-off)."),
    "no_cooling_off": _("The contract's terms have no cooling-off period."),
    "cooling_off_over": _(
        "The cooling-off period ended on %(last_day)s (%(days)s days including the application "
        "day %(applied)s); the contract can only be cancelled by its terms."
    ),
    "already_ended": _("The contract has already ended (%(end)s)."),
    "already_withdrawn": _("The contract has been withdrawn."),
    "before_formation": _(
        "The notice cannot be received before the contract is formed (%(formed)s)."
    ),
    "no_end": _("The contract's terms allow no cancellation by notice."),
}


class TermsError(ValueError):
    """A notice the terms do not allow: ``code`` (a key of :data:`REFUSALS`) and its params."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return str(REFUSALS[self.code] % {k: str(v) for k, v in self.params.items()})


def reason_text(code: str, params: dict[str, Any] | None = None) -> str:
    """A stored reason code in the active language ("" for none)."""
    if not code or code not in REASONS:
        return ""
    values = {k: str(v) for k, v in (params or {}).items()}
    text = str(REASONS[code])
    try:
        return text % values
    except (KeyError, ValueError):
        return text.split("%(")[0].rstrip()


@dataclass(frozen=True)
class Rules:
    """The rules that decide a contract's dates (a terms profile's fields)."""

    term_kind: str = FIXED
    term_months: int = 12
    auto_renew: bool = True
    notice_days: int = LEGACY_NOTICE_DAYS
    minimum_term: str = "none"
    cancellation: str = TERM_END
    mid_term_notice_days: int = 0
    cooling_off_days: int = 0


def rules_of(contract: Contract) -> Rules:
    profile: TermsProfile | None = contract.terms_profile
    if profile is None:
        return Rules(term_months=contract.term_months or 12, auto_renew=contract.auto_renew)
    return Rules(
        term_kind=profile.term_kind,
        term_months=profile.term_months,
        auto_renew=profile.auto_renew,
        notice_days=profile.notice_days,
        minimum_term=profile.minimum_term,
        cancellation=profile.cancellation,
        mid_term_notice_days=profile.mid_term_notice_days,
        cooling_off_days=profile.cooling_off_days,
    )


# --- calendar arithmetic -----------------------------------------------------------------------


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    return day + relativedelta(months=months)


def period_end(start: date, months: int) -> date:
    """The last day of a period of ``months`` months starting on ``start`` (Civil Code §143)."""
    same_day = start + relativedelta(months=months)
    if same_day.day != start.day:
        # No such day in that month (Jan 31 + 1 month): the period ends on its last day.
        return month_end(same_day)
    return same_day - timedelta(days=1)


@dataclass(frozen=True)
class Term:
    number: int  # 1 for the first term
    start: date
    end: date

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "start": self.start, "end": self.end}


def _first_term(start: date, rules: Rules) -> Term:
    if rules.term_kind == CALENDAR_MONTH:
        return Term(1, start, month_end(start))
    return Term(1, start, period_end(start, rules.term_months))


def _next_term(term: Term, rules: Rules) -> Term:
    start = term.end + timedelta(days=1)
    if rules.term_kind == CALENDAR_MONTH:
        return Term(term.number + 1, start, month_end(start))
    return Term(term.number + 1, start, period_end(start, rules.term_months))


def term_on(start: date, rules: Rules, day: date) -> Term:
    """The term that contains ``day`` if the contract renews every time (the first term for a
    day before the start)."""
    term = _first_term(start, rules)
    if day <= term.end:
        return term
    if rules.term_kind == CALENDAR_MONTH:
        months = (day.year - start.year) * 12 + day.month - start.month
        return Term(months + 1, month_start(day), month_end(day))
    for _i in range(MAX_TERMS):
        term = _next_term(term, rules)
        if day <= term.end:
            return term
    return term


def terms_from(start: date, rules: Rules, day: date) -> Iterable[Term]:
    """The term containing ``day`` and those after it (for a renewing contract)."""
    term = term_on(start, rules, day)
    for _i in range(MAX_TERMS):
        yield term
        term = _next_term(term, rules)


def minimum_term_end(formed: date, rules: Rules) -> date | None:
    if rules.minimum_term == END_OF_NEXT_MONTH:
        return month_end(add_months(month_start(formed), 1))
    return None


def notice_deadline(term_end: date, rules: Rules) -> date | None:
    """The last day a notice may arrive to end the contract at ``term_end``."""
    if rules.term_kind == CALENDAR_MONTH or rules.cancellation == MONTH_AFTER_ACCEPTANCE:
        # Accepted in month M, it ends at the end of M+1: the deadline is the end of M.
        return month_end(add_months(month_start(term_end), -1))
    if rules.cancellation == ON_RECEIPT:
        return term_end
    return term_end - timedelta(days=rules.notice_days)


def cooling_off_last_day(formed: date, rules: Rules) -> date | None:
    if rules.cooling_off_days <= 0:
        return None
    return formed + timedelta(days=rules.cooling_off_days - 1)


# --- what a notice does -------------------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """When a cancellation received on ``received`` ends the contract: ``end`` (its last day in
    force), a ``reason`` code when that is later than asked (or later than the end of the term
    it arrived in), its ``params``, and the ``deadline`` the notice was measured against."""

    end: date
    reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    deadline: date | None = None

    @property
    def reason_text(self) -> str:
        return reason_text(self.reason, self.params)


def _requested_end(requested_month: date | None) -> date | None:
    return month_end(requested_month) if requested_month else None


def cancellation_effect(
    start: date,
    formed: date,
    rules: Rules,
    received: date,
    requested_month: date | None = None,
) -> Effect:
    """The effect of a cancellation notice received on ``received``, by ``rules``."""
    requested = _requested_end(requested_month)
    minimum = minimum_term_end(formed, rules)
    if rules.cancellation == MONTH_AFTER_ACCEPTANCE:
        earliest = month_end(add_months(month_start(received), 1))
        effect = _at_least(earliest, requested, deadline=month_end(received))
    elif rules.cancellation == ON_RECEIPT:
        effect = _at_least(received, requested, deadline=received)
    else:
        effect = _term_end_effect(start, rules, received, requested)
    if minimum and effect.end < minimum:
        return Effect(
            minimum, "minimum_term", {"minimum": minimum.isoformat()}, deadline=effect.deadline
        )
    return effect


def _at_least(earliest: date, requested: date | None, *, deadline: date | None) -> Effect:
    if requested is None:
        return Effect(earliest, deadline=deadline)
    if requested < earliest:
        return Effect(earliest, "requested_too_early", deadline=deadline)
    return Effect(requested, deadline=deadline)


def _term_end_effect(start: date, rules: Rules, received: date, requested: date | None) -> Effect:
    mid_days = rules.mid_term_notice_days
    current = term_on(start, rules, received)
    current_deadline = notice_deadline(current.end, rules)
    in_time = current_deadline is not None and received <= current_deadline
    if mid_days:
        mid_earliest = received + timedelta(days=mid_days)
        if requested is not None:
            if requested >= mid_earliest:
                return Effect(requested, deadline=current_deadline)
            return Effect(mid_earliest, "requested_too_early", deadline=current_deadline)
        if in_time or not rules.auto_renew:
            return Effect(current.end, deadline=current_deadline)
        return Effect(
            mid_earliest,
            "mid_term",
            {
                "deadline": current_deadline.isoformat() if current_deadline else "",
                "days": mid_days,
            },
            deadline=current_deadline,
        )
    if not rules.auto_renew:
        # A term that does not renew ends anyway; a notice changes nothing.
        return Effect(current.end, deadline=current_deadline)
    for term in terms_from(start, rules, received):
        deadline = notice_deadline(term.end, rules)
        if deadline is None or received > deadline:
            continue
        if requested is not None and term.end < requested:
            continue
        if requested is not None and term.end != requested:
            return Effect(term.end, "term_end_only", deadline=deadline)
        if term.number != current.number and requested is None:
            return Effect(
                term.end,
                "after_deadline",
                {
                    "deadline": current_deadline.isoformat() if current_deadline else "",
                    "term_end": current.end.isoformat(),
                },
                deadline=deadline,
            )
        return Effect(term.end, deadline=deadline)
    raise TermsError("no_end")  # pragma: no cover - MAX_TERMS years of terms


def check_withdrawal(formed: date, rules: Rules, via_web: bool, received: date) -> date:
    """The day a cooling-off withdrawal received on ``received`` takes effect (that day);
    raises :class:`TermsError` when it is not allowed."""
    if not via_web:
        raise TermsError("not_via_web")
    last_day = cooling_off_last_day(formed, rules)
    if last_day is None:
        raise TermsError("no_cooling_off")
    if received > last_day:
        raise TermsError(
            "cooling_off_over",
            last_day=last_day.isoformat(),
            days=rules.cooling_off_days,
            applied=formed.isoformat(),
        )
    return received


# --- a contract's status ----------------------------------------------------------------------


@dataclass
class Status:
    """Everything a page, the API, the CLI, reminders and billing read about a contract on
    ``on``. ``end`` is the day the contract ends as things stand (``None``: it renews on);
    ``notice_deadline`` is the next day by which a notice must arrive to end it at
    ``ends_if_notice_by_deadline`` (``None`` once the end is decided)."""

    on: date
    state: str
    term: Term | None
    next_term: Term | None
    end: date | None
    notice_deadline: date | None
    ends_if_notice_by_deadline: date | None
    earliest_end: date | None
    minimum_term_end: date | None
    cooling_off_until: date | None
    rules: Rules
    notice: ContractNotice | None = None

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])

    def as_dict(self) -> dict[str, Any]:
        return {
            "on": self.on,
            "state": self.state,
            "term_start": self.term.start if self.term else None,
            "term_end": self.term.end if self.term else None,
            "term_number": self.term.number if self.term else None,
            "end": self.end,
            "notice_deadline": self.notice_deadline,
            "ends_if_notice_by_deadline": self.ends_if_notice_by_deadline,
            "earliest_end": self.earliest_end,
            "next_term_start": self.next_term.start if self.next_term else None,
            "next_term_end": self.next_term.end if self.next_term else None,
            "minimum_term_end": self.minimum_term_end,
            "cooling_off_until": self.cooling_off_until,
        }


def _decisive(notices: Iterable[ContractNotice]) -> ContractNotice | None:
    """The notice that decides the contract's end: a withdrawal, else the earliest-ending
    cancellation."""
    notices = list(notices)
    withdrawals = [n for n in notices if n.kind == "withdrawal"]
    if withdrawals:
        return min(withdrawals, key=lambda n: n.received_on)
    cancellations = [n for n in notices if n.kind == "cancellation"]
    return min(cancellations, key=lambda n: n.effective_on) if cancellations else None


def status(contract: Contract, on: date, notices: Iterable[ContractNotice] | None = None) -> Status:
    """The contract's status on ``on``; ``notices`` default to ``contract.notices.all()``
    (prefetch them for lists)."""
    if notices is None:
        notices = contract.notices.all() if contract.pk else []
    rules = rules_of(contract)
    return compute(
        contract.start,
        contract.formation_date,
        rules,
        on,
        notices,
        via_web=contract.applied_via_web,
    )


def compute(
    start: date,
    formed: date,
    rules: Rules,
    on: date,
    notices: Iterable[ContractNotice] = (),
    *,
    via_web: bool = False,
) -> Status:
    """:func:`status` from its parts (for tests and callers without a saved contract)."""
    minimum = minimum_term_end(formed, rules)
    cooling = cooling_off_last_day(formed, rules) if via_web else None
    decisive = _decisive(notices)
    term = term_on(start, rules, on)
    if decisive is not None and decisive.kind == "withdrawal":
        return Status(
            on, State.WITHDRAWN, None, None, decisive.effective_on, None, None, None,
            minimum, cooling, rules, decisive,
        )  # fmt: skip
    if decisive is not None:
        end: date | None = decisive.effective_on
    elif not rules.auto_renew:
        end = _first_term(start, rules).end
    else:
        end = None
    if end is not None and on > end:
        last = term_on(start, rules, end)
        return Status(
            on, State.ENDED, Term(last.number, last.start, end), None, end, None, None, None,
            minimum, cooling, rules, decisive,
        )  # fmt: skip
    if end is not None and end <= term.end:
        term = Term(term.number, term.start, end)
    next_term = _next_term(term, rules) if end is None or end > term.end else None
    if next_term is not None and end is not None and next_term.end > end:
        next_term = Term(next_term.number, next_term.start, end)
    if end is not None:
        state = State.ENDING if end <= term.end else State.NOTICE_GIVEN
        if decisive is None:
            state = State.ENDING if end <= term.end else State.IN_FORCE
        return Status(
            on, state, term, next_term, end, None, None, None, minimum, cooling, rules, decisive
        )
    # Renews on: the next deadline still ahead, and the end a notice by then would give.
    deadline, ends_at = _next_deadline(start, formed, rules, on)
    earliest = cancellation_effect(start, formed, rules, on).end
    return Status(
        on, State.IN_FORCE, term, next_term, None, deadline, ends_at, earliest, minimum,
        cooling, rules,
    )  # fmt: skip


def _next_deadline(
    start: date, formed: date, rules: Rules, on: date
) -> tuple[date | None, date | None]:
    """The first notice deadline on or after ``on`` and the end a notice by then gives."""
    if rules.cancellation == MONTH_AFTER_ACCEPTANCE:
        deadline = month_end(on)
        return deadline, cancellation_effect(start, formed, rules, deadline).end
    if rules.cancellation == ON_RECEIPT:
        return None, None
    for term in terms_from(start, rules, on):
        deadline = notice_deadline(term.end, rules)
        if deadline is not None and deadline >= on:
            return deadline, term.end
    return None, None  # pragma: no cover


def term_on_contract(contract: Contract, day: date) -> Term | None:
    """The contract's term containing ``day`` (``None`` after it ended or was withdrawn): what
    billing reads as the current period."""
    found = status(contract, day)
    return None if found.state in (State.ENDED, State.WITHDRAWN) else found.term


def effective_end(
    contract: Contract, notices: Iterable[ContractNotice] | None = None
) -> date | None:
    """The day the contract ends as recorded (a notice's effective date, or the end of a term
    that does not renew); ``None`` while it renews on."""
    if notices is None:
        notices = contract.notices.all() if contract.pk else []
    decisive = _decisive(notices)
    if decisive is not None:
        return decisive.effective_on
    rules = rules_of(contract)
    return None if rules.auto_renew else _first_term(contract.start, rules).end
