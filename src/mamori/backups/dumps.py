"""Restore drills that load the database dump (BKP-02: "a dump that loads").

The drill restores the job's latest dump from the repository into its scratch directory, makes
a scratch database, loads the dump into it, and drops it again, all where the job runs (the
managed server). A dump that does not load — truncated, corrupted, or refused by the database
server — fails the drill with the loader's own words.

Each kind of dump is one entry of :data:`LOADERS`: how to load a file into a database, made and
dropped by the same server's tools. PostgreSQL is here (``psql -v ON_ERROR_STOP=1
--single-transaction`` for a plain dump, ``pg_restore --exit-on-error`` for a custom-format
archive); a MySQL loader would add ``mysql``'s three commands the same way. The scratch
server's address and user come from ``dump_load_connection`` (libpq's environment variables),
its password from the vault (``PGPASSWORD``, in the environment, never on a command line).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from mamori.backups import restic
from mamori.backups.rules import connection_env


@dataclass(frozen=True)
class Loader:
    create: tuple[str, ...]
    load: tuple[str, ...]  # "{database}" and "{path}" are filled in
    drop: tuple[str, ...]


LOADERS: dict[str, Loader] = {
    "postgresql": Loader(
        create=("createdb", "--template=template0", "{database}"),
        load=(
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "--single-transaction",
            "-d",
            "{database}",
            "-f",
            "{path}",
        ),
        drop=("dropdb", "--if-exists", "{database}"),
    ),
    "postgresql-custom": Loader(
        create=("createdb", "--template=template0", "{database}"),
        load=(
            "pg_restore",
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            "-d",
            "{database}",
            "{path}",
        ),
        drop=("dropdb", "--if-exists", "{database}"),
    ),
}


@dataclass
class Loaded:
    ok: bool
    database: str
    step: str = ""
    output: str = ""


def scratch_database() -> str:
    """A database name no one else uses: the drill's own, dropped when it ends."""
    return f"mamori_drill_{secrets.token_hex(6)}"


def load(
    executor: restic.Executor,
    kind: str,
    path: str,
    *,
    connection: str,
    password: bytes | None,
    timeout: float,
) -> Loaded:
    """Load the dump at ``path`` into a scratch database made for it, then drop it."""
    loader = LOADERS[kind]
    database = scratch_database()
    env = connection_env(connection)
    hidden = {"PGPASSWORD": password.decode().strip()} if password else {}
    secrets_ = [password] if password else []

    def run(step: str, argv: tuple[str, ...]) -> restic.Result:
        filled = [a.format(database=database, path=path) for a in argv]
        return executor.run(filled, env=env, timeout=timeout, secret_env=hidden)

    created = run("create", loader.create)
    if not created.ok:
        output = restic.redact(created.stderr.strip() or created.stdout.strip(), secrets_)
        return Loaded(False, database, "create", output)
    try:
        loaded = run("load", loader.load)
    finally:
        run("drop", loader.drop)
    if not loaded.ok:
        output = restic.redact(loaded.stderr.strip() or loaded.stdout.strip(), secrets_)
        return Loaded(False, database, "load", output or f"exit status {loaded.status}")
    return Loaded(True, database)
