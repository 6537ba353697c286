"""Deployment pages and API: targets added by staff with precise errors, "deploy now" from the
certificate's page, a deployment's page with its steps (CERT-09)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mamori.core.models import AuditEvent
from mamori.lifecycle.models import Deployment, DeploymentState, DeploymentTarget, TargetKind
from mamori.vault import services as vault
from mamori.vault.models import SecretKind
from tests.lifecycle.deploy.conftest import new_certificate

pytestmark = pytest.mark.django_db(databases=["default", "keystore"])


def target_data(site, **extra) -> dict:
    data = {
        "name": "web",
        "kind": TargetKind.LOCAL,
        "endpoint": site.endpoint.pk,
        "fullchain_path": str(site.cert_file),
        "key_path": str(site.key_file),
        "cert_mode": "0644",
        "key_mode": "0600",
        "ssh_port": "22",
        "reload_command": f"kill -HUP {site.nginx.pid}",
        "enabled": "on",
    }
    data.update(extra)
    return data


@pytest.mark.req("CERT-09")
def test_staff_add_a_target_and_deploy_from_the_certificate_page(
    site, deploy_ca, provider_admin, member, client
):
    add_url = reverse("deployment_target_add", args=[site.managed.pk])
    client.force_login(member)
    assert client.get(add_url).status_code == 403

    client.force_login(provider_admin)  # a target on the Mamori host: administrators only
    response = client.post(add_url, target_data(site))
    assert response.status_code == 302, response.content.decode()[:3000]
    target = DeploymentTarget.objects.get(managed=site.managed)
    assert AuditEvent.objects.filter(
        action="deployment_target.create", object_id=str(target.pk)
    ).exists()

    renewed = new_certificate(site.managed, deploy_ca)
    Deployment.objects.filter(target=target).delete()  # deploy by hand instead of the pass
    page = client.get(reverse("managed_detail", args=[site.managed.pk])).content.decode()
    assert 'id="deployment"' in page
    assert reverse("deployment_deploy_now", args=[site.managed.pk]) in page

    response = client.post(
        reverse("deployment_deploy_now", args=[site.managed.pk]), {"target": target.pk}
    )
    deployment = Deployment.objects.get(target=target)
    assert response.status_code == 302
    assert response["Location"] == reverse("deployment_detail", args=[deployment.pk])
    assert deployment.state == DeploymentState.SUCCEEDED, deployment.error
    assert site.served_fingerprint() == renewed.fingerprint_sha256

    detail = client.get(response["Location"]).content.decode()
    assert str(site.cert_file) in detail and ".mamori-" in detail  # the kept previous file
    assert "PRIVATE KEY" not in detail
    client.force_login(member)  # the client reads it too
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.req("CERT-09")
def test_the_target_form_explains_what_is_wrong(site, operator, client):
    client.force_login(operator)
    secret = vault.store_secret(
        site.managed.client, kind=SecretKind.SSH_KEY, name="k", value=b"x" * 10, actor=None
    )
    response = client.post(
        reverse("deployment_target_add", args=[site.managed.pk]),
        target_data(
            site,
            kind=TargetKind.SSH,
            ssh_host="127.0.0.1",
            ssh_username="root",
            ssh_secret=secret.pk,
            ssh_host_key="not a key",
            key_path="relative/key.pem",
            key_mode="999",
        ),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "not an SSH public host key" in errors["ssh_host_key"][0]
    assert "absolute path" in errors["key_path"][0]
    assert "octal" in errors["key_mode"][0]
    assert not DeploymentTarget.objects.exists()


@pytest.mark.req("CERT-09")
def test_the_api_lists_targets_and_runs_a_deployment(site, deploy_ca, provider_admin, client):
    from mamori.core.tokens import create_token

    token = create_token(provider_admin, "test")[1]
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post(
        "/api/v1/deployment-targets",
        {"managed_certificate": site.managed.pk, **target_data(site, enabled=True)},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 201, response.content
    target_id = response.json()["id"]
    renewed = new_certificate(site.managed, deploy_ca)
    [queued] = client.get("/api/v1/deployments", headers=headers).json()["items"]
    assert queued["state"] == "pending" and queued["target"] == target_id

    response = client.post(f"/api/v1/deployments/{queued['id']}/deploy", headers=headers)

    assert response.status_code == 200, response.content
    assert response.json()["state"] == "succeeded"
    assert response.json()["certificate"] == renewed.fingerprint_sha256
    again = client.post(f"/api/v1/deployments/{queued['id']}/deploy", headers=headers)
    assert again.status_code == 409
