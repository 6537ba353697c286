"""Tenancy cases of the announcement pages (NOT-04): acme's people read the announcements told
to acme; drafting, changing and sending are provider administrators' and operators' work."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from mamori.announcements.models import Announcement, AnnouncementState, Recipient
from mamori.clients.models import Client
from tests.web.tenancy import ACME_PEOPLE, LIST, PAGE, Case

EXEMPT = {
    "announcement_add": "drafts a provider-wide announcement, no client's record: provider "
    "administrators and operators only (tests/announcements/test_pages.py)",
    "announcement_edit": "changes a draft, which no client sees: provider administrators and "
    "operators only (tests/announcements/test_pages.py)",
    "announcement_send": "sends a draft, which only provider administrators and operators see; "
    "others get 403 for an announcement they see, 404 for one they do not "
    "(tests/announcements/test_pages.py)",
    "announcement_periods": "the notice periods of the provider's terms profiles, no client's "
    "data: provider administrators and operators only (tests/announcements/test_pages.py)",
}


def acme_announcement() -> Announcement:
    """A maintenance announcement told to acme."""
    acme = Client.objects.get(code="acme")
    a, created = Announcement.objects.get_or_create(
        subject_en="Maintenance of the shared mail relay",
        defaults={
            "kind": "maintenance",
            "effective_on": dt.date(2027, 1, 15),
            "subject_ja": "共用メールリレーの保守",
            "body_ja": "1月15日深夜に作業します。",
            "body_en": "Work on the night of 15 January.",
            "state": AnnouncementState.SENT,
            "sent_at": timezone.now(),
        },
    )
    if created:
        Recipient.objects.create(
            announcement=a,
            client=acme,
            contracts=[c.pk for c in acme.contracts.all()],
            notices=1,
            notified_at=timezone.now(),
        )
    return a


def acme_draft() -> Announcement:
    """A draft that would reach acme (any contract type), a month and a half ahead."""
    return Announcement.objects.get_or_create(
        subject_en="Draft: new support hours",
        defaults={
            "kind": "terms_change",
            "effective_on": timezone.localdate() + dt.timedelta(days=45),
            "subject_ja": "下書き: サポート時間の変更",
            "body_ja": "サポート時間を変更します。",
            "body_en": "We are changing our support hours.",
        },
    )[0]


CASES = {
    "announcement_list": Case(LIST, lambda s: (acme_announcement(), {})[1], readers=ACME_PEOPLE),
    "announcement_detail": Case(
        PAGE, lambda s: {"pk": acme_announcement().pk}, readers=ACME_PEOPLE
    ),
}
