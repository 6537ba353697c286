"""Tenancy cases for offboarding (see tests/web/tenancy.py)."""

from django.conf import settings
from django.utils import timezone, translation

from mamori.core.models import AuditEvent
from mamori.vault.models import DESTRUCTION_METHOD, DestructionRecord, Secret
from tests.web.tenancy import ACTION, PAGE, Case

EXEMPT: dict[str, str] = {}

PROVIDER = frozenset({"operator", "provider_admin"})
ADMIN_ONLY = frozenset({"provider_admin"})


def code(s) -> dict:
    return {"code": s.acme.code}


def certified(s) -> dict:
    """acme's kwargs, once something of acme's was destroyed (else there is no certificate)."""
    destroyed(s.acme)
    return code(s)


def in_default_language(text) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return str(text)


def destroyed(client) -> DestructionRecord:
    """A destruction on record for ``client``, as offboarding leaves it."""
    record, _created = DestructionRecord.objects.get_or_create(
        client=client,
        description="web01 root (server login)",
        defaults={
            "destroyed_at": timezone.now(),
            "actor_label": "admin",
            "reason": "contract ended",
            # As the vault writes it: Mamori's own words, in the default language.
            "method": in_default_language(DESTRUCTION_METHOD),
        },
    )
    return record


def exports() -> int:
    return AuditEvent.objects.filter(action="offboard.export").count()


def live_secrets() -> list:
    return list(Secret.objects.filter(destroyed_at__isnull=True).values_list("pk", flat=True))


CASES = {
    "client_offboarding": Case(PAGE, code, readers=PROVIDER),
    "client_offboarding_export": Case(
        ACTION,
        code,
        post=lambda s: {"passphrase": "a long passphrase", "passphrase_again": "a long passphrase"},
        writers=ADMIN_ONLY,
        snapshot=exports,
    ),
    "client_offboarding_destroy": Case(
        ACTION,
        code,
        post=lambda s: {"reason": "contract ended", "confirm_code": "acme"},
        writers=ADMIN_ONLY,
        snapshot=live_secrets,
    ),
    "client_destruction_certificate": Case(PAGE, certified, readers=PROVIDER | {"owner"}),
}
