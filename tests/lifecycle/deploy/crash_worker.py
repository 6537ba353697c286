"""A worker process for the crash test: ``python -m tests.lifecycle.deploy.crash_worker MODE
JSON`` against the database in ``$MAMORI_DATA_DIR``. Modes: ``setup`` (creates the database, a
managed certificate with a local target whose reload is slow while a flag file exists; prints the
queued deployment), ``run`` (runs it; meant to be killed), ``resume`` (runs it as the next pass
would, after the lease ran out; prints the result)."""

from __future__ import annotations

import json
import sys

import django


def main(mode: str, args: dict) -> dict:
    from django.utils import timezone

    from mamori.clients.models import Client
    from mamori.demo.pki import CertificateAuthority
    from mamori.inventory.models import Endpoint
    from mamori.lifecycle import deploy
    from mamori.lifecycle.models import (
        Deployment,
        DeploymentTarget,
        IssuerKind,
        ManagedCertificate,
        TargetKind,
    )
    from tests.lifecycle.deploy.conftest import new_certificate

    if mode == "setup":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("migrate", database="keystore", verbosity=0)
        client = Client.objects.create(code="crash", name="Crash Test KK")
        managed = ManagedCertificate.objects.create(
            client=client, name="www", names=[args["sni"]], issuer=IssuerKind.MANUAL
        )
        endpoint = Endpoint.objects.create(
            client=client, host="127.0.0.1", port=args["port"], sni=args["sni"]
        )
        target = DeploymentTarget.objects.create(
            managed=managed,
            name="web",
            kind=TargetKind.LOCAL,
            endpoint=endpoint,
            fullchain_path=args["cert_file"],
            key_path=args["key_file"],
            # Slow (a minute) while the flag file exists: long enough to be killed mid-reload.
            reload_command=(
                f"sh -c 'if [ -e {args['slow_flag']} ]; then sleep 60; fi; "
                f"kill -HUP {args['nginx_pid']}'"
            ),
        )
        ca = CertificateAuthority.create("Crash Test Root").intermediate("Crash Test CA")
        cert = new_certificate(managed, ca)
        [deployment] = Deployment.objects.filter(target=target)
        return {"deployment": deployment.pk, "fingerprint": cert.fingerprint_sha256}
    deployment_id = args["deployment"]
    if mode == "run":
        done = deploy.run_deployment(deployment_id)
    else:
        later = timezone.now() + deploy.LEASE + timezone.timedelta(minutes=1)
        done = deploy.run_deployment(deployment_id, now=later)
    return {"state": done.state, "error": done.error, "backup": done.backup, "log": done.log}


if __name__ == "__main__":
    django.setup()
    print(json.dumps(main(sys.argv[1], json.loads(sys.argv[2]))), flush=True)
