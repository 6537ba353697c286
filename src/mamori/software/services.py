"""Every write of the software inventory (MNT-01, MNT-07): the collection setup, a collection and
what it found, acknowledging an account event. Pages, API, CLI and jobs call these.

A collection is a :class:`Collection` row (state "running", committed) before the server is
contacted; its end state, the server's current rows and the change events are then written in
one transaction with the audit event.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from mamori.core import audit
from mamori.core.permissions import may_change
from mamori.inventory.models import Server
from mamori.software import versions
from mamori.software.collect import Found
from mamori.software.models import (
    Account,
    AccountEvent,
    AccountSubject,
    AuthorizedKey,
    ChangeKind,
    Collection,
    CollectionSetup,
    CollectionState,
    Component,
    OperatingSystem,
    Package,
    SoftwareEvent,
    SoftwareSubject,
)

log = logging.getLogger(__name__)

#: A run still "running" after this long died with its process: another may start.
STALE_AFTER = dt.timedelta(minutes=30)

SETUP_FIELDS = [
    "enabled",
    "interval_hours",
    "ssh_host",
    "ssh_port",
    "ssh_username",
    "ssh_secret",
    "ssh_host_key",
    "os_release_path",
    "passwd_path",
    "group_path",
    "sudoers_path",
    "dpkg_admin_dir",
    "wordpress_paths",
]


class CollectionBusy(Exception):
    """Another collection of this server is running."""


# --- setup --------------------------------------------------------------------------------------


def save_setup(
    server: Server, values: dict[str, Any], *, actor=None, request=None
) -> CollectionSetup:
    """Create or change how ``server`` is collected. Raises ValidationError (per field),
    PermissionDenied if ``actor`` may not change it."""
    setup = CollectionSetup.objects.filter(server=server).first()
    creating = setup is None
    if creating:
        setup = CollectionSetup(server=server)
    if actor is not None and not may_change(actor, setup):
        raise PermissionDenied
    unknown = set(values) - set(SETUP_FIELDS)
    if unknown:
        raise ValidationError({name: "unknown field" for name in sorted(unknown)})
    before = {name: _shown(setup, name) for name in SETUP_FIELDS}
    for name, value in values.items():
        setattr(setup, name, value)
    if (
        setup.ssh_secret is not None
        and actor is not None
        and not may_change(actor, setup.ssh_secret)
    ):
        raise ValidationError({"ssh_secret": "You may not use this credential."})
    setup.full_clean()
    changes = {
        name: _shown(setup, name) for name in SETUP_FIELDS if _shown(setup, name) != before[name]
    }
    with transaction.atomic():
        if setup.next_collection_at is None and setup.enabled:
            setup.next_collection_at = timezone.now()
        setup.save()
        audit.record(
            "software.setup_created" if creating else "software.setup_changed",
            setup,
            actor=actor,
            request=request,
            changes=changes,
            client_id=server.client_id,
        )
    return setup


def _shown(setup: CollectionSetup, name: str) -> Any:
    if name == "ssh_secret":
        return setup.ssh_secret_id
    return getattr(setup, name)


# --- a collection -------------------------------------------------------------------------------


def start(server: Server, *, actor=None) -> Collection:
    """The row of a new collection, committed; raises :class:`CollectionBusy` if one is
    running (a run older than :data:`STALE_AFTER` is marked failed first)."""
    now = timezone.now()
    with transaction.atomic():
        Server.objects.select_for_update().filter(pk=server.pk).first()
        running = Collection.objects.filter(server=server, state=CollectionState.RUNNING)
        stale = running.filter(started_at__lt=now - STALE_AFTER)
        stale.update(state=CollectionState.FAILED, ended_at=now, error="interrupted")
        if running.exists():
            raise CollectionBusy(f"a collection of {server} is running")
        return Collection.objects.create(
            server=server, started_at=now, requested_by=actor if actor else None
        )


def collect_server(server: Server, *, actor=None, request=None) -> Collection:
    """Collect ``server`` now and record what was found. Raises ValidationError when it has no
    collection setup, PermissionDenied when ``actor`` may not, CollectionBusy when a run is on.
    A server that cannot be reached gives a failed collection, not an exception."""
    from mamori.lifecycle import ssh
    from mamori.software.collect import collect

    if actor is not None and not may_change(actor, Collection(server=server)):
        raise PermissionDenied
    setup = CollectionSetup.objects.filter(server=server).select_related("ssh_secret").first()
    if setup is None:
        raise ValidationError("This server has no software collection set up.")
    collection = start(server, actor=actor)
    try:
        found = collect(setup)
    except ssh.SSHError as exc:
        return finish_failed(collection, str(exc), actor=actor, request=request)
    except Exception as exc:
        log.exception("software collection of server %s failed", server.pk)
        finish_failed(collection, f"internal error ({type(exc).__name__})", actor=actor)
        raise
    return record(collection, found, actor=actor, request=request)


def finish_failed(collection: Collection, error: str, *, actor=None, request=None) -> Collection:
    with transaction.atomic():
        collection.state = CollectionState.FAILED
        collection.ended_at = timezone.now()
        collection.error = error[:2000]
        collection.save(update_fields=["state", "ended_at", "error"])
        audit.record(
            "software.collected",
            collection,
            actor=actor,
            request=request,
            actor_label=None if actor else "software-collection",
            changes={"state": collection.state, "error": collection.error},
            client_id=collection.server.client_id,
        )
    return collection


def _read_before(server: Server, item: str, collection: Collection) -> bool:
    """Whether an earlier collection read ``item`` (else this one is its baseline)."""
    earlier = Collection.objects.filter(server=server, state__in=["ok", "partial"]).exclude(
        pk=collection.pk
    )
    # JSON containment differs between the databases: look at the few rows in Python.
    return any(item in (c.items or []) for c in earlier.only("items")[:1000])


def record(collection: Collection, found: Found, *, actor=None, request=None) -> Collection:
    """Write what ``found`` holds as the server's current software and accounts, the events
    since the previous collection, and the collection's end; alert operators to account
    changes."""
    server = collection.server
    now = timezone.now()
    items = []
    with transaction.atomic():
        software_events: list[SoftwareEvent] = []
        account_events: list[AccountEvent] = []

        def software_event(**kw: Any) -> None:
            software_events.append(
                SoftwareEvent(server=server, collection=collection, at=now, **kw)
            )

        if found.os is not None:
            items.append("os")
            baseline = not _read_before(server, "os", collection)
            old = OperatingSystem.objects.filter(server=server).first()
            label_new = f"{found.os.os_id} {found.os.version_id}".strip()
            if old is not None and not baseline:
                label_old = f"{old.os_id} {old.version_id}".strip()
                if label_old != label_new:
                    software_event(
                        subject=SoftwareSubject.OS,
                        category="os",
                        name=found.os.os_id,
                        change=ChangeKind.CHANGED,
                        from_version=label_old,
                        to_version=label_new,
                    )
            OperatingSystem.objects.update_or_create(
                server=server,
                defaults={
                    "os_id": found.os.os_id,
                    "id_like": found.os.id_like,
                    "version_id": found.os.version_id,
                    "pretty_name": found.os.pretty_name,
                    "collection": collection,
                },
            )

        if found.packages is not None:
            items.append("packages")
            baseline = not _read_before(server, "packages", collection)
            current = {
                (p.name, p.architecture): p
                for p in Package.objects.filter(server=server, ecosystem=found.ecosystem)
            }
            new = {(p.name, p.architecture): p for p in found.packages}
            for key, line in new.items():
                old = current.get(key)
                if old is None:
                    if not baseline:
                        software_event(
                            subject=SoftwareSubject.PACKAGE,
                            category=found.ecosystem,
                            name=line.name,
                            detail=line.architecture,
                            change=ChangeKind.ADDED,
                            to_version=line.version,
                        )
                elif old.version != line.version:
                    software_event(
                        subject=SoftwareSubject.PACKAGE,
                        category=found.ecosystem,
                        name=line.name,
                        detail=line.architecture,
                        change=_direction(found.ecosystem, old.version, line.version),
                        from_version=old.version,
                        to_version=line.version,
                    )
            for key, old in current.items():
                if key not in new:
                    software_event(
                        subject=SoftwareSubject.PACKAGE,
                        category=old.ecosystem,
                        name=old.name,
                        detail=old.architecture,
                        change=ChangeKind.REMOVED,
                        from_version=old.version,
                    )
            # Another ecosystem's packages (the server was reinstalled) go without events.
            Package.objects.filter(server=server).exclude(ecosystem=found.ecosystem).delete()
            gone = [old.pk for key, old in current.items() if key not in new]
            Package.objects.filter(pk__in=gone).delete()
            changed = []
            for key, line in new.items():
                old = current.get(key)
                if old is not None and (old.version, old.source_name, old.source_version) != (
                    line.version,
                    line.source,
                    line.source_version,
                ):
                    old.version = line.version
                    old.source_name, old.source_version = line.source, line.source_version
                    changed.append(old)
            Package.objects.bulk_update(
                changed, ["version", "source_name", "source_version"], batch_size=500
            )
            Package.objects.bulk_create(
                [
                    Package(
                        server=server,
                        ecosystem=found.ecosystem,
                        name=line.name,
                        architecture=line.architecture,
                        version=line.version,
                        source_name=line.source,
                        source_version=line.source_version,
                    )
                    for key, line in new.items()
                    if key not in current
                ],
                batch_size=500,
            )
            collection.packages = len(new)

        if found.components is not None:
            items.append("components")
            baseline = not _read_before(server, "components", collection)
            current_c = {
                (c.kind, c.name, c.path): c for c in Component.objects.filter(server=server)
            }
            new_c = {(c.kind, c.name, c.path): c for c in found.components}
            for key, comp in new_c.items():
                old = current_c.get(key)
                if old is None:
                    if not baseline:
                        software_event(
                            subject=SoftwareSubject.COMPONENT,
                            category=comp.kind,
                            name=comp.name,
                            detail=comp.path,
                            change=ChangeKind.ADDED,
                            to_version=comp.version,
                        )
                    Component.objects.create(
                        server=server,
                        kind=comp.kind,
                        name=comp.name,
                        version=comp.version,
                        path=comp.path,
                    )
                elif old.version != comp.version:
                    software_event(
                        subject=SoftwareSubject.COMPONENT,
                        category=comp.kind,
                        name=comp.name,
                        detail=comp.path,
                        change=_direction("", old.version, comp.version),
                        from_version=old.version,
                        to_version=comp.version,
                    )
                    old.version = comp.version
                    old.save(update_fields=["version"])
            for key, old in current_c.items():
                if key not in new_c:
                    software_event(
                        subject=SoftwareSubject.COMPONENT,
                        category=old.kind,
                        name=old.name,
                        detail=old.path,
                        change=ChangeKind.REMOVED,
                        from_version=old.version,
                    )
                    old.delete()
            collection.components = len(new_c)

        if found.accounts is not None and found.keys is not None:
            items.append("accounts")
            baseline = not _read_before(server, "accounts", collection)

            def account_event(**kw: Any) -> None:
                if not baseline:
                    account_events.append(
                        AccountEvent(server=server, collection=collection, at=now, **kw)
                    )

            current_a = {a.username: a for a in Account.objects.filter(server=server)}
            new_a = {a.username: a for a in found.accounts}
            for name, acc in new_a.items():
                old = current_a.get(name)
                if old is None:
                    account_event(
                        subject=AccountSubject.ACCOUNT,
                        change=ChangeKind.ADDED,
                        username=name,
                        detail=f"uid {acc.uid}, {acc.shell}"[:300],
                    )
                    if acc.sudo:
                        account_event(
                            subject=AccountSubject.SUDO,
                            change=ChangeKind.ADDED,
                            username=name,
                            detail=acc.sudo[:300],
                        )
                    Account.objects.create(
                        server=server,
                        username=name,
                        uid=acc.uid,
                        home=acc.home,
                        shell=acc.shell,
                        sudo=acc.sudo,
                    )
                    continue
                if (old.sudo or "") != (acc.sudo or "") and acc.sudo is not None:
                    if acc.sudo and not old.sudo:
                        account_event(
                            subject=AccountSubject.SUDO,
                            change=ChangeKind.ADDED,
                            username=name,
                            detail=acc.sudo[:300],
                        )
                    elif old.sudo and not acc.sudo:
                        account_event(
                            subject=AccountSubject.SUDO,
                            change=ChangeKind.REMOVED,
                            username=name,
                            detail=old.sudo[:300],
                        )
                    else:
                        account_event(
                            subject=AccountSubject.SUDO,
                            change=ChangeKind.CHANGED,
                            username=name,
                            detail=f"{old.sudo} → {acc.sudo}"[:300],
                        )
                old.uid, old.home, old.shell = acc.uid, acc.home, acc.shell
                if acc.sudo is not None:
                    old.sudo = acc.sudo
                old.save()
            for name, old in current_a.items():
                if name not in new_a:
                    account_event(
                        subject=AccountSubject.ACCOUNT,
                        change=ChangeKind.REMOVED,
                        username=name,
                        detail=f"uid {old.uid}, {old.shell}"[:300],
                    )
                    old.delete()

            current_k = {
                (k.username, k.fingerprint): k for k in AuthorizedKey.objects.filter(server=server)
            }
            new_k = {
                (user, k.fingerprint): (user, k) for user, keys in found.keys.items() for k in keys
            }
            for key, (user, line) in new_k.items():
                if key not in current_k:
                    account_event(
                        subject=AccountSubject.KEY,
                        change=ChangeKind.ADDED,
                        username=user,
                        detail=f"{line.key_type} {line.fingerprint}"[:300],
                        comment=line.comment,
                    )
                    AuthorizedKey.objects.create(
                        server=server,
                        username=user,
                        key_type=line.key_type,
                        fingerprint=line.fingerprint,
                        comment=line.comment,
                    )
            for key, old in current_k.items():
                if key not in new_k:
                    account_event(
                        subject=AccountSubject.KEY,
                        change=ChangeKind.REMOVED,
                        username=old.username,
                        detail=f"{old.key_type} {old.fingerprint}"[:300],
                        comment=old.comment,
                    )
                    old.delete()
            collection.accounts = len(new_a)

        SoftwareEvent.objects.bulk_create(software_events, batch_size=500)
        AccountEvent.objects.bulk_create(account_events, batch_size=500)
        collection.items = items
        collection.problems = found.problems
        collection.ended_at = timezone.now()
        if not items:
            collection.state = CollectionState.FAILED
            collection.error = "nothing could be read"
        elif found.problems:
            collection.state = CollectionState.PARTIAL
        else:
            collection.state = CollectionState.OK
        collection.save()
        audit.record(
            "software.collected",
            collection,
            actor=actor,
            request=request,
            actor_label=None if actor else "software-collection",
            changes={
                "state": collection.state,
                "packages": collection.packages,
                "components": collection.components,
                "accounts": collection.accounts,
                "software_events": len(software_events),
                "account_events": len(account_events),
                "problems": len(found.problems),
            },
            client_id=server.client_id,
        )
        if account_events:
            _alert_accounts(collection, account_events)
    if {"packages", "components"} & set(items):
        _announce(collection)
    return collection


def _announce(collection: Collection) -> None:
    """Tell the listeners (the vulnerability matching) that the server's software was read; a
    listener's failure is logged, the collection stays recorded."""
    from mamori.software.signals import collected

    for receiver, result in collected.send_robust(Collection, collection=collection):
        if isinstance(result, Exception):
            log.error(
                "after the software collection of server %s, %s failed: %r",
                collection.server_id,
                getattr(receiver, "__qualname__", receiver),
                result,
                exc_info=result,
            )


def _direction(ecosystem: str, old: str, new: str) -> str:
    if ecosystem in ("Debian", "Ubuntu"):
        order = versions.compare_debian(new, old)
    else:
        order = versions.compare_dotted(new, old)
    if order is None or order == 0:
        return ChangeKind.CHANGED
    return ChangeKind.UPGRADED if order > 0 else ChangeKind.DOWNGRADED


def _alert_accounts(collection: Collection, events: list[AccountEvent]) -> None:
    """One notice to operators per collection that found account changes (in the same
    transaction: the notice exists if and only if the events do)."""
    from mamori.notices import services as notices
    from mamori.notices.models import NoticeKind

    server = collection.server
    notices.enqueue(
        NoticeKind.SOFTWARE_ACCOUNTS,
        f"software-accounts:{collection.pk}",
        notices.operator_recipients(server.client),
        {
            "client": server.client,
            "server": server,
            "events": events,
            "url": reverse("software:server", args=[server.pk]),
        },
        client=server.client,
    )


def acknowledge(event: AccountEvent, *, actor, request=None) -> AccountEvent:
    """An operator has looked at an account event (it is no longer flagged)."""
    if not may_change(actor, event):
        raise PermissionDenied
    with transaction.atomic():
        updated = AccountEvent.objects.filter(pk=event.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now(), acknowledged_by=actor
        )
        event.refresh_from_db()
        if updated:
            audit.record(
                "software.account_event_acknowledged",
                event,
                actor=actor,
                request=request,
                changes={"username": event.username, "subject": event.subject},
                client_id=event.server.client_id,
            )
    return event


# --- the periodic job ---------------------------------------------------------------------------


def collect_due(now: dt.datetime | None = None) -> int:
    """Collect every enabled server whose next collection is due (the job
    ``software_collection``). Each setup is claimed by moving its next time with a conditional
    UPDATE, so two processes never collect one server for the same turn."""
    now = now or timezone.now()
    done = 0
    due = CollectionSetup.objects.filter(enabled=True).filter(
        Q(next_collection_at__lte=now) | Q(next_collection_at__isnull=True)
    )
    for setup in due.select_related("server")[:100]:
        following = now + dt.timedelta(hours=setup.interval_hours)
        claimed = CollectionSetup.objects.filter(
            pk=setup.pk, next_collection_at=setup.next_collection_at
        ).update(next_collection_at=following)
        if not claimed:
            continue
        try:
            collect_server(setup.server)
            done += 1
        except CollectionBusy:
            continue
        except (ValidationError, IntegrityError):
            log.exception("software collection of server %s not recorded", setup.server_id)
    return done
