"""TrustStore (anchors vs. known intermediates, per-target bundles) and AIA fetching."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from OpenSSL import crypto

from mamori.demo.pki import CertificateAuthority
from mamori.probe import AIAFetcher, CertInfo, Problem, TrustStore
from mamori.probe.trust import load_pem_bundle, parse_certificates


@pytest.fixture(scope="module")
def root() -> CertificateAuthority:
    return CertificateAuthority.create("Trust Test Root")


@pytest.fixture(scope="module")
def inter(root: CertificateAuthority) -> CertificateAuthority:
    return root.intermediate("Trust Test Issuing CA")


class FileServer:
    """A tiny HTTP server on 127.0.0.1 serving fixed bodies by path (and one redirect)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(self.path)
                if self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{outer.port}/issuing.der")
                    self.end_headers()
                    return
                body = outer.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body or b"not found")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def files(inter: CertificateAuthority) -> Iterator[FileServer]:
    server = FileServer(
        {
            "/issuing.der": inter.der,
            "/issuing.pem": inter.cert_pem.encode(),
            "/issuing.p7c": pkcs7.serialize_certificates([inter.cert], Encoding.DER),
            "/junk": b"<html>nope</html>",
        }
    )
    yield server
    server.stop()


def test_it_loads_the_operating_system_roots() -> None:
    store = TrustStore.system()
    assert store.anchor_count > 50
    assert "ca-certificates.crt" in store.source or store.source.endswith(".pem")


def test_it_splits_bundles_into_anchors_and_known_intermediates(root, inter) -> None:
    store = TrustStore.from_pem(root.cert_pem + inter.cert_pem)
    assert (store.anchor_count, store.intermediate_count) == (1, 1)
    assert store.is_anchor(CertInfo.from_der(root.der))
    assert not store.is_anchor(CertInfo.from_der(inter.der))


def test_it_caches_stores_with_a_targets_extra_bundle(root) -> None:
    base = TrustStore.system()
    extended = base.with_extra(root.cert_pem)
    assert extended is base.with_extra(root.cert_pem.encode())
    assert extended.anchor_count == base.anchor_count + 1
    assert base.with_extra(None) is base and base.with_extra(b"") is base
    assert extended.aia is base.aia


def test_it_rejects_a_bundle_without_certificates() -> None:
    with pytest.raises(ValueError, match="no PEM certificate found"):
        TrustStore.system(b"not a certificate")
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    with pytest.raises(ValueError, match="certificate #1 is invalid"):
        load_pem_bundle(broken)
    assert load_pem_bundle(broken, strict=False) == []


def test_it_verifies_at_an_instant_and_names_the_failing_certificate(root, inter) -> None:
    store = TrustStore.from_pem(root.cert_pem)
    leaf = crypto.X509.from_cryptography(inter.issue(["v.test"]).cert)
    issuing = crypto.X509.from_cryptography(inter.cert)
    now = dt.datetime.now(dt.UTC)
    assert store.verify(leaf, [issuing], now).ok
    missing = store.verify(leaf, [], now)
    assert not missing.ok and missing.code == 20 and missing.depth == 0
    late = store.verify(leaf, [issuing], inter.cert.not_valid_after_utc + dt.timedelta(days=1))
    assert not late.ok and late.depth == 1 and late.message == "certificate has expired"


@pytest.mark.parametrize("path", ["/issuing.der", "/issuing.pem", "/issuing.p7c", "/moved"])
def test_it_fetches_ca_issuers_in_every_format(files: FileServer, inter, path: str) -> None:
    fetcher = AIAFetcher()
    certificates = asyncio.run(fetcher.fetch(files.url(path)))
    assert [c.subject for c in certificates] == [inter.cert.subject]


def test_it_caches_fetches_and_failures_by_url(files: FileServer) -> None:
    fetcher = AIAFetcher()

    async def twice(url: str) -> list[int]:
        first, second = await asyncio.gather(fetcher.fetch(url), fetcher.fetch(url))
        third = await fetcher.fetch(url)
        return [len(first), len(second), len(third)]

    assert asyncio.run(twice(files.url("/issuing.der"))) == [1, 1, 1]
    assert asyncio.run(twice(files.url("/missing.der"))) == [0, 0, 0]
    assert asyncio.run(twice(files.url("/junk"))) == [0, 0, 0]
    assert files.hits == ["/issuing.der", "/missing.der", "/junk"]
    assert fetcher.requests == 3


def test_it_fetches_nothing_but_plain_http() -> None:
    fetcher = AIAFetcher(timeout=1)
    assert asyncio.run(fetcher.fetch("https://127.0.0.1:1/ca.der")) == []
    assert asyncio.run(fetcher.fetch("ldap://127.0.0.1/cn=ca")) == []
    assert fetcher.requests == 0


def test_it_parses_certificates_in_der_pem_and_pkcs7(inter) -> None:
    pem_p7 = pkcs7.serialize_certificates([inter.cert], Encoding.PEM)
    for data in (inter.der, inter.cert_pem.encode(), pem_p7):
        assert [c.subject for c in parse_certificates(data)] == [inter.cert.subject]
    with pytest.raises(ValueError):
        parse_certificates(b"garbage")


async def assess(store: TrustStore, certificates: list, fetch_aia: bool = True):
    handles = [crypto.X509.from_cryptography(c) for c in certificates]
    infos = [CertInfo.from_certificate(c, der=c.public_bytes(Encoding.DER)) for c in certificates]
    now = dt.datetime.now(dt.UTC)
    return await store.assess(handles, infos, at=now, now=now, fetch_aia=fetch_aia)


def test_it_completes_a_chain_over_several_aia_levels(files: FileServer, root, inter) -> None:
    # root → inter (served at /issuing.der) → sub (its AIA points at inter) → leaf (AIA → sub)
    sub = inter.intermediate("Trust Test Sub CA", aia_url=files.url("/issuing.der"))
    files.files["/sub.der"] = sub.der
    leaf = sub.issue(["deep.test"], aia_url=files.url("/sub.der"))
    store = TrustStore.from_pem(root.cert_pem)
    verdict = asyncio.run(assess(store, [leaf.cert]))
    assert verdict.problem is Problem.INCOMPLETE_CHAIN
    assert [i.subject_cn for i in verdict.completed_with] == [
        "Trust Test Sub CA",
        "Trust Test Issuing CA",
    ]
    assert "'Trust Test Sub CA', 'Trust Test Issuing CA'" in verdict.detail


def test_it_reuses_a_verified_issuer_only_for_leaves_it_really_signed(root, inter) -> None:
    store = TrustStore.from_pem(root.cert_pem)
    issuing = crypto.X509.from_cryptography(inter.cert)
    key = (inter.der,)
    now = dt.datetime.now(dt.UTC)
    first = crypto.X509.from_cryptography(inter.issue(["one.test"]).cert)
    assert store.verify(first, [issuing], now, reuse_key=key).ok
    second = crypto.X509.from_cryptography(inter.issue(["two.test"]).cert)
    assert store.verify(second, [issuing], now, reuse_key=key).ok
    # Same issuer name, different key: the shortcut must not accept it, full verification
    # must report the bad signature.
    impostor_ca = root.intermediate("Trust Test Issuing CA")
    forged = crypto.X509.from_cryptography(impostor_ca.issue(["three.test"]).cert)
    check = store.verify(forged, [issuing], now, reuse_key=key)
    assert not check.ok and check.depth == 0
    # The cached upper chain is still judged at each instant.
    late = inter.cert.not_valid_after_utc + dt.timedelta(days=1)
    expired = store.verify(second, [issuing], late, reuse_key=key)
    assert not expired.ok and expired.depth == 1
