"""Offboarding a client at contract end (END-01, VLT-03, VLT-04).

Three steps, each audited:

1. :func:`holdings` lists everything Mamori holds for the client: contracts, contacts, assets,
   certificates, private keys, secrets, notices, audit events and earlier destructions.
2. :func:`export_for_return` writes the client's secrets and private keys into one AES-256
   encrypted ZIP archive (WinZip AES, opened by 7-Zip, WinRAR, Keka, `7z x`), protected by a
   passphrase that is handed over separately.
3. :func:`destroy_all` crypto-shreds every live secret and key (see mamori.vault); each
   destruction leaves a record, and :func:`destruction_certificate` renders the certificate of
   destruction the client can ask for (004 §35.8(3)), in Japanese or English, ready to print.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime

import pyzipper
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from mamori.access.services import officers_of, provider_name
from mamori.certificates.models import Certificate
from mamori.clients.models import Client
from mamori.core import audit
from mamori.core.models import AuditEvent, User
from mamori.notices.models import Notice
from mamori.vault import services as vault
from mamori.vault.models import DestructionRecord, Secret, SecretKind

MIN_PASSPHRASE = 12


class OffboardingError(Exception):
    """The request cannot be carried out; the message says why, in the user's language."""


@dataclass
class Section:
    key: str
    title: str
    count: int
    items: list[str] = field(default_factory=list)
    # What happens to it at the end: returned, destroyed, or kept (and why).
    disposition: str = ""


def _live_secrets(client: Client):
    return Secret.objects.filter(client=client, destroyed_at__isnull=True).order_by("kind", "name")


def holdings(client: Client) -> list[Section]:
    """Everything Mamori holds for ``client``, grouped, with what happens to each group."""
    certificates = Certificate.objects.for_client(client.pk).order_by("not_after")
    secrets = _live_secrets(client)
    keys = [s for s in secrets if s.kind == SecretKind.PRIVATE_KEY]
    others = [s for s in secrets if s.kind != SecretKind.PRIVATE_KEY]
    notices = Notice.objects.filter(client=client)
    events = AuditEvent.objects.filter(client=client)
    destroyed = DestructionRecord.objects.filter(client=client).order_by("destroyed_at")
    keep = _("kept as the record of the service (deleted when the retention period ends)")
    return [
        Section(
            "contracts",
            str(_("Contracts")),
            client.contracts.count(),
            [str(c) for c in client.contracts.all()],
            str(keep),
        ),
        Section(
            "contacts",
            str(_("Contacts")),
            client.contacts.count(),
            [f"{c.name} <{c.email}>" for c in client.contacts.all()],
            str(_("deleted with the client's records when no longer needed")),
        ),
        Section(
            "assets",
            str(_("Sites, servers, domains and endpoints")),
            client.sites.count()
            + client.servers.count()
            + client.domains.count()
            + client.endpoints.count(),
            [f"{s.name} ({s.url})" for s in client.sites.all()]
            + [s.name for s in client.servers.all()]
            + [d.name for d in client.domains.all()]
            + [e.label for e in client.endpoints.all()],
            str(keep),
        ),
        Section(
            "certificates",
            str(_("Certificates")),
            certificates.count(),
            [str(c) for c in certificates[:200]],
            str(_("public documents; kept with the records")),
        ),
        Section(
            "private_keys",
            str(_("Private keys")),
            len(keys),
            [s.name for s in keys],
            str(_("returned and/or destroyed")),
        ),
        Section(
            "secrets",
            str(_("Credentials and other secrets")),
            len(others),
            [f"{s.get_kind_display()}: {s.name}" for s in others],
            str(_("returned and/or destroyed")),
        ),
        Section("notices", str(_("Notices sent")), notices.count(), [], str(keep)),
        Section(
            "audit",
            str(_("Audit events")),
            events.count(),
            [],
            # Purged with the rest when the retention period ends (END-02, docs/retention.md).
            str(keep),
        ),
        Section(
            "destroyed",
            str(_("Already destroyed")),
            destroyed.count(),
            [f"{r.destroyed_at:%Y-%m-%d} {r.shown_description}" for r in destroyed],
            "",
        ),
    ]


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "secret"


def export_for_return(
    client: Client, passphrase: str, *, actor: User | None, request: HttpRequest | None = None
) -> bytes:
    """The client's live secrets and keys as an AES-256 encrypted ZIP archive.

    Contents: ``secrets.json`` (every secret with its metadata and value), one PEM file per
    private key under ``keys/``, and a ``README.txt`` in Japanese and English. The export is
    audited (what was exported, never the values) before the archive is returned.
    """
    if len(passphrase) < MIN_PASSPHRASE:
        raise OffboardingError(
            _("The passphrase must be at least %(n)d characters.") % {"n": MIN_PASSPHRASE}
        )
    secrets = list(_live_secrets(client))
    audit.record(
        "offboard.export",
        client,
        actor=actor,
        request=request,
        changes={"secrets": [f"{s.get_kind_display()}: {s.name}" for s in secrets]},
    )
    entries = []
    buffer = io.BytesIO()
    with pyzipper.AESZipFile(
        buffer, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(passphrase.encode())
        archive.setencryption(pyzipper.WZ_AES, nbits=256)
        used: set[str] = set()
        for secret in secrets:
            value = vault.decrypt_for_export(secret)
            entry = {
                "kind": secret.kind,
                "kind_label": str(secret.get_kind_display()),
                "name": secret.name,
                "username": getattr(secret, "username", ""),
                "location": getattr(secret, "location", ""),
                "notes": getattr(secret, "notes", ""),
            }
            if secret.kind == SecretKind.PRIVATE_KEY:
                filename = _safe_name(secret.name)
                while filename in used:
                    filename += "_"
                used.add(filename)
                archive.writestr(f"keys/{filename}.pem", value)
                entry["file"] = f"keys/{filename}.pem"
            else:
                entry["value"] = value.decode("utf-8", "replace")
            entries.append(entry)
        archive.writestr(
            "secrets.json",
            json.dumps(
                {
                    "client": client.code,
                    "exported_at": timezone.now().isoformat(),
                    "secrets": entries,
                },
                ensure_ascii=False,
                indent=2,
            ),
        )
        archive.writestr(
            "README.txt",
            render_to_string(
                "clients/offboarding/export_readme.txt",
                {
                    "client": client,
                    "count": len(entries),
                    "provider_name": provider_name(),
                },
                using="text",  # plain text: nothing HTML-escaped (settings.TEMPLATES)
            ),
        )
    return buffer.getvalue()


def destroy_all(
    client: Client, *, actor: User | None, reason: str, request: HttpRequest | None = None
) -> list[DestructionRecord]:
    """Crypto-shred every live secret and private key of ``client``; returns the records."""
    if not reason.strip():
        raise OffboardingError(_("Say why the secrets are destroyed (e.g. the contract ended)."))
    records = []
    with transaction.atomic():
        for secret in _live_secrets(client):
            records.append(
                vault.destroy_secret(secret, actor=actor, reason=reason, request=request)
            )
        audit.record(
            "offboard.destroy",
            client,
            actor=actor,
            request=request,
            changes={"destroyed": len(records), "reason": reason},
        )
    return records


def certificate_refusal(client: Client) -> str | None:
    """Why no certificate of destruction can be issued for ``client`` yet, or None.

    A certificate certifies an erasure (VLT-04, END-01): until something was destroyed there is
    nothing to certify, and a certificate saying "nothing was erased" would read as if the
    client's data were gone. Once there is, the certificate also says what is still held."""
    if not DestructionRecord.objects.filter(client=client).exists():
        return str(
            _(
                "Nothing has been destroyed for this client yet: the certificate of destruction "
                "can be issued once its secrets and keys are destroyed."
            )
        )
    return None


def destruction_certificate(
    client: Client, *, language: str, issued_at: datetime | None = None, csp_nonce: str = ""
) -> str:
    """The certificate of destruction (VLT-04) as a printable HTML page in ``language``: what
    was destroyed, and what is not covered (secrets still held, records kept). Served by Mamori,
    ``csp_nonce`` lets its own style and script run under the Content-Security-Policy.

    Raises :class:`OffboardingError` (see :func:`certificate_refusal`) when nothing was
    destroyed."""
    refusal = certificate_refusal(client)
    if refusal is not None:
        raise OffboardingError(refusal)
    records = DestructionRecord.objects.filter(client=client).order_by("destroyed_at", "pk")
    with translation.override(language), timezone.override(settings.TIME_ZONE):
        return render_to_string(
            f"clients/offboarding/certificate.{language}.html",
            {
                "client": client,
                "records": records,
                "still_held": list(_live_secrets(client)),
                "issued_at": issued_at or timezone.now(),
                "provider_name": provider_name(),
                "officers": officers_of(None),
                "language": language,
                "csp_nonce": csp_nonce,
            },
        )
