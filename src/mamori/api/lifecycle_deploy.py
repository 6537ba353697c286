"""Deployment targets and deployments (CERT-09).

Everyone who sees a client reads where its certificates are installed and how each deployment
went. Provider staff who see the client add targets (a target names a login from the vault),
queue a deployment and run one now. Every write is on the audit trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from mamori.api import errors
from mamori.api.schemas import MAX_ID, Error, Input
from mamori.core import audit
from mamori.core.permissions import require_change
from mamori.lifecycle import deploy
from mamori.lifecycle.models import (
    OPEN_DEPLOYMENT_STATES,
    Deployment,
    DeploymentTarget,
    ManagedCertificate,
    TargetKind,
)

router = Router(tags=["lifecycle"])


class TargetOut(Schema):
    id: int
    client: str
    managed_certificate: int = Field(..., alias="managed_id")
    name: str
    kind: str = Field(..., description="`local` (files on the Mamori host) or `ssh`.")
    endpoint: int | None = Field(
        None, alias="endpoint_id", description="The endpoint checked after installing."
    )
    ssh_host: str
    ssh_port: int
    ssh_username: str
    ssh_secret: int | None = Field(
        None, alias="ssh_secret_id", description="Id of the login in the vault."
    )
    ssh_host_key: str
    cert_path: str
    chain_path: str
    fullchain_path: str
    key_path: str
    owner: str
    group: str
    cert_mode: str
    key_mode: str
    reload_command: str
    enabled: bool

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.managed.client.code


class TargetIn(Input):
    managed_certificate: int = Field(..., description="Id of the managed certificate.")
    name: str
    kind: TargetKind
    endpoint: int | None = Field(None, description="Id of one of the client's endpoints.")
    ssh_host: str = ""
    ssh_port: int = 22
    ssh_username: str = ""
    ssh_secret: int | None = Field(
        None, description="Id of an SSH key or a server login in the client's vault."
    )
    ssh_host_key: str = Field(
        "", description="The server's public host key (`ssh-ed25519 AAAA...`); required for ssh."
    )
    cert_path: str = ""
    chain_path: str = ""
    fullchain_path: str = ""
    key_path: str
    owner: str = ""
    group: str = ""
    cert_mode: str = "0644"
    key_mode: str = "0600"
    reload_command: str = ""
    enabled: bool = True


class StepOut(Schema):
    at: str
    step: str
    detail: str = ""


class DeploymentOut(Schema):
    id: int
    client: str
    managed_certificate: int
    target: int = Field(..., alias="target_id")
    certificate: str = Field(..., description="SHA-256 fingerprint of the certificate.")
    state: str = Field(
        ..., description="pending, installing, verifying, succeeded, rolled_back or failed."
    )
    error: str
    attempts: int
    next_attempt_at: datetime
    backup: dict[str, Any] = Field(
        ..., description="Each file → where its previous version was kept (null: it was new)."
    )
    log: list[StepOut]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.target.managed.client.code

    @staticmethod
    def resolve_managed_certificate(obj) -> int:
        return obj.target.managed_id

    @staticmethod
    def resolve_certificate(obj) -> str:
        return obj.certificate.fingerprint_sha256


class DeploymentIn(Input):
    target: int = Field(..., description="Id of the deployment target.")


def _targets(request: HttpRequest):
    return DeploymentTarget.objects.visible_to(request.auth).select_related("managed__client")


def _deployments(request: HttpRequest):
    return Deployment.objects.visible_to(request.auth).select_related(
        "target__managed__client", "certificate"
    )


@router.get("/deployment-targets", response=list[TargetOut], summary="List deployment targets")
@paginate
def list_deployment_targets(
    request: HttpRequest,
    managed_certificate: int | None = Query(None, ge=1, le=MAX_ID),
    client: str | None = None,
):
    qs = _targets(request)
    if managed_certificate:
        qs = qs.filter(managed_id=managed_certificate)
    if client:
        qs = qs.filter(managed__client__code=client)
    return qs.order_by("managed__client__code", "managed__name", "name", "pk")


@router.get(
    "/deployment-targets/{target_id}",
    response={200: TargetOut, 404: Error},
    summary="Read a deployment target",
)
def get_deployment_target(request: HttpRequest, target_id: int):
    return get_object_or_404(_targets(request), pk=target_id)


@router.post(
    "/deployment-targets",
    response={201: TargetOut, 403: Error, 422: Error},
    summary="Add a deployment target",
    description="Provider staff who see the client add targets over SSH; only provider "
    "administrators add targets on the Mamori host (`local`), whose files must lie under "
    "`MAMORI_DEPLOY_ROOTS`. The reload command must be one of `MAMORI_DEPLOY_COMMANDS`. New "
    "certificates of the managed certificate are installed there from now on.",
)
def create_deployment_target(request: HttpRequest, payload: TargetIn):
    from mamori.lifecycle import targets
    from mamori.lifecycle.views_deploy import TargetForm

    user = request.auth
    managed = (
        ManagedCertificate.objects.visible_to(user)
        .filter(pk=payload.managed_certificate)
        .select_related("client")
        .first()
    )
    if managed is None:
        raise errors.invalid(errors.problem("managed_certificate", "Unknown managed certificate."))
    problem = targets.permission_problem(
        user, managed.client, [DeploymentTarget(kind=payload.kind)]
    )
    if problem:
        raise errors.forbidden(problem)
    data = {k: v for k, v in payload.dict().items() if v is not None and v is not False}
    data.pop("managed_certificate")
    form = TargetForm(data, managed=managed, user=user)
    if not form.is_valid():
        raise errors.invalid_form(form)
    target = targets.save_target(form.save(commit=False), before=None, actor=user, request=request)
    return Status(201, get_object_or_404(_targets(request), pk=target.pk))


@router.get("/deployments", response=list[DeploymentOut], summary="List deployments")
@paginate
def list_deployments(
    request: HttpRequest,
    target: int | None = Query(None, ge=1, le=MAX_ID),
    managed_certificate: int | None = Query(None, ge=1, le=MAX_ID),
    state: str | None = None,
    client: str | None = None,
):
    qs = _deployments(request)
    if target:
        qs = qs.filter(target_id=target)
    if managed_certificate:
        qs = qs.filter(target__managed_id=managed_certificate)
    if state:
        qs = qs.filter(state=state)
    if client:
        qs = qs.filter(target__managed__client__code=client)
    return qs.order_by("-created_at", "-pk")


@router.get(
    "/deployments/{deployment_id}",
    response={200: DeploymentOut, 404: Error},
    summary="Read a deployment",
)
def get_deployment(request: HttpRequest, deployment_id: int):
    return get_object_or_404(_deployments(request), pk=deployment_id)


@router.post(
    "/deployments",
    response={201: DeploymentOut, 403: Error, 409: Error, 422: Error},
    summary="Queue a deployment of the current certificate",
    description="Provider staff. Installs the managed certificate's current certificate on the "
    "target at the next pass (or now, with `/deployments/{id}/deploy`). 409: nothing to deploy "
    "yet, or a deployment to the target is already under way.",
)
def create_deployment(request: HttpRequest, payload: DeploymentIn):
    user = request.auth
    target = _targets(request).filter(pk=payload.target).first()
    if target is None:
        raise errors.invalid(errors.problem("target", "Unknown deployment target."))
    managed = target.managed
    require_change(request.auth, managed)
    if managed.certificate_id is None:
        raise errors.conflict("This certificate has not been issued yet: nothing to deploy.")
    now = timezone.now()
    with transaction.atomic():
        if Deployment.objects.filter(target=target, state__in=OPEN_DEPLOYMENT_STATES).exists():
            raise errors.conflict("A deployment to this target is already under way.")
        deployment = Deployment.objects.create(
            target=target,
            certificate_id=managed.certificate_id,
            created_by=user,
            created_at=now,
            next_attempt_at=now,
            log=[{"at": now.isoformat(), "step": "queued", "detail": "API"}],
        )
        audit.record(
            "deployment.create",
            deployment,
            actor=user,
            request=request,
            changes={"target": target.pk, "certificate": managed.certificate_id},
            client_id=managed.client_id,
        )
    return Status(201, get_object_or_404(_deployments(request), pk=deployment.pk))


@router.post(
    "/deployments/{deployment_id}/deploy",
    response={200: DeploymentOut, 403: Error, 404: Error, 409: Error},
    summary="Run a deployment now",
    description="Provider staff. Runs a pending deployment (or retries a failed one) now and "
    "returns it finished: `succeeded`, or `rolled_back` with its error. 409: it succeeded "
    "already, or another worker is running it.",
)
def run_deployment(request: HttpRequest, deployment_id: int):
    deployment = get_object_or_404(_deployments(request), pk=deployment_id)
    require_change(request.auth, deployment.target.managed)
    if deployment.state == "succeeded":
        raise errors.conflict("This deployment succeeded already.")
    audit.record(
        "deployment.run",
        deployment,
        actor=request.auth,
        request=request,
        changes={"state": deployment.state},
        client_id=deployment.target.managed.client_id,
    )
    before = deployment.state, deployment.attempts
    done = deploy.run_deployment(deployment.pk)
    if (done.state, done.attempts) == before:
        raise errors.conflict("Another worker is running this deployment, or it cannot run now.")
    return get_object_or_404(_deployments(request), pk=done.pk)
