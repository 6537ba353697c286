"""A whole month of a demo client (every section present) as the PDF a client receives, in
Japanese and in English (RPT-01): read back with poppler's pdftotext, every page turned into a
PNG with pdftoppm (test-artifacts/report_<lang>-<page>.png, for a person to look at)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from mamori.reports import build, pdf, services
from tests.reports.conftest import NOVEMBER
from tests.reports.scenario import everything  # noqa: F401 - a fixture
from tests.support.env import require_binary

pytestmark = [pytest.mark.req("RPT-01"), pytest.mark.django_db(databases="__all__")]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# The headings of the scripted month, section by section (the h2, then the h3 inside).
HEADINGS = {
    "ja": [
        "2026年11月 月次報告書",
        "稼働率",
        "サービスレベル（SLA）",
        "障害",
        "メンテナンス枠",
        "証明書",
        "発行・更新",
        "導入完了",
        "当月に期限切れ",
        "失効済み",
        "更新の承認",
        "更新の承認待ち",
        "バックアップと復元テスト",
        "更新と脆弱性",
        "脆弱性の検出",
        "ご依頼と作業",
        "訪問者",
        "お知らせ",
        "2026年12月の予定",
        "期限を迎える証明書",
        "予定している更新",
    ],
    "en": [
        "Monthly report for November 2026",
        "Availability",
        "Service level (SLA)",
        "Incidents",
        "Maintenance windows",
        "Certificates",
        "Issued and renewed",
        "Installed",
        "Expiring this month",
        "Revoked",
        "Renewal approvals given",
        "Renewal approvals awaited",
        "Backups and restore drills",
        "Updates and vulnerabilities",
        "Vulnerability findings",
        "Requests and work",
        "Visitors",
        "Announcements",
        "Planned for December 2026",
        "Certificates expiring",
        "Updates queued",
    ],
}

# Words of the English document that must not be left in the Japanese one (labels of codes).
ENGLISH_LABELS = [
    "Availability",
    "Incidents",
    "Certificates",
    "Renewal",
    "Key compromise",
    "Succeeded",
    "Failed",
    "Missed",
    "Critical",
    "Medium",
    "Planned",
    "Change of terms",
    "Restore drill",
    "Approved",
    "Provider",
    " min",
    "Version",
    "Built",
]

CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]+")


def pdf_text(data: bytes, path: Path) -> str:
    path.write_bytes(data)
    args = [require_binary("pdftotext"), "-layout", str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def to_pngs(data: bytes, name: str, tmp_path: Path) -> list[Path]:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(data)
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob(f"{name}-*.png"):
        old.unlink()
    subprocess.run(
        [require_binary("pdftoppm"), "-png", "-r", "80", str(path), str(ARTIFACTS / name)],
        check=True,
    )
    return sorted(ARTIFACTS.glob(f"{name}-*.png"))


@pytest.fixture
def report(everything, operator):  # noqa: F811
    made = services.build_report(everything["client"], NOVEMBER, actor=operator)
    assert set(made.figures["sections"]) == set(build.SECTIONS)
    return made


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_section_is_in_the_pdf_in_one_language(report, language, tmp_path):
    data = pdf.render(report, language)
    assert data.startswith(b"%PDF")
    pages = to_pngs(data, f"report_{language}", tmp_path)
    assert pages and all(p.stat().st_size > 10_000 for p in pages)
    text = pdf_text(data, tmp_path / "report.pdf")
    flat = re.sub(r"[ \t]+", " ", text)
    missing = [h for h in HEADINGS[language] if h not in flat]
    assert not missing, missing
    # The backups that did not succeed are named with their state, not only counted.
    assert {"ja": "失敗 2", "en": "Failed 2"}[language] in flat
    assert {"ja": "未実行 1", "en": "Missed 1"}[language] in flat
    if language == "en":
        # Japanese only in the client's own names: its name and the provider's.
        allowed = set(CJK.findall(f"{report.client.name}"))
        from mamori.access.services import provider_name

        allowed |= set(CJK.findall(provider_name()))
        leftovers = set(CJK.findall(text)) - allowed
        assert not leftovers, leftovers
        assert "Revised terms of service" in flat and "利用規約の改定" not in flat
    else:
        leftovers = [w for w in ENGLISH_LABELS if w in text]
        assert not leftovers, leftovers
        assert "利用規約の改定" in flat and "Revised terms of service" not in flat
