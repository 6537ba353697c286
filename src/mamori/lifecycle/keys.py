"""Private keys, CSRs and the checks that a certificate belongs to a key and names (CERT-06/07).

Keys are generated here and go straight to the vault (:func:`mamori.vault.services.
store_private_key`); nothing else in Mamori keeps a key in plain text.
"""

from __future__ import annotations

from collections.abc import Sequence

import idna
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from mamori.lifecycle.models import KeyType

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def generate_key(key_type: str) -> PrivateKey:
    match key_type:
        case KeyType.EC256:
            return ec.generate_private_key(ec.SECP256R1())
        case KeyType.EC384:
            return ec.generate_private_key(ec.SECP384R1())
        case KeyType.RSA2048 | KeyType.RSA3072 | KeyType.RSA4096:
            return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    raise ValueError(f"unknown key type {key_type!r}")


def key_to_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_key(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("only ECDSA and RSA keys are supported")
    return key


def key_type_of(key: PrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return f"rsa{key.key_size}"
    return {"secp256r1": KeyType.EC256, "secp384r1": KeyType.EC384}.get(key.curve.name, "")


def normalise_name(name: str) -> str:
    """A DNS name as it goes into a certificate: lower case, A-labels (IDNA 2008), a leading
    ``*.`` kept. Raises ValueError with a readable message for a name that cannot be one."""
    name = name.strip().rstrip(".").lower()
    wildcard = name.startswith("*.")
    body = name[2:] if wildcard else name
    if not body or "*" in body:
        raise ValueError(f"{name!r} is not a DNS name")
    try:
        ascii_name = idna.encode(body, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"{name!r} is not a valid DNS name: {exc}") from None
    return ("*." if wildcard else "") + ascii_name


def make_csr(key: PrivateKey, names: Sequence[str]) -> bytes:
    """A PKCS#10 request for ``names`` (the first is also the common name), PEM."""
    if not names:
        raise ValueError("a certificate needs at least one name")
    names = [normalise_name(n) for n in names]
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])]))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    )
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def _public_der(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def certificate_names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {n.lower() for n in san.get_values_for_type(x509.DNSName)}


def mismatches(
    cert_pem: bytes,
    *,
    key_pem: bytes | None = None,
    csr_pem: bytes | None = None,
    names: Sequence[str] = (),
) -> list[str]:
    """Why ``cert_pem`` is not the certificate for this key / CSR / names: an empty list when it
    is. Used before a certificate from a CA counts (CERT-07) and before it is deployed."""
    problems: list[str] = []
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return ["not a PEM certificate"]
    cert_key = _public_der(cert.public_key())
    if key_pem is not None and _public_der(load_key(key_pem).public_key()) != cert_key:
        problems.append("the certificate is not for this private key")
    if csr_pem is not None:
        csr = x509.load_pem_x509_csr(csr_pem)
        if _public_der(csr.public_key()) != cert_key:
            problems.append("the certificate is not for the key of the signing request")
    wanted = {normalise_name(n) for n in names}
    missing = sorted(wanted - certificate_names(cert))
    if missing:
        problems.append("names missing from the certificate: " + ", ".join(missing))
    return problems
