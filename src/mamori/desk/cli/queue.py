"""``mamori desk list|show|new|reply|resolve|close``: the request queue from the command line
(MNT-03, MNT-05). Every write goes through :mod:`mamori.desk.services`, audited as ``--user``
(or as the desk, for a request entered without one)."""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.clients.cli import find_client
from mamori.clients.models import Contact
from mamori.core.management import find_user, usage
from mamori.core.tables import table
from mamori.desk import services
from mamori.desk.cli.common import find_request
from mamori.desk.models import Channel, Direction, Request, RequestState


def _actor(options):
    user = find_user(options.get("user"))
    if user is None:
        raise usage(_("Name the operator with --user (the audit trail records them)."))
    return user


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _as_dict(req: Request) -> dict:
    return {
        "number": req.number,
        "client": req.client.code,
        "subject": req.subject,
        "state": req.state,
        "channel": req.channel,
        "received_at": req.received_at.isoformat(),
        "first_response_due": req.first_response_due.isoformat()
        if req.first_response_due
        else None,
        "resolution_due": req.resolution_due.isoformat() if req.resolution_due else None,
        "first_responded_at": req.first_responded_at.isoformat()
        if req.first_responded_at
        else None,
        "resolved_at": req.resolved_at.isoformat() if req.resolved_at else None,
        "late": bool(getattr(req, "late", False)),
        "assignee": req.assignee.get_username() if req.assignee_id else None,
    }


def list_requests(options, out) -> None:
    qs = Request.objects.select_related("client", "assignee")
    if options["client"]:
        qs = qs.filter(client=find_client(options["client"]))
    state = options["state"]
    if state and state not in RequestState.values:
        raise usage(
            _("Unknown state: %(state)s (use %(valid)s)")
            % {"state": state, "valid": ", ".join(RequestState.values)}
        )
    qs = qs.annotate(next_due=services.next_due_expression())
    if state:
        requests = list(qs.filter(state=state).order_by("-received_at", "-pk"))
    else:
        requests = list(services.queue(qs))
    services.mark_late(requests)
    if options["json"]:
        out.write(json.dumps([_as_dict(r) for r in requests], ensure_ascii=False, indent=2))
        return
    rows = [
        (
            r.number,
            r.client.code,
            r.get_state_display(),
            (_("LATE") + " " if r.late else "") + _local(r.next_due),
            r.subject,
        )
        for r in requests
    ]
    header = (_("Number"), _("Client"), _("State"), _("Due"), _("Subject"))
    for line in table(header, rows):
        out.write(line)


def show_request(options, out) -> None:
    req = find_request(options["request"])
    req.next_due = (
        (req.first_response_due or req.resolution_due)
        if req.first_responded_at is None
        else req.resolution_due
    )
    services.mark_late([req])
    thread = list(req.messages.select_related("user", "contact"))
    if options["json"]:
        data = _as_dict(req) | {
            "body": req.body,
            "messages": [
                {
                    "direction": m.direction,
                    "at": m.at.isoformat(),
                    "by": m.user.get_username() if m.user_id else (m.sender or None),
                    "body": m.body,
                    "question": m.is_question,
                }
                for m in thread
            ],
        }
        out.write(json.dumps(data, ensure_ascii=False, indent=2))
        return
    out.write(f"{req.number}  {req.subject}")
    out.write(f"{_('Client')}: {req.client.code}  {_('State')}: {req.get_state_display()}")
    out.write(f"{_('Received')}: {_local(req.received_at)} ({req.get_channel_display()})")
    if req.next_due:
        late = f"  {_('LATE')}" if req.late else ""
        out.write(f"{_('Due')}: {_local(req.next_due)}{late}")
    labels = dict(Direction.choices)
    for m in thread:
        who = m.user.get_username() if m.user_id else (m.sender or "")
        out.write("")
        out.write(f"--- {_local(m.at)} {labels[m.direction]} {who}".rstrip())
        out.write(m.body)


def new_request(options, out) -> None:
    client = find_client(options["client"])
    actor = find_user(options.get("user"))
    requester = options["requester"] or ""
    contact = None
    if requester:
        contact = Contact.objects.filter(client=client, email__iexact=requester).first()
    try:
        req = services.create_request(
            client,
            channel=options["channel"],
            subject=options["subject"],
            body=options["text"],
            contact=contact,
            requester="" if contact else requester,
            actor=actor,
        )
    except services.DeskError as error:
        raise usage(str(error)) from None
    except PermissionDenied:
        raise usage(_("This user may not file requests for this client.")) from None
    out.write(req.number)


def reply_request(options, out) -> None:
    req = find_request(options["request"])
    actor = _actor(options)
    try:
        if options["note"]:
            services.add_note(req, options["text"], actor)
        else:
            services.reply(req, options["text"], actor, is_question=options["question"])
    except services.DeskError as error:
        raise usage(str(error)) from None
    except PermissionDenied:
        raise usage(_("This user may not work on this client's requests.")) from None
    out.write(_("%(number)s: message added.") % {"number": req.number})


def _state_command(function, done: str):
    def handler(options, out) -> None:
        req = find_request(options["request"])
        actor = _actor(options)
        try:
            function(req, actor)
        except services.DeskError as error:
            raise usage(str(error)) from None
        except PermissionDenied:
            raise usage(_("This user may not work on this client's requests.")) from None
        out.write(f"{req.number}: {done}")

    return handler


def register(subparsers) -> None:
    """Adds list, show, new, reply, resolve, close."""
    p = subparsers.add_parser("list", help=_("the queue: active requests by due time"))
    p.add_argument("--client", help=_("only this client's (code)"))
    p.add_argument("--state", help=_("requests in this state, newest first (any state)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=list_requests)

    p = subparsers.add_parser("show", help=_("a request with its conversation"))
    p.add_argument("request", help="R-12 or 12")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=show_request)

    p = subparsers.add_parser("new", help=_("enter a request (e.g. a phone call)"))
    p.add_argument("client", help=_("the client's code"))
    p.add_argument("--subject", required=True)
    p.add_argument("--text", required=True, help=_("what the client asks for"))
    p.add_argument(
        "--channel",
        default=Channel.PHONE,
        choices=[Channel.PHONE, Channel.EMAIL, Channel.API],
    )
    p.add_argument(
        "--from", dest="requester", help=_("the caller's name, or a contact's e-mail address")
    )
    p.add_argument("--user", help=_("the operator entering it (for the audit trail)"))
    p.set_defaults(handler=new_request)

    p = subparsers.add_parser("reply", help=_("answer the client (e-mailed, threaded)"))
    p.add_argument("request", help="R-12 or 12")
    p.add_argument("--text", required=True)
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--question", action="store_true", help=_("ask the client something"))
    kind.add_argument("--note", action="store_true", help=_("an internal note, not sent"))
    p.add_argument("--user", help=_("the operator answering"))
    p.set_defaults(handler=reply_request)

    for name, function, help_text, done in (
        ("resolve", services.resolve, _("the work is done"), _("resolved")),
        ("close", services.close, _("nothing more will happen"), _("closed")),
    ):
        p = subparsers.add_parser(name, help=help_text)
        p.add_argument("request", help="R-12 or 12")
        p.add_argument("--user", help=_("the operator"))
        p.set_defaults(handler=_state_command(function, done))
