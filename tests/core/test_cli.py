"""``mamori`` as a new operator meets it, each command a process of its own: the help lists the
operator's commands, a directory without Mamori data is refused in one line and left as it
was, and the first command that needs the vault finds it set up, as after ``mamori serve``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.vault.process import env_for

IMPORT = """\
clients:
  - code: sample
    name: 株式会社サンプル
    contracts:
      - {type: ssl_management, start: 2026-04-01, renewal_policy: standing}
    acme_accounts:
      - {name: ca, directory_url: "https://127.0.0.1:9/directory"}
    managed_certificates:
      - {name: www, names: [www.sample.example], acme_account: ca, challenge: http-responder,
         renewal_instruction: standing}
"""


def mamori(data: Path, *args: str, language: str = "en") -> subprocess.CompletedProcess:
    env = {**env_for(data), "MAMORI_LANGUAGE": language}
    return subprocess.run(
        [sys.executable, "-m", "mamori", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_help_lists_the_operators_commands_and_keeps_djangos_apart(tmp_path):
    for args in ([], ["--help"], ["help"]):
        shown = mamori(tmp_path, *args)
        assert shown.returncode == 0, shown.stderr
        for command in ("serve", "import", "cert", "scan", "checks", "sla", "vault", "token"):
            assert f"\n  {command} " in shown.stdout
        assert "Certificates:" in shown.stdout and "help --all" in shown.stdout
        for developer in ("startapp", "startproject", "flush", "squashmigrations", "testserver"):
            assert developer not in shown.stdout
    everything = mamori(tmp_path, "help", "--all")
    assert everything.returncode == 0 and "startapp" in everything.stdout


def test_the_help_speaks_the_runs_language(tmp_path):
    shown = mamori(tmp_path, "--help", language="ja")
    assert "使い方" in shown.stdout and "証明書" in shown.stdout
    assert "Usage" not in shown.stdout


@pytest.mark.parametrize(
    "args",
    [["help", "scan"], ["scan", "--help"], ["help", "checks"], ["cert", "--help"],
     ["help", "import"], ["cert", "revoke", "--help"]],
)  # fmt: skip
def test_a_commands_help_is_the_operators(tmp_path, args):
    shown = mamori(tmp_path, *args)
    assert shown.returncode == 0, shown.stderr
    assert f"usage: mamori {args[-1] if args[0] == 'help' else args[0]}" in shown.stdout
    for noise in ("--settings", "--pythonpath", "--traceback", "myproject"):
        assert noise not in shown.stdout
    # Help is there before any data is.
    assert not (tmp_path / "mamori.sqlite3").exists()


@pytest.mark.parametrize(
    "args", [["checks", "list"], ["cert", "list"], ["sla", "show"], ["cert", "issue", "a/b"]]
)
def test_a_directory_without_mamori_data_is_refused_in_one_line_and_left_alone(tmp_path, args):
    # Where a demo ran: its data is below, the directory itself holds none.
    data = tmp_path / "data"
    (data / "demo").mkdir(parents=True)
    (data / "demo" / "mamori.sqlite3").write_bytes(b"")
    refused = mamori(data, *args)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "holds no Mamori data" in refused.stderr and "mamori migrate" in refused.stderr
    assert f"MAMORI_DATA_DIR={data / 'demo'}" in refused.stderr
    assert not list(data.glob("*.sqlite3*")) and not (data / "master_key").exists()


def test_a_wrong_option_is_said_before_the_missing_data(tmp_path):
    wrong = mamori(tmp_path, "cert", "approve", "a/b", "--given-by", "x", "--channel", "fax")
    assert wrong.returncode == 2 and "invalid choice: 'fax'" in wrong.stderr
    assert not (tmp_path / "mamori.sqlite3").exists()


@pytest.mark.req("VLT-01")
def test_from_a_fresh_directory_to_a_first_order_without_a_traceback(tmp_path):
    data = tmp_path / "data"
    migrated = mamori(data, "migrate", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr
    # Both databases: the keystore is one of its own.
    assert (data / "mamori.sqlite3").exists() and (data / "keystore.sqlite3").exists()

    inventory = tmp_path / "clients.yaml"
    inventory.write_text(IMPORT, encoding="utf-8")
    imported = mamori(data, "import", str(inventory))
    assert imported.returncode == 0, imported.stderr
    header = imported.stdout.splitlines()[0].split()
    assert header == ["created", "updated", "unchanged"]
    # The first command on the data sets the vault up as `mamori serve` would, and says so once.
    assert "Created the vault master key in" in imported.stderr
    assert (data / "master_key").stat().st_mode & 0o777 == 0o600

    issued = mamori(data, "cert", "issue", "sample/www")
    output = issued.stdout + issued.stderr
    assert "Traceback" not in output
    # The account key went into the vault; the CA is not there, so the order waits for a retry.
    assert issued.returncode == 0, output
    assert "Order #1 recorded" in output
    assert "Created the vault master key" not in output

    listed = mamori(data, "cert", "list")
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[0].split()[:2] == ["CERTIFICATE", "STATE"]
    assert "sample/www" in listed.stdout


def test_a_broken_master_key_is_one_line(tmp_path):
    data = tmp_path / "data"
    assert mamori(data, "migrate", "-v", "0").returncode == 0
    (data / "master_key").write_text("not a key\n", encoding="ascii")
    (tmp_path / "secret.txt").write_text("s3cret", encoding="utf-8")
    inventory = tmp_path / "clients.yaml"
    inventory.write_text(IMPORT, encoding="utf-8")
    assert mamori(data, "import", str(inventory)).returncode == 0
    issued = mamori(data, "cert", "issue", "sample/www")
    assert issued.returncode in (1, 2)
    assert "Traceback" not in issued.stderr
    assert "master_key" in issued.stderr and issued.stderr.count("\n") == 1


def test_every_command_of_mamori_is_in_the_help_and_the_help_is_in_japanese():
    """A command an operator cannot find in ``mamori help`` is a command they do not have; a
    help line without its Japanese leaves a Japanese operator a line in English."""
    from django.core.management import get_commands
    from django.utils import translation

    from mamori import cli

    listed = {name for _group, commands in cli.GROUPS for name, _text in commands}
    ours = {name for name, app in get_commands().items() if app.startswith("mamori")}
    assert ours - listed == set()
    texts = {group for group, _c in cli.GROUPS} | {t for _g, c in cli.GROUPS for _n, t in c}
    with translation.override("ja"):
        untranslated = {text for text in texts if translation.gettext(text) == text}
    assert untranslated == set()
