"""``mamori cert``: managed certificates from the command line.

``list`` and ``status`` show them; ``issue`` and ``renew`` order now (``renew`` only where the
client's instruction allows it); ``approve`` records a yes the client gave by phone, letter,
e-mail or in a meeting; ``hold`` and ``release`` hold a renewal for the client; ``revoke`` revokes
(and by default re-issues); ``deploy`` installs the current certificate now. A managed certificate
is named ``CLIENT_CODE/NAME``. Exit status: 0 done, 1 failed or refused, 2 wrong usage.
"""

from __future__ import annotations

import time
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from mamori.certificates.models import Certificate
from mamori.core.management import EXIT_PROBLEMS, EXIT_USAGE, find_user
from mamori.core.tables import table
from mamori.lifecycle import approvals, orders, renewal
from mamori.lifecycle.models import (
    ApprovalState,
    IssuerKind,
    ManagedCertificate,
    Order,
    OrderState,
    RevocationReason,
)

CHANNELS = [c.value for c in approvals.RECORDED_CHANNELS]
REASONS = {
    "unspecified": RevocationReason.UNSPECIFIED,
    "key_compromise": RevocationReason.KEY_COMPROMISE,
    "affiliation_changed": RevocationReason.AFFILIATION_CHANGED,
    "superseded": RevocationReason.SUPERSEDED,
    "cessation_of_operation": RevocationReason.CESSATION_OF_OPERATION,
}
ACTOR_LABEL = "mamori cert"


def usage(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_USAGE)


def failed(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_PROBLEMS)


def find_managed(label: str) -> ManagedCertificate:
    code, sep, name = label.partition("/")
    if not sep or not code or not name:
        raise usage(
            _("name a managed certificate as CLIENT_CODE/NAME, not %(label)r") % {"label": label}
        )
    managed = (
        ManagedCertificate.objects.select_related("client", "certificate")
        .filter(client__code=code, name=name)
        .first()
    )
    if managed is None:
        raise usage(_("no managed certificate %(label)r") % {"label": label})
    return managed


def parse_when(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise usage(
            _("%(option)s: not an ISO date and time: %(value)r (e.g. 2026-05-01T14:30+09:00)")
            % {"option": option, "value": value}
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > timezone.now():
        raise usage(
            _("%(option)s: %(value)s is in the future") % {"option": option, "value": value}
        )
    return moment


def one_line(error: ValidationError) -> str:
    return " ".join(" ".join(error.messages).split())


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"


class Command(BaseCommand):
    help = (
        "Managed certificates: list, status, issue, renew, approve, hold, release, revoke, deploy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        listing = sub.add_parser("list", help="List managed certificates and their state.")
        listing.add_argument("--client", help="Only this client's (its code).")
        status = sub.add_parser("status", help="Everything about one managed certificate.")
        status.add_argument("managed", metavar="CLIENT/NAME")
        for name, text in (
            ("issue", "Order a certificate now (the first issue, or a renewal)."),
            ("renew", "Order the renewal now, where the client's instruction allows it."),
        ):
            p = sub.add_parser(name, help=text)
            p.add_argument("managed", metavar="CLIENT/NAME")
            p.add_argument("--wait", action="store_true", help="Wait until it is issued.")
            p.add_argument(
                "--timeout", type=float, default=600, help="Seconds to wait (default 600)."
            )
            p.add_argument("--user", help="Who orders (a Mamori user name).")
        approve = sub.add_parser("approve", help="Record the client's yes to the renewal.")
        approve.add_argument("managed", metavar="CLIENT/NAME")
        approve.add_argument("--given-by", required=True, help="Who at the client said yes.")
        approve.add_argument("--channel", required=True, choices=CHANNELS)
        approve.add_argument("--at", help="When (ISO 8601; default now).")
        approve.add_argument("--note", default="")
        approve.add_argument("--user", help="Who records it (a Mamori user name).")
        hold = sub.add_parser("hold", help="Hold the renewal, waiting for the client.")
        hold.add_argument("managed", metavar="CLIENT/NAME")
        hold.add_argument(
            "--awaiting", required=True, choices=[str(a) for a in renewal.HOLD_REASONS]
        )
        hold.add_argument("--note", default="", help="What exactly (sent to the client).")
        hold.add_argument("--no-notify", action="store_true", help="Do not e-mail the client.")
        hold.add_argument("--user", help="Who holds it (a Mamori user name).")
        release = sub.add_parser("release", help="Release the hold.")
        release.add_argument("managed", metavar="CLIENT/NAME")
        release.add_argument("--note", default="")
        release.add_argument("--user", help="Who releases it (a Mamori user name).")
        revoke = sub.add_parser("revoke", help="Revoke a certificate (and re-issue it).")
        which = revoke.add_mutually_exclusive_group(required=True)
        which.add_argument("managed", metavar="CLIENT/NAME", nargs="?")
        which.add_argument("--fingerprint", help="SHA-256 fingerprint of the certificate.")
        revoke.add_argument("--reason", required=True, choices=list(REASONS))
        revoke.add_argument("--requested-by", required=True, help="Who asked for it.")
        revoke.add_argument("--requested-at", help="When they asked (ISO 8601; default now).")
        revoke.add_argument("--no-reissue", action="store_true", help="Do not re-issue.")
        revoke.add_argument("--user", help="Who records it (a Mamori user name).")
        deploy = sub.add_parser("deploy", help="Install the current certificate now.")
        deploy.add_argument("managed", metavar="CLIENT/NAME")
        deploy.add_argument("--target", help="Only this deployment target (its name).")
        deploy.add_argument("--user", help="Who deploys (a Mamori user name).")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"do_{action}")(options)

    # --- reading ------------------------------------------------------------------------------

    def do_list(self, options) -> None:
        qs = ManagedCertificate.objects.select_related("client", "certificate")
        if options.get("client"):
            qs = qs.filter(client__code=options["client"])
            if not qs.exists() and not _client_exists(options["client"]):
                raise usage(_("no client %(code)r") % {"code": options["client"]})
        rows = list(qs.order_by("client__code", "name"))
        if not rows:
            self.stdout.write(_("No managed certificates."))
            return
        now = timezone.now()
        header = [_("CERTIFICATE"), _("STATE"), _("VALID UNTIL"), _("RENEW FROM"), _("NAMES")]
        lines = [
            (
                f"{m.client.code}/{m.name}",
                renewal.STATE_LABELS[renewal.status_of(m, now).code],
                _when(m.certificate.not_after if m.certificate_id else None),
                _when(m.renew_at),
                ", ".join(m.names),
            )
            for m in rows
        ]
        for line in table(header, lines):
            self.stdout.write(line)

    def do_status(self, options) -> None:
        m = find_managed(options["managed"])
        now = timezone.now()
        w = self.stdout.write
        w(f"{m.client.code}/{m.name}: {renewal.STATE_LABELS[renewal.status_of(m, now).code]}")
        w("  " + _("Names: %(names)s") % {"names": ", ".join(m.names)})
        w("  " + _("Key: %(type)s (%(policy)s)") % {"type": m.key_type, "policy": m.key_policy})
        issuer = m.get_issuer_display()
        if m.acme_account_id:
            issuer += ", " + _("account %(name)s (%(url)s)") % {
                "name": m.acme_account.name,
                "url": m.acme_account.directory_url,
            }
        w("  " + _("Issuer: %(issuer)s") % {"issuer": issuer})
        w("  " + _("Instruction: %(code)s") % {"code": m.effective_instruction()})
        if m.certificate_id:
            c = m.certificate
            w("  " + _("Certificate: serial %(serial)s") % {"serial": c.serial})
            w(
                "  "
                + _("Valid: %(start)s to %(end)s")
                % {"start": _when(c.not_before), "end": _when(c.not_after)}
            )
            revocation = renewal.revocation_of(c.pk)
            if revocation is not None:
                w("  " + revocation.summary())
            w(
                "  "
                + _("Renew from: %(when)s (%(source)s)")
                % {"when": _when(m.renew_at), "source": m.renewal_source or _("not scheduled yet")}
            )
            if renewal.is_overdue(m, now):
                w("  " + _("OVERDUE since %(when)s") % {"when": _when(renewal.overdue_at(m))})
        else:
            w("  " + _("Certificate: not issued yet"))
        if renewal.is_on_hold(m):
            w(
                "  "
                + _("On hold since %(when)s: waiting for %(what)s")
                % {"when": _when(m.awaiting_since), "what": m.get_awaiting_display()}
            )
            if m.awaiting_note:
                w(f"    {m.awaiting_note}")
        order = orders.open_order(m)
        if order:
            w(
                "  "
                + _("Open order #%(pk)s: %(state)s (%(purpose)s)")
                % {"pk": order.pk, "state": order.state, "purpose": order.purpose}
            )
        for a in m.approvals.filter(state__in=[ApprovalState.REQUESTED, ApprovalState.APPROVED]):
            w(
                "  "
                + _("Approval #%(pk)s: %(state)s, asked %(when)s")
                % {"pk": a.pk, "state": a.state, "when": _when(a.requested_at)}
            )
        for f in m.failures.open():
            w(
                "  "
                + _("FAILURE %(kind)s since %(when)s: %(message)s")
                % {"kind": f.kind, "when": _when(f.first_at), "message": f.message}
            )

    # --- ordering -----------------------------------------------------------------------------

    def do_issue(self, options) -> None:
        self._order(options, renewal.issue_now)

    def do_renew(self, options) -> None:
        self._order(options, renewal.renew_now)

    def _order(self, options, action) -> None:
        managed = find_managed(options["managed"])
        user = find_user(options.get("user"))
        try:
            order = action(managed, actor=user)
            self.stdout.write(f"Order #{order.pk} recorded ({order.purpose}).")
        except renewal.RenewalError as e:
            raise failed(str(e)) from None
        except orders.OrderInFlight as e:
            order = e.order
            if not options["wait"]:
                raise failed(f"order #{order.pk} is already open ({order.state})") from None
            self.stdout.write(f"Order #{order.pk} is already open; waiting for it.")
        except ValueError as e:
            raise failed(f"the order cannot be placed: {e}") from None
        if order.issuer == IssuerKind.MANUAL:
            self.stdout.write(
                "A commercial CA order: apply at the CA and upload the certificate on the "
                "order's page."
            )
            return
        order = self._drive(order, wait=options["wait"], timeout=options["timeout"])
        if order.state == OrderState.ISSUED:
            c = order.certificate
            self.stdout.write(
                self.style.SUCCESS(f"Issued: serial {c.serial}, valid until {_when(c.not_after)}.")
            )
        elif order.is_open:
            if options["wait"]:
                raise failed(f"order #{order.pk} is still {order.state} after the timeout")
            self.stdout.write(f"Order #{order.pk} is {order.state}; the background pass goes on.")
        else:
            raise failed(
                f"order #{order.pk} {order.state}: {order.error_detail or order.error_type or '-'}"
            )

    def _drive(self, order: Order, *, wait: bool, timeout: float) -> Order:
        from mamori.lifecycle import acme

        deadline = time.monotonic() + timeout
        delay = 0.2
        while True:
            try:
                acme.drive_order(order.pk)
            except Exception as e:
                raise failed(f"order #{order.pk}: {e}") from None
            order.refresh_from_db()
            if not order.is_open or not wait or time.monotonic() >= deadline:
                break
            if order.next_attempt_at and order.next_attempt_at > timezone.now():
                pause = (order.next_attempt_at - timezone.now()).total_seconds()
                if time.monotonic() + pause > deadline:
                    break
                time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
            else:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        if order.state == OrderState.ISSUED and wait:
            from mamori.lifecycle import deploy

            deploy.drive_due()
        return order

    # --- the client's instruction -------------------------------------------------------------

    def do_approve(self, options) -> None:
        managed = find_managed(options["managed"])
        user = find_user(options.get("user"))
        at = parse_when(options.get("at"), "--at")
        try:
            approval = approvals.record_approval(
                managed,
                actor=user,
                given_by=options["given_by"],
                channel=options["channel"],
                at=at,
                note=options["note"],
            )
        except approvals.ApprovalError as e:
            raise failed(str(e)) from None
        self.stdout.write(
            f"Approval #{approval.pk} recorded: {approval.given_by} ({approval.channel}, "
            f"{_when(approval.decided_at)}). The renewal is ordered at the next pass."
        )

    def do_hold(self, options) -> None:
        managed = find_managed(options["managed"])
        user = find_user(options.get("user"))
        managed = renewal.put_on_hold(
            managed,
            options["awaiting"],
            options["note"],
            actor=user,
            notify=not options["no_notify"],
        )
        asked = "" if options["no_notify"] else "; the client was asked by e-mail"
        self.stdout.write(
            f"On hold since {_when(managed.awaiting_since)}, waiting for {managed.awaiting}{asked}."
        )

    def do_release(self, options) -> None:
        managed = find_managed(options["managed"])
        user = find_user(options.get("user"))
        try:
            renewal.release_hold(managed, actor=user, note=options["note"])
        except renewal.RenewalError as e:
            raise failed(str(e)) from None
        self.stdout.write("Hold released; the renewal goes on at the next pass.")

    # --- revocation and deployment ------------------------------------------------------------

    def do_revoke(self, options) -> None:
        from mamori.lifecycle import revocation

        user = find_user(options.get("user"))
        requested_at = parse_when(options.get("requested_at"), "--requested-at")
        if options.get("fingerprint"):
            fp = options["fingerprint"].replace(":", "").strip().lower()
            cert = Certificate.objects.filter(fingerprint_sha256=fp).first()
            if cert is None:
                raise usage(f"no certificate with fingerprint {options['fingerprint']}")
            managed = (
                ManagedCertificate.objects.filter(certificate=cert).first()
                or ManagedCertificate.objects.filter(orders__certificate=cert).first()
            )
        else:
            managed = find_managed(options["managed"])
            cert = managed.certificate
            if cert is None:
                raise failed(f"{options['managed']} has no certificate to revoke")
        try:
            result = revocation.request_revocation(
                cert,
                reason=REASONS[options["reason"]],
                requested_by=options["requested_by"],
                requested_at=requested_at or timezone.now(),
                actor=user,
                managed=managed,
                reissue=not options["no_reissue"],
            )
        except ValidationError as e:
            raise failed(one_line(e)) from None
        except (ValueError, PermissionError) as e:
            raise failed(str(e)) from None
        state = getattr(result, "state", "")
        self.stdout.write(f"Revocation #{result.pk} of serial {cert.serial}: {state}.")
        if state == "failed":
            raise failed(f"revocation failed: {getattr(result, 'error', '') or '-'}")
        if state == "pending":
            self.stdout.write(
                "The CA has no ACME revocation for it: revoke it at the CA, then record the "
                "CA's confirmation on the revocation (Tasks > Revocations)."
            )
        from mamori.lifecycle.orders import open_order

        replacement = open_order(result.managed) if result.managed_id else None
        if replacement is not None:
            self.stdout.write(f"Replacement: order #{replacement.pk} ({replacement.purpose}).")

    def do_deploy(self, options) -> None:
        from mamori.lifecycle import deploy

        managed = find_managed(options["managed"])
        user = find_user(options.get("user"))
        if managed.certificate_id is None:
            raise failed(f"{options['managed']} has no certificate to deploy")
        target = None
        if options.get("target"):
            target = managed.targets.filter(name=options["target"]).first()
            if target is None:
                raise usage(f"{options['managed']} has no deployment target {options['target']!r}")
        try:
            done = deploy.deploy_now(managed, target=target, actor=user)
        except (deploy.DeploymentError, ValueError) as e:
            raise failed(str(e)) from None
        if not done:
            raise failed("nothing to deploy: no enabled deployment target")
        bad = 0
        for d in done:
            line = f"{d.target.name}: {d.state}"
            if d.error:
                line += f" ({d.error})"
            self.stdout.write(line)
            bad += d.state != "succeeded"
        if bad:
            raise failed(f"{bad} of {len(done)} deployment(s) did not succeed")


def _client_exists(code: str) -> bool:
    from mamori.clients.models import Client

    return Client.objects.filter(code=code).exists()
