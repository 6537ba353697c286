"""Run a command against a fresh PostgreSQL cluster: ``python -m tests.support.with_postgres CMD…``.

``scripts/test`` runs the suite a second time this way. The cluster (:class:`Postgres`) gets two
databases, ``mamori`` and ``mamori_keystore``: the vault's data keys live in a database of their
own, as docs/vault.md recommends for production. The command runs with ``MAMORI_DATABASE_URL``
and ``MAMORI_KEYSTORE_URL`` pointing at them (pytest-django then creates its ``test_`` copies on
the same cluster) and its exit status is this program's. The cluster is stopped and removed
afterwards, whatever happens.

A cluster that cannot start is a failure (exit 2, one line), never a silent pass on SQLite.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.postgres import Postgres, PostgresError


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m tests.support.with_postgres COMMAND [ARG…]", file=sys.stderr)
        return 2
    try:
        pg = Postgres().start()
    except PostgresError as e:
        print(f"cannot start PostgreSQL for the test run: {e}", file=sys.stderr)
        return 2
    try:
        env = dict(os.environ)
        env["MAMORI_DATABASE_URL"] = pg.create_database("mamori")
        env["MAMORI_KEYSTORE_URL"] = pg.create_database("mamori_keystore")
        print(f"==> PostgreSQL on 127.0.0.1:{pg.port} (databases mamori, mamori_keystore)")
        sys.stdout.flush()
        try:
            return subprocess.call(argv, env=env)
        except KeyboardInterrupt:
            return 130
    finally:
        pg.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
