"""The backup pages in Chromium (BKP-01, BKP-02): an operator reads the backup calendar, a job
with its runs (a success, a failure with restic's output, a drill), the job form and the restore
form, on a 360 px phone and at a 1280 px desk, in Japanese and English; acme's administrator
reads the calendar and the job in the portal. Nothing is wider than the screen. Screenshots:
test-artifacts/backups-<page>-<width>-<language>.png."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.backups import services
from mamori.backups.models import BackupRun
from mamori.vault import services as vault
from tests.browser.phone import overflow, shoot, sign_in_as
from tests.web.cases_lifecycle_deploy import HOST_KEY

pytestmark = [
    pytest.mark.browser,
    pytest.mark.req("BKP-02"),
    pytest.mark.django_db(databases="__all__", transaction=True),
]

WORDS = {
    "ja": ("バックアップ", "成功", "失敗", "復元訓練", "restic がエラーを報告しました"),
    "en": ("Backups", "Succeeded", "Failed", "Restore drill", "restic reported an error"),
}


def job_with_runs(acme):
    secret = vault.store_secret(acme, kind="ssh_key", name="backup", value="x" * 40, actor=None)
    job = services.create_job(
        acme,
        None,
        name="www.acme.example nightly",
        paths="/var/www/html\n/etc/nginx/sites-enabled/very-long-configuration-file-name.conf",
        repository="sftp://backup@storage.provider.example:2222//srv/restic/acme/www-nightly",
        repository_password=secret,
        repository_key=secret,
        repository_host_key=HOST_KEY,
        run_on="server",
        ssh_host="web01.acme.example",
        ssh_username="backup",
        ssh_secret=secret,
        ssh_host_key=HOST_KEY,
    )
    now = timezone.now().replace(microsecond=0)
    day = dt.timedelta(days=1)
    BackupRun.objects.create(
        job=job,
        kind="backup",
        state="succeeded",
        started_at=now - 2 * day,
        ended_at=now - 2 * day + dt.timedelta(minutes=3),
        snapshot_id="1a2b3c4d5e6f",
        files_new=1204,
        files_changed=17,
        files_unmodified=90211,
        bytes_added=48_123_456,
        total_size=7_345_678_901,
        exit_code=0,
    )
    BackupRun.objects.create(
        job=job,
        kind="backup",
        state="failed",
        started_at=now - day,
        ended_at=now - day,
        exit_code=1,
        failure="exit",
        error="Fatal: unable to open repository at sftp:backup@storage.provider.example:"
        "/srv/restic/acme/www-nightly: ssh: connect to host storage.provider.example port 2222:"
        " Connection refused",
    )
    BackupRun.objects.create(
        job=job,
        kind="drill",
        state="succeeded",
        started_at=now - day,
        ended_at=now - day,
        snapshot_id="1a2b3c4d",
        details={"files": 20, "compared": 18, "mismatched": []},
    )
    return job


@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_operator_reads_and_edits_backups(language, acme, operator, live_server, page):
    job = job_with_runs(acme)
    operator.language = language
    operator.save()
    sign_in_as(page.context, live_server, operator)
    pages = {
        "list": reverse("backup_list"),
        "job": reverse("backup_job", args=[job.pk]),
        "form": reverse("backup_job_edit", args=[job.pk]),
        "restore": reverse("backup_restore", args=[job.pk]),
        "client": reverse("client_detail", args=[acme.code]),
    }
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        for name, url in pages.items():
            assert page.goto(live_server.url + url).status == 200, name
            assert overflow(page) == [], (name, width)
            shoot(page, f"backups-{name}-{width}-{language}")
        page.goto(live_server.url + pages["job"])
        text = page.locator("main").inner_text()
        for word in WORDS[language]:
            assert word in text, (width, word)


def test_the_client_reads_its_backups_in_the_portal(acme, owner, live_server, page):
    job = job_with_runs(acme)
    sign_in_as(page.context, live_server, owner)
    page.set_viewport_size({"width": 360, "height": 900})
    assert page.goto(live_server.url + reverse("backup_list")).status == 200
    assert job.name in page.locator("main").inner_text()
    assert overflow(page) == []
    shoot(page, "backups-portal-list-360-ja")
    assert page.goto(live_server.url + reverse("backup_job", args=[job.pk])).status == 200
    text = page.locator("main").inner_text()
    assert "今すぐバックアップ" not in text  # reading only
    assert overflow(page) == []
    shoot(page, "backups-portal-job-360-ja")
