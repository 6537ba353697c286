"""Reading what servers print (MNT-01, MNT-07): the version lines of the stack as the tools print
them, package lines, sudoers, authorized_keys; odd input is skipped or refused per item."""

from __future__ import annotations

import asyncssh
import pytest

from mamori.software import parse
from mamori.software.versions import compare_debian

pytestmark = pytest.mark.req("MNT-01")


def probe(name: str, command: str, output: str) -> str | None:
    for _kind, n, c, pattern in parse.PROBES:
        if n == name and c == command:
            return parse.version_from(pattern, output)
    raise AssertionError(name)


def test_the_stack_version_lines():
    assert probe("nginx", "nginx -v", "nginx version: nginx/1.22.1\n") == "1.22.1"
    assert (
        probe(
            "apache",
            "apache2 -v",
            "Server version: Apache/2.4.62 (Debian)\nServer built:   2024-07-22",
        )
        == "2.4.62"
    )
    php = (
        "PHP 8.2.24 (cli) (built: Sep 27 2024 04:13:34) (NTS)\n"
        "Copyright (c) The PHP Group\nZend Engine v4.2.24"
    )
    assert probe("php", "php -v", php) == "8.2.24"
    maria_old = (
        "mysql  Ver 15.1 Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64) "
        "using  EditLine wrapper"
    )
    maria_new = "mysql from 11.4.2-MariaDB, client 15.2 for Linux (x86_64)"
    mysql = "mysql  Ver 8.0.39 for Linux on x86_64 (MySQL Community Server - GPL)"
    assert probe("mariadb", "mysql --version", maria_old) == "10.11.6"
    assert probe("mariadb", "mysql --version", maria_new) == "11.4.2"
    assert probe("mysql", "mysql --version", maria_old) is None
    assert probe("mysql", "mysql --version", mysql) == "8.0.39"
    assert (
        probe("postgresql", "psql --version", "psql (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)")
        == "15.8"
    )
    assert probe("nginx", "nginx -v", "\x1b[31mhello") is None


def test_package_lines_keep_installed_packages_only():
    m = parse.PACKAGE_MARKER
    text = "\n".join(
        [
            f"{m}\topenssl\t3.0.15-1~deb12u1\tamd64\tii ",
            f"{m}\tlibc6:i386\t2.36-9+deb12u8\ti386\tii ",
            f"{m}\told-thing\t1.0\tamd64\trc ",
            f"{m}\tbad name!\t1.0\tamd64\tii ",
            "dpkg-query: warning: something on stderr",
        ]
    )
    lines, skipped = parse.packages(text)
    assert [(p.name, p.version, p.architecture) for p in lines] == [
        ("libc6", "2.36-9+deb12u8", "i386"),
        ("openssl", "3.0.15-1~deb12u1", "amd64"),
    ]
    assert skipped == 1
    with pytest.raises(parse.ParseError):
        parse.packages(f"{m}\t!!\t?\t?\tii ")


def test_packages_carry_their_source_package():
    m = parse.PACKAGE_MARKER
    text = "\n".join(
        [
            # dpkg: a library built from another source; a binNMU; its own source.
            f"{m}\tlibssl3:amd64\t3.0.15-1~deb12u1\tamd64\tii \topenssl\t3.0.15-1~deb12u1",
            f"{m}\tbash\t5.2.15-2+b8\tamd64\tii \tbash\t5.2.15-2",
            f"{m}\tdpkg\t1.21.22\tamd64\tii \tdpkg\t1.21.22",
            # rpm: the source rpm's file name, the binary's epoch.
            f"{m}\topenssl-libs\t1:3.0.7-27.el9\tx86_64\tii \topenssl-3.0.7-27.el9.src.rpm\t",
            f"{m}\tgpg-pubkey\t3228467c-613798eb\tnoarch\tii \t(none)\t",
        ]
    )
    lines, skipped = parse.packages(text)
    assert skipped == 0
    assert {p.name: (p.source, p.source_version) for p in lines} == {
        "libssl3": ("openssl", "3.0.15-1~deb12u1"),
        "bash": ("bash", "5.2.15-2"),
        "dpkg": ("dpkg", "1.21.22"),
        "openssl-libs": ("openssl", "1:3.0.7-27.el9"),
        # No source rpm: the package stands for itself.
        "gpg-pubkey": ("gpg-pubkey", "3228467c-613798eb"),
    }


def test_sudoers_users_and_groups():
    text = (
        "Defaults env_reset\nUser_Alias ADMINS = alice\n# bob ALL=(ALL) ALL\n"
        "root ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\ncarol,dave ALL=(ALL) \\\n NOPASSWD: ALL\n"
        "@includedir /etc/sudoers.d\n"
    )
    assert parse.sudoers(text) == ({"root", "carol", "dave"}, {"sudo"})


def test_authorized_keys_with_options_and_junk():
    key = asyncssh.generate_private_key("ssh-ed25519")
    line = key.export_public_key("openssh").decode().strip()
    text = (
        f'command="echo hi there",no-pty {line} ops@example\n\n'
        "# comment\nnot a key\nssh-rsa AAAAnotbase64key x\n"
    )
    keys, bad = parse.authorized_keys(text)
    assert [(k.key_type, k.fingerprint, k.comment) for k in keys] == [
        ("ssh-ed25519", key.get_fingerprint("sha256"), "ops@example")
    ]
    assert bad == 2


def test_debian_version_order():
    # Debian policy 5.6.12: "~" sorts before anything, even the end of the part.
    assert compare_debian("1.0~rc1-1", "1.0-1") == -1
    assert compare_debian("1:0.9", "2.0") == 1
    assert compare_debian("3.0.15-1~deb12u1", "3.0.14-1~deb12u2") == 1
    assert compare_debian("2.36-9+deb12u8", "2.36-9+deb12u10") == -1


def test_wp_cli_output():
    """The shapes wp-cli documents for ``wp core version`` and ``wp plugin list --format=json``
    (wp-cli itself cannot run on the test machine: no PHP, no wp-cli package in Debian)."""
    assert parse.wp_cli_core_version("6.4.2\n") == "6.4.2"
    assert parse.wp_cli_core_version("PHP Notice: something\n6.5-RC1\n") == "6.5-RC1"
    with pytest.raises(parse.ParseError):
        parse.wp_cli_core_version("Error: This does not seem to be a WordPress installation.\n")
    listed = (
        "PHP Warning:  something on stdout\n"
        '[{"name":"akismet","status":"active","update":"available","version":"5.3",'
        '"update_version":"5.3.1","auto_update":"off"},'
        '{"name":"contact-form-7","status":"inactive","update":"none","version":"5.8.4",'
        '"update_version":"","auto_update":"off"},'
        '{"name":"hello","status":"active-network","update":"none","version":"1.7.2"},'
        '{"name":"local-tweaks","status":"must-use","update":"none","version":""},'
        '{"name":"object-cache.php","status":"dropin","update":"none","version":""},'
        '{"name":"bad slug!","status":"active","version":"1"}]\n'
    )
    assert parse.wp_cli_plugins(listed) == [
        ("akismet", "5.3"),
        ("contact-form-7", "5.8.4"),
        ("hello", "1.7.2"),
    ]
    assert parse.wp_cli_plugins("[]") == []
    with pytest.raises(parse.ParseError):
        parse.wp_cli_plugins("Error: no such command\n")
