"""Releasing a report (RPT-01): sent once to the report contacts, with its PDF; a second
release sends nothing; a correction after release is a new version, sent as such."""

from __future__ import annotations

import subprocess

import pytest

from mamori.core.models import AuditEvent
from mamori.notices.models import Notice, NoticeKind
from mamori.notices.services import deliver_due
from mamori.reports import services
from mamori.reports.models import Report, ReportState
from tests.reports.conftest import NOVEMBER
from tests.support.env import require_binary

pytestmark = pytest.mark.req("RPT-01")


def attachment(message):
    [part] = [p for p in message.iter_attachments()]
    return part.get_filename(), part.get_content_type(), part.get_payload(decode=True)


def text_of(pdf_bytes: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf_bytes)
    out = subprocess.run(
        [require_binary("pdftotext"), "-layout", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return " ".join(out.split())


def test_a_build_is_a_draft_sent_to_nobody(scripted):
    report = services.build_report(scripted["client"], NOVEMBER)
    assert (report.version, report.state) == (1, ReportState.DRAFT)
    assert not Notice.objects.filter(kind=NoticeKind.MONTHLY_REPORT).exists()
    # Building again before release refreshes the same draft.
    again = services.build_report(scripted["client"], NOVEMBER)
    assert again.pk == report.pk and Report.objects.count() == 1
    assert AuditEvent.objects.filter(action="report.build").count() == 2


def test_release_sends_once_with_the_pdf_in_each_language(scripted, operator, smtp, tmp_path):
    deliver_due()  # the scenario's own notices (the request's receipt)
    seen = len(smtp.messages)
    report = services.build_report(scripted["client"], NOVEMBER)
    released = services.release(report, actor=operator)
    assert (released.state, released.notices) == (ReportState.SENT, 2)
    assert deliver_due().sent == 2
    # A second release run sends nothing.
    services.release(released, actor=operator)
    assert deliver_due().sent == 0
    assert Notice.objects.filter(kind=NoticeKind.MONTHLY_REPORT).count() == 2

    mails = {m.to: m for m in smtp.messages[seen:]}
    assert sorted(mails) == ["jane@acme.example", "yamada@acme.example"]
    ja = mails["yamada@acme.example"]
    assert "2026年11月分 月次報告書" in ja.subject
    name, kind, content = attachment(ja.message)
    assert (name, kind) == ("report-acme-2026-11-v1_ja.pdf", "application/pdf")
    text = text_of(content, tmp_path)
    assert "2026年11月 月次報告書" in text and "99.861%" in text
    en = mails["jane@acme.example"]
    assert en.subject.endswith("Monthly report for November 2026")
    name, _kind, content = attachment(en.message)
    assert name == "report-acme-2026-11-v1_en.pdf"
    text = text_of(content, tmp_path)
    assert "Monthly report for November 2026" in text and "99.861%" in text


def test_a_correction_after_release_is_a_new_version_sent_as_such(scripted, operator, smtp):
    first = services.release(services.build_report(scripted["client"], NOVEMBER), actor=operator)
    deliver_due()
    seen = len(smtp.messages)
    before = dict(first.figures)
    corrected = services.build_report(scripted["client"], NOVEMBER, actor=operator)
    assert corrected.version == 2 and corrected.state == ReportState.DRAFT
    first.refresh_from_db()
    assert first.state == ReportState.SENT and first.figures == before  # kept, unchanged
    services.release(corrected, actor=operator)
    assert deliver_due().sent == 2
    subjects = sorted(m.subject for m in smtp.messages[seen:])
    assert sum("version 2" in s or "第2版" in s for s in subjects) == 2
    # Releasing the older version again sends nothing.
    services.release(first, actor=operator)
    assert deliver_due().sent == 0


def test_a_month_that_has_not_ended_is_refused(scripted):
    from django.utils import timezone

    this_month = timezone.localdate().replace(day=1)
    with pytest.raises(services.ReportError, match="まだ終わっていません"):
        services.build_report(scripted["client"], this_month)
    assert not Report.objects.exists()
