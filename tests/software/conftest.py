"""A managed server for the software inventory: the real sshd on loopback, and a fixture tree
(os-release, passwd, group, sudoers, home directories with authorized_keys, a WordPress site with
plugins) that the server's collection setup points at. Packages come from this machine's own
dpkg database."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from mamori.inventory.models import Server
from mamori.software import services
from mamori.vault import services as vault
from mamori.vault.models import SecretKind


def public_key(comment: str) -> tuple[str, str]:
    """A new public key line and its SHA256 fingerprint, as ssh-keygen -l prints it."""
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    line = key.export_public_key("openssh").decode().strip()
    return line, key.get_fingerprint("sha256")


@dataclass
class Tree:
    root: Path

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    @property
    def home(self) -> Path:
        return self.root / "home"


def plugin(tree: Tree, site: str, slug: str, name: str, version: str) -> None:
    tree.write(
        f"{site}/wp-content/plugins/{slug}/{slug}.php",
        f"<?php\n/**\n * Plugin Name: {name}\n * Description: test\n * Version: {version}\n"
        " * Author: Someone\n */\n",
    )


@pytest.fixture
def tree(tmp_path) -> Tree:
    t = Tree(tmp_path / "system")
    t.write(
        "etc/os-release",
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
        'VERSION_ID="12"\nVERSION="12 (bookworm)"\nID=debian\n',
    )
    home = t.home
    t.write(
        "etc/passwd",
        f"root:x:0:0:root:{home}/root:/bin/bash\n"
        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
        f"deploy:x:1000:1000:Deploy,,,:{home}/deploy:/bin/bash\n"
        f"www-data:x:33:33:www-data:{home}/www:/usr/sbin/nologin\n",
    )
    t.write("etc/group", "root:x:0:\nsudo:x:27:deploy\ndeploy:x:1000:\nwww-data:x:33:\n")
    t.write("etc/sudoers", "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n")
    (t.root / "etc/sudoers.d").mkdir()
    t.write("etc/sudoers.d/README", "# nothing\n")
    t.write(
        "srv/site/wp-includes/version.php",
        "<?php\n$wp_version = '6.4.2';\n$wp_db_version = 56657;\n",
    )
    plugin(t, "srv/site", "akismet", "Akismet Anti-spam: Spam Protection", "5.3")
    plugin(t, "srv/site", "contact-form-7", "Contact Form 7", "5.8.4")
    return t


@pytest.fixture
def server(acme) -> Server:
    return Server.objects.create(client=acme, name="web1", kind="vps")


@pytest.fixture
def setup(server, sshd, tree):
    secret = vault.store_secret(
        server.client,
        kind=SecretKind.SSH_KEY,
        name="web1 login",
        value=sshd.client_key_pem,
        actor=None,
    )
    etc = tree.root / "etc"
    return services.save_setup(
        server,
        {
            "ssh_host": sshd.host,
            "ssh_port": sshd.port,
            "ssh_username": sshd.username,
            "ssh_secret": secret,
            "ssh_host_key": sshd.known_hosts_line,
            "os_release_path": str(etc / "os-release"),
            "passwd_path": str(etc / "passwd"),
            "group_path": str(etc / "group"),
            "sudoers_path": str(etc / "sudoers"),
            "wordpress_paths": str(tree.root / "srv/site"),
        },
        actor=None,
    )
