"""The audit trail (ACC-03): redaction, append-only events, the hash chain and its verification,
and sign-in events."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from mamori.core import audit
from mamori.core.models import AuditEvent, AuditTrailError
from tests.conftest import PASSWORD

pytestmark = pytest.mark.req("ACC-03")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def events(n: int, client=None) -> list[AuditEvent]:
    return [
        audit.record("test.event", client, actor_label="test", changes={"n": i}) for i in range(n)
    ]


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# Redaction.


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "new_password",
        "passwordConfirm",
        "passphrase",
        "secret",
        "client_secret",
        "token",
        "api_token",
        "key",
        "api_key",
        "apiKey",
        "ssh_private_key",
        "private",
        "key_pem",
        "key_material",
        "value",
        "secret_value",
        "otp",
        "credentials",
    ],
)
def test_it_treats_secret_looking_keys_as_secrets(key):
    assert audit.is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["host", "port", "key_type", "key_bits", "keyboard", "username", "prefix", "monkey"]
)
def test_it_keeps_ordinary_keys(key):
    assert not audit.is_secret_key(key)


def test_it_never_stores_a_secret_value(db):
    event = audit.record(
        "secret.update",
        actor_label="test",
        changes={
            "name": "db root",
            "value": "hunter2",
            "password": ["old-pw", "new-pw"],
            "nested": {"api_key": "AKIA123", "host": "db.example"},
            "items": [{"token": "t0ken", "port": 22}],
        },
    )
    stored = AuditEvent.objects.get(pk=event.pk).changes
    assert stored == {
        "name": "db root",
        "value": "[redacted]",
        "password": "[redacted]",
        "nested": {"api_key": "[redacted]", "host": "db.example"},
        "items": [{"token": "[redacted]", "port": 22}],
    }
    text = json.dumps(stored)
    for secret in ("hunter2", "old-pw", "new-pw", "AKIA123", "t0ken"):
        assert secret not in text


# Append-only.


def test_it_refuses_to_change_or_delete_an_event_through_the_orm(db):
    (event,) = events(1)
    event.action = "something.else"
    with pytest.raises(AuditTrailError):
        event.save()
    with pytest.raises(AuditTrailError):
        event.delete()
    with pytest.raises(AuditTrailError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AuditTrailError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AuditTrailError):
        AuditEvent.objects.create(actor_label="x", action="forged")
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


def test_it_keeps_the_trail_when_a_user_is_deleted(db, owner):
    audit.record("login", owner, actor=owner)
    owner.delete()
    event = AuditEvent.objects.get()
    assert event.actor_id is None
    assert event.actor_label == "owner"
    assert audit.verify_chain().ok


# The chain.


def test_it_numbers_and_chains_events(db):
    first, second, third = events(3)
    assert [first.sequence, second.sequence, third.sequence] == [1, 2, 3]
    assert first.prev_hash == audit.GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert third.hash == audit.event_hash(AuditEvent.objects.get(sequence=3))
    report = audit.verify_chain()
    assert report.ok
    assert (report.events, report.head_sequence, report.head_hash) == (3, 3, third.hash)


def test_it_detects_an_event_edited_in_the_database(db):
    events(5)
    raw("UPDATE core_auditevent SET actor_label = 'someone-else' WHERE sequence = 3")
    broken = audit.verify_chain().broken
    assert broken is not None
    assert (broken.sequence, broken.problem) == (3, audit.ALTERED)


def test_it_detects_edited_changes_in_the_database(db):
    events(3)
    raw("UPDATE core_auditevent SET changes = %s WHERE sequence = 2", ['{"n": 99}'])
    broken = audit.verify_chain().broken
    assert (broken.sequence, broken.problem) == (2, audit.ALTERED)


def test_it_detects_an_event_deleted_from_the_database(db):
    events(5)
    raw("DELETE FROM core_auditevent WHERE sequence = 2")
    report = audit.verify_chain()
    assert not report.ok
    assert (report.broken.sequence, report.broken.problem) == (3, audit.MISSING)
    assert report.head_sequence == 1
    assert "2" in report.broken.message


def test_it_detects_a_changed_hash(db):
    events(4)
    raw("UPDATE core_auditevent SET hash = %s WHERE sequence = 2", ["f" * 64])
    broken = audit.verify_chain().broken
    assert (broken.sequence, broken.problem) == (2, audit.ALTERED)


def test_it_detects_an_event_rehashed_after_an_edit(db):
    """Recomputing the edited event's own hash does not help: the next link breaks."""
    events(4)
    raw("UPDATE core_auditevent SET action = 'tampered' WHERE sequence = 2")
    tampered = AuditEvent.objects.get(sequence=2)
    raw(
        "UPDATE core_auditevent SET hash = %s WHERE sequence = 2",
        [audit.event_hash(tampered)],
    )
    broken = audit.verify_chain().broken
    assert (broken.sequence, broken.problem) == (3, audit.RELINKED)


def test_it_detects_re_ordered_events(db):
    events(4)
    # Swap the places of events 2 and 3.
    raw("UPDATE core_auditevent SET sequence = 1000 WHERE sequence = 2")
    raw("UPDATE core_auditevent SET sequence = 2 WHERE sequence = 3")
    raw("UPDATE core_auditevent SET sequence = 3 WHERE sequence = 1000")
    broken = audit.verify_chain().broken
    assert broken.sequence == 2
    assert broken.problem == audit.RELINKED


def test_it_verifies_an_empty_trail(db):
    report = audit.verify_chain()
    assert report.ok
    assert report.events == 0


# mamori audit verify


def test_it_reports_an_intact_chain(db, capsys):
    events(3)
    call_command("audit", "verify", "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True
    assert result["events"] == 3
    assert result["head_sequence"] == 3
    assert result["broken"] is None


def test_it_exits_1_and_names_the_broken_event(db, capsys):
    events(3)
    raw("UPDATE core_auditevent SET object_repr = 'edited' WHERE sequence = 2")
    with pytest.raises(SystemExit) as exit_:
        call_command("audit", "verify", "--json")
    assert exit_.value.code == 1
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is False
    assert result["head_sequence"] == 1
    assert result["broken"]["sequence"] == 2
    assert result["broken"]["problem"] == "altered"
    assert result["broken"]["created_at"]

    with pytest.raises(CommandError) as error:
        call_command("audit", "verify")
    assert error.value.returncode == 1
    assert "2" in str(error.value)


# Sign-in events.


def test_it_records_sign_in_and_sign_out_with_the_address(owner, client):
    response = client.post(
        reverse("login"),
        {"username": "owner", "password": PASSWORD},
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 302
    client.post(reverse("logout"), REMOTE_ADDR="203.0.113.7")
    login, logout = AuditEvent.objects.order_by("sequence")
    assert (login.action, login.actor, login.source_ip) == ("login", owner, "203.0.113.7")
    assert login.client_id == owner.client_id
    assert (logout.action, logout.actor, logout.source_ip) == ("logout", owner, "203.0.113.7")


def test_it_records_a_failed_sign_in_without_the_password(owner, client):
    client.post(
        reverse("login"),
        {"username": "owner", "password": "wrong password 123"},
        REMOTE_ADDR="198.51.100.9",
    )
    event = AuditEvent.objects.get(action="login.failed")
    assert event.actor is None
    assert event.changes == {"username": "owner"}
    assert event.source_ip == "198.51.100.9"
    assert event.client_id == owner.client_id  # its client's administrator sees the attempt
    assert "wrong password" not in json.dumps(event.changes) + event.object_repr


def test_it_records_a_failed_sign_in_for_an_unknown_user(db, client):
    client.post(reverse("login"), {"username": "nobody", "password": "x"})
    event = AuditEvent.objects.get(action="login.failed")
    assert event.changes == {"username": "nobody"}
    assert event.client_id is None
    assert event.object_type == ""


# Concurrent writers.

WRITER = """
import django, pathlib, sys, time
django.setup()
from mamori.core import audit
count, label, start = int(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
pathlib.Path(f"{start}.{label}").touch()
while not start.exists():  # start together, once every writer has loaded Django
    time.sleep(0.01)
for i in range(count):
    audit.record("test.concurrent", actor_label=label, changes={"i": i})
    time.sleep(0.002)  # like requests: otherwise the last writer keeps SQLite's lock
"""


def test_it_keeps_one_linear_chain_with_concurrent_writers(tmp_path):
    env = {
        **os.environ,
        "MAMORI_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "mamori.settings",
    }
    env.pop("MAMORI_DATABASE_URL", None)
    migrate = subprocess.run(
        [sys.executable, "-m", "mamori", "migrate", "-v", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    per_writer = 60
    start = tmp_path / "start"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(per_writer), f"writer{n}", str(start)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(3)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("start.writer*"))) < len(writers):
        assert time.monotonic() < deadline, "the writers did not start"
        time.sleep(0.05)
    start.touch()
    outputs = [w.communicate(timeout=120)[0] for w in writers]
    assert [w.returncode for w in writers] == [0, 0, 0], outputs

    verify = subprocess.run(
        [sys.executable, "-m", "mamori", "audit", "verify", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    result = json.loads(verify.stdout)
    assert result["ok"] is True
    assert result["events"] == result["head_sequence"] == 3 * per_writer

    # The writers really did interleave (otherwise this test proves nothing), and an edit made
    # behind the application's back is then caught by the same command, exit status 1.
    db = sqlite3.connect(tmp_path / "mamori.sqlite3")
    labels = [row[0] for row in db.execute("SELECT actor_label FROM core_auditevent ORDER BY 1")]
    order = [
        row[0] for row in db.execute("SELECT actor_label FROM core_auditevent ORDER BY sequence")
    ]
    switches = sum(a != b for a, b in itertools.pairwise(order))
    assert len(labels) == 3 * per_writer
    assert switches > 2, "the writers ran one after the other"
    with db:
        db.execute("UPDATE core_auditevent SET action = 'x' WHERE sequence = 42")
    db.close()
    broken = subprocess.run(
        [sys.executable, "-m", "mamori", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert broken.returncode == 1
    assert "42" in broken.stderr
