"""Collection over SSH from the real sshd on loopback, and the command line (MNT-06)."""

from __future__ import annotations

import datetime as dt
import gzip
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mamori.software import services as software
from mamori.vault import services as vault
from mamori.vault.models import SecretKind
from mamori.weblogs import services
from tests.weblogs.conftest import day_one, day_two, line

OCTOBER = dt.date(2026, 10, 1)
pytestmark = [pytest.mark.django_db(databases="__all__")]


@pytest.fixture
def login(site, sshd, tmp_path):
    secret = vault.store_secret(
        site.client,
        kind=SecretKind.SSH_KEY,
        name="web1 login",
        value=sshd.client_key_pem,
        actor=None,
    )
    return software.save_setup(
        site.server,
        {
            "ssh_host": sshd.host,
            "ssh_port": sshd.port,
            "ssh_username": sshd.username,
            "ssh_secret": secret,
            "ssh_host_key": sshd.known_hosts_line,
        },
        actor=None,
    )


@pytest.mark.req("MNT-06")
def test_logs_are_collected_over_ssh_incrementally(site, login, tmp_path):
    logs = tmp_path / "var-log-nginx"
    logs.mkdir()
    with gzip.open(logs / "example.access.log.2.gz", "wb") as f:
        f.write("".join(day_one()).encode())
    (logs / "example.access.log").write_text("".join(day_two()))
    (logs / "other.access.log").write_text("".join(day_two()))  # another site's: not read
    services.save_setup(site, {"paths": f"{logs}/example.access.log*"}, actor=None)

    results = services.collect_site(site)
    assert sorted((r.path.rsplit("/", 1)[1], r.lines) for r in results) == [
        ("example.access.log", 1),
        ("example.access.log.2.gz", 11),
    ]
    f = services.month_figures(site, OCTOBER)
    assert (f.hits, f.page_views, f.visitors, f.rejected_lines) == (11, 5, 4, 1)

    with (logs / "example.access.log").open("a") as out:
        out.write(line("203.0.113.9", "11/Oct/2026", "GET /news/ HTTP/1.1", 200, "Mozilla/5.0 B"))
    again = services.collect_site(site)
    assert sum(r.lines for r in again) == 1
    f = services.month_figures(site, OCTOBER)
    assert (f.hits, f.page_views, f.visitors) == (12, 6, 5)
    site.log_setup.refresh_from_db()
    assert site.log_setup.last_error_code == "" and site.log_setup.lease_until is None


def test_a_site_without_an_ssh_login_is_a_precise_error(site, tmp_path):
    services.save_setup(site, {"paths": "/var/log/nginx/access.log*"}, actor=None)
    with pytest.raises(services.WeblogError, match="no SSH login"):
        services.collect_site(site)
    site.log_setup.refresh_from_db()
    assert site.log_setup.last_error_code == "no_login"


def test_unsafe_paths_are_refused(site):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.save_setup(site, {"paths": "/var/log/$(reboot)"}, actor=None)


@pytest.mark.req("MNT-06")
def test_the_import_command(site, tmp_path):
    log = tmp_path / "access.log"
    log.write_text("".join(day_one() + day_two()))
    out = io.StringIO()
    call_command("logs", "import", "acme/Example", str(log), stdout=out)
    assert "12 lines, 1 rejected" in out.getvalue()
    out = io.StringIO()
    call_command("logs", "show", "acme/Example", "--month", "2026-10", "--json", stdout=out)
    assert '"visitors": 4' in out.getvalue()
    with pytest.raises(CommandError) as missing:
        call_command("logs", "import", "acme/Example", str(tmp_path / "none.log"))
    assert missing.value.returncode == 2 and "Cannot open" in str(missing.value)
    with pytest.raises(CommandError) as unknown:
        call_command("logs", "import", "acme/Nothing", str(log))
    assert unknown.value.returncode == 2
    with pytest.raises(CommandError) as month:
        call_command("logs", "show", "acme/Example", "--month", "October")
    assert month.value.returncode == 2
