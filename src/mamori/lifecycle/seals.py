"""Site seals (CERT-13): a CA's seal must not stay on a page once the certificate it vouches for
has expired or been revoked. While it does, a task stays open; once the seal is gone the task
closes itself, saying when it was seen gone."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from mamori.certificates.models import Certificate
from mamori.core import outbound
from mamori.core.sentences import Text
from mamori.inventory.models import Endpoint
from mamori.lifecycle import failures, tasks
from mamori.lifecycle.fetch import FetchError, fetch
from mamori.lifecycle.models import (
    FailureKind,
    Revocation,
    RevocationState,
    RevocationStatus,
    RevocationStatusValue,
    SiteSeal,
    Task,
    TaskKind,
    TaskState,
)

log = logging.getLogger(__name__)

TIMEOUT = 10
MAX_PAGE_BYTES = 2 * 1024 * 1024
CHECK_EVERY = timedelta(hours=6)
RETRY_AFTER = timedelta(hours=1)


class SealCheckError(Exception):
    pass


def vouched_certificates(seal: SiteSeal) -> list[Certificate]:
    """The certificate the seal vouches for: the one recorded on it, else those the site's
    endpoints serve now."""
    if seal.certificate_id:
        return [seal.certificate]
    ids = (
        Endpoint.objects.filter(site_id=seal.site_id, current_certificate__isnull=False)
        .values_list("current_certificate_id", flat=True)
        .distinct()
    )
    return list(Certificate.objects.filter(pk__in=list(ids)))


def why_bad(certificate: Certificate, now: datetime) -> Text | None:
    """Why the seal should no longer be shown for ``certificate`` (None if it may)."""
    if certificate.not_after <= now:
        return Text(
            gettext_noop("its certificate expired on %(when)s"),
            when=f"{certificate.not_after:%Y-%m-%d}",
        )
    if (
        RevocationStatus.objects.filter(
            certificate=certificate, status=RevocationStatusValue.REVOKED
        ).exists()
        or Revocation.objects.filter(certificate=certificate, state=RevocationState.DONE).exists()
    ):
        return Text(gettext_noop("its certificate was revoked"))
    return None


def fetch_page(url: str) -> str:
    """The page's HTML. TLS is not verified: the certificate is expected to be bad. Only public
    addresses (and ``MAMORI_ALLOW_PRIVATE_NETWORKS``): the client chooses the URL."""
    try:
        page = fetch(
            url, limit=MAX_PAGE_BYTES, timeout=TIMEOUT, verify=False, policy=outbound.policy()
        )
    except FetchError as exc:
        raise SealCheckError(str(exc)) from None
    return page.content.decode(page.encoding or "utf-8", errors="replace")


def task_key(seal: SiteSeal, certificate: Certificate) -> str:
    return f"seal:{seal.pk}:{certificate.pk}"


def check_seal(seal: SiteSeal, now: datetime) -> None:
    client = seal.site.client
    bad = [(cert, why) for cert in vouched_certificates(seal) if (why := why_bad(cert, now))]
    if not bad:
        # Nothing to check now; a task whose certificate was replaced stays for a person.
        SiteSeal.objects.filter(pk=seal.pk).update(next_check_at=now + CHECK_EVERY)
        return
    subject = f"seal:{seal.pk}"
    try:
        html = fetch_page(seal.page_url)
    except SealCheckError as exc:
        with transaction.atomic():
            SiteSeal.objects.filter(pk=seal.pk).update(
                last_checked_at=now, last_error=str(exc), next_check_at=now + RETRY_AFTER
            )
            failures.open_failure(
                client,
                FailureKind.SEAL_CHECK,
                subject,
                Text(
                    gettext_noop(
                        "The site seal of %(ca)s on %(url)s could not be checked: %(error)s"
                    ),
                    ca=seal.ca_name,
                    url=seal.page_url,
                    error=str(exc),
                ),
                next_retry_at=now + RETRY_AFTER,
                now=now,
            )
        return
    present = seal.marker in html
    with transaction.atomic():
        SiteSeal.objects.filter(pk=seal.pk).update(
            last_checked_at=now,
            last_present=present,
            last_error="",
            next_check_at=now + CHECK_EVERY,
        )
        failures.resolve_failures(subject, FailureKind.SEAL_CHECK, now=now)
    for cert, why in bad:
        key = task_key(seal, cert)
        if present:
            task, _created = tasks.open_task(
                client,
                TaskKind.SEAL,
                key,
                Text(
                    gettext_noop("Remove the %(ca)s site seal from %(url)s"),
                    ca=seal.ca_name,
                    url=seal.page_url,
                ),
                Text(
                    gettext_noop(
                        "The page still shows the seal although %(why)s. Remove the seal (or "
                        "replace it with the new certificate's) from the page."
                    ),
                    why=why,
                ),
                certificate=cert,
                site=seal.site,
            )
            if task.state != TaskState.OPEN:  # the seal came back after the task was closed
                tasks.reopen_task(task, note=_("The seal is on the page again."))
        else:
            task = Task.objects.filter(key=key, state=TaskState.OPEN).first()
            if task is not None:
                tasks.close_task(
                    task,
                    actor=None,
                    resolution=_("The seal was no longer on %(url)s at %(when)s.")
                    % {"url": seal.page_url, "when": f"{now:%Y-%m-%d %H:%M %Z}"},
                )


def check_due(now: datetime | None = None) -> int:
    """Check the seals that are due; returns how many pages were looked at or skipped."""
    now = now or timezone.now()
    count = 0
    for seal in SiteSeal.objects.filter(next_check_at__lte=now).select_related(
        "site__client", "certificate"
    ):
        try:
            check_seal(seal, now)
        except Exception:  # one seal's trouble never stops the others
            log.exception("site seal %s check failed", seal.pk)
            continue
        count += 1
    return count


def add_seal(
    site, *, ca_name: str, page_url: str, marker: str, certificate=None, actor, request=None
):
    """Record the CA seal ``site`` shows."""
    from mamori.core import audit

    seal = SiteSeal(
        site=site,
        ca_name=(ca_name or "").strip(),
        page_url=(page_url or "").strip(),
        marker=(marker or "").strip(),
        certificate=certificate,
    )
    seal.full_clean(exclude=["next_check_at", "last_present"])
    with transaction.atomic():
        seal.save()
        audit.record(
            "seal.create",
            seal,
            actor=actor,
            request=request,
            changes={"ca_name": seal.ca_name, "page_url": seal.page_url, "marker": seal.marker},
            client_id=site.client_id,
        )
    return seal
