"""Certificate facts as plain data, and the name and strength rules applied to them.

:class:`CertInfo` is built from DER with ``cryptography`` and holds everything the inventory and
the checks need (CERT-01). Its ``days_left`` is a **float**: exact fractional days from the
probe's ``now`` until ``not_after``, negative once expired (so "3.5 days" is not rounded away
from an alert threshold). ``lifetime_days`` is a float as well.

Name matching follows RFC 6125 §6.4 (reaffirmed by RFC 9525 §6.3): see
:func:`hostname_matches`. Strength rules (:func:`weak_key_reason`, :func:`weak_signature_reason`)
are described in :mod:`mamori.probe.problems`.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID

__all__ = [
    "CertInfo",
    "hostname_matches",
    "is_self_signed",
    "iso_utc",
    "weak_key_reason",
    "weak_signature_reason",
]

_SECONDS_PER_DAY = 86400.0
_CACHE_SIZE = 4096
_CACHE: dict[bytes, CertInfo] = {}

# OpenSSL's names for signature algorithm OIDs, so reports read like `openssl x509 -text`.
_SIGNATURE_NAMES: dict[str, str] = {
    "1.2.840.113549.1.1.2": "md2WithRSAEncryption",
    "1.2.840.113549.1.1.3": "md4WithRSAEncryption",
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.3.14.3.2.29": "sha1WithRSA",
    "1.2.840.113549.1.1.14": "sha224WithRSAEncryption",
    "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
    "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
    "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
    "1.2.840.113549.1.1.10": "rsassaPss",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10045.4.3.1": "ecdsa-with-SHA224",
    "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
    "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
    "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
    "1.2.840.10040.4.3": "dsaWithSHA1",
    "2.16.840.1.101.3.4.3.1": "dsa_with_SHA224",
    "2.16.840.1.101.3.4.3.2": "dsa_with_SHA256",
    "1.3.101.112": "ED25519",
    "1.3.101.113": "ED448",
}

# Signature OIDs whose digest is broken for certificate signatures (collisions: MD5 2008,
# SHA-1 2017), used when cryptography cannot name the hash itself.
_WEAK_SIGNATURE_OIDS: dict[str, str] = {
    "1.2.840.113549.1.1.2": "MD2",
    "1.2.840.113549.1.1.3": "MD4",
    "1.2.840.113549.1.1.4": "MD5",
    "1.2.840.113549.1.1.5": "SHA-1",
    "1.3.14.3.2.29": "SHA-1",
    "1.2.840.10045.4.1": "SHA-1",
    "1.2.840.10040.4.3": "SHA-1",
}
_WEAK_HASH_NAMES = {"md5": "MD5", "sha1": "SHA-1"}

_KEY_OIDS: dict[str, str] = {
    "1.2.840.113549.1.1.1": "RSA",
    "1.2.840.113549.1.1.10": "RSA-PSS",
    "1.2.840.10045.2.1": "EC",
    "1.2.840.10040.4.1": "DSA",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
}


@dataclass(slots=True)
class CertInfo:
    """One X.509 certificate, decoded. Build it with :meth:`from_der` or :meth:`from_pem`.

    ``subject``/``issuer`` are RFC 4514 strings. ``sans`` lists the DNS names and IP addresses
    of the subjectAltName extension in certificate order (``dns_names`` and ``ip_addresses``
    hold them by type; ``has_san`` tells whether the extension exists at all). ``serial`` is
    upper-case hex without colons; ``fingerprint_sha256`` lower-case hex without colons.
    Datetimes are timezone-aware UTC. ``days_left`` and ``lifetime_days`` are floats (see the
    module docstring). ``key_bits`` is the RSA/DSA modulus size or the EC curve size (255 for
    Ed25519 is reported as 256, 448 for Ed448); ``None`` for an unknown key type.
    """

    subject: str
    subject_cn: str | None
    sans: list[str]
    issuer: str
    issuer_cn: str | None
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    days_left: float
    lifetime_days: float
    fingerprint_sha256: str
    key_type: str
    key_bits: int | None
    signature_algorithm: str
    is_ca: bool
    self_signed: bool
    ocsp_urls: list[str]
    crl_urls: list[str]
    ca_issuer_urls: list[str]
    der: bytes = field(repr=False)
    dns_names: list[str] = field(default_factory=list, repr=False)
    ip_addresses: list[str] = field(default_factory=list, repr=False)
    has_san: bool = field(default=False, repr=False)
    weak_hash: str | None = field(default=None, repr=False)
    """"MD5"/"SHA-1"… when the signature uses a broken digest, else None."""
    cert: x509.Certificate | None = field(default=None, repr=False, compare=False)
    """The parsed ``cryptography`` certificate, for callers that need more."""

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_der(cls, der: bytes, *, now: dt.datetime | None = None) -> CertInfo:
        """Decode a DER certificate; ``now`` (aware, default: current time) sets ``days_left``.

        Decoded certificates are cached by their DER bytes (intermediates recur across
        thousands of endpoints, leaves across repeated checks), so instances share their
        list fields: treat them as read-only. Raises ``ValueError`` when ``der`` is not a
        certificate cryptography can parse.
        """
        now = now or dt.datetime.now(dt.UTC)
        cached = _CACHE.get(der)
        if cached is None:
            cached = cls.from_certificate(x509.load_der_x509_certificate(der), der=der, now=now)
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))  # FIFO: cheap and good enough for this use
            _CACHE[der] = cached
            return cached
        return dataclasses.replace(
            cached, days_left=(cached.not_after - now).total_seconds() / _SECONDS_PER_DAY
        )

    @classmethod
    def from_pem(cls, pem: str | bytes, *, now: dt.datetime | None = None) -> CertInfo:
        """Decode the first certificate of a PEM text. Raises ``ValueError`` if there is none."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        certificate = x509.load_pem_x509_certificate(data)
        from cryptography.hazmat.primitives.serialization import Encoding

        return cls.from_certificate(
            certificate, der=certificate.public_bytes(Encoding.DER), now=now
        )

    @classmethod
    def from_certificate(
        cls, certificate: x509.Certificate, *, der: bytes, now: dt.datetime | None = None
    ) -> CertInfo:
        """Build from an already parsed certificate and its DER encoding."""
        now = now or dt.datetime.now(dt.UTC)
        not_before = certificate.not_valid_before_utc
        not_after = certificate.not_valid_after_utc
        extensions = _extensions(certificate)

        dns_names: list[str] = []
        ip_addresses: list[str] = []
        sans: list[str] = []
        san = extensions.get(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        if san is not None:
            for general_name in san:
                if isinstance(general_name, x509.DNSName):
                    dns_names.append(general_name.value)
                    sans.append(general_name.value)
                elif isinstance(general_name, x509.IPAddress):
                    ip_addresses.append(str(general_name.value))
                    sans.append(str(general_name.value))

        ocsp_urls: list[str] = []
        ca_issuer_urls: list[str] = []
        aia = extensions.get(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
        if aia is not None:
            for description in aia:
                location = description.access_location
                if not isinstance(location, x509.UniformResourceIdentifier):
                    continue
                if description.access_method == AuthorityInformationAccessOID.OCSP:
                    ocsp_urls.append(location.value)
                elif description.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
                    ca_issuer_urls.append(location.value)

        crl_urls: list[str] = []
        crl = extensions.get(ExtensionOID.CRL_DISTRIBUTION_POINTS)
        if crl is not None:
            for point in crl:
                for general_name in point.full_name or ():
                    if isinstance(general_name, x509.UniformResourceIdentifier):
                        crl_urls.append(general_name.value)

        basic = extensions.get(ExtensionOID.BASIC_CONSTRAINTS)
        key_type, key_bits = _key_facts(certificate)
        oid = certificate.signature_algorithm_oid.dotted_string
        return cls(
            subject=_rfc4514(certificate.subject),
            subject_cn=_common_name(certificate.subject),
            sans=sans,
            issuer=_rfc4514(certificate.issuer),
            issuer_cn=_common_name(certificate.issuer),
            serial=format(certificate.serial_number, "X"),
            not_before=not_before,
            not_after=not_after,
            days_left=(not_after - now).total_seconds() / _SECONDS_PER_DAY,
            lifetime_days=(not_after - not_before).total_seconds() / _SECONDS_PER_DAY,
            fingerprint_sha256=hashlib.sha256(der).hexdigest(),
            key_type=key_type,
            key_bits=key_bits,
            signature_algorithm=_SIGNATURE_NAMES.get(oid, oid),
            is_ca=bool(basic is not None and basic.ca),
            self_signed=is_self_signed(certificate),
            ocsp_urls=ocsp_urls,
            crl_urls=crl_urls,
            ca_issuer_urls=ca_issuer_urls,
            der=der,
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            has_san=san is not None,
            weak_hash=_weak_hash(certificate),
            cert=certificate,
        )

    # -- views ----------------------------------------------------------------------------------

    @property
    def pem(self) -> str:
        """The certificate in PEM (RFC 7468 §5)."""
        body = base64.encodebytes(self.der).decode("ascii").replace("\n", "")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"

    def to_json(self) -> dict[str, Any]:
        """The certificate object of ``mamori scan --json``.

        Keys: subject, sans, issuer, serial, not_before, not_after (ISO 8601 UTC, ``Z``),
        days_left (rounded to 2 decimals), fingerprint_sha256, key_type, key_bits,
        signature_algorithm.
        """
        return {
            "subject": self.subject,
            "sans": list(self.sans),
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": iso_utc(self.not_before),
            "not_after": iso_utc(self.not_after),
            "days_left": round(self.days_left, 2),
            "fingerprint_sha256": self.fingerprint_sha256,
            "key_type": self.key_type,
            "key_bits": self.key_bits,
            "signature_algorithm": self.signature_algorithm,
        }

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready values (``der`` and ``cert`` left out, ``pem`` added)."""
        data = self.to_json()
        data.update(
            subject_cn=self.subject_cn,
            issuer_cn=self.issuer_cn,
            lifetime_days=round(self.lifetime_days, 4),
            is_ca=self.is_ca,
            self_signed=self.self_signed,
            ocsp_urls=list(self.ocsp_urls),
            crl_urls=list(self.crl_urls),
            ca_issuer_urls=list(self.ca_issuer_urls),
            pem=self.pem,
        )
        return data

    @property
    def display_name(self) -> str:
        """The subject CN if any, else the whole subject (for messages)."""
        return self.subject_cn or self.subject or "(empty subject)"


def iso_utc(value: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix and whole seconds, e.g. ``2026-01-01T00:00:00Z``."""
    return value.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


# -- name matching -------------------------------------------------------------------------------


def hostname_matches(info: CertInfo, reference: str) -> bool:
    """Whether ``reference`` (a hostname in A-label form, or an IP literal) is covered.

    RFC 6125 §6.4 / RFC 9525 §6.3:

    * an IP reference matches iPAddress entries only (§6.2.1 of RFC 9525);
    * a DNS reference matches dNSName entries, case-insensitively; ``*`` is honoured only as the
      complete left-most label, matches exactly one non-empty label, and needs at least two
      labels after it (``*.com`` matches nothing);
    * the subject CN is consulted only when the certificate has no subjectAltName extension
      at all (legacy fallback that RFC 6125 §6.4.4 permits).
    """
    reference = reference.rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(reference.split("%", 1)[0])
    except ValueError:
        ip = None

    if info.has_san:
        if ip is not None:
            return any(_same_ip(ip, value) for value in info.ip_addresses)
        return any(_dns_matches(pattern, reference) for pattern in info.dns_names)

    cn = info.subject_cn
    if not cn:
        return False
    if ip is not None:
        return _same_ip(ip, cn)
    return _dns_matches(cn, reference)


def _same_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, text: str) -> bool:
    try:
        return ipaddress.ip_address(text) == ip
    except ValueError:
        return False


def _dns_matches(pattern: str, name: str) -> bool:
    pattern = pattern.rstrip(".").lower()
    if pattern.startswith("*."):
        suffix = pattern[2:]
        if "*" in suffix or "." not in suffix:
            return False
        first, dot, rest = name.partition(".")
        return bool(dot) and bool(first) and rest == suffix
    if "*" in pattern:
        # Partial-label wildcards ("w*.example.com") are not allowed (RFC 9525 §6.3).
        return False
    return pattern == name


# -- strength ------------------------------------------------------------------------------------


def weak_key_reason(info: CertInfo) -> str | None:
    """Why the certificate's key is too weak, or None.

    RSA and DSA need 2048 bits, EC 256 bits (NIST SP 800-57 Part 1 Table 2: 112-bit security
    at least; CA/Browser Forum Baseline Requirements §6.1.5).
    """
    if info.key_bits is None:
        return None
    if info.key_type in ("RSA", "RSA-PSS", "DSA") and info.key_bits < 2048:
        return f"{info.key_type} key of {info.key_bits} bits (minimum 2048)"
    if info.key_type == "EC" and info.key_bits < 256:
        return f"EC key of {info.key_bits} bits (minimum 256)"
    return None


def weak_signature_reason(info: CertInfo) -> str | None:
    """Why the certificate's signature is weak (MD5/SHA-1 family digest), or None."""
    if info.weak_hash:
        return f"signed with {info.weak_hash} ({info.signature_algorithm})"
    return None


# -- helpers -------------------------------------------------------------------------------------


def _extensions(certificate: x509.Certificate) -> dict[x509.ObjectIdentifier, Any]:
    """Extension values by OID; a malformed or duplicate extension yields an empty map.

    Servers do present broken certificates; the probe must still report what it can.
    """
    try:
        return {ext.oid: ext.value for ext in certificate.extensions}
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType):
        return {}


def _rfc4514(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:
        return repr(name)


def _common_name(name: x509.Name) -> str | None:
    try:
        attributes = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return None
    if not attributes:
        return None
    value = attributes[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _key_facts(certificate: x509.Certificate) -> tuple[str, int | None]:
    try:
        key = certificate.public_key()
    except (UnsupportedAlgorithm, ValueError):
        oid = certificate.public_key_algorithm_oid.dotted_string
        return _KEY_OIDS.get(oid, oid), None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 448
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    oid = certificate.public_key_algorithm_oid.dotted_string
    return _KEY_OIDS.get(oid, type(key).__name__), None


def _weak_hash(certificate: x509.Certificate) -> str | None:
    oid = certificate.signature_algorithm_oid.dotted_string
    if oid in _WEAK_SIGNATURE_OIDS:
        return _WEAK_SIGNATURE_OIDS[oid]
    try:
        algorithm = certificate.signature_hash_algorithm  # covers RSASSA-PSS parameters
    except UnsupportedAlgorithm:
        return None
    if algorithm is None:
        return None
    return _WEAK_HASH_NAMES.get(algorithm.name)


def is_self_signed(certificate: x509.Certificate) -> bool:
    """Subject equals issuer and the certificate's own key verifies its signature.

    A self-issued certificate signed by a *different* key (CA key rollover, RFC 5280 §3.2) is
    not self-signed. The signature is checked with the key primitives directly because
    ``verify_directly_issued_by`` refuses SHA-1, which old self-signed certificates use.
    """
    if certificate.subject != certificate.issuer:
        return False
    try:
        key = certificate.public_key()
        algorithm = certificate.signature_hash_algorithm
        data, signature = certificate.tbs_certificate_bytes, certificate.signature
        if isinstance(key, rsa.RSAPublicKey):
            params = certificate.signature_algorithm_parameters
            pad = params if isinstance(params, padding.PSS) else padding.PKCS1v15()
            key.verify(signature, data, pad, algorithm)  # type: ignore[arg-type]
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))  # type: ignore[arg-type]
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(signature, data, algorithm)  # type: ignore[arg-type]
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True
