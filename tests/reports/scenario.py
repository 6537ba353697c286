"""The rest of acme's scripted November 2026 (beside tests/reports/conftest.py ``scripted``):
certificates, backups and drills, updates and findings, an announcement. Every row is placed
on the calendar by hand, and the known answers in the tests are counted from this text:

Certificates (the SSL contract, 000):
- www.acme.example:443 serves certificate "www.acme.example" valid until 25 November 10:00,
  shop.acme.example:443 serves "shop.acme.example" valid until 20 December; an older
  "old.acme.example" (valid until 12 November) was replaced on 1 November, before it
  expired, so it is not "expiring";
  mail.acme.example:443 served "mail.acme.example" valid until 28 November 09:00 and replaced
  only on 2 December (after it expired, before the report is built): November's;
- the managed certificate "www" was renewed: an order issued on 18 November 09:00 (and one
  issued on 30 October, last month; and one that failed on 19 November);
- it was installed on 18 November 12:00 (a deployment failed on 19 November);
- "old.acme.example" was revoked on 12 November (key compromise);
- the client approved the renewal on 17 November 15:00, used for the order of the 18th (an
  October approval is last month's);
  another approval asked on 28 November is still awaited; the managed certificate "mail" had
  an approval asked on 25 November and given on 2 December: both awaited at the month's end.

Backups (a job "www files"):
- backups started each day 1–30 November at 02:00: 28 succeeded, the ones of the 6th and the
  21st failed; one due at 23:30 on 31 October started at 00:10 on 1 November (November's);
  one due at 23:50 on 30 November started at 00:05 on 1 December (December's, not November's);
  one due on 15 November was missed (never started);
- one restore drill on 15 November succeeded; a restore on 16 November is not a drill.

Updates and findings (server "web1"):
- nginx 1.24.0 → 1.26.2 done by hand on 8 November (2 advisories), openssl queued for later,
  php updated on 30 October (last month's);
- findings: high one opened 3 November, closed 8 November; a critical one opened on 1 October
  still open; a medium one opened 20 November still open; a low one opened and closed in
  October.

Announcement: a change of terms effective 1 January 2027, told to acme on 10 November 10:00.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from mamori.advisories.models import Advisory, Finding, UpdateRecord
from mamori.announcements.models import Announcement, Recipient
from mamori.backups.models import BackupJob, BackupRun
from mamori.certificates.models import Certificate, CertificateSighting
from mamori.inventory.models import Endpoint, Server
from mamori.lifecycle.models import (
    Approval,
    Deployment,
    DeploymentTarget,
    ManagedCertificate,
    Order,
    Revocation,
)
from mamori.vault import services as vault
from mamori.vault.models import SecretKind
from tests.reports.conftest import jst


def jst_y(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return jst(month, day, hour, minute).replace(year=year)


def certificate(cn: str, not_after: dt.datetime) -> Certificate:
    return Certificate.objects.create(
        fingerprint_sha256=hashlib.sha256(cn.encode()).hexdigest(),
        subject=f"CN={cn}",
        subject_cn=cn,
        sans=[cn],
        issuer="CN=Test CA",
        issuer_cn="Test CA",
        serial=hashlib.sha256(cn.encode()).hexdigest()[:16],
        not_before=not_after - dt.timedelta(days=90),
        not_after=not_after,
        key_type="ec",
        key_bits=256,
        signature_algorithm="ecdsa-with-SHA256",
        pem="-",
    )


@pytest.fixture
def everything(scripted, operator):
    acme = scripted["client"]
    site = scripted["site"]
    # --- certificates
    endpoint = Endpoint.objects.create(client=acme, site=site, host="www.acme.example", port=443)
    www = certificate("www.acme.example", jst(11, 25, 10))
    shop = certificate("shop.acme.example", jst(12, 20))
    old = certificate("old.acme.example", jst(11, 12))
    shop_endpoint = Endpoint.objects.create(client=acme, host="shop.acme.example", port=443)
    for cert, where in ((www, endpoint), (shop, shop_endpoint)):
        CertificateSighting.objects.create(
            certificate=cert, endpoint=where, first_seen_at=jst(11, 1), last_seen_at=jst(11, 30)
        )
    mail = certificate("mail.acme.example", jst(11, 28, 9))
    CertificateSighting.objects.create(
        certificate=mail,
        endpoint=Endpoint.objects.create(client=acme, host="mail.acme.example", port=443),
        first_seen_at=jst(9, 1),
        last_seen_at=jst(12, 2),
        ended_at=jst(12, 2),
    )
    CertificateSighting.objects.create(
        certificate=old,
        endpoint=endpoint,
        first_seen_at=jst(8, 1),
        last_seen_at=jst(11, 1),
        ended_at=jst(11, 1),
    )
    managed = ManagedCertificate.objects.create(
        client=acme, name="www", names=["www.acme.example"], issuer="manual", certificate=www
    )
    for state, finished in (
        ("issued", jst(11, 18, 9)),
        ("issued", jst(10, 30, 9)),
        ("failed", jst(11, 19, 9)),
    ):
        Order.objects.create(
            managed=managed,
            purpose="renew",
            issuer="manual",
            state=state,
            names=["www.acme.example"],
            key_type="ec256",
            finished_at=finished,
        )
    target = DeploymentTarget.objects.create(
        managed=managed, name="web1", kind="local", key_path="/tmp/key.pem"
    )
    Deployment.objects.create(
        target=target, certificate=www, state="succeeded", finished_at=jst(11, 18, 12)
    )
    Deployment.objects.create(
        target=target, certificate=www, state="failed", finished_at=jst(11, 19, 12)
    )
    Revocation.objects.create(
        client=acme,
        certificate=old,
        managed=managed,
        reason=1,
        requested_by="山田太郎",
        requested_at=jst(11, 12, 9),
        state="done",
        done_at=jst(11, 12, 10),
    )
    Approval.objects.create(
        managed=managed, state="used", requested_at=jst(11, 16), decided_at=jst(11, 17, 15)
    )
    Approval.objects.create(
        managed=managed, state="used", requested_at=jst(10, 1), decided_at=jst(10, 2)
    )
    Approval.objects.create(managed=managed, state="requested", requested_at=jst(11, 28))
    mail_managed = ManagedCertificate.objects.create(
        client=acme, name="mail", names=["mail.acme.example"], issuer="manual"
    )
    Approval.objects.create(
        managed=mail_managed,
        state="approved",
        requested_at=jst(11, 25),
        decided_at=jst_y(2026, 12, 2, 10),
    )
    # --- backups
    password = vault.store_secret(
        acme, kind=SecretKind.OTHER, name="restic www", value="not a real one", actor=None
    )
    job = BackupJob.objects.create(
        client=acme,
        site=site,
        name="www files",
        repository="/srv/restic",
        repository_password=password,
        run_on="mamori",
    )
    for day in range(1, 31):
        at = jst(11, day, 2)
        BackupRun.objects.create(
            job=job,
            kind="backup",
            state="failed" if day in (6, 21) else "succeeded",
            due_at=at,
            started_at=at,
            ended_at=at + dt.timedelta(minutes=5),
        )
    BackupRun.objects.create(
        job=job,
        kind="backup",
        state="succeeded",
        due_at=jst(10, 31, 23, 30),
        started_at=jst(11, 1, 0, 10),
    )
    BackupRun.objects.create(
        job=job,
        kind="backup",
        state="succeeded",
        due_at=jst(11, 30, 23, 50),
        started_at=jst(12, 1, 0, 5),
    )
    BackupRun.objects.create(job=job, kind="backup", state="missed", due_at=jst(11, 15, 12))
    BackupRun.objects.create(
        job=job, kind="drill", state="succeeded", due_at=jst(11, 15, 3), started_at=jst(11, 15, 3)
    )
    BackupRun.objects.create(job=job, kind="restore", state="succeeded", started_at=jst(11, 16, 3))
    # --- updates and findings
    server = Server.objects.create(client=acme, name="web1", kind="vps")
    common = {"client": acme, "server": server, "performed_by_label": "operator"}
    UpdateRecord.objects.create(
        **common,
        package="nginx",
        from_version="1.24.0",
        to_version="1.26.2",
        kind="planned",
        method="manual",
        state="done",
        performed_at=jst(11, 8, 10),
        advisories=["CVE-2026-0001", "CVE-2026-0002"],
    )
    UpdateRecord.objects.create(
        **common,
        package="openssl",
        to_version="3.0.15",
        kind="planned",
        method="apt",
        state="queued",
        performed_at=jst(12, 3, 10),
    )
    UpdateRecord.objects.create(
        **common,
        package="php",
        to_version="8.3.13",
        kind="planned",
        method="manual",
        state="done",
        performed_at=jst(10, 30, 10),
    )
    for n, (level, opened, closed) in enumerate(
        [
            ("high", jst(11, 3), jst(11, 8)),
            ("critical", jst(10, 1), None),
            ("medium", jst(11, 20), None),
            ("low", jst(10, 5), jst(10, 9)),
        ]
    ):
        advisory = Advisory.objects.create(
            osv_id=f"TEST-{n}", level=level, modified=opened, imported_at=opened
        )
        Finding.objects.create(
            server=server,
            advisory=advisory,
            ecosystem="Debian",
            package=f"pkg{n}",
            installed_version="1.0",
            level=level,
            opened_at=opened,
            closed_at=closed,
        )
    # --- the announcement
    announcement = Announcement.objects.create(
        kind="terms_change",
        effective_on=dt.date(2027, 1, 1),
        subject_ja="利用規約の改定",
        subject_en="Revised terms of service",
        body_ja="改定します。",
        body_en="We revise them.",
        state="sent",
        sent_at=jst(11, 10, 10),
    )
    Recipient.objects.create(
        announcement=announcement, client=acme, notices=2, notified_at=jst(11, 10, 10)
    )
    return {**scripted, "managed": managed, "job": job, "server": server, "endpoint": endpoint}
