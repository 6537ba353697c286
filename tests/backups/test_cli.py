"""``mamori backups run|list|drill|restore`` (BKP-01, BKP-02): one line per result, exit 1 for a
failed run, exit 2 with one line for bad input."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from mamori.backups.models import RunState

pytestmark = pytest.mark.django_db(databases="__all__")


def run(*args) -> str:
    out = io.StringIO()
    with translation.override("en"):
        call_command("backups", *args, stdout=out)
    return out.getvalue()


@pytest.mark.req("BKP-02")
def test_run_list_drill_and_restore_from_the_command_line(make_job, source, roots, operator):
    job = make_job()
    line = run("run", str(job.pk))
    backup = job.runs.get()
    assert backup.state == RunState.SUCCEEDED
    assert f"snapshot {backup.snapshot_id[:8]}" in line and "new 3 changed 0" in line
    assert "drill  succeeded" in run("drill", str(job.pk))
    listed = run("list")
    assert f"{job.pk}  acme  www files" in listed and "last succeeded" in listed
    original = (source / "wp-config.php").read_bytes()
    target = roots / "cli-restore"
    run(
        "restore",
        str(job.pk),
        str(source / "wp-config.php"),
        "--target",
        str(target),
        "--user",
        operator.username,
    )
    assert (target / str(source / "wp-config.php").lstrip("/")).read_bytes() == original
    history = run("list", str(job.pk)).splitlines()
    assert [h.split("  ")[2:4] for h in history] == [
        ["restore", "succeeded"],
        ["drill", "succeeded"],
        ["backup", "succeeded"],
    ]


def test_bad_input_is_one_line_with_exit_2_and_a_failed_run_exit_1(make_job, source, operator):
    with pytest.raises(CommandError) as refused:
        run("run", "999")
    assert refused.value.returncode == 2 and "No such backup job: 999" in str(refused.value)
    job = make_job()
    with pytest.raises(CommandError) as refused:
        run("restore", str(job.pk), "etc/passwd", "--target", "/etc", "--user", operator.username)
    assert refused.value.returncode == 2 and "\n" not in str(refused.value)
    from mamori.vault import services as vault

    run("run", str(job.pk))
    vault.change_secret_value(job.repository_password, "not-the-right-one", actor=None)
    with pytest.raises(CommandError) as failed:
        run("run", str(job.pk))
    assert failed.value.returncode == 1
    assert "failed" in str(failed.value) and "\n" not in str(failed.value)
