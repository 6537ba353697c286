"""The record of updates and repairs (MNT-02, 004 §8.3): recorded from the page, the API and
the CLI through one service, the client told afterwards once (or not, when the operator says
so); an update run over SSH on a real sshd, recorded with its output."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from mamori.advisories import updates
from mamori.advisories.models import UpdateRecord, UpdateState
from mamori.clients.models import Contact
from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.inventory.models import Server, Site
from mamori.notices.models import Notice, NoticeKind

pytestmark = [pytest.mark.req("MNT-02"), pytest.mark.django_db]


@pytest.fixture(autouse=True)
def english():
    """The services' messages read in English here (the default language is Japanese)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def web1(acme):
    Contact.objects.create(
        client=acme,
        name="保守担当",
        email="hoshu@acme.example",
        language="ja",
        notify=["maintenance"],
    )
    Contact.objects.create(
        client=acme, name="Ops", email="ops@acme.example", language="en", notify=["maintenance"]
    )
    return Server.objects.create(client=acme, name="web1", kind="vps")


def told(record) -> list[str]:
    return sorted(
        Notice.objects.filter(
            kind=NoticeKind.UPDATE_PERFORMED, key__startswith=f"update-record:{record.pk}|"
        ).values_list("recipient", flat=True)
    )


def test_an_urgent_repair_is_recorded_and_the_client_told_once(acme, web1, operator):
    when = timezone.now() - dt.timedelta(hours=2)
    record = updates.record_update(
        operator,
        acme,
        {
            "server": web1,
            "package": "openssl",
            "from_version": "3.0.11-1~deb12u2",
            "to_version": "3.0.13-1~deb12u1",
            "kind": "urgent",
            "performed_at": when,
            "advisories": "DSA-9901-1, CVE-2099-1001",
            "reason": "Remote crash fixed by the distributor.",
        },
    )
    assert (record.state, record.performed_at, record.performed_by_label) == (
        UpdateState.DONE,
        when,
        "operator",
    )
    assert record.advisories == ["DSA-9901-1", "CVE-2099-1001"]
    assert told(record) == ["hoshu@acme.example", "ops@acme.example"]
    ja = Notice.objects.get(recipient="hoshu@acme.example", kind=NoticeKind.UPDATE_PERFORMED)
    assert "事前のご連絡をせずに" in ja.body_text and "3.0.13-1~deb12u1" in ja.body_text
    en = Notice.objects.get(recipient="ops@acme.example", kind=NoticeKind.UPDATE_PERFORMED)
    assert "without prior notice" in en.body_text and "DSA-9901-1" in en.body_text
    # Telling again puts nothing more in the outbox.
    assert updates.notify_client(record) == 0
    assert len(told(record)) == 2
    assert AuditEvent.objects.filter(action="update.record", object_id=str(record.pk)).exists()


def test_the_operator_may_decide_not_to_tell(acme, web1, operator):
    record = updates.record_update(
        operator,
        acme,
        {"server": web1, "package": "nginx", "kind": "urgent", "notify_client": False},
    )
    assert told(record) == [] and record.notified_at is None


@pytest.mark.parametrize(
    "values, message",
    [
        ({"package": "nginx"}, "Name the server or the site"),
        ({"package": "", "server": True}, "Say what was updated"),
        ({"package": "nginx", "server": True, "kind": "sometime"}, "Unknown kind"),
        (
            {
                "package": "nginx",
                "server": True,
                "performed_at": timezone.now() + dt.timedelta(days=1),
            },
            "in the future",
        ),
    ],
)
def test_bad_input_is_refused_with_a_reason(acme, web1, operator, values, message):
    if values.get("server") is True:
        values["server"] = web1
    with pytest.raises(updates.UpdateError, match=message):
        updates.record_update(operator, acme, values)
    assert UpdateRecord.objects.count() == 0


def test_another_clients_server_is_refused(acme, globex, operator):
    theirs = Server.objects.create(client=globex, name="db1", kind="vps")
    with pytest.raises(updates.UpdateError, match="another client"):
        updates.record_update(operator, acme, {"server": theirs, "package": "x"})


def test_recorded_from_the_servers_page(acme, web1, operator, member, client):
    site = Site.objects.create(
        client=acme, name="corp", url="https://www.acme.example/", server=web1
    )
    client.force_login(operator)
    url = f"/advisories/servers/{web1.pk}/"
    response = client.post(
        url,
        {
            "package": "wordpress",
            "from_version": "6.4.2",
            "to_version": "6.4.3",
            "kind": "planned",
            "method": "manual",
            "performed_at": "2026-12-01T10:30",
            "site": site.pk,
            "notify_client": "on",
        },
    )
    record = UpdateRecord.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/advisories/updates/{record.pk}/"
    )
    assert (record.site, record.server, record.to_version) == (site, web1, "6.4.3")
    assert timezone.localtime(record.performed_at).strftime("%Y-%m-%d %H:%M") == "2026-12-01 10:30"
    assert len(told(record)) == 2
    page = client.get(f"/advisories/updates/{record.pk}/").content.decode()
    assert "6.4.3" in page and "corp" in page
    # A viewer of the client sees the record but may not record one.
    client.force_login(member)
    assert client.get(f"/advisories/updates/{record.pk}/").status_code == 200
    assert (
        client.post(url, {"package": "x", "kind": "planned", "method": "manual"}).status_code == 403
    )


def test_recorded_through_the_api(acme, web1, operator, client):
    _, token = create_token(operator, "test")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    body = {
        "client": "acme",
        "server": web1.pk,
        "package": "php8.2",
        "from_version": "8.2.7-1~deb12u1",
        "to_version": "8.2.20-1~deb12u1",
        "kind": "planned",
        "performed_at": "2026-12-01T10:00:00+09:00",
    }
    created = client.post("/api/v1/updates", body, content_type="application/json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["state"], data["performed_by"], data["kind"]) == ("done", "operator", "planned")
    assert data["notified_at"] is not None
    listed = client.get("/api/v1/updates?client=acme").json()["items"]
    assert [u["package"] for u in listed] == ["php8.2"]
    bad = client.post("/api/v1/updates", {**body, "server": None}, content_type="application/json")
    # The operator reads Japanese: the API answers in their language.
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["msg"] == "更新したサーバーまたはサイトを指定してください。"


def test_recorded_and_listed_from_the_cli(acme, web1, operator, capsys):
    call_command(
        "updates",
        "record",
        "acme",
        "openssl",
        "--server",
        "web1",
        "--from",
        "3.0.11-1~deb12u2",
        "--to",
        "3.0.13-1~deb12u1",
        "--urgent",
        "--advisory",
        "DSA-9901-1",
        "--user",
        "operator",
        "--when",
        "2026-12-01T09:00:00+09:00",
    )
    record = UpdateRecord.objects.get()
    assert (record.kind, record.advisories) == ("urgent", ["DSA-9901-1"])
    call_command("updates", "list", "--client", "acme")
    assert "openssl\t3.0.11-1~deb12u2 -> 3.0.13-1~deb12u1\turgent" in capsys.readouterr().out
    with pytest.raises(CommandError) as bad:
        call_command(
            "updates", "record", "acme", "openssl", "--server", "nope", "--user", "operator"
        )
    assert bad.value.returncode == 2 and "nope" in str(bad.value)


# --- over SSH, on a real sshd ----------------------------------------------------------------


def not_upgradable_package() -> tuple[str, str]:
    """An installed package apt would not change (its candidate is the installed version), so
    the run changes nothing on the test machine; and its version."""
    installed = dict(
        line.split("\t")
        for line in subprocess.run(
            ["dpkg-query", "-W", "-f=${Package}\t${Version}\n"], capture_output=True, text=True
        ).stdout.splitlines()
    )
    upgradable = {
        line.split("/")[0]
        for line in subprocess.run(
            ["apt", "list", "--upgradable"], capture_output=True, text=True
        ).stdout.splitlines()
    }
    for name in ("adduser", "debianutils", "sed", "grep", "hostname", *sorted(installed)):
        if name in installed and name not in upgradable:
            return name, installed[name]
    pytest.fail("every installed package is upgradable")


def access(sshd, host_key=None) -> updates.Access:
    return updates.Access(
        sshd.host, sshd.port, sshd.username, sshd.client_key_pem, host_key or sshd.host_key
    )


def test_an_apt_update_runs_over_ssh_and_is_recorded_with_its_output(acme, web1, operator, sshd):
    if sshd.username != "root":
        pytest.fail("apt-get runs as root over SSH here")
    name, version = not_upgradable_package()
    record = updates.start_update(
        operator, acme, {"server": web1, "package": name, "method": "apt", "kind": "urgent"}
    )
    assert record.state == UpdateState.QUEUED and told(record) == []
    record = updates.run_update(record, access(sshd))
    assert record.state == UpdateState.SUCCEEDED, record.output
    assert record.exit_status == 0 and record.to_version == version
    assert (
        record.command
        == f"env DEBIAN_FRONTEND=noninteractive apt-get install -y --only-upgrade {name}"
    )
    assert "already the newest version" in record.output
    assert len(told(record)) == 2  # told afterwards, once it succeeded
    with pytest.raises(updates.UpdateError, match="not waiting to run"):
        updates.run_update(record, access(sshd))


def test_a_failing_update_is_recorded_as_failed_and_nobody_is_told(acme, web1, operator, sshd):
    record = updates.start_update(
        operator, acme, {"server": web1, "package": "mamori-no-such-package", "method": "apt"}
    )
    record = updates.run_update(record, access(sshd))
    assert record.state == UpdateState.FAILED and record.exit_status == 100
    assert "Unable to locate package mamori-no-such-package" in record.output
    assert told(record) == []


def test_a_server_with_another_host_key_is_refused_before_anything_runs(acme, web1, operator, sshd):
    import asyncssh

    stranger = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    record = updates.start_update(
        operator, acme, {"server": web1, "package": "sed", "method": "apt"}
    )
    record = updates.run_update(record, access(sshd, stranger))
    assert record.state == UpdateState.FAILED and "pinned host key" in record.output


def test_a_run_needs_a_method_a_server_and_a_plain_package_name(acme, web1, operator):
    for values, message in (
        ({"server": web1, "package": "sed"}, "Choose how to run it"),
        ({"server": web1, "package": "sed; rm -rf /", "method": "apt"}, "Not a package"),
        ({"server": web1, "package": "akismet", "method": "wp_plugin"}, "directory"),
    ):
        with pytest.raises(updates.UpdateError, match=message):
            updates.start_update(operator, acme, values)


def test_ids_beyond_range_find_nothing(acme, web1, operator, client):
    client.force_login(operator)
    huge = 2**70
    assert client.get(f"/api/v1/servers/{huge}/findings").status_code in (404, 422)
    assert client.get(f"/api/v1/updates/{huge}").status_code in (404, 422)
    body = {"client": "acme", "server": huge, "package": "nginx"}
    answer = client.post("/api/v1/updates", body, content_type="application/json")
    assert answer.status_code == 422
    assert client.get(f"/advisories/servers/{huge}/").status_code == 404
