"""Demo clients, contracts, sites and endpoints, each endpoint on its own local HTTPS server
showing one situation a provider meets: healthy, expiring in 5 days, expired, wrong host name,
incomplete chain, self-signed."""

from __future__ import annotations

import datetime as dt
import secrets

from django.utils import timezone

from mamori.billing.models import Fee, FeeKind, IssuerProfile
from mamori.clients.models import (
    Client,
    Contact,
    Contract,
    ContractType,
    RenewalPolicy,
    TermsProfile,
)
from mamori.core.models import Role, User
from mamori.demo.pki import CertificateAuthority
from mamori.demo.servers import DemoSite
from mamori.inventory.models import Endpoint, Server, ServerKind, Site
from mamori.vault import services as vault
from mamori.vault.models import SecretKind


def build_sites() -> tuple[list[DemoSite], str, dict[str, str]]:
    """Make the demo PKI and one certificate setup per site.

    Returns the sites, the trust bundle (root, plus the intermediate as a known intermediate so
    that a server that forgets to send it is recognised as an incomplete chain), and the SNI name
    for each site.
    """
    root = CertificateAuthority.create("Mamori Demo Root CA")
    issuing = root.intermediate("Mamori Demo Issuing CA")
    now = timezone.now()

    def valid(age_days: float, lifetime_days: float = 90) -> dict[str, dt.datetime]:
        """Validity of a certificate issued ``age_days`` ago for ``lifetime_days``."""
        start = now - dt.timedelta(days=age_days)
        return {"not_before": start, "not_after": start + dt.timedelta(days=lifetime_days)}

    healthy = issuing.issue(["www.sample.example", "sample.example"], **valid(10))
    expiring = issuing.issue(["shop.sample.example"], **valid(85))  # 5 days left
    incomplete = issuing.issue(["api.sample.example"], **valid(20))
    expired = issuing.issue(["old.hosting.example"], **valid(93))  # expired 3 days ago
    wrong_name = issuing.issue(["www.other.example"], **valid(30))
    self_signed = CertificateAuthority.self_signed(["admin.hosting.example"], **valid(5, 365))
    sites = [
        DemoSite("healthy", healthy.fullchain_pem, healthy.key_pem),
        DemoSite("expiring", expiring.fullchain_pem, expiring.key_pem),
        DemoSite("incomplete", incomplete.cert_pem, incomplete.key_pem),
        DemoSite("expired", expired.fullchain_pem, expired.key_pem),
        DemoSite("wrong_name", wrong_name.fullchain_pem, wrong_name.key_pem),
        DemoSite("self_signed", self_signed.cert_pem, self_signed.key_pem),
    ]
    names = {
        "healthy": "www.sample.example",
        "expiring": "shop.sample.example",
        "incomplete": "api.sample.example",
        "expired": "old.hosting.example",
        "wrong_name": "mail.hosting.example",
        "self_signed": "admin.hosting.example",
    }
    return sites, root.cert_pem + issuing.cert_pem, names


def create_data(ports: dict[str, int], names: dict[str, str], bundle: str) -> dict[str, str]:
    """Create the demo records; returns the demo users' passwords by user name."""
    sample = Client.objects.create(
        code="sample",
        name="株式会社サンプル商事",
        address="東京都港区芝公園4-2-8",
        representative="代表取締役 佐藤一郎",
    )
    hosting = Client.objects.create(
        code="hosting",
        name="Demo Hosting K.K.",
        address="大阪府大阪市北区梅田1-1-1",
        representative="CEO Alex Kim",
    )
    Contact.objects.create(
        client=sample,
        name="山田太郎",
        email="yamada@sample.example",
        language="ja",
        notify=["certificates", "incidents", "contracts", "billing"],
    )
    Contact.objects.create(
        client=hosting,
        name="Alex Kim",
        email="alex@hosting.example",
        language="en",
        notify=["certificates", "incidents", "reports", "contracts", "billing"],
    )
    start = dt.date(timezone.localdate().year, 4, 1)
    profiles = {p.code: p for p in TermsProfile.objects.all()}
    sample_ssl = Contract.objects.create(
        client=sample,
        type=ContractType.SSL_MANAGEMENT,
        start=start,
        renewal_policy=RenewalPolicy.APPROVAL,
        expiry_notice_days=[60, 30, 14, 7, 3, 1],
        terms_profile=profiles.get("fixed-1y-000"),
    )
    sample_site = Contract.objects.create(
        client=sample,
        type=ContractType.SITE_MAINTENANCE,
        start=start,
        terms_profile=profiles.get("fixed-1y-001"),
    )
    hosting_ssl = Contract.objects.create(
        client=hosting,
        type=ContractType.SSL_MANAGEMENT,
        start=start,
        renewal_policy=RenewalPolicy.STANDING,
        terms_profile=profiles.get("fixed-1y-000"),
    )
    create_billing_data(sample_ssl, sample_site, hosting_ssl)
    web01 = Server.objects.create(
        client=sample,
        name="web01",
        kind=ServerKind.VPS,
        provider="さくらのVPS",
        os="Ubuntu 24.04 LTS",
        middleware="nginx 1.24, PHP 8.3, MySQL 8.0",
    )
    corporate = Site.objects.create(
        client=sample,
        name="コーポレートサイト",
        url="https://www.sample.example/",
        server=web01,
        cms="WordPress 6.6",
    )
    shop = Site.objects.create(
        client=sample,
        name="オンラインショップ",
        url="https://shop.sample.example/",
        server=web01,
        cms="EC-CUBE 4.2",
        related_systems="決済代行サービス, 在庫管理システム",
    )
    owners = {
        "healthy": (sample, corporate),
        "expiring": (sample, shop),
        "incomplete": (sample, None),
        "expired": (hosting, None),
        "wrong_name": (hosting, None),
        "self_signed": (hosting, None),
    }
    for key, (client, site) in owners.items():
        Endpoint.objects.create(
            client=client,
            site=site,
            server=web01 if client == sample else None,
            host="127.0.0.1",
            port=ports[key],
            sni=names[key],
            trust_bundle=bundle,
            check_interval=300,
            # The demo's servers listen on loopback: allowed, as provider staff would.
            allow_private_address=True,
        )
    passwords = {"admin": secrets.token_urlsafe(9), "sample": secrets.token_urlsafe(9)}
    admin = User.objects.create_superuser(
        "admin", "ops@provider.example", passwords["admin"], role=Role.PROVIDER_ADMIN
    )
    # Assigned to both clients, so the demo administrator may reveal their secrets.
    admin.assigned_clients.set([sample, hosting])
    vault.store_secret(
        sample,
        kind=SecretKind.SERVER_LOGIN,
        name="web01 SSH",
        value=secrets.token_urlsafe(16),
        actor=admin,
        username="deploy",
        location="web01.sample.example",
        server=web01,
    )
    vault.store_secret(
        sample,
        kind=SecretKind.ADMIN_LOGIN,
        name="WordPress 管理画面",
        value=secrets.token_urlsafe(16),
        actor=admin,
        username="sample-admin",
        location="https://www.sample.example/wp-admin/",
        site=corporate,
    )
    vault.store_secret(
        hosting,
        kind=SecretKind.AUTH_CODE,
        name="old.hosting.example AuthCode",
        value=secrets.token_urlsafe(12),
        actor=admin,
    )
    User.objects.create_user(
        "sample",
        "it@sample.example",
        passwords["sample"],
        role=Role.CLIENT_ADMIN,
        client=sample,
        language="ja",
    )
    return passwords


def create_billing_data(sample_ssl: Contract, sample_site: Contract, hosting_ssl: Contract) -> None:
    """The issuer's particulars and the demo contracts' fees, so that `mamori invoices run`
    has a month to bill (docs/billing.md)."""
    IssuerProfile.objects.update_or_create(
        pk=1,
        defaults={
            "name": "まもりデモ株式会社",
            "postal_code": "100-0005",
            "address": "東京都千代田区丸の内1-1-1",
            "registration_number": "T6012345678901",
            "bank_account": "デモ銀行 本店営業部\n普通預金 1234567\nマモリデモ（カ）",
            "work_rate_per_hour": 8000,
        },
    )
    Fee.objects.create(contract=sample_ssl, kind=FeeKind.MONTHLY, amount=5000)
    Fee.objects.create(contract=sample_site, kind=FeeKind.INITIAL, amount=50000)
    Fee.objects.create(contract=sample_site, kind=FeeKind.MONTHLY, amount=30000)
    Fee.objects.create(contract=hosting_ssl, kind=FeeKind.MONTHLY, amount=3000)


def create_lifecycle_data(sites: list[DemoSite]) -> None:
    """The expiring shop certificate is one Mamori manages for the sample client, from a
    commercial CA and under the approval instruction: the first background pass finds it due
    and asks the client to approve the renewal (the client user can say yes in the portal)."""
    from mamori.lifecycle import orders
    from mamori.lifecycle.models import IssuerKind, ManagedCertificate

    site = next(s for s in sites if s.name == "expiring")
    pems = orders.split_pem_chain(site.cert_chain_pem)
    sample = Client.objects.get(code="sample")
    managed = ManagedCertificate.objects.create(
        client=sample,
        name="shop",
        names=["shop.sample.example"],
        issuer=IssuerKind.MANUAL,
        ca_name="Mamori Demo Issuing CA",
        product="OV SSL, 1 year",
    )
    key = vault.store_private_key(
        sample, site.key_pem.encode(), actor=None, name="shop.sample.example (2026)"
    )
    managed.certificate = orders.certificate_from_pem(pems[0])
    managed.chain_pem = b"".join(pems[1:]).decode()
    managed.key_secret = key
    managed.save()
