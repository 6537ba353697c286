"""The writes of uptime checks (MON-01): add, change, pause or resume, delete.

One function per write, called by the check pages, the API (and the import): each asks
:func:`mamori.core.permissions.may_change` (a check's rule is ``STAFF``: provider staff who see
the client), validates the check with the model's rules, and writes the check and its audit
record in one transaction. ``actor`` None is Mamori itself.

Refusals are ``PermissionDenied`` (403 on a page and in the API); invalid input is a
``ValidationError`` by field, where a problem of the kind's settings is named
``settings.<setting>`` (``settings.port``) so that the page puts it on the kind's field and the
API answers it at ``["body", "payload", "settings", "port"]``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, close_old_connections, connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from mamori.clients.models import Client
from mamori.core import audit
from mamori.core.models import User
from mamori.core.permissions import require_change
from mamori.monitoring.models import Check, CheckState

log = logging.getLogger(__name__)

#: The fields a caller sets (site and server are records of the check's client).
FIELDS = (
    "site",
    "server",
    "name",
    "kind",
    "settings",
    "interval_seconds",
    "timeout_seconds",
    "failures_to_confirm",
    "recoveries_to_confirm",
    "enabled",
)


def _validate(check: Check) -> None:
    """The model's rules; a settings problem (``port: ...``) named ``settings.port``."""
    try:
        check.full_clean()
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for field, messages in exc.message_dict.items():
            for message in messages:
                name, sep, text = message.partition(": ")
                if field == "settings" and sep:
                    errors.setdefault(f"settings.{name}", []).append(text)
                else:
                    errors.setdefault(field, []).append(message)
        raise ValidationError(errors) from None


def _shown(value: Any) -> Any:
    return str(value) if hasattr(value, "pk") else value


def _created(check: Check) -> dict:
    return {"name": check.name, "kind": check.kind, "settings": check.settings}


def create_check(
    client: Client,
    *,
    actor: User | None,
    request: HttpRequest | None = None,
    **fields: Any,
) -> Check:
    """Add a check of ``client`` with ``fields`` (see :data:`FIELDS`); it runs at once."""
    if actor is not None:
        require_change(actor, client, Check.change_rule)
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"not fields of a check: {sorted(unknown)}")
    check = Check(client=client, next_run_at=timezone.now(), **fields)
    _validate(check)
    with transaction.atomic():
        check.save()
        audit.record("check.create", check, actor=actor, request=request, changes=_created(check))
    if check.enabled:
        transaction.on_commit(lambda: run_first(check.pk))
    return check


def run_first(check_id: int) -> None:
    """Run a new check now, so that its page shows the first result within seconds instead of
    at the runner's next pass. In the scaled-out mode (a broker is set) the check is claimed and
    sent to the workers as a batch of one; in the embedded mode it runs in a thread of this
    process. Either way it is claimed like any run (:func:`~mamori.monitoring.services.claim_due`),
    so the runner never runs the same slot a second time."""
    if settings.MAMORI_BROKER_URL:
        from mamori.monitoring import distributed, services, tasks

        now = timezone.now()
        lease = distributed.dispatch_timeout()
        try:
            claimed = services.claim_due(now, 1, lease=lease, skip_running=True, only=[check_id])
            if claimed:
                tasks.send_batch([check_id], now)
        except Exception:
            # The broker is away: the scheduler hands the run out again when its lease ends.
            log.exception("could not send the first run of check %s to the workers", check_id)
        return
    threading.Thread(
        target=_run_first_here, args=(check_id,), name=f"mamori-first-run-{check_id}", daemon=True
    ).start()


#: The first run waits this long, so that the request which added the check has finished its own
#: writes (its session) first: SQLite has one writer at a time.
FIRST_RUN_DELAY = 0.5


def _again_if_busy(write: Callable[[], Any], tries: int = 3) -> Any:
    """Run the transaction ``write``, again after a moment if SQLite was busy with another."""
    for attempt in range(tries):
        try:
            return write()
        except OperationalError:
            if attempt == tries - 1:
                raise
            time.sleep(0.2)


def _run_first_here(check_id: int) -> None:
    from mamori.monitoring import services
    from mamori.notices.services import deliver_due

    time.sleep(FIRST_RUN_DELAY)
    try:
        now = timezone.now()
        claimed = _again_if_busy(lambda: services.claim_due(now, 1, only=[check_id]))
        if not claimed:
            return  # the runner took it first, or it was deleted or paused meanwhile
        check = claimed[0]
        (result,) = services.run_checks_for([check])
        changed = _again_if_busy(lambda: services.record_result(check, result, check.running_slot))
        if changed == CheckState.DOWN:
            deliver_due()  # the incident it opened is told at once, as the runner does
    except Exception:
        log.exception(
            "the first run of check %s failed; the runner runs it at its next slot", check_id
        )
    finally:
        close_old_connections()
        connection.close()


def update_check(
    check: Check,
    *,
    actor: User | None,
    request: HttpRequest | None = None,
    **fields: Any,
) -> Check:
    """Change the ``fields`` given (see :data:`FIELDS`, and ``client``), or save what the caller
    set on ``check`` already (a page's form); the audit record has what changed."""
    unknown = set(fields) - set(FIELDS) - {"client"}
    if unknown:
        raise TypeError(f"not fields of a check: {sorted(unknown)}")
    before = Check.objects.select_related("client").get(pk=check.pk)
    for name, value in fields.items():
        setattr(check, name, value)
    if actor is not None:
        # Moved to another client (the page's form): both must be the actor's to change.
        require_change(actor, before)
        require_change(actor, check)
    changes = {
        name: [_shown(getattr(before, name)), _shown(getattr(check, name))]
        for name in ("client", *FIELDS)
        if getattr(before, name) != getattr(check, name)
    }
    if check.enabled and not before.enabled:
        check.next_run_at = timezone.now()
    _validate(check)
    with transaction.atomic():
        check.save()
        audit.record("check.update", check, actor=actor, request=request, changes=changes)
    return check


def set_enabled(
    check: Check, enabled: bool, *, actor: User | None, request: HttpRequest | None = None
) -> Check:
    """Pause (``enabled`` false) or resume the check; a resumed check runs at once."""
    if actor is not None:
        require_change(actor, check)
    with transaction.atomic():
        check = Check.objects.select_for_update().get(pk=check.pk)
        was = check.enabled
        check.enabled = enabled
        fields = ["enabled"]
        if enabled and not was:
            check.next_run_at = timezone.now()
            fields.append("next_run_at")
        check.save(update_fields=fields)
        audit.record(
            "check.resume" if enabled else "check.pause",
            check,
            actor=actor,
            request=request,
            changes={"enabled": [was, enabled]},
        )
    return check


def delete_check(check: Check, *, actor: User | None, request: HttpRequest | None = None) -> None:
    """Delete the check with its samples and roll-ups; its incidents stay."""
    if actor is not None:
        require_change(actor, check)
    with transaction.atomic():
        audit.record("check.delete", check, actor=actor, request=request, changes=_created(check))
        check.delete()
