"""Challenge solvers (CERT-06): how Mamori proves control of a name to an ACME CA.

``solver_for(managed)`` returns an object with ``present(challenges)`` and
``cleanup(challenges)``; both take :class:`~mamori.lifecycle.models.Challenge` rows (with
``identifier``, ``token`` and ``validation`` filled in) and set ``location`` (what was written
where). ``cleanup`` must be safe to call for rows that were never (or only partly) presented, and
is called whatever happened.

- ``http-webroot``: ``<webroot>/.well-known/acme-challenge/<token>`` on the Mamori host.
- ``http-ssh``: the same file on the managed server, over SSH (:mod:`mamori.lifecycle.ssh`).
- ``http-responder``: Mamori's own responder answers (:mod:`mamori.lifecycle.responder_urls`);
  the challenge row is the presentation.
- ``dns``: an ``_acme-challenge`` TXT record through a dns-lexicon provider, then a wait until
  every listed resolver (or the zone's name servers) answers it.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from django.utils.translation import gettext as _

from mamori.lifecycle.models import ChallengeMethod, ManagedCertificate

logger = logging.getLogger(__name__)

CHALLENGE_DIR = ".well-known/acme-challenge"


class SolverError(Exception):
    """A challenge could not be presented or cleaned up; the message says why (no secrets)."""


class Solver(Protocol):
    challenge_type: str

    def present(self, challenges: Sequence[Any]) -> None: ...

    def cleanup(self, challenges: Sequence[Any]) -> None: ...


def challenge_type_for(method: str) -> str:
    """The ACME challenge type for a challenge method: ``dns-01`` or ``http-01``."""
    return "dns-01" if method == ChallengeMethod.DNS else "http-01"


def _safe_token(token: str) -> str:
    # RFC 8555 §8.3: the token is base64url; refuse anything that could leave the directory.
    if not token or not all(c.isalnum() or c in "-_" for c in token):
        raise SolverError(_("The CA sent a challenge token that is not base64url."))
    return token


# --- HTTP-01 on the Mamori host ----------------------------------------------------------------


class WebrootSolver:
    challenge_type = "http-01"

    def __init__(self, webroot: str):
        if not webroot or not Path(webroot).is_absolute():
            raise SolverError(_("The challenge settings need an absolute 'webroot' path."))
        self.directory = Path(webroot) / CHALLENGE_DIR

    def _check(self) -> None:
        """The webroot is a local path like a local target's: under MAMORI_DEPLOY_ROOTS, never
        in Mamori's own data (checked as the files are written, links resolved)."""
        from mamori.lifecycle import targets

        problem = targets.local_path_problem(str(self.directory), directory=True)
        if problem:
            raise SolverError(f"{self.directory}: {problem}")

    def present(self, challenges: Sequence[Any]) -> None:
        self._check()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for challenge in challenges:
                path = self.directory / _safe_token(challenge.token)
                path.write_text(challenge.validation)
                path.chmod(0o644)
                challenge.location = str(path)
        except OSError as e:
            raise SolverError(
                _("Cannot write the challenge file in %(dir)s: %(error)s")
                % {"dir": self.directory, "error": e.strerror or e}
            ) from None

    def cleanup(self, challenges: Sequence[Any]) -> None:
        self._check()
        for challenge in challenges:
            if challenge.token:
                (self.directory / _safe_token(challenge.token)).unlink(missing_ok=True)


# --- HTTP-01 on the managed server, over SSH ---------------------------------------------------


class SshWebrootSolver:
    challenge_type = "http-01"

    def __init__(self, settings: dict, credential):
        self.webroot = settings.get("webroot") or ""
        if not posixpath.isabs(self.webroot):
            raise SolverError(_("The challenge settings need an absolute 'webroot' path."))
        self.host = settings.get("ssh_host") or ""
        self.port = int(settings.get("ssh_port") or 22)
        self.username = settings.get("ssh_username") or ""
        self.host_key = settings.get("ssh_host_key") or ""
        if not (self.host and self.username and self.host_key):
            raise SolverError(
                _("The challenge settings need ssh_host, ssh_username and ssh_host_key.")
            )
        if credential is None:
            raise SolverError(_("The SSH challenge needs a credential from the vault."))
        self.credential = credential
        self.directory = posixpath.join(self.webroot, CHALLENGE_DIR)

    def _path(self, challenge) -> str:
        return posixpath.join(self.directory, _safe_token(challenge.token))

    async def _present(self, challenges: Sequence[Any]) -> None:
        from mamori.lifecycle import ssh

        async with ssh.session(
            self.host, self.port, self.username, self.credential, self.host_key
        ) as session:
            await session.mkdir(self.directory)  # a site that never had a challenge lacks it
            for challenge in challenges:
                path = self._path(challenge)
                await session.write_file(path, challenge.validation.encode(), mode=0o644)
                challenge.location = f"{self.host}:{path}"

    async def _cleanup(self, challenges: Sequence[Any]) -> None:
        from mamori.lifecycle import ssh

        async with ssh.session(
            self.host, self.port, self.username, self.credential, self.host_key
        ) as session:
            for challenge in challenges:
                if challenge.token:
                    try:
                        await session.remove(self._path(challenge))
                    except Exception as e:  # a file that is not there is fine
                        logger.debug("removing %s: %s", self._path(challenge), e)

    def _resolve_login(self) -> None:
        """Read the login from the vault here, in the caller's thread, before the event loop
        runs (the vault is database work, which belongs to this thread's connection)."""
        from mamori.lifecycle import ssh

        if not isinstance(self.credential, ssh.Login):
            self.credential = ssh.resolve_login(self.credential)

    def present(self, challenges: Sequence[Any]) -> None:
        try:
            self._resolve_login()
            asyncio.run(self._present(challenges))
        except SolverError:
            raise
        except Exception as e:
            raise SolverError(
                _("Cannot write the challenge file on %(host)s: %(error)s")
                % {"host": self.host, "error": e}
            ) from None

    def cleanup(self, challenges: Sequence[Any]) -> None:
        try:
            self._resolve_login()
            asyncio.run(self._cleanup(challenges))
        except Exception as e:
            raise SolverError(
                _("Cannot remove the challenge file on %(host)s: %(error)s")
                % {"host": self.host, "error": e}
            ) from None


# --- HTTP-01 answered by Mamori itself ---------------------------------------------------------


class ResponderSolver:
    """The site forwards ``/.well-known/acme-challenge/`` to Mamori, whose responder answers
    from the challenge rows of open orders: nothing to write, nothing to remove."""

    challenge_type = "http-01"

    def present(self, challenges: Sequence[Any]) -> None:
        for challenge in challenges:
            challenge.location = f"/{CHALLENGE_DIR}/{_safe_token(challenge.token)}"

    def cleanup(self, challenges: Sequence[Any]) -> None:
        return None


# --- DNS-01 through dns-lexicon ----------------------------------------------------------------


def record_name(identifier: str) -> str:
    """The DNS-01 TXT record name for ``identifier`` (a wildcard's base name)."""
    name = identifier[2:] if identifier.startswith("*.") else identifier
    return f"_acme-challenge.{name.rstrip('.')}"


class DnsSolver:
    challenge_type = "dns-01"

    def __init__(self, settings: dict, secret_value: str | None):
        self.provider = settings.get("provider") or ""
        self.zone = (settings.get("zone") or "").rstrip(".")
        if not self.provider or not self.zone:
            raise SolverError(_("The DNS challenge settings need 'provider' and 'zone'."))
        self.options = dict(settings.get("options") or {})
        credential_option = settings.get("credential_option") or ""
        if credential_option:
            if secret_value is None:
                raise SolverError(_("The DNS challenge needs its API credential from the vault."))
            self.options[credential_option] = secret_value
        self.propagation_timeout = float(settings.get("propagation_timeout") or 120)
        self.resolvers = list(settings.get("resolvers") or [])
        self.ttl = int(settings.get("ttl") or 60)

    def _provider(self):
        from lexicon._private.discovery import load_provider_module
        from lexicon.config import ConfigResolver

        # The zone is given, so lexicon's guess of it from the public suffix list (which
        # downloads the list) is not needed: the provider is used with the zone set.
        config = ConfigResolver().with_dict(
            {
                "provider_name": self.provider,
                "domain": self.zone,
                "ttl": self.ttl,
                self.provider: self.options,
            }
        )
        try:
            provider = load_provider_module(self.provider).Provider(config)
            provider.authenticate()
        except Exception as e:
            raise SolverError(
                _("DNS provider %(provider)s: %(error)s")
                % {"provider": self.provider, "error": _scrub(e, self.options)}
            ) from None
        return provider

    def present(self, challenges: Sequence[Any]) -> None:
        provider = self._provider()
        wanted: dict[str, set[str]] = {}
        for challenge in challenges:
            name = record_name(challenge.identifier)
            try:
                provider.create_record("TXT", name, challenge.validation)
            except Exception as e:
                raise SolverError(
                    _("Cannot create the TXT record %(name)s: %(error)s")
                    % {"name": name, "error": _scrub(e, self.options)}
                ) from None
            challenge.location = name
            wanted.setdefault(name, set()).add(challenge.validation)
        self.wait_for(wanted)

    def cleanup(self, challenges: Sequence[Any]) -> None:
        provider = self._provider()
        errors = []
        for challenge in challenges:
            name = record_name(challenge.identifier)
            try:
                provider.delete_record(None, "TXT", name, challenge.validation)
            except Exception as e:
                errors.append(f"{name}: {_scrub(e, self.options)}")
        if errors:
            raise SolverError(_("Cannot remove TXT records: ") + "; ".join(errors))

    # propagation ------------------------------------------------------------------------------

    def _nameservers(self) -> list[tuple[str, int]]:
        import dns.resolver

        if self.resolvers:
            return [_host_port(r) for r in self.resolvers]
        servers = []
        for ns in dns.resolver.resolve(self.zone, "NS"):
            for addr in dns.resolver.resolve(ns.target, "A"):
                servers.append((addr.address, 53))
        return servers

    def wait_for(self, wanted: dict[str, set[str]]) -> None:
        """Return once every name server answers every wanted TXT value; SolverError after the
        propagation timeout."""
        import dns.exception
        import dns.message
        import dns.query
        import dns.rdatatype

        servers = self._nameservers()
        deadline = time.monotonic() + self.propagation_timeout
        pending = {(s, n) for s in servers for n in wanted}
        delay = 0.05

        def remaining() -> float:
            return max(0.05, deadline - time.monotonic())

        while pending:
            for server, name in sorted(pending):
                query = dns.message.make_query(name, dns.rdatatype.TXT)
                try:
                    response = dns.query.udp(
                        query, server[0], port=server[1], timeout=min(2.0, remaining())
                    )
                except (dns.exception.DNSException, OSError):
                    continue
                seen = {
                    b"".join(r.strings).decode(errors="replace")
                    for rrset in response.answer
                    if rrset.rdtype == dns.rdatatype.TXT
                    for r in rrset
                }
                if wanted[name] <= seen:
                    pending.discard((server, name))
            if not pending:
                return
            if time.monotonic() > deadline:
                names = ", ".join(sorted({n for _s, n in pending}))
                raise SolverError(
                    _("The TXT records did not propagate in time: %(names)s") % {"names": names}
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _host_port(text: str) -> tuple[str, int]:
    if text.startswith("["):
        host, _sep, port = text[1:].partition("]:")
        return host, int(port or 53)
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, 53


def _scrub(error: Exception, options: dict) -> str:
    """The error's text without any option value (a provider may echo its token)."""
    text = str(error)
    for value in options.values():
        if isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, "[redacted]")
    return text[:500]


# --- choosing ----------------------------------------------------------------------------------


def _secret_text(secret) -> str | None:
    if secret is None:
        return None
    from mamori.vault import services as vault

    return vault.decrypt_for_export(secret).decode("utf-8").strip()


def solver_for(managed: ManagedCertificate) -> Solver:
    """The solver for ``managed``'s challenge method; SolverError if it is not set up."""
    settings = managed.challenge_settings or {}
    match managed.challenge:
        case ChallengeMethod.HTTP_WEBROOT:
            return WebrootSolver(settings.get("webroot") or "")
        case ChallengeMethod.HTTP_SSH:
            return SshWebrootSolver(settings, managed.challenge_secret)
        case ChallengeMethod.HTTP_RESPONDER:
            return ResponderSolver()
        case ChallengeMethod.DNS:
            return DnsSolver(settings, _secret_text(managed.challenge_secret))
    raise SolverError(_("No challenge method is set for %(name)s.") % {"name": managed})


def cleanup_quietly(solver: Solver, challenges: Iterable[Any]) -> str:
    """Clean up, returning an error text instead of raising (cleanup runs in ``finally``)."""
    try:
        solver.cleanup(list(challenges))
    except Exception as e:
        logger.warning("challenge cleanup failed: %s", e)
        return str(e)
    return ""
