"""Collecting a real server's software and accounts over SSH (MNT-01, MNT-07): the sshd fixture,
this machine's own dpkg database, a fixture tree for the rest."""

from __future__ import annotations

import json
import subprocess

import pytest

from mamori.notices.models import Notice, NoticeKind
from mamori.software import services
from mamori.software.inventory import installed
from mamori.software.models import (
    Account,
    AccountEvent,
    AuthorizedKey,
    Collection,
    Component,
    OperatingSystem,
    Package,
    SoftwareEvent,
)
from tests.software.conftest import plugin, public_key

pytestmark = [pytest.mark.django_db(databases="__all__")]


def own_packages() -> dict[tuple[str, str], str]:
    """What dpkg itself says is installed here (name, architecture) -> version."""
    out = subprocess.run(
        [
            "dpkg-query",
            "-W",
            "-f",
            "${db:Status-Abbrev}\t${Package}\t${Architecture}\t${Version}\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        status, name, arch, version = line.split("\t")
        if status.startswith("ii"):
            found[(name, arch)] = version
    return found


@pytest.mark.req("MNT-01")
def test_a_collection_records_the_os_packages_and_stack(setup, server, operator):
    collection = services.collect_server(server)
    assert collection.state in ("ok", "partial"), collection.error
    assert not [p for p in collection.problems if p["item"] in ("os", "packages", "wordpress")]

    system = OperatingSystem.objects.get(server=server)
    assert (system.os_id, system.version_id) == ("debian", "12")
    assert system.pretty_name == "Debian GNU/Linux 12 (bookworm)"

    recorded = {(p.name, p.architecture): p.version for p in Package.objects.filter(server=server)}
    assert recorded == own_packages()
    assert set(Package.objects.filter(server=server).values_list("ecosystem", flat=True)) == {
        "Debian"
    }
    assert collection.packages == len(recorded)

    comps = {(c.kind, c.name): c for c in Component.objects.filter(server=server)}
    wp = comps[("cms", "wordpress")]
    assert wp.version == "6.4.2"
    assert comps[("plugin", "akismet")].version == "5.3"
    assert comps[("plugin", "contact-form-7")].version == "5.8.4"
    # nginx is installed on the test machine (the nginx fixture needs it).
    nginx_version = (
        subprocess.run(["/usr/sbin/nginx", "-v"], capture_output=True, text=True)
        .stderr.strip()
        .split("/")[-1]
        .split()[0]
    )
    assert comps[("web_server", "nginx")].version == nginx_version

    assert ("WordPress", "wordpress", "6.4.2") in installed(server)
    assert ("WordPress plugin", "contact-form-7", "5.8.4") in installed(server)
    dpkg = own_packages()
    assert ("Debian", "dpkg", dpkg[("dpkg", next(a for n, a in dpkg if n == "dpkg"))]) in installed(
        server
    )
    # The first collection is the baseline: no change events.
    assert not SoftwareEvent.objects.filter(server=server).exists()


@pytest.mark.req("MNT-01")
def test_changes_since_the_last_collection_are_events(setup, server, tree):
    services.collect_server(server)
    tree.write("srv/site/wp-includes/version.php", "<?php\n$wp_version = '6.5';\n")
    plugin(tree, "srv/site", "contact-form-7", "Contact Form 7", "5.9")
    plugin(tree, "srv/site", "wordfence", "Wordfence Security", "7.11.1")
    import shutil

    shutil.rmtree(tree.root / "srv/site/wp-content/plugins/akismet")
    second = services.collect_server(server)

    events = {
        (e.name, e.change): (e.from_version, e.to_version)
        for e in SoftwareEvent.objects.filter(collection=second)
    }
    assert events == {
        ("wordpress", "upgraded"): ("6.4.2", "6.5"),
        ("contact-form-7", "upgraded"): ("5.8.4", "5.9"),
        ("wordfence", "added"): ("", "7.11.1"),
        ("akismet", "removed"): ("5.3", ""),
    }


@pytest.mark.req("MNT-07")
def test_accounts_sudo_and_keys_and_their_changes_flagged_to_operators(
    setup, server, tree, operator
):
    root_key, root_fp = public_key("root@admin")
    deploy_key, deploy_fp = public_key("alice@laptop")
    tree.write("home/root/.ssh/authorized_keys", root_key + "\n")
    tree.write(
        "home/deploy/.ssh/authorized_keys",
        f'from="10.0.0.0/8",no-pty {deploy_key}\n# a comment\ngarbage line\n',
    )
    first = services.collect_server(server)

    accounts = {a.username: a for a in Account.objects.filter(server=server)}
    assert set(accounts) == {"root", "deploy"}  # daemon and www-data have no login shell
    assert accounts["deploy"].uid == 1000
    assert accounts["deploy"].sudo == "group sudo"
    assert accounts["root"].sudo == "sudoers"
    keys = {(k.username, k.fingerprint): k for k in AuthorizedKey.objects.filter(server=server)}
    assert set(keys) == {("root", root_fp), ("deploy", deploy_fp)}
    assert keys[("deploy", deploy_fp)].key_type == "ssh-ed25519"
    assert keys[("deploy", deploy_fp)].comment == "alice@laptop"
    # The line that held no key is a problem of that item; the rest was recorded.
    assert {
        "item": "keys deploy",
        "message": f"1 lines of {tree.home}/deploy/.ssh/authorized_keys hold no key",
    } in first.problems
    assert first.state == "partial"
    # Never the key itself.
    blob = deploy_key.split()[1]
    assert not any(blob in str(v) for k in AuthorizedKey.objects.all() for v in k.__dict__.values())
    assert not AccountEvent.objects.exists()  # baseline

    # Someone adds a user with sudo rights and a key, and removes alice's key.
    mallory_key, mallory_fp = public_key("mallory")
    with open(tree.root / "etc/passwd", "a") as f:
        f.write(f"mallory:x:1001:1001::{tree.home}/mallory:/bin/sh\n")
    tree.write("etc/sudoers.d/mallory", "mallory ALL=(ALL) NOPASSWD: ALL\n")
    tree.write("home/mallory/.ssh/authorized_keys", mallory_key + "\n")
    tree.write("home/deploy/.ssh/authorized_keys", "")
    second = services.collect_server(server)

    events = {
        (e.subject, e.change, e.username, e.detail)
        for e in AccountEvent.objects.filter(collection=second)
    }
    assert events == {
        ("account", "added", "mallory", "uid 1001, /bin/sh"),
        ("sudo", "added", "mallory", "sudoers"),
        ("key", "added", "mallory", f"ssh-ed25519 {mallory_fp}"),
        ("key", "removed", "deploy", f"ssh-ed25519 {deploy_fp}"),
    }
    alerts = Notice.objects.filter(kind=NoticeKind.SOFTWARE_ACCOUNTS)
    assert alerts.filter(recipient=operator.email).count() == 1
    assert "mallory" in alerts.get(recipient=operator.email).body_text
    # Collecting again changes nothing and alerts nobody again.
    services.collect_server(server)
    assert AccountEvent.objects.count() == 4
    assert alerts.filter(recipient=operator.email).count() == 1


@pytest.mark.req("MNT-01")
def test_hostile_output_is_a_problem_of_that_item_not_a_crash(setup, server, tree):
    tree.write("etc/os-release", "\x00\x1b[31mID=\n garbage ===\n")
    tree.write("srv/site/wp-includes/version.php", "<?php $wp_version = system('id'); ?>")
    (tree.root / "srv/site/wp-content/plugins/empty-dir").mkdir()
    collection = services.collect_server(server)
    assert collection.state == "partial"
    items = {p["item"]: p["message"] for p in collection.problems}
    assert items["os"] == "os-release has no valid ID"
    assert items[f"wordpress {tree.root}/srv/site"] == "wp-includes/version.php has no $wp_version"
    # The packages and accounts were still recorded.
    assert Package.objects.filter(server=server).count() > 100
    assert Account.objects.filter(server=server, username="deploy").exists()


@pytest.mark.req("MNT-01")
def test_an_unreachable_server_is_a_failed_collection(setup, server):
    setup.ssh_port = 1
    setup.save()
    collection = services.collect_server(server)
    assert collection.state == "failed"
    assert "cannot connect" in collection.error
    assert Collection.objects.filter(server=server).count() == 1


@pytest.mark.req("MNT-01")
def test_the_command_collects_and_shows(setup, server, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("inventory", "collect", "acme/web1")
    out = capsys.readouterr().out
    assert out.startswith("acme/web1: ")
    call_command("inventory", "show", "acme/web1", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["os"] == {"id": "debian", "version": "12", "name": "Debian GNU/Linux 12 (bookworm)"}
    assert {
        "kind": "cms",
        "name": "wordpress",
        "version": "6.4.2",
        "path": str(setup.wordpress_path_list()[0]),
    } in data["components"]
    from django.utils import translation

    with translation.override("en"), pytest.raises(CommandError) as refused:
        call_command("inventory", "show", "acme/nope")
    assert refused.value.returncode == 2
    assert str(refused.value) == "No server acme/nope (give CLIENT/NAME or its id)."


@pytest.mark.req("MNT-01")
def test_the_periodic_job_collects_due_servers_once_per_turn(setup, server):
    from datetime import timedelta

    from django.utils import timezone

    assert setup.next_collection_at is not None  # due at once after the setup
    assert services.collect_due() == 1
    setup.refresh_from_db()
    expected = timezone.now() + timedelta(hours=24)
    assert abs((setup.next_collection_at - expected).total_seconds()) < 120
    assert services.collect_due() == 0  # not due again before its interval
    assert Collection.objects.filter(server=server).count() == 1
    setup.enabled = False
    setup.next_collection_at = timezone.now()
    setup.save()
    assert services.collect_due() == 0


@pytest.mark.req("MNT-01")
def test_a_server_goes_with_what_was_collected_from_it(setup, server, operator):
    """Collected software is no reason to keep a server: deleting it deletes that too."""
    from mamori.inventory.models import Server
    from mamori.inventory.services import delete_server

    services.collect_server(server)
    assert Package.objects.filter(server=server).exists()
    delete_server(operator, server)
    assert not Server.objects.filter(pk=server.pk).exists()
    assert not Package.objects.exists() and not OperatingSystem.objects.exists()


@pytest.mark.req("MNT-01")
def test_wordpress_is_read_from_its_files_where_wp_cli_cannot_run(setup, tree):
    """wp-cli is used only where ``wp`` is on the login's PATH and the login is not root; the
    test server has no wp-cli (and logs in as the test's user): the files are read."""
    from mamori.lifecycle import ssh
    from mamori.software import collect

    site = str(tree.root / "srv/site")
    with ssh.sync_session(
        setup.ssh_host, setup.ssh_port, setup.ssh_username, setup.ssh_secret, setup.ssh_host_key
    ) as remote:
        reader = collect.Reader(remote)
        assert reader.run("command -v wp")[0] != 0
        assert collect._wordpress_cli(reader, site) is None
        found = collect.Found()
        components = collect._wordpress(reader, site, found)
    assert {(c.kind, c.name, c.version) for c in components} == {
        ("cms", "wordpress", "6.4.2"),
        ("plugin", "akismet", "5.3"),
        ("plugin", "contact-form-7", "5.8.4"),
    }
    assert not found.problems
