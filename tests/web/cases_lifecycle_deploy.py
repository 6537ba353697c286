"""Tenancy cases for the deployment pages (see tests/web/tenancy.py).

These run with the ``default`` database only: deploying reads the key from the vault's keystore
and writes files, so "deploy now" has no ``post`` here; tests/lifecycle/deploy/ deploys for real.
"""

from types import SimpleNamespace

from django.utils import timezone

from mamori.inventory.models import Endpoint
from mamori.lifecycle.models import Deployment, DeploymentState, DeploymentTarget, TargetKind
from tests.web.cases_lifecycle_managed import acme_managed
from tests.web.cases_vault import acme_secret
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, PAGE, Case

EXEMPT: dict[str, str] = {}

# Provider staff who see acme configure and run deployments (targets name vault logins).
STAFF = frozenset({"subcontractor", "operator", "provider_admin"})
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def acme_target(scene) -> DeploymentTarget:
    """Where acme's managed certificate is installed: files on web01, reloaded over SSH."""
    target, _ = DeploymentTarget.objects.get_or_create(
        managed=acme_managed(scene),
        name="web01",
        defaults={
            "kind": TargetKind.SSH,
            "endpoint": scene.expiring_endpoint,
            "ssh_host": "web01.acme.example",
            "ssh_username": "deploy",
            "ssh_host_key": HOST_KEY,
            "fullchain_path": "/etc/nginx/tls/www.acme.example.pem",
            "key_path": "/etc/nginx/tls/www.acme.example.key",
            "reload_command": "sudo systemctl reload nginx",
        },
    )
    return target


def acme_deployment(scene) -> Deployment:
    """A deployment to acme's target that was rolled back."""
    target = acme_target(scene)
    deployment = Deployment.objects.filter(target=target).first()
    if deployment is None:
        now = timezone.now()
        deployment = Deployment.objects.create(
            target=target,
            certificate=scene.expiring_cert,
            state=DeploymentState.ROLLED_BACK,
            error="www.acme.example:443 does not serve the new certificate after the reload",
            backup={"/etc/nginx/tls/www.acme.example.pem": "/etc/nginx/tls/x.mamori-1.bak"},
            log=[{"at": now.isoformat(), "step": "queued", "detail": ""}],
            attempts=1,
        )
    return deployment


def target_rows() -> list[dict]:
    return list(DeploymentTarget.objects.values().order_by("pk"))


def target_post(name: str):
    """A target over SSH, which every member of the staff who sees acme may set up (local ones
    are for provider administrators: tests/lifecycle/deploy/test_target_rules.py)."""
    return lambda s: {
        "name": name,
        "kind": TargetKind.SSH,
        "endpoint": s.expiring_endpoint.pk,
        "ssh_host": "web01.acme.example",
        "ssh_port": "22",
        "ssh_username": "deploy",
        "ssh_secret": acme_secret().pk,
        "ssh_host_key": HOST_KEY,
        "fullchain_path": "/etc/nginx/tls/www.acme.example.pem",
        "key_path": "/etc/nginx/tls/www.acme.example.key",
        "cert_mode": "0644",
        "key_mode": "0600",
        "enabled": "on",
    }


def _scene():
    """What the cases use of the page tests' scene, found without the fixture (a snapshot is
    taken before the URL is built, so it makes acme's target itself, as the URL would)."""
    endpoint = Endpoint.objects.get(client__code="acme", host="www.acme.example")
    return SimpleNamespace(expiring_endpoint=endpoint, expiring_cert=endpoint.current_certificate)


def snapshot_targets() -> list[dict]:
    acme_target(_scene())
    return target_rows()


CASES: dict[str, Case] = {
    "deployment_target_add": Case(
        FORM,
        lambda s: {"managed_pk": acme_managed(s).pk},
        post=target_post("local"),
        writers=STAFF,
        snapshot=snapshot_targets,
    ),
    "deployment_target_edit": Case(
        FORM,
        lambda s: {"pk": acme_target(s).pk},
        post=target_post("web01 (renamed)"),
        writers=STAFF,
        snapshot=snapshot_targets,
    ),
    "deployment_target_delete": Case(
        FORM,
        lambda s: {"pk": acme_target(s).pk},
        post=lambda s: {},
        writers=STAFF,
        snapshot=snapshot_targets,
    ),
    "deployment_detail": Case(PAGE, lambda s: {"pk": acme_deployment(s).pk}, readers=ACME_PEOPLE),
    "deployment_deploy_now": Case(
        ACTION, lambda s: {"managed_pk": acme_managed(s).pk}, writers=STAFF
    ),
}
