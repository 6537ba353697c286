"""``mamori token create|list|revoke``: API tokens for scripts and integrations.

The token value is printed once, at creation; only its hash is stored.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.core import audit
from mamori.core.models import ApiToken, User
from mamori.core.tables import table
from mamori.core.tokens import create_token


class Command(BaseCommand):
    help = "Create, list and revoke API tokens (Authorization: Bearer <token>)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        create = actions.add_parser("create", help="Create a token and print it once.")
        create.add_argument("username")
        create.add_argument("--name", default="", help="What the token is for (default: api).")
        create.add_argument(
            "--expires-days", type=int, default=None, help="Expire after this many days."
        )
        listing = actions.add_parser("list", help="List a user's tokens (never their values).")
        listing.add_argument("username")
        revoke = actions.add_parser("revoke", help="Revoke the token with this prefix.")
        revoke.add_argument("prefix", help="The prefix shown by 'list', e.g. mamori_AbCd.")

    def handle(self, *args, **options) -> None:
        action = options["action"]
        if action == "create":
            self.create(options["username"], options["name"] or "api", options["expires_days"])
        elif action == "list":
            self.list(options["username"])
        else:
            self.revoke(options["prefix"])

    def user(self, username: str) -> User:
        try:
            return User.objects.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(f"no user named {username!r}") from None

    def create(self, username: str, name: str, expires_days: int | None) -> None:
        user = self.user(username)
        if not user.is_active:
            raise CommandError(f"user {username!r} is inactive")
        expires_at = None
        if expires_days is not None:
            if expires_days < 1:
                raise CommandError("--expires-days must be at least 1")
            expires_at = timezone.now() + timedelta(days=expires_days)
        token, value = create_token(user, name[:100], expires_at=expires_at)
        audit.record(
            "api_token.create",
            token,
            actor_label=SYSTEM_LABEL,
            client_id=user.client_id,
            changes={"user": user.get_username(), "name": token.name, "prefix": token.prefix},
        )
        self.stdout.write(value)
        expiry = f", expires {_when(expires_at)}" if expires_at else ""
        self.stderr.write(
            f"Token {token.prefix}… for {user.get_username()} ({token.name}{expiry}). "
            "Store it now: it is not shown again."
        )

    def list(self, username: str) -> None:
        user = self.user(username)
        tokens = ApiToken.objects.filter(user=user).order_by("-created_at")
        if not tokens:
            self.stdout.write(f"{username} has no API tokens.")
            return
        now = timezone.now()
        rows = []
        for t in tokens:
            if t.revoked_at:
                state = _("revoked")
            elif t.expires_at and t.expires_at <= now:
                state = _("expired")
            else:
                state = _("active")
            rows.append(
                (
                    t.prefix,
                    t.name,
                    _when(t.created_at),
                    _when(t.expires_at),
                    _when(t.last_used_at),
                    state,
                )
            )
        header = [_("PREFIX"), _("NAME"), _("CREATED"), _("EXPIRES"), _("LAST USED"), _("STATE")]
        for line in table(header, rows):
            self.stdout.write(line)

    def revoke(self, prefix: str) -> None:
        matches = list(ApiToken.objects.active().filter(prefix=prefix).select_related("user"))
        if not matches:
            raise CommandError(f"no active token with prefix {prefix!r}")
        if len(matches) > 1:
            owners = ", ".join(sorted({t.user.get_username() for t in matches}))
            raise CommandError(
                f"{len(matches)} active tokens share the prefix {prefix!r} ({owners}); "
                "revoke them from a shell or create new ones"
            )
        token = matches[0]
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            "api_token.revoke",
            token,
            actor_label=SYSTEM_LABEL,
            client_id=token.user.client_id,
            changes={"user": token.user.get_username(), "prefix": token.prefix},
        )
        self.stdout.write(f"Revoked {token.prefix}… ({token.name}) of {token.user.get_username()}.")


SYSTEM_LABEL = "mamori token"


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"
