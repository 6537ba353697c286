"""``mamori announce`` (NOT-04): create from options and files, a dry run listing recipients,
send once; bad input in one line with exit 2."""

from __future__ import annotations

import datetime as dt

import pytest
from dateutil.relativedelta import relativedelta
from django.core.management import CommandError, call_command
from django.utils import timezone

from mamori.announcements.models import Announcement
from mamori.notices.models import Notice

pytestmark = pytest.mark.req("NOT-04")


def ahead(days: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def create(*extra: str) -> None:
    call_command("announce", "create", "--user", "operator", *extra)


def test_created_from_files_dry_run_and_sent_once(ops, site_client, operator, tmp_path, capsys):
    ja, en = tmp_path / "ja.txt", tmp_path / "en.txt"
    ja.write_text("共用ストレージを交換します。\n", encoding="utf-8")
    en.write_text("We are replacing the shared storage.\n", encoding="utf-8")
    options = [
        "--kind", "maintenance", "--date", ahead(10), "--server", "hoshu/web1",
        "--subject-ja", "共用ストレージの交換", "--subject-en", "Shared storage replacement",
        "--body-ja-file", str(ja), "--body-en-file", str(en),
    ]  # fmt: skip
    create(*options, "--dry-run")
    out = capsys.readouterr().out
    assert "hoshu\t" in out and "sato@hoshu.example" in out and "acme" not in out
    assert not Announcement.objects.exists()
    create(*options)
    a = Announcement.objects.get()
    assert a.body_en == "We are replacing the shared storage.\n"
    call_command("announce", "send", str(a.pk), "--dry-run", "--user", "operator")
    assert "sato@hoshu.example" in capsys.readouterr().out
    assert not Notice.objects.exists()
    call_command("announce", "send", str(a.pk), "--user", "operator")
    call_command("announce", "send", str(a.pk), "--user", "operator")
    assert Notice.objects.count() == 1
    out = capsys.readouterr().out
    assert "Sent already" in out or "送信済み" in out


def test_a_date_too_early_is_one_line_with_the_earliest_date(ops, operator):
    with pytest.raises(CommandError) as refused:
        create(
            "--kind", "service_end", "--date", ahead(30),
            "--contract-type", "operations_support",
            "--subject-ja", "終了", "--subject-en", "End", "--body-ja", "本文", "--body-en", "Text",
        )  # fmt: skip
    # 004 §24: two calendar months from today.
    earliest = (timezone.localdate() + relativedelta(months=2)).isoformat()
    assert refused.value.returncode == 2
    message = str(refused.value)
    assert "\n" not in message and "004 §24" in message and earliest in message


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--date", "tomorrow"], "tomorrow"),
        (["--date", "2027-01-10", "--server", "nobody/web9"], "nobody/web9"),
        (["--date", "2027-01-10", "--body-ja-file", "/nonexistent/ja.txt"], "/nonexistent"),
        (["--date", "2027-01-10", "--terms-profile", "no-such"], "no-such"),
    ],
)
def test_bad_input_is_one_line(ops, operator, args, says):
    with pytest.raises(CommandError) as refused:
        create("--kind", "maintenance", "--subject-ja", "a", "--subject-en", "b", *args)
    assert refused.value.returncode == 2 and says in str(refused.value)
