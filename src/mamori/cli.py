"""The ``mamori`` command.

``mamori scan`` needs no database and no configuration, so it runs without loading Django at
all; every other sub-command is a Django management command (``serve``, ``runchecks``,
``import``, ``export``, ``demo``, ``migrate`` ...).

What an operator meets is decided here, once for every command:

- ``mamori``, ``mamori --help`` and ``mamori help`` list the operator's commands, grouped, one
  line each; Django's developer commands stay reachable (``mamori help --all``);
- ``mamori help CMD`` and ``mamori CMD --help`` show the command's own options, without
  Django's ``--settings``, ``--pythonpath`` and the like (they still work);
- every run speaks one language: ``settings.LANGUAGE_CODE`` (``MAMORI_LANGUAGE``);
- a command that works on Mamori's data refuses in one line (exit 2) where there is none, and
  creates nothing; it finds the vault's keystore and master key as ``mamori serve`` leaves them;
- no traceback reaches the operator: one line that says what to do, exit 2.
"""

from __future__ import annotations

import os
import sys

EXIT_USAGE = 2

# The operator's commands, grouped as ``mamori help`` shows them; one line each (translated).
GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Run",
        [
            ("serve", "Run Mamori: web UI, checks and notices in one process"),
            ("runchecks", "Check the endpoints and send the notices that are due"),
            ("worker", "Scaled out: run checks and notices handed out by the scheduler"),
            ("scheduler", "Scaled out: hand out the due checks to the workers"),
            ("demo", "Try Mamori with demo data and local HTTPS endpoints"),
        ],
    ),
    (
        "Clients and inventory",
        [
            ("import", "Add or update clients, contracts, sites and endpoints from a file"),
            ("export", "Write the inventory to a YAML or CSV file"),
            ("contracts", "Contracts: dates, notice deadlines, a cancellation, the liability cap"),
            ("offboard", "Contract end: a client's holdings, return archive and destruction"),
            ("retention", "Records kept after the contract: the plan, and the purge when due"),
            ("inventory", "Servers' software and accounts: collect over SSH, show"),
        ],
    ),
    (
        "Certificates",
        [
            ("cert", "Managed certificates: list, status, issue, renew, approve, revoke, deploy"),
            ("scan", "Check TLS endpoints now, without a database"),
        ],
    ),
    (
        "Monitoring",
        [
            ("checks", "Uptime checks: run the due ones once, or list them"),
            ("sla", "The monthly SLA: compute, finalize and show it"),
            ("reports", "Monthly reports: build, release and show them"),
            ("logs", "Sites' visitors from web server access logs: import, collect, show"),
        ],
    ),
    (
        "Work desk",
        [
            (
                "desk",
                "Client requests: the queue, the mailbox, support hours, waiting on the client",
            ),
        ],
    ),
    (
        "Software, vulnerabilities and backups",
        [
            ("advisories", "Vulnerability data: refresh, import, its age; a server's findings"),
            ("updates", "Updates and repairs: record one, list them, run one over SSH"),
            ("backups", "Backups: list jobs and runs, back up or drill now, restore"),
        ],
    ),
    (
        "Announcements",
        [("announce", "Announcements to every affected client: create, preview, send")],
    ),
    (
        "Billing",
        [
            ("invoices", "Invoices: run a month, list, show, export for accounting, credit notes"),
            ("estimates", "Estimates: list, show, PDF, issue, record the client's answer"),
            ("billing", "The invoice issuer: name, registration number, bank account, rounding"),
            ("payments", "Record payments against invoices; late-payment interest"),
        ],
    ),
    ("Vault", [("vault", "Where the master key and keystore are; rotate the master key")]),
    (
        "Access and audit",
        [
            ("token", "API tokens: create, list and revoke"),
            ("audit", "Verify or export the audit trail"),
            ("changepassword", "Change a user's password"),
        ],
    ),
    (
        "Setup",
        [
            ("migrate", "Create or update the database and the vault's keystore"),
            ("createsuperuser", "Create a provider administrator"),
        ],
    ),
]

# Commands of Mamori's apps that set up the data themselves (everything else of Mamori's, and
# Django's user commands, needs data that is there).
SETS_UP_DATA = frozenset({"serve", "demo"})
NEEDS_DATA = frozenset({"createsuperuser", "changepassword"})
HIDDEN_BASE_OPTIONS = {
    "--version",
    "--settings",
    "--pythonpath",
    "--traceback",
    "--no-color",
    "--force-color",
    "--skip-checks",
}


class Refusal(Exception):
    """A one-line reason why the command cannot run; exit status 2."""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "scan":
        return _scan(args[1:])
    if args[:1] == ["help"] and args[1:2] == ["scan"]:
        return _scan(["--help"])

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    from mamori.conf import ConfigError

    name = args[0] if args else "help"
    if name == "demo" and not _asks_for_help(args):
        _use_demo_data_dir()
    try:
        import django

        django.setup()
    except ConfigError as e:
        print(f"mamori: configuration error: {e}", file=sys.stderr)
        return EXIT_USAGE

    from django.conf import settings
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):
        try:
            return _run(name, args)
        except Refusal as e:
            print(f"mamori {name}: {e}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            # The reader went away (`mamori help | head`): nothing more to say.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        except Exception as e:
            if "--traceback" in args:
                raise
            print(f"mamori {name}: {_one_line(e)}", file=sys.stderr)
            return EXIT_USAGE


def _run(name: str, args: list[str]) -> int:
    from django.core.management import ManagementUtility
    from django.core.management.base import BaseCommand

    # Django's own options stay usable, but out of every command's help.
    BaseCommand.suppressed_base_arguments = HIDDEN_BASE_OPTIONS
    if name in ("help", "-h", "--help"):
        rest = args[1:]
        if not rest or rest[0] in ("-h", "--help"):
            print(overview())
            return 0
        if rest[0] in ("--all", "-a"):
            print(ManagementUtility(["mamori"]).main_help_text())
            return 0
        args = [rest[0], "--help"]
        name = rest[0]
    elif _needs_data(name):
        # After the command has read its arguments (a wrong option is said first), before it
        # touches the database.
        command = ManagementUtility(["mamori", *args]).fetch_command(name)
        run = command.execute

        def execute(*a, **kw):
            check_data()
            _prepare_vault()
            return run(*a, **kw)

        command.execute = execute
        command.run_from_argv(["mamori", *args])
        return 0
    ManagementUtility(["mamori", *args]).execute()
    if name == "migrate" and _plain_migrate(args):
        # One command sets up everything: the keystore is a database of its own.
        ManagementUtility(["mamori", *args, "--database", "keystore"]).execute()
    return 0


def overview() -> str:
    """The operator's commands, grouped, one line each, in the run's language."""
    from django.core.management import get_commands
    from django.utils.translation import gettext as _

    available = get_commands()
    lines = [_("Usage: mamori COMMAND [options]"), ""]
    for group, commands in GROUPS:
        shown = [(n, text) for n, text in commands if n in available or n == "scan"]
        if not shown:
            continue
        lines.append(_(group) + ":")
        lines += [f"  {n:<16}{_(text)}" for n, text in shown]
        lines.append("")
    lines.append(_("`mamori help COMMAND` or `mamori COMMAND --help`: a command's options."))
    lines.append(_("`mamori help --all`: every command, with Django's developer commands."))
    return "\n".join(lines)


def check_data() -> None:
    """Refuse (one line) unless the main database holds Mamori's data, up to date; never
    creates a database file."""
    from django.db import DatabaseError, connections
    from django.db.migrations.executor import MigrationExecutor
    from django.utils.translation import gettext as _

    connection = connections["default"]
    where = _database_place(connection)
    if connection.vendor == "sqlite":
        path = connection.settings_dict["NAME"]
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            raise Refusal(_no_data(where))
    try:
        tables = connection.introspection.table_names()
        if "django_migrations" not in tables:
            raise Refusal(_no_data(where))
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as e:
        raise Refusal(
            _("cannot read the database %(where)s: %(error)s")
            % {"where": where, "error": _one_line(e)}
        ) from None
    if pending:
        raise Refusal(
            _("the database %(where)s needs `mamori migrate` first (%(count)d changes pending)")
            % {"where": where, "count": len(pending)}
        )


def _no_data(where: str) -> str:
    from django.conf import settings
    from django.utils.translation import gettext as _

    text = _(
        "%(where)s holds no Mamori data: run `mamori migrate` (or `mamori serve`) to set it up"
    ) % {"where": where}
    demo = settings.DATA_DIR / "demo"
    if (demo / "mamori.sqlite3").is_file():
        text += "; " + _("the demo's data is in %(demo)s (MAMORI_DATA_DIR=%(demo)s)") % {
            "demo": demo
        }
    return text


def _database_place(connection) -> str:
    """Where the database is, for a message: its file, or name and host (never a password)."""
    from django.conf import settings

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        path = os.path.abspath(s["NAME"])
        # The embedded database is named by its data directory, which the operator chose.
        in_data_dir = os.path.dirname(path) == os.path.abspath(settings.DATA_DIR)
        return str(settings.DATA_DIR) if in_data_dir else path
    host = s.get("HOST") or "localhost"
    return f"{s['NAME']} on {host}:{s['PORT']}" if s.get("PORT") else f"{s['NAME']} on {host}"


def _prepare_vault() -> None:
    """What ``mamori serve`` does for the vault at its start: the keystore's table, the master
    key file (said once, on stderr)."""
    from django.core.management import call_command
    from django.db import connections

    from mamori.vault import keys

    keystore = connections["keystore"]
    exists = keystore.vendor != "sqlite" or os.path.isfile(keystore.settings_dict["NAME"])
    if not exists or "vault_datakey" not in keystore.introspection.table_names():
        call_command("migrate", database="keystore", interactive=False, verbosity=0)
    created = keys.ensure_keyring()
    if created is not None:
        print(keys.created_notice(created), file=sys.stderr)


def _needs_data(name: str) -> bool:
    from django.core.management import get_commands

    app = get_commands().get(name)
    if app is None or name in SETS_UP_DATA:
        return False
    return name in NEEDS_DATA or app == "mamori" or app.startswith("mamori.")


def _asks_for_help(args: list[str]) -> bool:
    return "-h" in args or "--help" in args


def _plain_migrate(args: list[str]) -> bool:
    """``mamori migrate`` of the main database, all apps (not one app, not ``--database``)."""
    from django.core.management.commands.migrate import Command as Migrate

    options = Migrate().create_parser("mamori", "migrate").parse_args(args[1:])
    return options.app_label is None and options.database == "default"


def _one_line(error: BaseException) -> str:
    from mamori.vault.keys import KeyringError

    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, KeyringError):
        return text
    from django.db import DatabaseError
    from django.utils.translation import gettext as _

    if isinstance(error, DatabaseError):
        return _("database error: %(error)s") % {"error": text}
    return _(
        "unexpected error (%(type)s: %(error)s); run it again with --traceback for details"
    ) % {
        "type": type(error).__name__,
        "error": text,
    }


def _scan(args: list[str]) -> int:
    from mamori.probe.scan_cli import main as scan_main

    return scan_main(args)


def _use_demo_data_dir() -> None:
    """The demo runs on a fresh database of its own under the data directory, whatever
    ``MAMORI_DATABASE_URL`` says, so it can neither read nor damage real data."""
    import shutil

    from mamori.conf import data_dir

    demo = data_dir() / "demo"
    shutil.rmtree(demo, ignore_errors=True)
    demo.mkdir(parents=True)
    os.environ["MAMORI_DATA_DIR"] = str(demo)
    os.environ["MAMORI_DATABASE_URL"] = f"sqlite:///{demo / 'mamori.sqlite3'}"
    os.environ["MAMORI_KEYSTORE_URL"] = f"sqlite:///{demo / 'keystore.sqlite3'}"
    for name in ("MAMORI_MASTER_KEY", "MAMORI_MASTER_KEY_FILE", "MAMORI_KEYSTORE_URL_FILE"):
        os.environ.pop(name, None)


if __name__ == "__main__":
    sys.exit(main())
