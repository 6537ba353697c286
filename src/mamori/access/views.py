"""Pages of the access app: the second sign-in step, one's own account (password, authenticator,
API tokens), user and contact management, information-handling officers, the provider settings.

Objects are fetched through what the user may see first (404 for anyone else's) and the right to
change them is checked second (403), as everywhere in Mamori. Every change is audited; passwords,
secrets, codes and token values never are.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from mamori.access import services, signin, throttle
from mamori.access.forms import (
    AdminPasswordForm,
    CodeForm,
    OfficerForm,
    PolicyForm,
    TokenForm,
    UserCreateForm,
    UserForm,
    generate_password,
)
from mamori.access.models import (
    OFFICERS_REQUIRED,
    AccessPolicy,
    InformationOfficer,
    OfficerPosition,
    TwoFactor,
)
from mamori.clients.models import Client, Contact, NoticeTopic
from mamori.core import audit
from mamori.core.models import PROVIDER_ROLES, ApiToken, Role, User
from mamori.core.permissions import may_change
from mamori.core.tokens import create_token

PAGE_SIZE = 50
# What the audit trail records of a user: never the password.
USER_AUDIT_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "language",
    "role",
    "is_active",
)


def locked_message() -> str:
    # Deliberately the same whether or not the user name exists.
    return _("Too many failed attempts. Sign-in is paused for 15 minutes; try again later.")


# --- Second sign-in step ----------------------------------------------------------------------


@never_cache
def login_code(request: HttpRequest) -> HttpResponse:
    """Sign in, step two: a code from the authenticator, or a recovery code."""
    state = signin.pending(request, signin.CODE)
    if state is None:
        return redirect("login")
    username = state.user.get_username()
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        if throttle.locked_until(username, audit.source_ip(request)):
            signin.cancel(request)
            signin.failed(request, username, count=False)
            messages.error(request, locked_message())
            return redirect("login")
        if form.is_valid():
            method = services.verify_second_factor(state.user, form.cleaned_data["code"])
            if method is not None:
                signin.complete(request, state)
                if method == "recovery":
                    audit.record("user.recovery_code_used", state.user, request=request)
                    messages.warning(
                        request,
                        _("You signed in with a recovery code; %(n)s remain.")
                        % {"n": services.remaining_recovery_codes(state.user)},
                    )
                return redirect(state.next_url or "dashboard")
        signin.failed(request, username)
        if throttle.locked_until(username, audit.source_ip(request)):
            # Back to the start: the password must be given again once the lock ends.
            signin.cancel(request)
            messages.error(request, locked_message())
            return redirect("login")
        form.add_error("code", _("This code is not valid. Check the time on your phone."))
    return render(request, "access/login_code.html", {"form": form})


@never_cache
def login_enrol(request: HttpRequest) -> HttpResponse:
    """Sign in, step two under the 2FA policy: set up an authenticator before going anywhere."""
    state = signin.pending(request, signin.ENROL)
    if state is None:
        return redirect("login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.confirm_enrolment(state.user, form.cleaned_data["code"])
        if codes is not None:
            signin.complete(request, state)
            audit.record("user.2fa_enable", state.user, request=request)
            return render(
                request,
                "access/recovery_codes.html",
                {"codes": codes, "next_url": state.next_url or "/"},
            )
        form.add_error("code", _("This code is not valid. Check the time on your phone."))
    return render(request, "access/login_enrol.html", _enrolment_context(state.user, form))


def _enrolment_context(user: User, form: CodeForm) -> dict[str, Any]:
    _row, secret = services.begin_enrolment(user)
    uri = services.provisioning_uri(user, secret)
    return {
        "form": form,
        "qr_svg": services.qr_svg(uri),
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    }


# --- One's own account ------------------------------------------------------------------------


@login_required
def account_security(request: HttpRequest) -> HttpResponse:
    """The signed-in user's own account: password, authenticator and API tokens."""
    user = request.user
    context = {
        "two_factor": services.active_two_factor(user),
        "two_factor_required": services.requires_two_factor(user),
        "recovery_remaining": services.remaining_recovery_codes(user),
        "tokens": ApiToken.objects.filter(user=user).order_by("-created_at"),
        "token_form": TokenForm(),
        "code_form": CodeForm(),
        "now": timezone.now(),
    }
    return render(request, "access/account.html", context)


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        # Other sessions of this user end (their hash no longer matches); this one stays.
        update_session_auth_hash(request, user)
        audit.record("user.password_change", user, request=request)
        messages.success(request, _("Your password has been changed."))
        return redirect("account_security")
    return render(request, "access/password_change.html", {"form": form})


@never_cache
@login_required
def totp_enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator: scan the QR code, confirm with a code, get recovery codes."""
    if services.has_two_factor(request.user):
        messages.info(request, _("Two-factor authentication is already on."))
        return redirect("account_security")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.confirm_enrolment(request.user, form.cleaned_data["code"])
        if codes is not None:
            audit.record("user.2fa_enable", request.user, request=request)
            return render(
                request,
                "access/recovery_codes.html",
                {"codes": codes, "next_url": "/account/"},
            )
        form.add_error("code", _("This code is not valid. Check the time on your phone."))
    return render(request, "access/totp_enrol.html", _enrolment_context(request.user, form))


def _check_own_code(request: HttpRequest) -> bool:
    form = CodeForm(request.POST)
    if form.is_valid() and services.verify_second_factor(request.user, form.cleaned_data["code"]):
        return True
    messages.error(request, _("This code is not valid. Nothing was changed."))
    return False


@login_required
@require_POST
def totp_disable(request: HttpRequest) -> HttpResponse:
    """Turn two-factor authentication off; needs a current code or a recovery code."""
    if services.requires_two_factor(request.user):
        messages.error(
            request,
            _("Two-factor authentication is required for provider staff and cannot be turned off."),
        )
    elif _check_own_code(request):
        services.disable_two_factor(request.user)
        audit.record("user.2fa_disable", request.user, request=request)
        messages.success(request, _("Two-factor authentication is off."))
    return redirect("account_security")


@never_cache
@login_required
@require_POST
def recovery_codes_renew(request: HttpRequest) -> HttpResponse:
    if not services.has_two_factor(request.user) or not _check_own_code(request):
        return redirect("account_security")
    codes = services.new_recovery_codes(request.user)
    audit.record("user.recovery_codes_renew", request.user, request=request)
    return render(request, "access/recovery_codes.html", {"codes": codes, "next_url": "/account/"})


@never_cache
@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    """Create an API token of one's own; its value is shown on this one response only."""
    form = TokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Name the token to create it."))
        return redirect("account_security")
    days = form.cleaned_data["expires_days"]
    expires_at = timezone.now() + timedelta(days=days) if days else None
    # The concrete user, not the request's lazy wrapper: it becomes the token's foreign key.
    owner = User.objects.get(pk=request.user.pk)
    token, value = create_token(owner, form.cleaned_data["name"], expires_at=expires_at)
    audit.record(
        "api_token.create",
        token,
        request=request,
        client_id=request.user.client_id,
        changes={"user": request.user.get_username(), "name": token.name, "prefix": token.prefix},
    )
    return render(request, "access/token_created.html", {"token": token, "value": value})


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.filter(user=request.user), pk=pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            "api_token.revoke",
            token,
            request=request,
            client_id=request.user.client_id,
            changes={"user": request.user.get_username(), "prefix": token.prefix},
        )
        messages.success(request, _("Token %(prefix)s… revoked.") % {"prefix": token.prefix})
    return redirect("account_security")


# --- Users ------------------------------------------------------------------------------------


def _user_values(user: User) -> dict[str, Any]:
    values = {name: getattr(user, name) for name in USER_AUDIT_FIELDS}
    values["client"] = user.client_id
    return values


def _managed_user(request: HttpRequest, pk: int) -> User:
    """A user the caller may see (else 404) and manage (else 403)."""
    target = get_object_or_404(services.visible_users(request.user), pk=pk)
    if not services.may_manage(request.user, target):
        raise PermissionDenied
    return target


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    """The users the caller may see; administrators get links to manage them."""
    actor = request.user
    users = services.visible_users(actor).annotate(
        has_2fa=Exists(TwoFactor.objects.filter(user=OuterRef("pk"), confirmed_at__isnull=False))
    )
    query = request.GET.get("q", "").strip()
    if query:
        users = users.filter(
            Q(username__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(email__icontains=query)
            | Q(client__name__icontains=query)
        )
    page = Paginator(users.order_by("client__name", "role", "username"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    manageable = set(services.manageable_users(actor).values_list("pk", flat=True))
    for user in page:
        user.manageable = user.pk in manageable
    own_client = actor.client if actor.role == Role.CLIENT_ADMIN else None
    context = {
        "page": page,
        "query": query,
        "is_provider_admin": services.is_provider_admin(actor),
        "own_client": own_client,
    }
    return render(request, "access/user_list.html", context)


def _password_shown(request: HttpRequest, target: User, password: str) -> HttpResponse:
    response = render(
        request, "access/password_shown.html", {"target": target, "password": password}
    )
    response["Cache-Control"] = "no-store"
    return response


def _create_user(request: HttpRequest, client: Client | None) -> HttpResponse:
    form = UserCreateForm(request.POST or None, actor=request.user, client=client)
    if request.method == "POST" and form.is_valid():
        generated = form.initial_password is None
        password = generate_password() if generated else form.initial_password
        with transaction.atomic():
            user = form.save(commit=False)
            user.set_password(password)
            user.save()
            form.save_m2m()
            changes = _user_values(user)
            changes["assigned_clients"] = sorted(user.assigned_clients.values_list("pk", flat=True))
            audit.record("user.create", user, request=request, changes=changes)
        if generated:
            return _password_shown(request, user, password)
        messages.success(request, _("User %(name)s created.") % {"name": user.get_username()})
        return redirect("user_list")
    return render(request, "access/user_form.html", {"form": form, "client": client})


@login_required
def staff_create(request: HttpRequest) -> HttpResponse:
    """Add provider staff (provider administrators only)."""
    if not services.is_provider_admin(request.user):
        raise PermissionDenied
    return _create_user(request, None)


@login_required
def client_user_create(request: HttpRequest, code: str) -> HttpResponse:
    """Add a user to a client (its administrators, and provider administrators)."""
    client = get_object_or_404(Client.objects.visible_to(request.user), code=code)
    if not services.may_manage_client_users(request.user, client):
        raise PermissionDenied
    return _create_user(request, client)


@login_required
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    target = _managed_user(request, pk)
    before = _user_values(target)
    before_assigned = sorted(target.assigned_clients.values_list("pk", flat=True))
    form = UserForm(request.POST or None, instance=target, actor=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            changes = audit.diff(before, _user_values(user))
            assigned = sorted(user.assigned_clients.values_list("pk", flat=True))
            if assigned != before_assigned:
                changes["assigned_clients"] = [before_assigned, assigned]
            if changes:
                audit.record("user.update", user, request=request, changes=changes)
        messages.success(request, _("User %(name)s saved.") % {"name": user.get_username()})
        return redirect("user_list")
    context = {
        "form": form,
        "target": target,
        "client": target.client,
        "has_2fa": services.has_two_factor(target),
    }
    return render(request, "access/user_form.html", context)


@never_cache
@login_required
def user_password(request: HttpRequest, pk: int) -> HttpResponse:
    """Set another user's password, or generate one shown once."""
    target = _managed_user(request, pk)
    form = AdminPasswordForm(request.POST or None, user=target)
    if request.method == "POST" and form.is_valid():
        generated = form.new_password is None
        password = generate_password() if generated else form.new_password
        target.set_password(password)
        target.save(update_fields=["password"])
        audit.record("user.password_set", target, request=request)
        if generated:
            return _password_shown(request, target, password)
        messages.success(request, _("Password of %(name)s set.") % {"name": target.get_username()})
        return redirect("user_edit", pk=target.pk)
    return render(request, "access/user_password.html", {"form": form, "target": target})


@login_required
@require_POST
def user_reset_2fa(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a user's authenticator (a lost phone): they set up a new one."""
    target = _managed_user(request, pk)
    services.disable_two_factor(target)
    audit.record("user.2fa_reset", target, request=request)
    messages.success(
        request,
        _("Two-factor authentication of %(name)s was reset.") % {"name": target.get_username()},
    )
    return redirect("user_edit", pk=target.pk)


# --- A client's people ------------------------------------------------------------------------


def _visible_client(request: HttpRequest, code: str) -> Client:
    return get_object_or_404(Client.objects.visible_to(request.user), code=code)


@login_required
def client_access(request: HttpRequest, code: str) -> HttpResponse:
    """A client's users, contacts and officers, for those who manage them."""
    client = _visible_client(request, code)
    actor = request.user
    may_users = services.may_manage_client_users(actor, client)
    may_contacts = may_change(actor, client, Contact.change_rule)
    if not (may_users or may_contacts):
        raise PermissionDenied
    contacts = list(Contact.objects.visible_to(actor).filter(client=client))
    topics = dict(NoticeTopic.choices)
    for contact in contacts:
        contact.topics = [str(topics.get(t, t)) for t in contact.notify]
    officers = services.officers_of(client)
    users = User.objects.filter(client=client).annotate(
        has_2fa=Exists(TwoFactor.objects.filter(user=OuterRef("pk"), confirmed_at__isnull=False))
    )
    context = {
        "client": client,
        "users": users.order_by("role", "username"),
        "contacts": contacts,
        "officers": officers,
        "officers_missing": len(officers) < OFFICERS_REQUIRED,
        "may_users": may_users,
        "may_contacts": may_contacts,
        "may_officers": services.may_edit_officers(actor, client),
    }
    return render(request, "access/client_access.html", context)


# A client's contacts are added, changed and deleted on the pages of the client's records
# (mamori.clients.record_views), through the write path the import and the API share.


# --- Information-handling officers (ACC-02) ---------------------------------------------------


def _officer_forms(request: HttpRequest, client: Client | None) -> list[tuple[Any, OfficerForm]]:
    existing = {o.position: o for o in services.officers_of(client)}
    forms = []
    for position in OfficerPosition:
        instance = existing.get(position.value) or InformationOfficer(
            client=client, position=position.value
        )
        form = OfficerForm(
            request.POST or None, instance=instance, prefix=f"officer{position.value}"
        )
        forms.append((position, form))
    return forms


def _save_officers(
    request: HttpRequest, client: Client | None, forms: list[tuple[Any, OfficerForm]]
) -> None:
    """Save filled slots and clear emptied ones, with one audit event per changed slot."""
    fields = ("name", "title", "email", "phone")
    with transaction.atomic():
        for position, form in forms:
            instance = form.instance
            before = {f: getattr(instance, f) for f in fields} if instance.pk else {}
            if form.is_empty:
                if instance.pk:
                    audit.record(
                        "officer.delete",
                        instance,
                        request=request,
                        client_id=client and client.pk,
                        changes={"position": position.value, **before},
                    )
                    instance.delete()
                continue
            officer = form.save()
            changes = audit.diff(before, {f: getattr(officer, f) for f in fields})
            if changes:
                audit.record(
                    "officer.update" if before else "officer.create",
                    officer,
                    request=request,
                    client_id=client and client.pk,
                    changes={"position": position.value, **changes},
                )


@login_required
def client_officers(request: HttpRequest, code: str) -> HttpResponse:
    """Edit a client's two information-handling officers."""
    client = _visible_client(request, code)
    if not services.may_edit_officers(request.user, client):
        raise PermissionDenied
    forms = _officer_forms(request, client)
    if request.method == "POST" and all(form.is_valid() for _p, form in forms):
        _save_officers(request, client, forms)
        messages.success(request, _("Information-handling officers saved."))
        return redirect(client)
    return render(request, "access/officers_form.html", {"forms": forms, "client": client})


# --- The provider's own settings --------------------------------------------------------------


def _sign_out_staff_without_2fa() -> int:
    """End the sessions of provider staff who have no authenticator, so that the policy applies
    at once: they set one up at their next sign-in. Returns how many sessions ended."""
    staff = set(
        User.objects.filter(role__in=sorted(PROVIDER_ROLES))
        .exclude(two_factor__confirmed_at__isnull=False)
        .values_list("pk", flat=True)
    )
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        user_id = session.get_decoded().get("_auth_user_id")
        if user_id is not None and int(user_id) in staff:
            session.delete()
            ended += 1
    return ended


@login_required
def provider_settings(request: HttpRequest) -> HttpResponse:
    """The provider's officers and access policy (provider administrators only)."""
    if not services.is_provider_admin(request.user):
        raise PermissionDenied
    policy = AccessPolicy.current()
    was_required = policy.require_staff_2fa
    policy_form = PolicyForm(request.POST or None, instance=policy, prefix="policy")
    forms = _officer_forms(request, None)
    if (
        request.method == "POST"
        and policy_form.is_valid()
        and all(form.is_valid() for _p, form in forms)
    ):
        with transaction.atomic():
            policy = policy_form.save()
            if policy.require_staff_2fa != was_required:
                audit.record(
                    "access_policy.update",
                    policy,
                    request=request,
                    changes={"require_staff_2fa": [was_required, policy.require_staff_2fa]},
                )
            _save_officers(request, None, forms)
        if policy.require_staff_2fa and not was_required:
            ended = _sign_out_staff_without_2fa()
            if ended:
                messages.info(
                    request,
                    _("%(n)s sessions of staff without two-factor authentication were ended.")
                    % {"n": ended},
                )
        messages.success(request, _("Provider settings saved."))
        return redirect("provider_settings")
    context = {
        "policy_form": policy_form,
        "forms": forms,
        "staff_without_2fa": User.objects.filter(role__in=sorted(PROVIDER_ROLES), is_active=True)
        .exclude(two_factor__confirmed_at__isnull=False)
        .order_by("username"),
    }
    return render(request, "access/provider_settings.html", context)
