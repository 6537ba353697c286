"""Tenancy cases for contacts' chat channels (see tests/web/tenancy.py).

These tests run with the ``default`` database only, so the channel here is a metadata-only row
(no vault secret): removing it destroys nothing, and its test message fails (no URL to send to)
but still goes through the outbox. Adding a channel stores a secret, which needs the keystore:
tests/notices/test_channels.py adds channels for real.
"""

from mamori.clients.models import Contact
from mamori.notices.models import Channel, ContactChannel, Notice
from tests.web.tenancy import ACME_EDITORS, ACME_PEOPLE, ACTION, FORM, PAGE, Case

EXEMPT: dict[str, str] = {}


def acme_channel() -> ContactChannel:
    contact = Contact.objects.get(email="jane@acme.example")
    channel, _ = ContactChannel.objects.get_or_create(
        contact=contact,
        label="ops room",
        defaults={"client": contact.client, "kind": Channel.SLACK, "topics": ["certificates"]},
    )
    return channel


def channel_rows() -> list[dict]:
    acme_channel()
    return list(ContactChannel.objects.values().order_by("pk"))


def channel_and_notice_rows() -> tuple[list[dict], list[dict]]:
    return channel_rows(), list(Notice.objects.values().order_by("pk"))


def contact_kwargs(s) -> dict:
    return {"pk": Contact.objects.get(email="jane@acme.example").pk}


def channel_kwargs(s) -> dict:
    return {"pk": acme_channel().pk}


CASES: dict[str, Case] = {
    "channel_list": Case(PAGE, contact_kwargs, readers=ACME_PEOPLE),
    "channel_add": Case(FORM, contact_kwargs, writers=ACME_EDITORS),
    "channel_delete": Case(
        FORM, channel_kwargs, post=lambda s: {}, writers=ACME_EDITORS, snapshot=channel_rows
    ),
    "channel_test": Case(
        ACTION,
        channel_kwargs,
        post=lambda s: {},
        writers=ACME_EDITORS,
        snapshot=channel_and_notice_rows,
    ),
}
