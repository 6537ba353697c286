"""Forms of the access pages: users, passwords, codes, contacts, officers, tokens, the policy."""

from __future__ import annotations

import secrets
import string
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from mamori.access import services
from mamori.access.models import AccessPolicy, InformationOfficer
from mamori.clients.models import Client
from mamori.core.models import PROVIDER_ROLES, User

GENERATED_PASSWORD_LENGTH = 20


def generate_password() -> str:
    """A random password of letters and digits (about 119 bits), easy to copy exactly."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(GENERATED_PASSWORD_LENGTH))


class CodeForm(forms.Form):
    """A six-digit authenticator code, or a recovery code where allowed."""

    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autofocus": True,
                "class": "mono",
                "spellcheck": "false",
            }
        ),
    )


class InitialPasswordMixin(forms.Form):
    """An initial password set by an administrator, or generated (shown once) when left blank."""

    password1 = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Leave both empty to generate a password, shown once after saving."),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_initial_password(self, user: User) -> str | None:
        """Validate the typed password against ``user``; ``None`` means generate one."""
        first = self.cleaned_data.get("password1") or ""
        second = self.cleaned_data.get("password2") or ""
        if not first and not second:
            return None
        if first != second:
            self.add_error("password2", _("The two passwords differ."))
            return None
        try:
            password_validation.validate_password(first, user)
        except forms.ValidationError as e:
            self.add_error("password1", e)
        return first


class UserForm(forms.ModelForm):
    """A user as an administrator sees it. The role choices are those the actor may give
    (:func:`mamori.access.services.assignable_roles`); the client is fixed by the page."""

    class Meta:
        model = User
        fields = [
            "username",
            "first_name",
            "last_name",
            "email",
            "language",
            "role",
            "assigned_clients",
            "is_active",
        ]
        labels = {"is_active": _("Active (may sign in)")}
        help_texts = {
            "username": _(
                "Letters, digits and @ . + - _ only. Upper and lower case, and full-width and "
                "half-width characters, make the same name: it is saved in lower case, half-width."
            )
        }
        widgets = {"assigned_clients": forms.CheckboxSelectMultiple}

    def __init__(
        self, *args: Any, actor: User, client: Client | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        target = self.instance if self.instance.pk else None
        self.actor = actor
        self.client = client if target is None else target.client
        client_user = self.client is not None
        roles = services.assignable_roles(actor, target, client_user=client_user)
        self.fields["role"].choices = [(r.value, r.label) for r in roles]
        self.fields["email"].required = True
        if target is None:
            # Set before validation: the model's constraint wants a client for client roles.
            self.instance.client = client
        else:
            self.fields["username"].disabled = True
        if target is None or target.pk == actor.pk:
            # Nobody deactivates themselves; a new user starts active.
            del self.fields["is_active"]
        if client_user or not services.is_provider_admin(actor):
            del self.fields["assigned_clients"]
        else:
            self.fields["assigned_clients"].queryset = Client.objects.order_by("name")
            self.fields["assigned_clients"].help_text = _(
                "Subcontractors see only these clients. Provider staff assigned to a client may "
                "read its vault."
            )

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if self.instance.pk:
            return username  # fixed once the account exists (the field is disabled)
        return services.new_username(username)

    def clean_role(self) -> str:
        # The choices already hold only the allowed roles; checked again here because this is
        # the rule that keeps anyone from raising a role, their own or another's.
        role = self.cleaned_data["role"]
        target = self.instance if self.instance.pk else None
        roles = services.assignable_roles(self.actor, target, client_user=self.client is not None)
        if role not in {r.value for r in roles}:
            raise forms.ValidationError(_("You may not give this role."))
        if role in PROVIDER_ROLES:
            self.instance.client = None
        return role


class UserCreateForm(InitialPasswordMixin, UserForm):
    """A new user with an initial password."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        probe = User(
            username=cleaned.get("username", ""),
            email=cleaned.get("email", ""),
            first_name=cleaned.get("first_name", ""),
            last_name=cleaned.get("last_name", ""),
        )
        self.initial_password = self.clean_initial_password(probe)
        return cleaned


class AdminPasswordForm(InitialPasswordMixin):
    """An administrator sets another user's password, or generates one."""

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self.new_password = self.clean_initial_password(self.user)
        return cleaned


class OfficerForm(forms.ModelForm):
    """One officer slot; an empty name leaves the slot empty."""

    class Meta:
        model = InformationOfficer
        fields = ["name", "title", "email", "phone"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        others = [cleaned.get(f) for f in ("title", "email", "phone")]
        if not cleaned.get("name") and any(others):
            self.add_error("name", _("Name the officer, or clear the other fields."))
        return cleaned

    @property
    def is_empty(self) -> bool:
        return not self.cleaned_data.get("name")


class TokenForm(forms.Form):
    name = forms.CharField(label=_("What it is for"), max_length=100)
    expires_days = forms.IntegerField(
        label=_("Expires after (days)"),
        min_value=1,
        max_value=3650,
        required=False,
        help_text=_("Leave empty for a token that does not expire."),
    )


class PolicyForm(forms.ModelForm):
    class Meta:
        model = AccessPolicy
        fields = ["provider_name", "require_staff_2fa"]
