"""Tenancy cases of the desk's unmatched e-mail pages (see tests/web/tenancy.py)."""

from __future__ import annotations

from mamori.desk.mail_models import InboundMail, MailOutcome, MailReason
from tests.web.tenancy import LIST, Case

# Unmatched mail may be any client's: provider staff who see every client only.
PROVIDER = frozenset({"operator", "provider_admin"})

EXEMPT: dict[str, str] = {
    "desk_mail_assign": "assigns mail that belongs to no client yet: provider administrators "
    "and operators only, 403 for everyone else, audited (tests/desk/test_mail_pages.py)",
}


def acme_unmatched_mail() -> InboundMail:
    """A mail from someone at acme who is not one of its contacts."""
    return InboundMail.objects.get_or_create(
        message_id="<unknown-person@acme.example>",
        defaults={
            "sender": "new-person@acme.example",
            "subject": "www.acme.example",
            "outcome": MailOutcome.UNMATCHED,
            "reason": MailReason.UNKNOWN_SENDER,
            "raw": (
                "From: new-person@acme.example\r\nSubject: www.acme.example\r\n\r\n"
                "よろしくお願いします。\r\n"
            ).encode(),
        },
    )[0]


def with_unmatched_mail(s) -> dict:
    acme_unmatched_mail()
    return {}


CASES: dict[str, Case] = {
    "desk_mail_list": Case(LIST, with_unmatched_mail, readers=PROVIDER),
}
