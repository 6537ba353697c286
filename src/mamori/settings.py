"""Django settings. Everything a deployment changes comes from ``MAMORI_*`` variables (see conf)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

from mamori import conf

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = conf.data_dir()

SECRET_KEY = conf.secret_key(DATA_DIR)
DEBUG = conf.env_bool("DEBUG")
ALLOWED_HOSTS = conf.env_list("ALLOWED_HOSTS", conf.VARIABLES["ALLOWED_HOSTS"].default)
BASE_URL = conf.env("BASE_URL", conf.VARIABLES["BASE_URL"].default).rstrip("/")
CSRF_TRUSTED_ORIGINS = [BASE_URL]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",
    "mamori.core",
    "mamori.clients",
    "mamori.inventory",
    "mamori.certificates",
    "mamori.notices",
    "mamori.vault",
    "mamori.access",
    "mamori.lifecycle",
    "mamori.monitoring",
    "mamori.billing",
    "mamori.desk",
    "mamori.software",
    "mamori.backups",
    "mamori.advisories",
    "mamori.retention",
    "mamori.announcements",
    "mamori.weblogs",
    "mamori.reports",
    "mamori.api",
    "mamori.operations",
]

MIDDLEWARE = [
    # First: the ACME HTTP-01 responder answers for any Host (see the module).
    "mamori.lifecycle.middleware.AcmeResponderMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before any view reads the URL: a NUL in it cannot be compared with stored text.
    "mamori.core.middleware.UnstorableInputMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "mamori.core.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "mamori.urls"
# Every @paginate list of the API pages with bounded limit/offset (mamori.api.pagination).
NINJA_PAGINATION_CLASS = "mamori.api.pagination.Pages"
WSGI_APPLICATION = "mamori.wsgi.application"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
    {
        # Plain text (notice subjects, bodies and chat messages): nothing is HTML-escaped, so
        # "R&D <Tokyo>" stays as it is. A notice's HTML part escapes that text once, in the
        # default engine (mamori.notices.services.render).
        "NAME": "text",
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"autoescape": False},
    },
]

_default_db = f"sqlite:///{DATA_DIR / 'mamori.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(conf.env("DATABASE_URL", _default_db), conn_max_age=60)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web UI read while the checker writes; IMMEDIATE makes every write
        # transaction take the lock up front, so two writers queue instead of failing mid-way.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
# The vault's keystore (wrapped data keys) lives in a database of its own, never in the main
# one: destroying a secret deletes its data key there, so a backup of the main database cannot
# bring it back (VLT-03). See mamori.vault.router and docs/vault.md.
_default_keystore = f"sqlite:///{DATA_DIR / 'keystore.sqlite3'}"
DATABASES["keystore"] = dj_database_url.parse(
    conf.env("KEYSTORE_URL", _default_keystore), conn_max_age=60
)
if DATABASES["keystore"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["keystore"]["CONN_MAX_AGE"] = 0
    DATABASES["keystore"]["OPTIONS"] = {
        # secure_delete overwrites freed pages with zeros, so a deleted data key does not linger
        # in the file; FULL sync because a lost key write means a lost secret.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
DATABASE_ROUTERS = ["mamori.vault.router.KeystoreRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id first (the strongest Django supports); the others only verify old hashes and
# upgrade them at the next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = conf.env("LANGUAGE", "ja")
if LANGUAGE_CODE not in ("ja", "en"):
    raise conf.ConfigError(f"MAMORI_LANGUAGE={LANGUAGE_CODE!r}: use ja or en")
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = conf.env("TIME_ZONE", "Asia/Tokyo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 3600 * conf.env_int("SESSION_HOURS", 12, minimum=1)
SESSION_SAVE_EVERY_REQUEST = True  # the age counts from the last request: an idle timeout
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = BASE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy on every response (django-csp): scripts, styles, images and
# connections from Mamori itself only, nothing inline (behaviour is in static/mamori/mamori.js);
# no plugins, no <base>, forms post only to Mamori, and no page may be framed. A nonce is added
# only for a response that asks for one (request.csp_nonce): the certificate of destruction,
# which must also work as a file on its own.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

_email = conf.parse_email_url(conf.env("EMAIL_URL", "console://"))
EMAIL_BACKEND = _email.backend
EMAIL_HOST = _email.host
EMAIL_PORT = _email.port
EMAIL_HOST_USER = _email.user
EMAIL_HOST_PASSWORD = _email.password
EMAIL_USE_TLS = _email.use_tls
EMAIL_USE_SSL = _email.use_ssl
EMAIL_TIMEOUT = _email.timeout
DEFAULT_FROM_EMAIL = conf.env("EMAIL_FROM", "mamori@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Mamori's own settings.
MAMORI_CA_BUNDLE = conf.env("CA_BUNDLE") or None
# Non-public networks Mamori may connect to for any record (mamori.core.outbound).
MAMORI_ALLOW_PRIVATE_NETWORKS = conf.env_networks("ALLOW_PRIVATE_NETWORKS")
MAMORI_CHECK_INTERVAL = conf.env_int("CHECK_INTERVAL", 6 * 3600, minimum=60)
MAMORI_OPERATOR_EMAILS = conf.env_list("OPERATOR_EMAILS")
MAMORI_OPERATOR_CHANNELS = conf.env_list("OPERATOR_CHANNELS")
# The work desk's address (Reply-To of replies to clients; the mailbox the desk polls).
MAMORI_DESK_ADDRESS = conf.env("DESK_ADDRESS") or ""
MAMORI_CHATWORK_API_URL = conf.env(
    "CHATWORK_API_URL", conf.VARIABLES["CHATWORK_API_URL"].default
).rstrip("/")
try:
    MAMORI_EXPIRY_NOTICE_DAYS = sorted(
        {int(d) for d in conf.env_list("EXPIRY_NOTICE_DAYS", "90,60,30,14,7,3,1")}, reverse=True
    )
except ValueError:
    raise conf.ConfigError("MAMORI_EXPIRY_NOTICE_DAYS: expected numbers such as 30,14,7") from None
MAMORI_CONTRACT_NOTICE_REMINDER_DAYS = conf.env_int("CONTRACT_NOTICE_REMINDER_DAYS", 30, minimum=0)
MAMORI_ESTIMATE_VALID_DAYS = conf.env_int("ESTIMATE_VALID_DAYS", 30, minimum=1)
MAMORI_PROVIDER_NAME = conf.env("PROVIDER_NAME", "Mamori")
MAMORI_LISTEN = conf.env("LISTEN", "127.0.0.1:8000")
MAMORI_METRICS_LISTEN = conf.env("METRICS_LISTEN") or ""
MAMORI_RESULT_RETENTION_HOURS = conf.env_int("RESULT_RETENTION_HOURS", 48, minimum=1)
MAMORI_MONITOR_REFERENCE_URLS = conf.env_list("MONITOR_REFERENCE_URLS")
MAMORI_PROBE_PROCESSES = conf.env_int("PROBE_PROCESSES", os.cpu_count() or 1, minimum=0)
# Backups run on the Mamori host (docs/backups.md): the only directories they may read, keep a
# repository in or restore into.
MAMORI_BACKUP_ROOTS = conf.env_list("BACKUP_ROOTS")
for _root in MAMORI_BACKUP_ROOTS:
    if not os.path.isabs(_root):
        raise conf.ConfigError(f"MAMORI_BACKUP_ROOTS: {_root!r} is not an absolute path")
# Deployment on the Mamori host (docs/access.md): where local targets may write, and the only
# commands any target may run. Checked here so that a bad value stops Mamori at start.
MAMORI_DEPLOY_ROOTS = conf.env_list("DEPLOY_ROOTS")
for _root in MAMORI_DEPLOY_ROOTS:
    if not os.path.isabs(_root):
        raise conf.ConfigError(f"MAMORI_DEPLOY_ROOTS: {_root!r} is not an absolute path")
MAMORI_DEPLOY_COMMANDS = [shlex.join(words) for words in conf.env_commands("DEPLOY_COMMANDS")]
# Scaled-out mode (docs/scaling.md): read by mamori.celery and `mamori scheduler` only.
# The desk's mailbox (desk/mailbox.py; the password never goes into a log or a message).
MAMORI_DESK_IMAP_URL = conf.env("DESK_IMAP_URL") or ""
MAMORI_DESK_IMAP_PASSWORD = conf.env("DESK_IMAP_PASSWORD") or ""
MAMORI_DESK_ADDRESS = conf.env("DESK_ADDRESS") or ""
MAMORI_BROKER_URL = conf.env("BROKER_URL") or ""
# The software inventory's end-of-life data (software/eol.py).
MAMORI_EOL_URL = (conf.env("EOL_URL", "https://endoflife.date/api") or "").rstrip("/")
MAMORI_EOL_WARN_DAYS = conf.env_int("EOL_WARN_DAYS", 90, minimum=0)
# Visitors (mamori.weblogs): days the visitor hashes of a day are kept.
MAMORI_WEBLOG_VISITOR_DAYS = conf.env_int("WEBLOG_VISITOR_DAYS", 2, minimum=1)
# Visitors' countries (weblogs/geo.py): a local database in MaxMind's format, if any.
MAMORI_GEOIP_DATABASE = conf.env("GEOIP_DATABASE") or ""
# Vulnerability data (mamori.advisories.feeds): which OSV ecosystems, from where.
MAMORI_ADVISORY_ECOSYSTEMS = [
    e.strip() for e in (conf.env("ADVISORY_ECOSYSTEMS") or "").split(",") if e.strip()
]
MAMORI_ADVISORY_SOURCE_URL = (
    conf.env("ADVISORY_SOURCE_URL", "https://osv-vulnerabilities.storage.googleapis.com") or ""
).rstrip("/")
# WordPress vulnerability data (mamori.advisories.wordpress): the feed and its API key.
MAMORI_WORDPRESS_FEED_URL = (conf.env("WORDPRESS_FEED_URL") or "").strip()
MAMORI_WORDPRESS_FEED_KEY = (conf.env("WORDPRESS_FEED_KEY") or "").strip()
# The work desk's support hours (parsed and checked by mamori.desk.hours.defaults).
MAMORI_SUPPORT_HOURS = conf.env("SUPPORT_HOURS", "10:00-18:00")
MAMORI_SUPPORT_WEEKDAYS = conf.env("SUPPORT_WEEKDAYS", "mon-fri")
MAMORI_DESK_FIRST_RESPONSE_MINUTES = conf.env_int("DESK_FIRST_RESPONSE_MINUTES", 240, minimum=1)
MAMORI_DESK_RESOLUTION_MINUTES = conf.env_int("DESK_RESOLUTION_MINUTES", 1440, minimum=1)
MAMORI_DESK_ALERT_BEFORE_MINUTES = conf.env_int("DESK_ALERT_BEFORE_MINUTES", 60, minimum=0)
MAMORI_BROKER_VISIBILITY_TIMEOUT = conf.env_int("BROKER_VISIBILITY_TIMEOUT", 600, minimum=5)
MAMORI_DISPATCH_TIMEOUT = conf.env_int("DISPATCH_TIMEOUT", 300, minimum=5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"client_errors_one_line": {"()": "mamori.core.log_filters.ClientErrorsOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": conf.env("LOG_LEVEL", "INFO").upper()},
    "loggers": {
        # A 403 (or a 400 for a forged Host header) is one line; a 500 keeps its traceback.
        "django.request": {"filters": ["client_errors_one_line"]},
        "django.security.DisallowedHost": {"filters": ["client_errors_one_line"]},
        "django.db.backends": {"level": "WARNING"},
        # One line per HTTP request of every check and notice: results are recorded instead.
        "httpx": {"level": "WARNING"},
        "waitress.queue": {"level": "ERROR"},
    },
}
