"""Changes of the client's particulars (CT-10) and the certificates they make wrong (CERT-12).

An OV or EV certificate names the organisation (O=, L=, ST=, street...): when the client's legal
name or address changes, or it is succeeded by merger, such a certificate no longer tells the
truth and must be revoked and re-issued; a task per affected certificate follows that up. A DV
certificate names only domains and is not affected.
"""

from __future__ import annotations

from datetime import date

from cryptography import x509
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from mamori.certificates.models import Certificate
from mamori.clients.models import Client
from mamori.core import audit
from mamori.core.models import User
from mamori.core.sentences import Text
from mamori.lifecycle import tasks
from mamori.lifecycle.models import ClientChange, ClientChangeField, ManagedCertificate, TaskKind

# Subject attributes that describe the organisation rather than a domain.
ORGANISATION_ATTRIBUTES = (
    NameOID.ORGANIZATION_NAME,
    NameOID.ORGANIZATIONAL_UNIT_NAME,
    NameOID.LOCALITY_NAME,
    NameOID.STATE_OR_PROVINCE_NAME,
    NameOID.STREET_ADDRESS,
    NameOID.POSTAL_CODE,
    NameOID.BUSINESS_CATEGORY,
    NameOID.JURISDICTION_COUNTRY_NAME,
)

CLIENT_FIELD = {
    ClientChangeField.NAME: "name",
    ClientChangeField.ADDRESS: "address",
    ClientChangeField.REPRESENTATIVE: "representative",
    ClientChangeField.MERGER: "name",  # the successor's name
}

# Changes that can make a certificate's subject wrong (a new representative does not).
AFFECTS_CERTIFICATES = {ClientChangeField.NAME, ClientChangeField.ADDRESS, ClientChangeField.MERGER}


def organisation_values(certificate: Certificate) -> list[str]:
    """What the certificate's subject says about the organisation (empty for DV)."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.pem.encode())
    except ValueError:
        return []
    return [
        str(attribute.value)
        for oid in ORGANISATION_ATTRIBUTES
        for attribute in cert.subject.get_attributes_for_oid(oid)
    ]


def current_certificates(client: Client) -> list[tuple[Certificate, ManagedCertificate | None]]:
    """The client's certificates that are valid now: its managed certificates' and those its
    endpoints serve."""
    now = timezone.now()
    found: dict[int, tuple[Certificate, ManagedCertificate | None]] = {}
    for managed in ManagedCertificate.objects.filter(
        client=client, certificate__isnull=False, certificate__not_after__gt=now
    ).select_related("certificate"):
        found[managed.certificate_id] = (managed.certificate, managed)
    for cert in Certificate.objects.filter(
        sightings__endpoint__client=client,
        sightings__ended_at__isnull=True,
        not_after__gt=now,
    ).distinct():
        found.setdefault(cert.pk, (cert, None))
    return list(found.values())


def record_client_change(
    client: Client,
    field: str,
    new_value: str,
    effective_on: date,
    *,
    actor: User | None,
    request=None,
) -> ClientChange:
    """Record the change, update the client, and open a revoke-and-re-issue task for every
    current certificate whose subject says the changed particular."""
    if field not in ClientChangeField.values:
        raise ValidationError({"field": _("Choose what changed.")})
    new_value = (new_value or "").strip()
    if not new_value:
        raise ValidationError({"new_value": _("Enter the new value.")})
    attribute = CLIENT_FIELD[field]
    max_length = Client._meta.get_field(attribute).max_length
    if len(new_value) > max_length:
        raise ValidationError({"new_value": _("At most %(n)d characters.") % {"n": max_length}})
    old_value = getattr(client, attribute)
    with transaction.atomic():
        change = ClientChange.objects.create(
            client=client,
            field=field,
            old_value=old_value[:300],
            new_value=new_value,
            effective_on=effective_on,
            recorded_by=actor,
        )
        setattr(client, attribute, new_value)
        client.save(update_fields=[attribute, "updated_at"])
        audit.record(
            "client.change",
            change,
            actor=actor,
            request=request,
            changes={
                "field": field,
                "old": old_value,
                "new": new_value,
                "effective_on": effective_on.isoformat(),
            },
        )
    if field in AFFECTS_CERTIFICATES:
        for certificate, managed in current_certificates(client):
            says_it = bool(organisation_values(certificate)) or (
                len(old_value) >= 3 and old_value.lower() in certificate.subject.lower()
            )
            if not says_it:
                continue  # DV: only domain names, nothing to correct
            tasks.open_task(
                client,
                TaskKind.REISSUE,
                f"reissue:change:{change.pk}:{certificate.pk}",
                Text(
                    gettext_noop("Re-issue %(cert)s: the client's %(field)s changed"),
                    cert=certificate.subject_cn or certificate.subject,
                    field=Text.label(change.get_field_display()),
                ),
                Text(
                    gettext_noop(
                        "From %(old)s to %(new)s, effective %(when)s. The certificate's subject "
                        "says: %(subject)s. Revoke it and re-issue it with the new particulars."
                    ),
                    old=old_value or "—",
                    new=new_value,
                    when=f"{effective_on:%Y-%m-%d}",
                    subject=certificate.subject,
                ),
                managed=managed,
                certificate=certificate,
            )
    return change
