"""Subcommands of ``mamori desk`` for the scope of work (see mamori.desk.cli):

- ``mamori desk catalogue CLIENT CONTRACT [--apply-shipped] [--json]``: the contract's catalogue
  (a contract is named by its id, its type, or TYPE/START as in the import file);
- ``mamori desk classify R-12 [--item CODE | --out-of-scope] [--over-limit]``: without an
  option, Mamori's proposal; with one, the operator's decision;
- ``mamori desk log R-12 --minutes 30 --text …``: log work on a request.

Errors are one line, exit 2.
"""

from __future__ import annotations

import datetime as dt
import json

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from mamori.clients.cli import find_client, find_contract
from mamori.core.management import find_user, usage
from mamori.desk import catalogue, classify, work
from mamori.desk.cli.common import find_request
from mamori.desk.models import CatalogueItem, Scope
from mamori.desk.services import DeskError
from mamori.inventory.services import Refused


def register(subparsers) -> None:
    show = subparsers.add_parser("catalogue", help=_("a contract's free-work catalogue"))
    show.add_argument("client", help="client code")
    show.add_argument("contract", help="contract id, TYPE or TYPE/START")
    show.add_argument(
        "--apply-shipped",
        action="store_true",
        help="add the shipped catalogue's items the contract lacks",
    )
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument("--user", help="act as this user (audited as them)")
    show.set_defaults(handler=show_catalogue)

    decide = subparsers.add_parser("classify", help=_("propose or decide a request's scope"))
    decide.add_argument("request", help="request number, e.g. R-12")
    choice = decide.add_mutually_exclusive_group()
    choice.add_argument("--item", help="code of an item of the contract's catalogue")
    choice.add_argument("--out-of-scope", action="store_true", help="out of scope")
    decide.add_argument(
        "--over-limit", action="store_true", help="go beyond the item's monthly allowance"
    )
    decide.add_argument("--json", action="store_true", help="print JSON")
    decide.add_argument("--user", help="act as this user (audited as them)")
    decide.set_defaults(handler=classify_request)

    log = subparsers.add_parser("log", help=_("log work on a request"))
    log.add_argument("request", help="request number, e.g. R-12")
    log.add_argument("--minutes", required=True, help="time spent, whole minutes")
    log.add_argument("--text", required=True, help="what was done")
    log.add_argument("--user", help="act as this user (audited as them)")
    log.set_defaults(handler=log_work)


def _item_row(item: CatalogueItem, used) -> dict:
    return {
        "code": item.code,
        "scope": item.scope,
        "name_ja": item.name_ja,
        "name_en": item.name_en,
        "clause": item.clause,
        "monthly_limit": item.monthly_limit,
        "used_this_month": used.used if used else None,
        "keywords": item.keyword_list(),
    }


def show_catalogue(options, out) -> None:
    contract = find_contract(find_client(options["client"]), options["contract"])
    actor = find_user(options.get("user"))
    if options["apply_shipped"]:
        try:
            created = catalogue.apply_shipped_catalogue(contract, actor)
        except (DeskError, Refused) as e:
            raise usage(str(e)) from None
        if not options["json"]:
            out.write(_("%(n)d items added from the shipped catalogue.") % {"n": len(created)})
    month = classify.month_of(dt.datetime.now(classify.TOKYO))
    used = {a.item.pk: a for a in classify.allowance(contract, month)}
    items = list(contract.catalogue.all())
    if options["json"]:
        data = {
            "client": contract.client.code,
            "contract": contract.pk,
            "month": f"{month:%Y-%m}",
            "items": [_item_row(i, used.get(i.pk)) for i in items],
        }
        out.write(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not items:
        out.write(_("No catalogue items."))
    for item in items:
        allowance = used.get(item.pk)
        if item.scope == Scope.IN_SCOPE:
            count = (
                f"{allowance.used}/{item.monthly_limit}"
                if item.monthly_limit
                else f"{allowance.used}/-"
            )
        else:
            count = _("estimate first")
        out.write(f"{item.code:<24} {count:<8} {item.clause:<16} {item.display_name()}")


def classify_request(options, out) -> None:
    req = find_request(options["request"])
    actor = find_user(options.get("user"))
    if options.get("item") is None and not options["out_of_scope"]:
        proposal = classify.propose(req)
        if options["json"]:
            out.write(json.dumps(proposal.as_dict(), ensure_ascii=False, indent=2))
        elif proposal.item is None:
            out.write(_("%(number)s: nothing in the catalogue matches.") % {"number": req.number})
        else:
            out.write(
                _("%(number)s: proposed %(item)s (%(scope)s), words found: %(words)s")
                % {
                    "number": req.number,
                    "item": proposal.item.code,
                    "scope": proposal.item.get_scope_display(),
                    "words": ", ".join(proposal.words),
                }
            )
        return
    if options["out_of_scope"]:
        choice: CatalogueItem | str = Scope.OUT_OF_SCOPE.value
    else:
        choice = CatalogueItem.objects.filter(
            contract_id=req.contract_id, code=options["item"]
        ).first()
        if choice is None:
            raise usage(
                _("No item %(code)s in the catalogue of the request's contract.")
                % {"code": options["item"]}
            )
    try:
        classify.classify(req, choice, actor, over_limit=options["over_limit"])
    except DeskError as e:
        raise usage(str(e)) from None
    except PermissionDenied:
        raise usage(_("%(user)s may not classify requests.") % {"user": actor}) from None
    result = {
        "request": req.number,
        "scope": req.scope,
        "item": req.catalogue_item.code if req.catalogue_item_id else None,
        "allowance_month": f"{req.allowance_month:%Y-%m}" if req.allowance_month else None,
        "over_limit": getattr(req, "over_limit", False),
    }
    if options["json"]:
        out.write(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        out.write(
            _("%(number)s classified: %(scope)s %(item)s")
            % {"number": req.number, "scope": req.get_scope_display(), "item": result["item"] or ""}
        )
        if result["over_limit"]:
            out.write(_("Beyond the monthly allowance."))


def log_work(options, out) -> None:
    req = find_request(options["request"])
    actor = find_user(options.get("user"))
    try:
        entry = work.log_work(req, options["minutes"], options["text"], None, actor)
    except DeskError as e:
        raise usage(str(e)) from None
    except PermissionDenied:
        raise usage(_("%(user)s may not log work on this request.") % {"user": actor}) from None
    out.write(_("%(n)d minutes logged on %(number)s.") % {"n": entry.minutes, "number": req.number})
