"""Restore drills that load the database dump (BKP-02: "verify ... a dump that loads"): a job run
on the managed server (the real sshd fixture) dumps a real PostgreSQL database with pg_dump;
its drill restores the dump and loads it into a scratch database it creates and drops."""

from __future__ import annotations

import pytest

from mamori.backups import services
from mamori.backups.models import RunState
from mamori.vault import services as vault
from mamori.vault.models import SecretKind
from tests.support.env import IN_CI
from tests.support.postgres import Postgres, PostgresError

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(scope="module")
def shop_db():
    """A PostgreSQL server holding a small shop database (orders with Japanese text)."""
    try:
        server = Postgres().start()
    except PostgresError as exc:
        if IN_CI:
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    try:
        server.create_database("shop")
        with server.connect("shop") as conn:
            conn.execute("CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL)")
            conn.execute(
                "INSERT INTO orders SELECT n, '注文 ' || md5(n::text) "
                "FROM generate_series(1, 3000) AS n"
            )
        yield server
    finally:
        server.stop()


def scratch_databases(server) -> list[str]:
    with server.connect() as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'mamori_drill_%'")
        return [name for (name,) in rows]


@pytest.fixture
def dump_job(make_job, acme, sshd, tmp_path, shop_db):
    login = vault.store_secret(
        acme, kind=SecretKind.SSH_KEY, name="db login", value=sshd.client_key_pem, actor=None
    )

    def make(dump_command: str, dump_load: str, filename: str):
        return make_job(
            name=f"shop db {dump_load} {filename}",
            paths="",
            run_on="server",
            ssh_host=sshd.host,
            ssh_port=sshd.port,
            ssh_username=sshd.username,
            ssh_secret=login,
            ssh_host_key=sshd.known_hosts_line,
            repository=str(tmp_path / f"repo-{filename}"),
            dump_command=dump_command,
            dump_filename=filename,
            dump_load=dump_load,
            dump_load_connection=f"host=127.0.0.1 port={shop_db.port} user=postgres",
        )

    return make


def pg_dump(server, *options: str) -> str:
    return f"pg_dump -h 127.0.0.1 -p {server.port} -U postgres {' '.join(options)} shop"


@pytest.mark.req("BKP-02")
@pytest.mark.parametrize(
    ("options", "load", "filename"),
    [((), "postgresql", "shop.sql"), (("-Fc",), "postgresql-custom", "shop.dump")],
)
def test_a_good_dump_loads_and_the_drill_passes(dump_job, shop_db, options, load, filename):
    job = dump_job(pg_dump(shop_db, *options), load, filename)
    backup = services.run_backup(job)
    assert backup.state == RunState.SUCCEEDED, backup.error

    drill = services.drill(job)
    assert drill.state == RunState.SUCCEEDED, drill.error
    dump = drill.details["dump"]
    assert dump["loaded"] is True
    assert dump["database"].startswith("mamori_drill_")
    assert scratch_databases(shop_db) == []  # created for the drill and dropped after


@pytest.mark.req("BKP-02")
@pytest.mark.parametrize(
    ("command", "load", "filename", "words"),
    [
        # A custom-format archive cut short (a disk that filled up while dumping).
        ("{dump} -Fc | head -c 6000", "postgresql-custom", "cut.dump", "pg_restore"),
        # A plain dump with a damaged statement.
        (
            "{dump} | sed 's/CREATE TABLE/CREATE TABEL/'",
            "postgresql",
            "damaged.sql",
            'syntax error at or near "TABEL"',
        ),
    ],
)
def test_a_dump_that_does_not_load_fails_the_drill_loudly(
    dump_job, shop_db, acme, operator, command, load, filename, words
):
    from mamori.notices.models import Notice, NoticeKind

    job = dump_job(command.replace("{dump}", pg_dump(shop_db)), load, filename)
    backup = services.run_backup(job)
    assert backup.state == RunState.SUCCEEDED, backup.error  # restic stored what it was given

    drill = services.drill(job)
    assert drill.state == RunState.FAILED
    assert drill.failure == "dump"
    assert drill.details["dump"]["loaded"] is False
    assert drill.details["dump"]["step"] == "load"
    assert words in drill.error
    assert scratch_databases(shop_db) == []  # dropped even when the load failed
    job.refresh_from_db()
    assert job.incident is not None  # an incident, and the operators alerted once
    assert Notice.objects.filter(kind=NoticeKind.BACKUP_FAILED, recipient=operator.email).exists()


def test_loading_needs_a_dump_and_a_valid_server(make_job):
    from django.core.exceptions import ValidationError
    from django.utils import translation

    with translation.override("en"), pytest.raises(ValidationError) as refused:
        make_job(dump_load="postgresql", dump_load_connection="host=db password=x")
    errors = refused.value.message_dict
    assert errors["dump_load"] == ["Only a job with a database dump command can load its dump."]
    assert errors["dump_load_connection"] == [
        "Write the scratch database server as host=… port=… user=… (sslmode=…)."
    ]
