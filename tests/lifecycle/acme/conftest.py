"""Real servers for the ACME tests: PowerDNS (the test names resolve to 127.0.0.1 through it),
nginx serving a webroot on the port where Pebble validates HTTP-01, and Pebble itself."""

from __future__ import annotations

import pytest

from mamori.lifecycle.models import AcmeAccount, ChallengeMethod, ManagedCertificate
from tests.support.acme_servers import ZONE, unique_name  # noqa: F401


@pytest.fixture
def acme_account(acme, pebble) -> AcmeAccount:
    return AcmeAccount.objects.create(
        client=acme,
        name="pebble",
        directory_url=pebble.directory_url,
        contact_email="ops@acme.example",
        ca_bundle=pebble.ca_bundle_pem,
    )


@pytest.fixture
def make_managed(acme, acme_account, webroot_server):
    def make(names=None, *, key_type="ec256", challenge=ChallengeMethod.HTTP_WEBROOT, **extra):
        names = names or [unique_name()]
        settings = extra.pop("challenge_settings", None)
        if settings is None and challenge == ChallengeMethod.HTTP_WEBROOT:
            settings = {"webroot": str(webroot_server.webroot)}
        return ManagedCertificate.objects.create(
            client=acme,
            name=extra.pop("name", names[0]),
            names=names,
            key_type=key_type,
            acme_account=extra.pop("acme_account", acme_account),
            challenge=challenge,
            challenge_settings=settings or {},
            renewal_instruction="standing",
            **extra,
        )

    return make
