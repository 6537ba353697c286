"""Trust anchors, offline chain verification, and chain completion (known intermediates, AIA).

A :class:`TrustStore` is expensive to build (the OS bundle holds ~150 roots) and cheap to use,
so one is built per process and shared by every probe. Certificates in the bundles it is built
from are split in two:

* **trust anchors**: self-signed certificates; a chain must end in one of them;
* **known intermediates**: non-self-signed CA certificates; they are *not* trusted by
  themselves, but may be used to complete a chain a server sent incompletely.

Verification uses OpenSSL's ``X509_verify_cert`` (via pyOpenSSL's ``X509StoreContext``) because
its error codes tell precisely why a chain fails (unknown issuer vs. untrusted self-signed root
vs. expired intermediate vs. bad signature). It runs at an instant chosen by the caller — the
probe uses a moment inside the leaf's validity, so an expired leaf does not also fail trust.

Verification cost is dominated by signature checks; the part of a chain above the leaf is
verified once per distinct set of served intermediates and reused for further leaves under the
same issuer (see ``_IssuerShortcut``), which matters when one process checks thousands of
endpoints of the same CAs.

Chain completion (``incomplete_chain``) is tried only when the served chain does not verify for
lack of an issuer: first with known intermediates, then by fetching the caIssuers URL of the
Authority Information Access extension (RFC 5280 §4.2.2.1) over plain HTTP, which is what
browsers do. Fetches are cached per URL by the store's :class:`AIAFetcher`.

The URL fetched comes from a certificate the probed server chose. The fetch is a bounded
``GET`` (plain ``http://`` only, small size cap, short timeout) whose answer is only ever parsed
as certificates, so a hostile server can at most make the probe send one GET request; with an
address policy (the watch always gives one, see :mod:`mamori.probe.netguard`) not even that to
an address inside the provider's network, redirects included.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
import ssl
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
from OpenSSL import crypto

from mamori.probe.netguard import AddressPolicy, open_connection
from mamori.probe.problems import Problem
from mamori.probe.x509info import CertInfo, is_self_signed

__all__ = ["AIAFetcher", "ChainAssessment", "ChainCheck", "TrustStore", "load_pem_bundle"]

log = logging.getLogger(__name__)

# Where Linux distributions keep the combined CA bundle, checked after what OpenSSL reports.
_OS_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # Alpine (LibreSSL), macOS, BSDs
)

_PEM_BLOCK = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s*(.+?)\s*-----END CERTIFICATE-----", re.DOTALL
)

# X509_V_ERR_* codes from OpenSSL's x509_vfy.h that the probe tells apart.
_ERR_UNABLE_TO_GET_ISSUER_CERT = 2
_ERR_CERT_SIGNATURE_FAILURE = 7
_ERR_CERT_NOT_YET_VALID = 9
_ERR_CERT_HAS_EXPIRED = 10
_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18
_ERR_SELF_SIGNED_CERT_IN_CHAIN = 19
_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
_ERR_INVALID_CA = 24
_ERR_PATH_LENGTH_EXCEEDED = 25
_ERR_INVALID_PURPOSE = 26
_MISSING_ISSUER = frozenset(
    {
        _ERR_UNABLE_TO_GET_ISSUER_CERT,
        _ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        _ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
    }
)

# X509_V_FLAG_NO_CHECK_TIME (OpenSSL ≥ 1.1.0, see X509_VERIFY_PARAM_set_flags(3)); pyOpenSSL
# does not name it. Validity periods are checked in TrustStore.verify instead.
_FLAG_NO_CHECK_TIME = 0x200000

_MAX_CHAIN_DEPTH = 8  # longer chains than this do not occur in the web PKI
_MAX_AIA_ROUNDS = 4  # leaf → intermediate → … : one fetch per missing level


def load_pem_bundle(
    data: bytes, *, strict: bool = True, source: str = "bundle"
) -> list[x509.Certificate]:
    """All certificates of a PEM bundle, in order.

    With ``strict`` a malformed block or a bundle without any certificate raises ``ValueError``
    naming ``source``; without it bad blocks are skipped (the OS bundle must not break scans).
    """
    certificates: list[x509.Certificate] = []
    for index, match in enumerate(_PEM_BLOCK.finditer(data), start=1):
        block = b"-----BEGIN CERTIFICATE-----\n" + match.group(1) + b"\n-----END CERTIFICATE-----\n"
        try:
            with warnings.catch_warnings():
                # Some OS roots predate RFC 5280 rules (e.g. non-positive serial numbers);
                # they remain valid anchors, so cryptography's deprecation notice is noise.
                warnings.simplefilter("ignore")
                certificates.append(x509.load_pem_x509_certificate(block))
        except ValueError as exc:
            if strict:
                raise ValueError(f"{source}: certificate #{index} is invalid: {exc}") from None
            log.warning("%s: skipping invalid certificate #%d: %s", source, index, exc)
    if strict and not certificates:
        raise ValueError(f"{source}: no PEM certificate found")
    return certificates


def system_bundle_path() -> str | None:
    """The OS CA bundle: what OpenSSL is configured with (honours ``SSL_CERT_FILE``), else the
    usual distribution paths. None when there is none."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, *_OS_BUNDLES):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """Outcome of one OpenSSL verification: ``ok``, or the error at ``depth`` (0 = leaf)."""

    ok: bool
    code: int = 0
    depth: int = 0
    message: str = ""
    failed_cert: x509.Certificate | None = None


@dataclass(slots=True)
class ChainAssessment:
    """What the chain says about trust: at most one of untrusted/self_signed/incomplete_chain."""

    verified: bool
    """The chain *as served* leads to a trust anchor."""
    problem: Problem | None = None
    detail: str = ""
    completed_with: list[CertInfo] = field(default_factory=list)
    """Certificates added to complete an incomplete chain (nearest to the leaf first)."""


class TrustStore:
    """Trust anchors plus known intermediates; share one instance across all probes.

    Build with :meth:`system` (OS bundle plus optional extra PEM) or :meth:`from_pem` (only the
    given PEM, e.g. in tests); derive per-target stores with :meth:`with_extra`, which caches.
    Verification never modifies a store (its caches are plain dictionaries filled under the
    GIL), so a store may be shared between threads as well as between probes.
    """

    def __init__(
        self,
        certificates: Iterable[x509.Certificate] = (),
        *,
        aia: AIAFetcher | None = None,
        source: str = "",
    ) -> None:
        self.source = source
        self.aia = aia or AIAFetcher()
        self._store = crypto.X509Store()
        self._store.set_flags(_FLAG_NO_CHECK_TIME)
        self._anchors: list[tuple[x509.Certificate, crypto.X509]] = []
        self._anchor_fingerprints: set[bytes] = set()
        self._intermediates: dict[x509.Name, list[tuple[x509.Certificate, crypto.X509]]] = {}
        self._seen: set[bytes] = set()
        self._children: dict[bytes, TrustStore] = {}
        self._shortcuts: dict[tuple[bytes, ...], _IssuerShortcut] = {}
        self._add(certificates)

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def system(
        cls,
        extra_pem: bytes | None = None,
        *,
        cafile: str | None = None,
        aia: AIAFetcher | None = None,
    ) -> TrustStore:
        """The operating system's trust store plus ``extra_pem`` (e.g. ``MAMORI_CA_BUNDLE``).

        ``cafile`` overrides the OS bundle location; ``aia`` is the fetcher of missing
        intermediates (default: one without an address policy). A missing OS bundle is logged,
        not fatal (extra anchors alone may be enough for private PKIs). Raises ``ValueError`` when
        ``extra_pem`` holds no valid certificate, and ``OSError`` when ``cafile`` is unreadable.
        """
        path = cafile or system_bundle_path()
        certificates: list[x509.Certificate] = []
        if path:
            with open(path, "rb") as handle:
                certificates = load_pem_bundle(handle.read(), strict=False, source=path)
        else:
            log.warning("no system CA bundle found; only extra trust anchors will be trusted")
        source = path or "(no system bundle)"
        if extra_pem:
            certificates += load_pem_bundle(extra_pem, source="extra CA bundle")
            source += " + extra"
        return cls(certificates, aia=aia, source=source)

    @classmethod
    def from_pem(cls, pem: bytes | str) -> TrustStore:
        """A store holding only the certificates in ``pem`` (no system roots)."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        return cls(load_pem_bundle(data), source="PEM")

    def with_extra(self, pem: bytes | str | None) -> TrustStore:
        """This store plus the certificates in ``pem``; cached per PEM, ``self`` if empty.

        The derived store shares this store's AIA cache. Raises ``ValueError`` for a PEM without
        valid certificates.
        """
        if not pem:
            return self
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        child = self._children.get(data)
        if child is None:
            extra = load_pem_bundle(data, source="target CA bundle")
            child = TrustStore(aia=self.aia, source=self.source + " + target")
            child._copy_from(self)
            child._add(extra)
            if len(self._children) >= 256:  # bounded: per-target bundles are few in practice
                self._children.pop(next(iter(self._children)))
            self._children[data] = child
        return child

    def _copy_from(self, other: TrustStore) -> None:
        for certificate, handle in other._anchors:
            self._add_anchor(certificate, handle)
        for entries in other._intermediates.values():
            for certificate, handle in entries:
                self._add_intermediate(certificate, handle)

    def _add(self, certificates: Iterable[x509.Certificate]) -> None:
        for certificate in certificates:
            if is_self_signed(certificate):
                self._add_anchor(certificate, crypto.X509.from_cryptography(certificate))
            elif _may_issue(certificate):
                self._add_intermediate(certificate, crypto.X509.from_cryptography(certificate))
            else:
                log.debug("ignoring end-entity certificate %s in a CA bundle", certificate.subject)

    def _add_anchor(self, certificate: x509.Certificate, handle: crypto.X509) -> None:
        fingerprint = certificate.fingerprint(hashes.SHA256())
        if fingerprint in self._seen:
            return
        self._seen.add(fingerprint)
        self._anchor_fingerprints.add(fingerprint)
        self._anchors.append((certificate, handle))
        self._store.add_cert(handle)

    def _add_intermediate(self, certificate: x509.Certificate, handle: crypto.X509) -> None:
        fingerprint = certificate.fingerprint(hashes.SHA256())
        if fingerprint in self._seen:
            return
        self._seen.add(fingerprint)
        self._intermediates.setdefault(certificate.subject, []).append((certificate, handle))

    # -- queries --------------------------------------------------------------------------------

    @property
    def anchor_count(self) -> int:
        return len(self._anchors)

    @property
    def intermediate_count(self) -> int:
        return sum(len(entries) for entries in self._intermediates.values())

    def is_anchor(self, info: CertInfo) -> bool:
        """Whether this exact certificate is one of the trust anchors."""
        return bytes.fromhex(info.fingerprint_sha256) in self._anchor_fingerprints

    def verify(
        self,
        leaf: crypto.X509,
        untrusted: Sequence[crypto.X509],
        at: dt.datetime,
        *,
        reuse_key: tuple[bytes, ...] | None = None,
    ) -> ChainCheck:
        """Verify ``leaf`` with ``untrusted`` as chain-building material, at instant ``at``.

        OpenSSL builds and checks the chain with time checks disabled; the validity periods of
        the CA certificates in the built chain are then compared with ``at`` here. (pyOpenSSL
        sets a verification time only on the shared store, and OpenSSL keeps the first time set
        on a store, so per-probe instants cannot be given to OpenSSL itself.) The leaf's own
        dates are the caller's business (``expired`` / ``not_yet_valid``).

        ``reuse_key`` (the DER encodings of ``untrusted``, for a non-CA leaf) lets the part of
        the chain above the leaf be verified once for all leaves that share it: see
        :class:`_IssuerShortcut`.
        """
        shortcut = self._shortcuts.get(reuse_key) if reuse_key is not None else None
        if shortcut is not None and shortcut.accepts(leaf):
            return _check_validity(shortcut.upper, at, first_depth=1)

        context = crypto.X509StoreContext(self._store, leaf, list(untrusted) or None)
        try:
            built = context.get_verified_chain()
        except crypto.X509StoreContextError as exc:
            code, depth, message = exc.errors
            return ChainCheck(
                ok=False,
                code=int(code),
                depth=int(depth),
                message=str(message),
                failed_cert=exc.certificate.to_cryptography() if exc.certificate else None,
            )
        upper = [_Validity.of(handle) for handle in built[1:]]
        if reuse_key is not None and _IssuerShortcut.applies(built):
            if len(self._shortcuts) >= 1024:
                self._shortcuts.pop(next(iter(self._shortcuts)))
            self._shortcuts[reuse_key] = _IssuerShortcut(built[1], upper)
        return _check_validity(upper, at, first_depth=1)

    def known_issuers(self, certificates: Iterable[x509.Certificate]) -> list[crypto.X509]:
        """Known intermediates that can issue ``certificates``, transitively (by subject name)."""
        found: list[crypto.X509] = []
        seen: set[int] = set()
        frontier = list(certificates)
        for _ in range(_MAX_CHAIN_DEPTH):
            next_frontier = []
            for certificate in frontier:
                for candidate, handle in self._intermediates.get(certificate.issuer, ()):
                    if id(handle) not in seen and candidate.subject != certificate.subject:
                        seen.add(id(handle))
                        found.append(handle)
                        next_frontier.append(candidate)
            if not next_frontier:
                break
            frontier = next_frontier
        return found

    # -- assessment -----------------------------------------------------------------------------

    async def assess(
        self,
        served: Sequence[crypto.X509],
        infos: Sequence[CertInfo],
        *,
        at: dt.datetime,
        now: dt.datetime,
        fetch_aia: bool = True,
    ) -> ChainAssessment:
        """Decide ``untrusted`` / ``self_signed`` / ``incomplete_chain`` for a served chain.

        ``served`` and ``infos`` are the same certificates in served order, leaf first. ``at``
        is the verification instant (inside the leaf's validity); ``now`` is used in messages.
        """
        leaf = infos[0]
        reuse_key = tuple(info.der for info in infos[1:]) if not leaf.is_ca else None
        check = self.verify(served[0], served[1:], at, reuse_key=reuse_key)
        if check.ok:
            eku_problem = _server_auth_problem(leaf)
            if eku_problem:
                return ChainAssessment(
                    verified=False, problem=Problem.UNTRUSTED, detail=eku_problem
                )
            return ChainAssessment(verified=True)

        if leaf.self_signed and not self.is_anchor(leaf):
            return ChainAssessment(
                verified=False,
                problem=Problem.SELF_SIGNED,
                detail=f"the certificate for {leaf.display_name} is signed by its own key "
                "and is not a trusted certificate",
            )
        if check.code not in _MISSING_ISSUER:
            return ChainAssessment(False, Problem.UNTRUSTED, _untrusted_reason(check, now))

        served_certs = [info.cert for info in infos if info.cert is not None]
        pool = list(served[1:])
        added: list[x509.Certificate] = []
        known = self.known_issuers(served_certs)
        if known:
            pool += known
            added += [handle.to_cryptography() for handle in known]
            check = self.verify(served[0], pool, at)
            if check.ok:
                return self._incomplete(added, "from intermediates in the trust bundle", now)

        if fetch_aia:
            fetched_from: list[str] = []
            for _ in range(_MAX_AIA_ROUNDS):
                if check.code not in _MISSING_ISSUER or check.failed_cert is None:
                    break
                urls = _ca_issuer_urls(check.failed_cert)
                new: list[x509.Certificate] = []
                for url in urls[:2]:
                    for certificate in await self.aia.fetch(url):
                        if all(certificate != existing for existing in added):
                            new.append(certificate)
                    if new:
                        fetched_from.append(url)
                        break
                if not new:
                    break
                added += new
                handles = [crypto.X509.from_cryptography(c) for c in new]
                pool += handles + self.known_issuers(new)
                check = self.verify(served[0], pool, at)
                if check.ok:
                    source = "by following the AIA caIssuers URL " + ", ".join(fetched_from)
                    return self._incomplete(added, source, now)

        reason = _untrusted_reason(check, now)
        return ChainAssessment(verified=False, problem=Problem.UNTRUSTED, detail=reason)

    def _incomplete(
        self, added: list[x509.Certificate], source: str, now: dt.datetime
    ) -> ChainAssessment:
        infos = [CertInfo.from_certificate(c, der=_der(c), now=now) for c in added]
        # Only the certificates that are not trust anchors were missing from the server.
        missing = [i for i in infos if not self.is_anchor(i)] or infos
        names = ", ".join(repr(i.display_name) for i in missing)
        plural = "s" if len(missing) > 1 else ""
        return ChainAssessment(
            verified=False,
            problem=Problem.INCOMPLETE_CHAIN,
            detail=f"the server does not send the intermediate certificate{plural} {names}; "
            f"the chain could only be completed {source}",
            completed_with=infos,
        )


@dataclass(frozen=True, slots=True)
class _Validity:
    """A chain certificate's validity period, as GeneralizedTime bytes ("YYYYMMDDhhmmssZ")."""

    handle: crypto.X509
    not_before: bytes
    not_after: bytes

    @classmethod
    def of(cls, handle: crypto.X509) -> _Validity:
        return cls(handle, handle.get_notBefore() or b"", handle.get_notAfter() or b"")


def _check_validity(chain: Sequence[_Validity], at: dt.datetime, *, first_depth: int) -> ChainCheck:
    # GeneralizedTime in this fixed form orders like the instant it denotes, so comparing the
    # bytes is exact and cheap.
    instant = at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ").encode("ascii")
    for depth, item in enumerate(chain, start=first_depth):
        if item.not_after and item.not_after < instant:
            return ChainCheck(
                False,
                _ERR_CERT_HAS_EXPIRED,
                depth,
                "certificate has expired",
                item.handle.to_cryptography(),
            )
        if item.not_before and item.not_before > instant:
            return ChainCheck(
                False,
                _ERR_CERT_NOT_YET_VALID,
                depth,
                "certificate is not yet valid",
                item.handle.to_cryptography(),
            )
    return ChainCheck(ok=True)


class _IssuerShortcut:
    """Verify further leaves under an already verified issuer with one signature check.

    Thousands of endpoints send the same intermediates. Once OpenSSL has verified
    ``leaf → issuer → … → anchor`` for one leaf, the part above the leaf is the same for every
    other leaf whose server sends the same intermediates: OpenSSL builds chains issuer by issuer,
    trust store first, and the store holds only self-signed anchors, so the issuer found for the
    next leaf is the same served certificate. The next leaf is then verified against a store
    holding only that issuer, with ``X509_V_FLAG_PARTIAL_CHAIN`` — which still checks the leaf's
    signature, the issuer's right to issue (basicConstraints, keyUsage) and the issuer's name
    constraints — and the cached validity periods above it are checked at the probe's instant.

    Not used when a CA above the issuer has name constraints (they apply to the leaf's names
    too), nor for CA leaves (they count towards path lengths above the issuer); a leaf the
    shortcut does not accept goes through full verification, which reports the precise error.
    """

    __slots__ = ("store", "upper")

    def __init__(self, issuer: crypto.X509, upper: list[_Validity]) -> None:
        self.store = crypto.X509Store()
        self.store.add_cert(issuer)
        self.store.set_flags(crypto.X509StoreFlags.PARTIAL_CHAIN | _FLAG_NO_CHECK_TIME)
        self.upper = upper

    @staticmethod
    def applies(built: Sequence[crypto.X509]) -> bool:
        if len(built) < 3:  # leaf directly under an anchor: nothing to save
            return False
        for handle in built[2:]:
            try:
                handle.to_cryptography().extensions.get_extension_for_oid(
                    ExtensionOID.NAME_CONSTRAINTS
                )
            except x509.ExtensionNotFound:
                continue
            except ValueError:
                return False
            return False
        return True

    def accepts(self, leaf: crypto.X509) -> bool:
        try:
            crypto.X509StoreContext(self.store, leaf).verify_certificate()
        except crypto.X509StoreContextError:
            return False
        return True


def _der(certificate: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return certificate.public_bytes(Encoding.DER)


def _may_issue(certificate: x509.Certificate) -> bool:
    """CA:TRUE, or a version 1 certificate (pre-extension CAs; RFC 5280 §6.1.4 (k))."""
    if certificate.version == x509.Version.v1:
        return True
    try:
        basic = certificate.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)
    except (x509.ExtensionNotFound, ValueError):
        return False
    return bool(basic.value.ca)


def _ca_issuer_urls(certificate: x509.Certificate) -> list[str]:
    try:
        aia = certificate.extensions.get_extension_for_oid(
            ExtensionOID.AUTHORITY_INFORMATION_ACCESS
        ).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [
        d.access_location.value
        for d in aia
        if d.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def _server_auth_problem(leaf: CertInfo) -> str | None:
    """RFC 5280 §4.2.1.12: with an EKU extension, serverAuth (or anyExtendedKeyUsage) is needed.

    OpenSSL's plain verification does not check the purpose, so the probe does.
    """
    if leaf.cert is None:
        return None
    try:
        eku = leaf.cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    if ExtendedKeyUsageOID.SERVER_AUTH in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
        return None
    return "the certificate is not valid for TLS server authentication (extendedKeyUsage)"


def _name(certificate: x509.Certificate | None, attribute: str = "subject") -> str:
    if certificate is None:
        return "(unknown)"
    name: x509.Name = getattr(certificate, attribute)
    cns = name.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    if cns:
        return repr(str(cns[0].value))
    return repr(name.rfc4514_string())


def _untrusted_reason(check: ChainCheck, now: dt.datetime) -> str:
    cert = check.failed_cert
    subject = _name(cert)
    code = check.code
    if code in _MISSING_ISSUER:
        return (
            f"the issuer {_name(cert, 'issuer')} of {subject} is neither sent by the server nor "
            "a trusted root (unknown or private CA)"
        )
    if code == _ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return f"the chain ends at the self-signed root {subject}, which is not trusted"
    if code == _ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        return f"the certificate {subject} is self-issued and not trusted"
    if code in (_ERR_CERT_HAS_EXPIRED, _ERR_CERT_NOT_YET_VALID) and cert is not None:
        role = "intermediate" if check.depth > 0 else "certificate"
        if code == _ERR_CERT_HAS_EXPIRED:
            when = cert.not_valid_after_utc.date().isoformat()
            return f"the {role} {subject} in the chain expired on {when}"
        when = cert.not_valid_before_utc.date().isoformat()
        return f"the {role} {subject} in the chain is not valid before {when}"
    if code == _ERR_CERT_SIGNATURE_FAILURE:
        return f"the signature on {subject} does not verify with its issuer's key"
    if code == _ERR_INVALID_CA:
        return f"{subject} is used as a CA but is not allowed to issue certificates"
    if code == _ERR_PATH_LENGTH_EXCEEDED:
        return f"the chain is longer than the path length constraint of {subject} allows"
    if code == _ERR_INVALID_PURPOSE:
        return f"{subject} is not valid for TLS server authentication"
    return f"verification failed at {subject}: {check.message} (OpenSSL error {code})"


class AIAFetcher:
    """Fetches and caches caIssuers certificates (RFC 5280 §4.2.2.1) over plain HTTP.

    ``fetch`` never raises: failures yield ``[]`` and are cached briefly (``failure_ttl``),
    successes for ``success_ttl``. Concurrent fetches of one URL on one event loop share a
    single request. Only ``http://`` URLs are fetched: RFC 5280 names HTTP and LDAP, and an
    HTTPS fetch would need the very trust decision being made. ``policy`` says which addresses
    may be connected to (None: any); a refused address is a failed fetch.
    """

    def __init__(
        self,
        *,
        policy: AddressPolicy | None = None,
        timeout: float = 5.0,
        max_bytes: int = 65536,
        max_entries: int = 1024,
        success_ttl: float = 86400.0,
        failure_ttl: float = 300.0,
    ) -> None:
        self.policy = policy
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.success_ttl = success_ttl
        self.failure_ttl = failure_ttl
        self._cache: dict[str, tuple[float, list[x509.Certificate]]] = {}
        self._inflight: dict[
            str, tuple[asyncio.AbstractEventLoop, asyncio.Future[list[x509.Certificate]]]
        ] = {}
        self.requests = 0  # number of HTTP requests made (observability and tests)

    async def fetch(self, url: str) -> list[x509.Certificate]:
        """Certificates served at ``url`` (DER, PEM or PKCS#7 "certs-only"); ``[]`` on failure."""
        cached = self._cache.get(url)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        loop = asyncio.get_running_loop()
        inflight = self._inflight.get(url)
        if inflight is not None and inflight[0] is loop:
            return await asyncio.shield(inflight[1])
        future: asyncio.Future[list[x509.Certificate]] = loop.create_future()
        self._inflight[url] = (loop, future)
        certificates: list[x509.Certificate] = []
        try:
            certificates = await self._download(url)
        finally:
            ttl = self.success_ttl if certificates else self.failure_ttl
            if len(self._cache) >= self.max_entries:
                self._cache.pop(next(iter(self._cache)))
            self._cache[url] = (time.monotonic() + ttl, certificates)
            if not future.done():
                future.set_result(certificates)
            if self._inflight.get(url, (None, None))[1] is future:
                del self._inflight[url]
        return certificates

    async def _download(self, url: str) -> list[x509.Certificate]:
        try:
            async with asyncio.timeout(self.timeout):
                body = await self._get(url, redirects=2)
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            log.info("AIA fetch of %s failed: %s", url, exc or type(exc).__name__)
            return []
        try:
            return parse_certificates(body)
        except ValueError as exc:
            log.info("AIA fetch of %s returned no certificate: %s", url, exc)
            return []

    async def _get(self, url: str, *, redirects: int) -> bytes:
        parts = urlsplit(url)
        if parts.scheme.lower() != "http" or not parts.hostname:
            raise ValueError(f"not an http:// URL: {url!r}")
        host = parts.hostname
        port = parts.port or 80
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = f"[{host}]" if ":" in host else host
        if parts.port:
            host_header += f":{port}"
        self.requests += 1
        reader, writer = await open_connection(host, port, self.policy)
        try:
            # HTTP/1.0 keeps the answer simple: no chunked encoding, body ends at close.
            writer.write(
                f"GET {path} HTTP/1.0\r\nHost: {host_header}\r\nUser-Agent: mamori-probe\r\n"
                "Accept: application/pkix-cert, application/pkcs7-mime, */*\r\n"
                "Connection: close\r\n\r\n".encode("ascii")
            )
            await writer.drain()
            response = b""
            while len(response) <= self.max_bytes + 8192:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                response += chunk
            else:
                raise ValueError(f"response larger than {self.max_bytes} bytes")
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        head, _, body = response.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        fields = status_line.split(" ", 2)
        if len(fields) < 2 or not fields[1].isdigit():
            raise ValueError(f"not an HTTP response: {status_line[:60]!r}")
        status = int(fields[1])
        if status in (301, 302, 303, 307, 308) and redirects > 0:
            for line in header_lines:
                name, _, value = line.partition(":")
                if name.strip().lower() == "location":
                    return await self._get(value.strip(), redirects=redirects - 1)
        if status != 200:
            raise ValueError(f"HTTP status {status}")
        return body


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates in DER, PEM, or PKCS#7 certs-only form (RFC 5280 §4.2.2.1 allows both)."""
    if b"-----BEGIN PKCS7-----" in data:
        return list(pkcs7.load_pem_pkcs7_certificates(data))
    if b"-----BEGIN CERTIFICATE-----" in data:
        return load_pem_bundle(data, source="AIA response")
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        pass
    return list(pkcs7.load_der_pkcs7_certificates(data))
