"""Configuration from ``MAMORI_*`` environment variables.

Every setting Mamori reads is declared once in :data:`VARIABLES`, with its default and a one-line
description; the README's configuration table lists the same names (a test keeps the two in step).
Each variable can also be read from a file named by ``MAMORI_<NAME>_FILE`` so that secrets can come
from Docker/systemd credentials instead of the environment. When both are set, the plain variable
wins.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


class ConfigError(Exception):
    """A ``MAMORI_*`` variable holds a value Mamori cannot use; the message names it."""


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    description: str


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in [
        Variable(
            "DATA_DIR",
            "~/.local/share/mamori",
            "Where the embedded database, the generated secret key and uploads live.",
        ),
        Variable(
            "DATABASE_URL",
            "sqlite:///$MAMORI_DATA_DIR/mamori.sqlite3",
            "Database URL: sqlite:///path or postgres://user:pass@host:5432/name.",
        ),
        Variable(
            "SECRET_KEY",
            "(generated into $MAMORI_DATA_DIR/secret_key)",
            "Django secret key for sessions and signed links.",
        ),
        Variable(
            "ALLOWED_HOSTS",
            "127.0.0.1,localhost,[::1]",
            "Comma-separated host names the web UI answers to.",
        ),
        Variable(
            "BASE_URL",
            "http://127.0.0.1:8000",
            "Public URL of the web UI, used for links in e-mails.",
        ),
        Variable(
            "LISTEN",
            "127.0.0.1:8000",
            "Address and port `mamori serve` listens on.",
        ),
        Variable(
            "METRICS_LISTEN",
            "",
            "Address and port where `mamori serve` also answers GET /metrics for Prometheus "
            "without a token (e.g. 10.0.0.5:9464), for a Prometheus on the same private "
            "network; empty: only /metrics of the web UI, with an API token (docs/metrics.md).",
        ),
        Variable(
            "EMAIL_URL",
            "console://",
            "Outgoing mail: smtp://host:port, smtp+tls://user:pass@host:587 (STARTTLS), "
            "smtp+ssl://user:pass@host:465, or console:// (print to the log).",
        ),
        Variable("EMAIL_FROM", "mamori@localhost", "Sender address of every notice."),
        Variable(
            "PROVIDER_NAME",
            "Mamori",
            "Your company's name, used to sign notices to clients.",
        ),
        Variable(
            "OPERATOR_EMAILS",
            "",
            "Comma-separated extra addresses that receive operator notices, besides "
            "provider staff accounts with an e-mail address.",
        ),
        Variable(
            "OPERATOR_CHANNELS",
            "",
            "Comma-separated chat channels that receive operator notices: Apprise URLs "
            "(slack://, workflows://, discord://, line://, json://) or chatwork://TOKEN@ROOM.",
        ),
        Variable(
            "CHATWORK_API_URL",
            "https://api.chatwork.com/v2",
            "Base URL of the Chatwork API used by Chatwork channels.",
        ),
        Variable(
            "ALLOW_PRIVATE_NETWORKS",
            "",
            "Comma-separated non-public networks in CIDR form (e.g. 10.0.0.0/8,fd00::/8) that "
            "Mamori may connect to for any endpoint, chat channel, seal page and AIA, OCSP or "
            "CRL URL; empty: only public addresses, unless the provider's staff allowed the "
            "record (docs/access.md).",
        ),
        Variable(
            "CA_BUNDLE",
            "",
            "PEM file of extra trust anchors (private CAs) used when verifying endpoints.",
        ),
        Variable(
            "LANGUAGE",
            "ja",
            "Default language of the UI, of notices and of the command line: ja or en.",
        ),
        Variable("TIME_ZONE", "Asia/Tokyo", "Time zone for dates shown and in notices."),
        Variable(
            "CHECK_INTERVAL",
            "21600",
            "Default seconds between two checks of an endpoint (6 hours).",
        ),
        Variable(
            "EXPIRY_NOTICE_DAYS",
            "90,60,30,14,7,3,1",
            "Default expiry notice schedule (days before expiry) for contracts that set none.",
        ),
        Variable(
            "CONTRACT_NOTICE_REMINDER_DAYS",
            "30",
            "Days before a contract's notice deadline to remind operators and contacts (once per "
            "term; a terms profile may set its own; 0: none).",
        ),
        Variable(
            "ESTIMATE_VALID_DAYS",
            "30",
            "Days an estimate (見積書) stays open for the client's answer, from its issue date, "
            "unless the operator sets another date.",
        ),
        Variable(
            "MASTER_KEY",
            "(generated into $MAMORI_DATA_DIR/master_key by `mamori serve` or the first command on "
            "the data)",
            "Vault master key (base64, 32 bytes) that wraps every secret's data key. Keep it "
            "outside the database and its backups; use MAMORI_MASTER_KEY_FILE.",
        ),
        Variable(
            "KEYSTORE_URL",
            "sqlite:///$MAMORI_DATA_DIR/keystore.sqlite3",
            "Database of the vault's wrapped data keys, apart from the main database so that "
            "destroyed secrets stay destroyed in old backups. Back it up separately, briefly.",
        ),
        Variable(
            "SESSION_HOURS",
            "12",
            "Hours of inactivity after which a web session expires.",
        ),
        Variable(
            "RESULT_RETENTION_HOURS",
            "48",
            "Hours raw uptime check results are kept; roll-ups (5-minute, hourly, daily) stay.",
        ),
        Variable(
            "MONITOR_REFERENCE_URLS",
            "",
            "Comma-separated URLs or host:port that always answer; when many checks fail to "
            "connect at once and these fail too, Mamori's own network is down, not the clients' "
            "sites (docs/monitoring.md).",
        ),
        Variable(
            "PROBE_PROCESSES",
            "(number of CPU cores)",
            "Processes that run the uptime checks of `mamori serve` (embedded mode), each with up "
            "to 500 checks in flight; 0 runs them in a thread of the serve process instead.",
        ),
        Variable(
            "BROKER_URL",
            "",
            "Redis URL of the Celery broker (redis://host:6379/0) for the scaled-out mode "
            "(`mamori scheduler` and `mamori worker`, see docs/scaling.md); empty: embedded mode.",
        ),
        Variable(
            "BROKER_VISIBILITY_TIMEOUT",
            "600",
            "Seconds after which Redis gives a task taken by a worker that died to another "
            "worker; longer than the longest batch of checks.",
        ),
        Variable(
            "DISPATCH_TIMEOUT",
            "300",
            "Seconds a batch of checks handed to the workers may wait in the queue before "
            "`mamori scheduler` hands its runs out again.",
        ),
        Variable(
            "DEPLOY_ROOTS",
            "",
            "Comma-separated directories on the Mamori host under which local deployment "
            "targets and HTTP-01 webroots may write (never the data directory); empty: no "
            "local targets (docs/access.md).",
        ),
        Variable(
            "BACKUP_ROOTS",
            "",
            "Comma-separated directories on the Mamori host that backup jobs run on the Mamori "
            "host may back up, keep a local repository in and restore into; empty: such jobs "
            "only reach SFTP repositories and back up nothing local (docs/backups.md).",
        ),
        Variable(
            "DEPLOY_COMMANDS",
            "",
            "The reload commands deployment targets may run after installing a certificate, "
            'separated by ";" or line breaks, words split and quoted as in a shell (e.g. '
            '"systemctl reload nginx; nginx -s reload"); run without a shell; empty: none.',
        ),
        Variable(
            "SUPPORT_HOURS",
            "10:00-18:00",
            "Support hours (Asia/Tokyo) of contracts that set none of their own; targets are "
            "measured in this business time (docs/desk-hours.md).",
        ),
        Variable(
            "SUPPORT_WEEKDAYS",
            "mon-fri",
            "Days of the week with support, for contracts that set none (e.g. mon-fri or "
            "mon-fri,sat); Japanese public holidays and the provider's closed days never are.",
        ),
        Variable(
            "DESK_FIRST_RESPONSE_MINUTES",
            "240",
            "Default first-response target of a request, in business minutes.",
        ),
        Variable(
            "DESK_RESOLUTION_MINUTES",
            "1440",
            "Default resolution target of a request, in business minutes (1440: three support "
            "days of 8 hours).",
        ),
        Variable(
            "DESK_ALERT_BEFORE_MINUTES",
            "60",
            "Business minutes before a request's target is missed when the operators are "
            "alerted (once per target and due time; once more when it is missed).",
        ),
        Variable(
            "DESK_IMAP_URL",
            "",
            "The work desk's mailbox, polled for client e-mails: "
            "imaps://user@host:993/INBOX (TLS), or imap://user@host:143/INBOX (STARTTLS "
            "required, plain only to a loopback address); user percent-encoded "
            "(desk%40example.jp); empty: no polling (docs/desk-mail.md).",
        ),
        Variable(
            "DESK_IMAP_PASSWORD",
            "",
            "Password of the desk's mailbox; use MAMORI_DESK_IMAP_PASSWORD_FILE.",
        ),
        Variable(
            "DESK_ADDRESS",
            "",
            "The work desk's e-mail address (its mailbox's): Mamori's e-mails about a request "
            "name it as Reply-To, and the poll ignores mail from it (docs/desk.md); empty: "
            "replies go to the sender address.",
        ),
        Variable(
            "EOL_URL",
            "https://endoflife.date/api",
            "Where end-of-life data is fetched (<url>/<product>.json, endoflife.date's API); "
            "empty: never fetched, the copy kept and shipped is used (docs/software.md).",
        ),
        Variable(
            "EOL_WARN_DAYS",
            "90",
            "Days before a product's end of life when operators are warned (once per server, "
            "product and cycle).",
        ),
        Variable(
            "WEBLOG_VISITOR_DAYS",
            "2",
            "Days a day's visitor hashes (keyed hashes of IP address and user agent, never the "
            "addresses) are kept to count each visitor once; then deleted, the counts stay.",
        ),
        Variable(
            "GEOIP_DATABASE",
            "",
            "Path of a local country database in MaxMind's format (GeoLite2-Country, "
            "GeoIP2-Country or DB-IP's IP-to-Country Lite .mmdb, kept current by e.g. "
            "geoipupdate): visitors are then counted by country (only the country code is "
            "kept); empty: no countries (docs/weblogs.md).",
        ),
        Variable(
            "ADVISORY_ECOSYSTEMS",
            "",
            "OSV ecosystems whose vulnerability data Mamori keeps and refreshes every hour, "
            "comma-separated as OSV names them (Debian:12, Ubuntu:22.04:LTS, PyPI, npm, "
            "Packagist); empty: no fetching, only data imported with `mamori advisories "
            "import` (docs/advisories.md).",
        ),
        Variable(
            "ADVISORY_SOURCE_URL",
            "https://osv-vulnerabilities.storage.googleapis.com",
            "Where the OSV dumps are fetched from: <url>/<ecosystem>/all.zip.",
        ),
        Variable(
            "WORDPRESS_FEED_URL",
            "",
            "Where the WordPress vulnerability feed (Wordfence Intelligence's JSON format) is "
            "fetched from every hour; empty: never (docs/advisories.md).",
        ),
        Variable(
            "WORDPRESS_FEED_KEY",
            "",
            "The feed's API key, sent as a bearer token; best given as MAMORI_WORDPRESS_FEED_KEY"
            "_FILE (a file readable by Mamori only). Never logged or shown.",
        ),
        Variable("DEBUG", "false", "Django debug mode; never in production."),
        Variable("LOG_LEVEL", "INFO", "Log level: DEBUG, INFO, WARNING, ERROR."),
    ]
}


def env(name: str, default: str | None = None) -> str | None:
    """Value of ``MAMORI_<name>``, else the contents of the file ``MAMORI_<name>_FILE``.

    Raises :class:`ConfigError` if the ``_FILE`` variable names a file that cannot be read.
    """
    key = f"MAMORI_{name}"
    value = os.environ.get(key)
    if value is not None and value != "":
        return value
    path = os.environ.get(f"{key}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigError(f"{key}_FILE={path}: cannot read the file ({e.strerror})") from e
    return default


def env_bool(name: str, default: bool = False) -> bool:
    raw = env(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"MAMORI_{name}={raw!r}: expected true or false")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"MAMORI_{name}={raw!r}: expected a whole number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"MAMORI_{name}={value}: must be at least {minimum}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    raw = env(name, default) or ""
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_commands(name: str) -> list[list[str]]:
    """Command lines, each as its words: separated like a shell's commands, by ``;`` outside
    quotes or by line breaks, and split into words like a shell command line (no comments, no
    expansion). Raises :class:`ConfigError` for one that cannot be read (an open quote)."""
    raw = env(name, "") or ""
    commands: list[list[str]] = []
    for line in raw.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";")
        lexer.whitespace_split = True
        lexer.commenters = ""
        words: list[str] = []
        try:
            for token in lexer:
                if token and set(token) == {";"}:
                    commands += [words] if words else []
                    words = []
                else:
                    words.append(token)
        except ValueError as e:
            raise ConfigError(f"MAMORI_{name}: {line.strip()!r} cannot be read ({e})") from None
        commands += [words] if words else []
    return commands


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A comma-separated list of IP networks in CIDR form (a bare address is one host).
    Raises :class:`ConfigError` naming the variable and the entry that is not a network."""
    networks = []
    for item in env_list(name):
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError as e:
            raise ConfigError(
                f"MAMORI_{name}: {item!r} is not a network in CIDR form such as 10.0.0.0/8 ({e})"
            ) from None
    return networks


def data_dir() -> Path:
    return Path(env("DATA_DIR", VARIABLES["DATA_DIR"].default)).expanduser()


def secret_key(directory: Path) -> str:
    """The configured secret key, or one generated once and kept in the data directory (0600)."""
    configured = env("SECRET_KEY")
    if configured:
        return configured
    path = directory / "secret_key"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # O_EXCL: two processes starting at once must end up with the same key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key)
    return key


@dataclass(frozen=True)
class EmailConfig:
    backend: str
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    timeout: int = 30


def parse_email_url(url: str) -> EmailConfig:
    """Turn ``MAMORI_EMAIL_URL`` into Django e-mail settings.

    ``smtp://`` is plain SMTP (port 25), ``smtp+tls://`` uses STARTTLS (587), ``smtp+ssl://``
    implicit TLS (465), ``console://`` writes messages to standard output. User and password are
    percent-decoded. ``?timeout=N`` sets the socket timeout.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    query = parse_qs(parts.query)
    try:
        timeout = int(query.get("timeout", ["30"])[0])
    except ValueError:
        raise ConfigError("MAMORI_EMAIL_URL: timeout must be a number of seconds") from None
    if scheme == "console":
        return EmailConfig(backend="django.core.mail.backends.console.EmailBackend")
    defaults = {"smtp": 25, "smtp+tls": 587, "smtp+ssl": 465}
    if scheme not in defaults:
        raise ConfigError(
            f"MAMORI_EMAIL_URL: unknown scheme {scheme!r}; use smtp, smtp+tls, smtp+ssl or console"
        )
    if not parts.hostname:
        raise ConfigError("MAMORI_EMAIL_URL: no host given")
    try:
        port = parts.port or defaults[scheme]
    except ValueError:
        raise ConfigError("MAMORI_EMAIL_URL: the port is not a number") from None
    return EmailConfig(
        backend="django.core.mail.backends.smtp.EmailBackend",
        host=parts.hostname,
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_tls=scheme == "smtp+tls",
        use_ssl=scheme == "smtp+ssl",
        timeout=timeout,
    )
