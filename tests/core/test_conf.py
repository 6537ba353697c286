"""Configuration through MAMORI_* variables, each also from MAMORI_<NAME>_FILE."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mamori import conf

ROOT = Path(__file__).resolve().parents[2]


def test_it_reads_a_variable_or_the_file_named_by_its_FILE_twin(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("from-a-file\n")
    monkeypatch.delenv("MAMORI_SECRET_KEY", raising=False)
    monkeypatch.setenv("MAMORI_SECRET_KEY_FILE", str(secret))
    assert conf.env("SECRET_KEY") == "from-a-file"
    monkeypatch.setenv("MAMORI_SECRET_KEY", "from-env")
    assert conf.env("SECRET_KEY") == "from-env"


def test_it_names_an_unreadable_FILE_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("MAMORI_EMAIL_URL_FILE", str(tmp_path / "missing"))
    with pytest.raises(conf.ConfigError, match=r"MAMORI_EMAIL_URL_FILE=.*cannot read"):
        conf.env("EMAIL_URL")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.jp:2525", ("mail.example.jp", 2525, "", "", False, False)),
        ("smtp://mail.example.jp", ("mail.example.jp", 25, "", "", False, False)),
        (
            "smtp+tls://user%40example.jp:p%40ss@smtp.example.jp:587",
            ("smtp.example.jp", 587, "user@example.jp", "p@ss", True, False),
        ),
        ("smtp+ssl://u:p@smtp.example.jp", ("smtp.example.jp", 465, "u", "p", False, True)),
    ],
)
def test_it_parses_email_urls(url, expected):
    c = conf.parse_email_url(url)
    assert c.backend.endswith("smtp.EmailBackend")
    assert (c.host, c.port, c.user, c.password, c.use_tls, c.use_ssl) == expected


def test_it_supports_console_email():
    assert conf.parse_email_url("console://").backend.endswith("console.EmailBackend")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("imap://x", "unknown scheme"),
        ("smtp://", "no host"),
        ("smtp://host:port", "port is not a number"),
        ("smtp://host?timeout=soon", "timeout"),
    ],
)
def test_it_rejects_bad_email_urls_with_a_clear_message(url, message):
    with pytest.raises(conf.ConfigError, match=message):
        conf.parse_email_url(url)


def test_it_rejects_bad_numbers_and_booleans(monkeypatch):
    monkeypatch.setenv("MAMORI_CHECK_INTERVAL", "often")
    with pytest.raises(conf.ConfigError, match="MAMORI_CHECK_INTERVAL='often'"):
        conf.env_int("CHECK_INTERVAL", 60)
    monkeypatch.setenv("MAMORI_DEBUG", "maybe")
    with pytest.raises(conf.ConfigError, match="true or false"):
        conf.env_bool("DEBUG")


def test_it_reads_the_private_networks_mamori_may_reach_and_names_a_bad_entry(monkeypatch):
    monkeypatch.setenv("MAMORI_ALLOW_PRIVATE_NETWORKS", "10.0.0.0/8, fd00::/8,192.168.1.5")
    networks = conf.env_networks("ALLOW_PRIVATE_NETWORKS")
    assert [str(n) for n in networks] == ["10.0.0.0/8", "fd00::/8", "192.168.1.5/32"]
    for bad in ("10.0.0.1/8", "intranet", "10.0.0.0/33"):
        monkeypatch.setenv("MAMORI_ALLOW_PRIVATE_NETWORKS", f"10.0.0.0/8,{bad}")
        with pytest.raises(conf.ConfigError, match=rf"^MAMORI_ALLOW_PRIVATE_NETWORKS: '{bad}'"):
            conf.env_networks("ALLOW_PRIVATE_NETWORKS")
    monkeypatch.setenv("MAMORI_ALLOW_PRIVATE_NETWORKS", "")
    assert conf.env_networks("ALLOW_PRIVATE_NETWORKS") == []


def test_it_generates_the_secret_key_once_with_private_permissions(monkeypatch, tmp_path):
    monkeypatch.delenv("MAMORI_SECRET_KEY", raising=False)
    monkeypatch.delenv("MAMORI_SECRET_KEY_FILE", raising=False)
    first = conf.secret_key(tmp_path)
    assert conf.secret_key(tmp_path) == first and len(first) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_the_readme_lists_every_variable_and_the_code_reads_no_other():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"`MAMORI_([A-Z_]+)`", readme))
    declared = set(conf.VARIABLES)
    used = set()
    for path in (ROOT / "src" / "mamori").rglob("*.py"):
        used |= set(
            re.findall(
                r"""(?:env(?:_bool|_int|_list|_networks)?)\(\s*["']([A-Z_]+)["']""",
                path.read_text(),
            )
        )
    assert declared <= documented, f"not in the README: {sorted(declared - documented)}"
    assert used <= declared, f"read but not declared in conf.VARIABLES: {sorted(used - declared)}"


def test_it_reports_a_configuration_error_without_a_traceback(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MAMORI_DATA_DIR": str(tmp_path), "MAMORI_LANGUAGE": "fr"}
    result = subprocess.run(
        [sys.executable, "-m", "mamori", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "MAMORI_LANGUAGE='fr'" in result.stderr
    assert "Traceback" not in result.stderr
