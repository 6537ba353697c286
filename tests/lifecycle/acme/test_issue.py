"""Issuing through ACME against a real Pebble (CERT-06): accounts, HTTP-01 through a webroot
that nginx serves, DNS-01 through PowerDNS, failures that back off instead of looping."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mamori.core.models import AuditEvent
from mamori.lifecycle import acme as engine
from mamori.lifecycle import orders
from mamori.lifecycle.models import (
    Challenge,
    ChallengeState,
    Failure,
    FailureKind,
    OrderState,
)
from mamori.notices.models import Notice, NoticeKind
from mamori.vault import services as vault
from tests.lifecycle.acme.conftest import unique_name

pytestmark = [pytest.mark.django_db(databases=["default", "keystore"])]


@pytest.mark.req("CERT-06")
def test_register_account_keeps_key_in_vault_and_is_idempotent(acme_account):
    engine.register_account(acme_account)
    acme_account.refresh_from_db()
    assert acme_account.account_url.startswith("https://127.0.0.1:")
    assert acme_account.registered_at and acme_account.terms_agreed_at
    key_pem = vault.decrypt_for_export(acme_account.key_secret)
    assert b"PRIVATE KEY" in key_pem
    first_url = acme_account.account_url
    engine.register_account(acme_account)
    acme_account.refresh_from_db()
    assert acme_account.account_url == first_url
    assert vault.decrypt_for_export(acme_account.key_secret) == key_pem
    assert AuditEvent.objects.filter(action="acme_account.register").count() == 2


def _issue(managed):
    order = orders.create_order(managed)
    order = engine.drive_order(order.pk)
    assert order.state == OrderState.ISSUED, (order.error_type, order.error_detail)
    return order


@pytest.mark.req("CERT-06")
@pytest.mark.parametrize(
    ("key_type", "key_class"),
    [("ec256", ec.EllipticCurvePrivateKey), ("rsa2048", rsa.RSAPrivateKey)],
)
def test_issue_http01_webroot(make_managed, webroot_server, key_type, key_class):
    names = [unique_name(), unique_name("api")]
    managed = make_managed(names, key_type=key_type)
    order = _issue(managed)
    managed.refresh_from_db()
    assert managed.certificate_id == order.certificate_id
    cert = x509.load_pem_x509_certificate(managed.certificate.pem.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(names)
    key_pem = vault.decrypt_for_export(managed.key_secret)
    from mamori.lifecycle import keys

    key = keys.load_key(key_pem)
    assert isinstance(key, key_class)
    assert keys.mismatches(managed.certificate.pem.encode(), key_pem=key_pem, names=names) == []
    assert "BEGIN CERTIFICATE" in managed.chain_pem  # the chain is kept
    challenges = list(order.challenges.all())
    assert len(challenges) == 2
    assert all(c.state == ChallengeState.VALID and c.cleaned_at for c in challenges)
    # The token files are gone.
    assert not any((webroot_server.webroot / ".well-known/acme-challenge").iterdir())


@pytest.mark.req("CERT-06")
def test_second_order_while_one_is_open_is_refused(make_managed):
    managed = make_managed()
    first = orders.create_order(managed)
    with pytest.raises(orders.OrderInFlight):
        orders.create_order(managed)
    assert managed.orders.count() == 1
    engine.drive_order(first.pk)


@pytest.mark.req("CERT-06")
def test_failed_challenge_backs_off_and_alerts_once(make_managed, tmp_path, operator):
    # A webroot nginx does not serve: Pebble gets 404 for the token.
    managed = make_managed(challenge_settings={"webroot": str(tmp_path / "not-served")})
    first = engine.drive_order(orders.create_order(managed).pk)
    assert first.state == OrderState.FAILED
    assert first.error_type == "urn:ietf:params:acme:error:unauthorized"
    assert first.error_detail
    challenge = first.challenges.get()
    assert challenge.state == ChallengeState.INVALID and challenge.error
    assert challenge.cleaned_at is not None
    assert not (tmp_path / "not-served/.well-known/acme-challenge" / challenge.token).exists()
    managed.refresh_from_db()
    assert managed.next_attempt_at is not None
    failure = Failure.objects.get(managed=managed, resolved_at__isnull=True)
    assert failure.kind == FailureKind.CHALLENGE
    # Nothing is due: the failed order is closed, the certificate waits for its back-off.
    assert engine.due_orders() == []
    first_backoff = managed.next_attempt_at
    second = engine.drive_order(orders.create_order(managed).pk)
    assert second.state == OrderState.FAILED
    managed.refresh_from_db()
    assert managed.next_attempt_at - second.finished_at > first_backoff - first.finished_at
    failure.refresh_from_db()
    assert failure.count == 2
    assert Notice.objects.filter(kind=NoticeKind.LIFECYCLE_FAILURE).count() == 1


@pytest.mark.req("CERT-06")
def test_success_resolves_open_failures(make_managed, webroot_server, tmp_path):
    managed = make_managed(challenge_settings={"webroot": str(tmp_path / "nothing")})
    engine.drive_order(orders.create_order(managed).pk)
    assert Failure.objects.open().filter(managed=managed).exists()
    managed.challenge_settings = {"webroot": str(webroot_server.webroot)}
    managed.save()
    _issue(managed)
    assert not Failure.objects.open().filter(managed=managed).exists()


@pytest.mark.req("CERT-06")
def test_transient_error_keeps_order_open(make_managed, acme_account):
    engine.register_account(acme_account)
    managed = make_managed()
    order = orders.create_order(managed)
    acme_account.directory_url = "https://127.0.0.1:1/dir"  # nothing listens there
    acme_account.save()
    order = engine.drive_order(order.pk)
    assert order.state == OrderState.NEW and order.attempts == 1
    assert order.next_attempt_at > order.created_at
    assert Failure.objects.open().get(managed=managed).kind == FailureKind.ORDER
    assert Challenge.objects.filter(order=order).count() == 0


def _dns_managed(make_managed, acme, pdns, **settings):
    secret = vault.store_secret(
        acme, kind="api_token", name="PowerDNS API", value=pdns.api_key, actor=None
    )
    return make_managed(
        [unique_name("dns"), "*." + unique_name("wild")],
        challenge="dns",
        challenge_secret=secret,
        challenge_settings={
            "provider": "powerdns",
            "zone": "acme-tests.example",
            "options": {"pdns_server": pdns.api_url},
            "credential_option": "auth_token",
            "propagation_timeout": 10,
            "resolvers": [pdns.dns_address],
            **settings,
        },
    )


@pytest.mark.req("CERT-06")
def test_issue_dns01_through_powerdns(make_managed, acme, pdns):
    managed = _dns_managed(make_managed, acme, pdns)
    order = _issue(managed)
    challenges = list(order.challenges.all())
    assert {c.challenge_type for c in challenges} == {"dns-01"}
    assert all(c.location.startswith("_acme-challenge.") and c.cleaned_at for c in challenges)
    assert pdns.records("acme-tests.example", "TXT") == []
    cert = x509.load_pem_x509_certificate(order.certificate.pem.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(managed.names)


@pytest.mark.req("CERT-06")
def test_dns01_record_removed_after_a_failure(make_managed, acme, pdns):
    from tests.support.pdns import free_port

    # The only resolver to wait for never answers: presenting fails after the record exists.
    managed = _dns_managed(
        make_managed, acme, pdns, resolvers=[f"127.0.0.1:{free_port()}"], propagation_timeout=0.3
    )
    order = engine.drive_order(orders.create_order(managed).pk)
    assert order.state == OrderState.FAILED
    # The error names the record that never showed (in the operators' language).
    assert f"_acme-challenge.{managed.names[0]}" in order.error_detail
    assert pdns.records("acme-tests.example", "TXT") == []
    assert pdns.api_key not in order.error_detail


@pytest.mark.req("CERT-06")
def test_issue_http01_through_a_webroot_over_ssh(make_managed, webroot_server, sshd, acme):
    """The token goes by SFTP to the managed server's webroot (here the nginx webroot that Pebble
    validates against, reached through a real sshd), and is removed afterwards."""
    from mamori.vault.models import SecretKind

    login = vault.store_secret(
        acme,
        kind=SecretKind.SSH_KEY,
        name="web01 deploy key",
        value=sshd.client_key_pem,
        actor=None,
        username=sshd.username,
    )
    managed = make_managed(
        challenge="http-ssh",
        challenge_settings={
            "webroot": str(webroot_server.webroot),
            "ssh_host": sshd.host,
            "ssh_port": sshd.port,
            "ssh_username": sshd.username,
            "ssh_host_key": sshd.host_key,
        },
        challenge_secret=login,
    )
    order = _issue(managed)
    [challenge] = order.challenges.all()
    assert challenge.state == ChallengeState.VALID and challenge.cleaned_at
    assert challenge.location.startswith(f"{sshd.host}:{webroot_server.webroot}")
    assert not (webroot_server.webroot / ".well-known/acme-challenge" / challenge.token).exists()
    assert "Accepted publickey" in sshd.log_path.read_text()
    # The key never shows in what Mamori recorded about the order.
    assert sshd.client_key_pem.decode().strip().splitlines()[1] not in repr(
        list(order.challenges.values())
    )


@pytest.mark.req("CERT-06")
def test_a_profile_the_ca_does_not_offer_fails_clearly_without_ordering(make_managed):
    # Debian's Pebble offers no profiles: asking for one is a settings mistake, said plainly.
    managed = make_managed(acme_profile="shortlived")
    order = engine.drive_order(orders.create_order(managed).pk)
    assert order.state == OrderState.FAILED
    assert not order.order_url  # nothing was ordered at the CA
    assert "does not offer the ACME profile 'shortlived'" in order.error_detail
    failure = Failure.objects.get(managed=managed)
    assert failure.kind == FailureKind.ORDER and "shortlived" in failure.message
