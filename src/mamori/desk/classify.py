"""Classifying a request against its contract's catalogue (MNT-03, MNT-04).

Mamori *proposes* (:func:`propose`): it looks for each catalogue item's keywords in the
request's subject and body and names the item that fits, with the words it found as the reason.
It never decides: the operator does (:func:`classify`), with an audit event.

- Free work (in scope) counts against its item's monthly allowance: the month the request was
  received, in Japan time (``allowance_month``, the first day of that month). Beyond the item's
  monthly limit the operator must say so explicitly (``over_limit``); the provider may estimate
  the request instead. Free work bills nothing: no invoice line comes from a request.
- Out-of-scope work is marked so; the estimate is made from it (``billing.Estimate``).

Matching: subject and body, and each keyword, are NFKC-normalised and case folded (全角 and
半角 are one spelling). Japanese is written without spaces, so a keyword with any non-ASCII
character is found as a substring; an ASCII keyword is found as a word (with a plural or verb
ending: ``typo`` finds "typos"), so that ``ads`` does not match "uploads". When both free and
out-of-scope items match, the out-of-scope one is proposed: a request that asks for any work
outside the contract needs an estimate first. Among items of one scope, the most matched text
wins.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from mamori.clients.models import Contract
from mamori.core import audit
from mamori.core.models import User
from mamori.core.permissions import Rule, may_change
from mamori.desk.catalogue import fold
from mamori.desk.models import CatalogueItem, Request, Scope
from mamori.desk.services import DeskError

#: Contracts are Japanese: a month begins at midnight of the 1st in Tokyo.
TOKYO = ZoneInfo("Asia/Tokyo")
_ENDINGS = r"(?:s|es|d|ed|ing)?"


@dataclass
class Match:
    item: CatalogueItem
    words: list[str]  # the keywords found, as the catalogue writes them

    @property
    def score(self) -> int:
        return sum(len(fold(w)) for w in self.words)


@dataclass
class Proposal:
    """What Mamori proposes for a request: ``item`` (``None``: nothing matched), its ``scope``,
    the ``words`` found (the reason), and the other items that matched too."""

    item: CatalogueItem | None
    words: list[str] = field(default_factory=list)
    others: list[Match] = field(default_factory=list)

    @property
    def scope(self) -> str:
        return self.item.scope if self.item else Scope.UNCLASSIFIED

    def as_dict(self) -> dict:
        return {
            "item": self.item.code if self.item else None,
            "scope": self.scope,
            "words": self.words,
            "others": [{"item": m.item.code, "words": m.words} for m in self.others],
        }


def _found(keyword: str, text: str) -> bool:
    word = fold(keyword)
    if not word:
        return False
    if not word.isascii():
        return word in text
    pattern = rf"(?<![0-9a-z]){re.escape(word)}{_ENDINGS}(?![0-9a-z])"
    return re.search(pattern, text) is not None


def matches(text: str, items) -> list[Match]:
    """The items whose keywords ``text`` contains, best first."""
    folded = fold(text)
    found = []
    for item in items:
        words = [w for w in item.keyword_list() if _found(w, folded)]
        # A keyword inside another found one says nothing more (誤字 in 誤字脱字).
        words = [w for w in words if not any(w != o and fold(w) in fold(o) for o in words)]
        if words:
            found.append(Match(item, words))
    found.sort(key=lambda m: (m.item.scope != Scope.OUT_OF_SCOPE, -m.score, m.item.code))
    return found


def propose(req: Request) -> Proposal:
    """Mamori's proposal for ``req`` from its contract's catalogue; never writes anything."""
    if req.contract_id is None:
        return Proposal(None)
    items = CatalogueItem.objects.filter(contract_id=req.contract_id)
    found = matches(f"{req.subject}\n{req.body}", items)
    if not found:
        return Proposal(None)
    return Proposal(found[0].item, found[0].words, found[1:])


# --- the monthly allowance -------------------------------------------------------------------


def month_of(at: dt.datetime) -> dt.date:
    """The first day of the month ``at`` falls in, in Tokyo."""
    return at.astimezone(TOKYO).date().replace(day=1)


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of ``month`` and of the next, in Tokyo."""
    start = dt.datetime(month.year, month.month, 1, tzinfo=TOKYO)
    following = (start + dt.timedelta(days=32)).replace(day=1)
    return start, following


@dataclass
class Allowance:
    item: CatalogueItem
    used: int
    limit: int | None

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def over(self) -> int:
        return 0 if self.limit is None else max(self.used - self.limit, 0)

    @property
    def full(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    def as_dict(self) -> dict:
        return {
            "item": self.item.code,
            "name_ja": self.item.name_ja,
            "name_en": self.item.name_en,
            "used": self.used,
            "limit": self.limit,
            "left": self.left,
        }


def allowance(contract: Contract, month: dt.date) -> list[Allowance]:
    """Used and limit of each free item of ``contract`` in ``month`` (any day of it)."""
    month = month.replace(day=1)
    items = (
        CatalogueItem.objects.filter(contract=contract, scope=Scope.IN_SCOPE)
        .annotate(
            used=Count(
                "requests",
                filter=Q(requests__scope=Scope.IN_SCOPE, requests__allowance_month=month),
            )
        )
        .order_by("code")
    )
    return [Allowance(item, item.used, item.monthly_limit) for item in items]


def used_in_month(item: CatalogueItem, month: dt.date, *, besides: Request | None = None) -> int:
    requests = Request.objects.filter(
        catalogue_item=item, scope=Scope.IN_SCOPE, allowance_month=month
    )
    if besides is not None and besides.pk:
        requests = requests.exclude(pk=besides.pk)
    return requests.count()


# --- the operator's decision -----------------------------------------------------------------


def classify(
    req: Request,
    choice: CatalogueItem | str,
    actor: User | None,
    *,
    over_limit: bool = False,
    http_request=None,
) -> Request:
    """The operator's decision on ``req``: one of its contract's items (its scope follows), or
    ``Scope.OUT_OF_SCOPE`` without an item, or ``Scope.UNCLASSIFIED`` to undo.

    Free work is counted in the month ``req`` was received (Tokyo). An item whose monthly limit
    is reached is refused (:class:`DeskError`) unless ``over_limit`` says the operator means
    it; the audit event records that it went over. ``PermissionDenied`` unless ``actor`` is
    the provider's staff who see the client (``actor`` ``None``: the command line)."""
    if actor is not None and not may_change(actor, req, Rule.STAFF):
        raise PermissionDenied
    item: CatalogueItem | None = None
    if isinstance(choice, CatalogueItem):
        item = choice
        if req.contract_id is None or item.contract_id != req.contract_id:
            raise DeskError(
                _("The item is not in the catalogue of the request's contract."), "item"
            )
        scope = item.scope
    elif choice in (Scope.OUT_OF_SCOPE, Scope.UNCLASSIFIED):
        scope = Scope(choice).value
    else:
        raise DeskError(_("Choose an item of the catalogue or “out of scope”."), "item")
    went_over = False
    with transaction.atomic():
        month = None
        if scope == Scope.IN_SCOPE:
            # One classification at a time per item: two operators cannot both take the last one.
            item = CatalogueItem.objects.select_for_update().get(pk=item.pk)
            month = month_of(req.received_at)
            used = used_in_month(item, month, besides=req)
            if item.monthly_limit is not None and used >= item.monthly_limit:
                if not over_limit:
                    raise DeskError(
                        _(
                            "%(item)s: the monthly allowance of %(month)s is used up "
                            "(%(used)d of %(limit)d). Confirm to do it beyond the allowance, "
                            "or mark the request out of scope and estimate it."
                        )
                        % {
                            "item": item.display_name(),
                            "month": f"{month:%Y-%m}",
                            "used": used,
                            "limit": item.monthly_limit,
                        },
                        "over_limit",
                    )
                went_over = True
        before = {
            "scope": req.scope,
            "item": req.catalogue_item.code if req.catalogue_item_id else None,
        }
        req.scope = scope
        req.catalogue_item = item
        req.allowance_month = month
        req.save(update_fields=["scope", "catalogue_item", "allowance_month", "updated_at"])
        changes = {
            "scope": [before["scope"], scope],
            "item": [before["item"], item.code if item else None],
        }
        if month is not None:
            changes["month"] = f"{month:%Y-%m}"
        if went_over:
            changes["over_limit"] = True
        audit.record(
            "request.classify",
            req,
            actor=actor,
            request=http_request,
            changes=changes,
            client_id=req.client_id,
        )
    req.over_limit = went_over
    return req
