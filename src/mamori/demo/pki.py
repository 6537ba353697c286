"""A throw-away PKI for the demo and the tests: root and intermediate CAs, leaf and self-signed
certificates.

Everything is built with ``cryptography`` in memory, so tests can make any certificate they need
(expired, not yet valid, weak keys, SHA-1 signatures, no SAN, wrong names…) without touching the
system trust store or OpenSSL's command line tools.

Typical use::

    root = CertificateAuthority.create()               # "Mamori Test Root", EC P-256
    inter = root.intermediate("Mamori Test Issuing CA")
    leaf = inter.issue(["www.example.test"], days=30)
    leaf.fullchain_pem      # leaf + intermediate, what a server should send
    root.cert_pem           # what a client must trust

Keys are EC P-256 unless asked otherwise because they are generated in microseconds; RSA keys are
slow to generate, so they come from a small per-size pool (see :func:`rsa_key`). No function here
depends on pytest.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

KeyType = Literal["ec", "rsa", "ed25519"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

_EC_CURVES: dict[int, ec.EllipticCurve] = {
    256: ec.SECP256R1(),
    384: ec.SECP384R1(),
    521: ec.SECP521R1(),
}

# RSA key generation costs 50–500 ms; tests need a handful of distinct keys, not fresh ones.
_RSA_POOL_SIZE = 4
_rsa_pool: dict[int, list[rsa.RSAPrivateKey]] = {}
_rsa_counter = itertools.count()


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """Return an RSA key of ``bits`` bits from a small pool (keys are reused round-robin)."""
    pool = _rsa_pool.setdefault(bits, [])
    index = next(_rsa_counter) % _RSA_POOL_SIZE
    while len(pool) <= index:
        pool.append(rsa.generate_private_key(public_exponent=65537, key_size=bits))
    return pool[index]


def new_key(key_type: KeyType = "ec", key_bits: int | None = None) -> PrivateKey:
    """Make a private key: ``ec`` (P-256/384/521), ``rsa`` (default 2048 bits) or ``ed25519``."""
    if key_type == "ec":
        curve = _EC_CURVES.get(key_bits or 256)
        if curve is None:
            raise ValueError(f"unsupported EC key size {key_bits}; use one of {sorted(_EC_CURVES)}")
        return ec.generate_private_key(curve)
    if key_type == "rsa":
        return rsa_key(key_bits or 2048)
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported key type {key_type!r}")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _key_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _signing_hash(
    key: PrivateKey, hash_alg: hashes.HashAlgorithm | None
) -> hashes.HashAlgorithm | None:
    # Ed25519 signs the message itself; cryptography requires algorithm=None for it.
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    return hash_alg or hashes.SHA256()


# DER AlgorithmIdentifier encodings for the legacy signature algorithms tests need
# (RFC 3279 §2.2.1 for RSA — parameters are an explicit NULL —, §2.2.3 for ECDSA — absent).
_LEGACY_ALGORITHM_IDS: dict[tuple[str, str], bytes] = {
    ("rsa", "sha1"): bytes.fromhex("300d06092a864886f70d0101050500"),
    ("rsa", "md5"): bytes.fromhex("300d06092a864886f70d0101040500"),
    ("ec", "sha1"): bytes.fromhex("300906072a8648ce3d0401"),
}


def _sign(
    builder: x509.CertificateBuilder, key: PrivateKey, hash_alg: hashes.HashAlgorithm | None
) -> x509.Certificate:
    """Sign ``builder`` with ``key``; SHA-1 and MD5 are done by hand.

    cryptography refuses to create certificates signed with SHA-1 or MD5, yet tests need them to
    prove that the probe flags such certificates. The key primitives still sign with those
    hashes, so the certificate is built with SHA-256, then its TBSCertificate gets the legacy
    AlgorithmIdentifier and is signed again (RFC 5280 §4.1.1.2: the outer signatureAlgorithm
    must equal the one inside the TBS).
    """
    if hash_alg is None or hash_alg.name not in ("sha1", "md5"):
        return builder.sign(key, _signing_hash(key, hash_alg))
    family = "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ec"
    algorithm_id = _LEGACY_ALGORITHM_IDS.get((family, hash_alg.name))
    if algorithm_id is None or isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError(f"cannot sign with {hash_alg.name} using a {family} key")
    modern = builder.sign(key, hashes.SHA256())
    fields = _der_children(modern.tbs_certificate_bytes)
    # TBSCertificate: [0] version (explicit tag 0xa0), serialNumber, signature AlgorithmIdentifier…
    index = 2 if fields[0][0] == 0xA0 else 1
    fields[index] = algorithm_id
    tbs = _der(0x30, b"".join(fields))
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(tbs, padding.PKCS1v15(), hash_alg)
    else:
        signature = key.sign(tbs, ec.ECDSA(hash_alg))  # type: ignore[union-attr]
    der = _der(0x30, tbs + algorithm_id + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def _der(tag: int, content: bytes) -> bytes:
    """Encode one DER TLV (definite length, RFC X.690 §8.1.3)."""
    length = len(content)
    if length < 0x80:
        header = bytes([tag, length])
    else:
        size = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([tag, 0x80 | len(size)]) + size
    return header + content


def _der_children(sequence: bytes) -> list[bytes]:
    """Split a DER SEQUENCE into its encoded children (tag, length and value each)."""

    def read_length(data: bytes, pos: int) -> tuple[int, int]:
        first = data[pos]
        if first < 0x80:
            return first, pos + 1
        count = first & 0x7F
        return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count

    _, pos = read_length(sequence, 1)
    children = []
    while pos < len(sequence):
        start = pos
        length, value_start = read_length(sequence, pos + 1)
        pos = value_start + length
        children.append(sequence[start:pos])
    return children


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


@dataclass
class IssuedCert:
    """A certificate with its key and the intermediates a server must send after it."""

    cert: x509.Certificate
    key: PrivateKey
    chain: list[x509.Certificate] = field(default_factory=list)
    """Intermediate CA certificates, issuer of ``cert`` first, root excluded."""

    @property
    def cert_pem(self) -> str:
        return _pem(self.cert)

    @property
    def key_pem(self) -> str:
        return _key_pem(self.key)

    @property
    def chain_pem(self) -> str:
        """The intermediates served after the leaf (empty when issued directly by a root)."""
        return "".join(_pem(c) for c in self.chain)

    @property
    def fullchain_pem(self) -> str:
        """Leaf followed by its intermediates: what a correctly configured server sends."""
        return self.cert_pem + self.chain_pem

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def fingerprint_sha256(self) -> str:
        """Lower-case hex SHA-256 of the DER certificate, no colons."""
        return self.cert.fingerprint(hashes.SHA256()).hex()

    @property
    def serial_hex(self) -> str:
        """Serial number as upper-case hex without colons (the form the probe reports)."""
        return format(self.cert.serial_number, "X")


class CertificateAuthority:
    """A CA that can issue leaf certificates and sub-CAs.

    Create a root with :meth:`create`; derive intermediates with :meth:`intermediate`. ``parents``
    holds the intermediates between this CA and its root (nearest first, root excluded), which is
    what a server must send after a leaf issued by this CA.
    """

    def __init__(
        self,
        cert: x509.Certificate,
        key: PrivateKey,
        parents: list[x509.Certificate] | None = None,
        root: x509.Certificate | None = None,
    ) -> None:
        self.cert = cert
        self.key = key
        self.parents = list(parents or [])
        self.root = root if root is not None else cert

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str = "Mamori Test Root",
        *,
        key_type: KeyType = "ec",
        key_bits: int | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        hash_alg: hashes.HashAlgorithm | None = None,
    ) -> CertificateAuthority:
        """Make a self-signed root CA valid from five years ago until ten years from now."""
        key = new_key(key_type, key_bits)
        now = _utcnow()
        subject = _ca_subject(name)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(days=5 * 365))
            .not_valid_after(not_after or now + dt.timedelta(days=10 * 365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        )
        cert = _sign(builder, key, hash_alg)
        return cls(cert, key)

    def intermediate(
        self,
        name: str = "Mamori Test Intermediate",
        *,
        key_type: KeyType = "ec",
        key_bits: int | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        hash_alg: hashes.HashAlgorithm | None = None,
        aia_url: str | None = None,
    ) -> CertificateAuthority:
        """Issue a sub-CA (valid like the root unless told otherwise).

        ``aia_url`` puts a caIssuers URL (RFC 5280 §4.2.2.1) pointing at *this* CA's certificate
        into the sub-CA, for tests of chain completion over several levels.
        """
        key = new_key(key_type, key_bits)
        now = _utcnow()
        subject = _ca_subject(name)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(days=4 * 365))
            .not_valid_after(not_after or now + dt.timedelta(days=8 * 365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(self._authority_key_id(), critical=False)
        )
        if aia_url:
            builder = builder.add_extension(_aia(None, aia_url), critical=False)
        cert = _sign(builder, self.key, hash_alg)
        parents = [] if self.is_root else [self.cert, *self.parents]
        return CertificateAuthority(cert, key, parents, root=self.root)

    # -- issuing ------------------------------------------------------------------------------

    def issue(
        self,
        names: list[str],
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        days: float = 90,
        key_type: KeyType = "ec",
        key_bits: int | None = None,
        hash_alg: hashes.HashAlgorithm | None = None,
        ocsp_url: str | None = None,
        aia_url: str | None = None,
        crl_url: str | None = None,
        common_name: str | None = None,
        san: bool = True,
    ) -> IssuedCert:
        """Issue a TLS server certificate for ``names`` (DNS names or IP addresses).

        Validity runs from ``not_before`` (default: one hour ago, to absorb clock skew) until
        ``not_after`` (default: ``days`` from now). The subject CN is ``common_name`` or the first
        name. ``san=False`` leaves out the subjectAltName extension (CN-only legacy certificates).
        ``hash_alg`` may be ``hashes.SHA1()`` for weak-signature tests: cryptography signs with
        it even where OpenSSL's default security level would refuse.
        """
        key = new_key(key_type, key_bits)
        cert = _build_leaf(
            subject_cn=common_name or (names[0] if names else "no name"),
            names=names if san else None,
            public_key=key.public_key(),
            issuer_name=self.cert.subject,
            signing_key=self.key,
            aki=self._authority_key_id(),
            not_before=not_before,
            not_after=not_after,
            days=days,
            hash_alg=hash_alg,
            ocsp_url=ocsp_url,
            aia_url=aia_url,
            crl_url=crl_url,
        )
        chain = [] if self.is_root else [self.cert, *self.parents]
        return IssuedCert(cert=cert, key=key, chain=chain)

    @staticmethod
    def self_signed(
        names: list[str],
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        days: float = 90,
        key_type: KeyType = "ec",
        key_bits: int | None = None,
        hash_alg: hashes.HashAlgorithm | None = None,
        san: bool = True,
    ) -> IssuedCert:
        """Make a self-signed end-entity certificate (CA:FALSE) for ``names``."""
        key = new_key(key_type, key_bits)
        subject_cn = names[0] if names else "self-signed"
        cert = _build_leaf(
            subject_cn=subject_cn,
            names=names if san else None,
            public_key=key.public_key(),
            issuer_name=None,
            signing_key=key,
            aki=None,
            not_before=not_before,
            not_after=not_after,
            days=days,
            hash_alg=hash_alg,
        )
        return IssuedCert(cert=cert, key=key, chain=[])

    # -- accessors -----------------------------------------------------------------------------

    @property
    def is_root(self) -> bool:
        return self.cert.subject == self.cert.issuer

    @property
    def cert_pem(self) -> str:
        """This CA's certificate in PEM (use a root's for trust bundles)."""
        return _pem(self.cert)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> str:
        return _key_pem(self.key)

    @property
    def chain_pem(self) -> str:
        """This CA followed by its parents up to, not including, the root."""
        if self.is_root:
            return ""
        return _pem(self.cert) + "".join(_pem(c) for c in self.parents)

    @property
    def name(self) -> str:
        attrs = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else self.cert.subject.rfc4514_string()

    def _authority_key_id(self) -> x509.AuthorityKeyIdentifier:
        ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _ca_subject(name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Mamori Tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _aia(ocsp_url: str | None, ca_issuers_url: str | None) -> x509.AuthorityInformationAccess:
    descriptions = []
    if ocsp_url:
        descriptions.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
            )
        )
    if ca_issuers_url:
        descriptions.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(ca_issuers_url),
            )
        )
    return x509.AuthorityInformationAccess(descriptions)


def _build_leaf(
    *,
    subject_cn: str,
    names: list[str] | None,
    public_key: object,
    issuer_name: x509.Name | None,
    signing_key: PrivateKey,
    aki: x509.AuthorityKeyIdentifier | None,
    not_before: dt.datetime | None,
    not_after: dt.datetime | None,
    days: float,
    hash_alg: hashes.HashAlgorithm | None,
    ocsp_url: str | None = None,
    aia_url: str | None = None,
    crl_url: str | None = None,
) -> x509.Certificate:
    now = _utcnow()
    # A CN is limited to 64 characters (RFC 5280 ub-common-name); long names live in the SAN only.
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn[:64])])
    is_rsa = isinstance(signing_key, rsa.RSAPrivateKey) or isinstance(public_key, rsa.RSAPublicKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(hours=1))
        .not_valid_after(not_after or now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=is_rsa,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False
        )
    if aki is not None:
        builder = builder.add_extension(aki, critical=False)
    if ocsp_url or aia_url:
        builder = builder.add_extension(_aia(ocsp_url, aia_url), critical=False)
    if crl_url:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(crl_url)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
    return _sign(builder, signing_key, hash_alg)


# Module-level alias: ``pki.self_signed([...])`` reads naturally in tests.
self_signed = CertificateAuthority.self_signed
