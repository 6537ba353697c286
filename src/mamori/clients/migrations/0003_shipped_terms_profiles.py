"""The terms profiles Mamori ships: one per kind of seed contract, under stable codes."""

from django.db import migrations

COMMON = {"builtin": True, "first_month_whole": False, "bill_to_period_end": True}
PROFILES = [
    {
        "code": "fixed-1y-000",
        "name_ja": "SSL証明書管理契約（1年・自動更新・30日前までに書面で解約通知）",
        "name_en": "SSL certificate management (1 year, renews; written notice 30 days before the end)",
        "term_kind": "fixed",
        "term_months": 12,
        "auto_renew": True,
        "notice_days": 30,
        "cancellation": "term_end",
    },
    {
        "code": "fixed-1y-001",
        "name_ja": "保守管理契約（Webサイト）（1年・自動更新・30日前通知で中途解約可）",
        "name_en": "Website maintenance (1 year, renews; mid-term cancellation with 30 days' notice)",
        "term_kind": "fixed",
        "term_months": 12,
        "auto_renew": True,
        "notice_days": 30,
        "cancellation": "term_end",
        "mid_term_notice_days": 30,
    },
    {
        "code": "fixed-1y-002",
        "name_ja": "サーバー管理契約（1年・自動更新・30日前までに書面で終了通知）",
        "name_en": "Server management (1 year, renews; written notice 30 days before the end)",
        "term_kind": "fixed",
        "term_months": 12,
        "auto_renew": True,
        "notice_days": 30,
        "cancellation": "term_end",
    },
    {
        "code": "ca-003",
        "name_ja": "認証局サービス（証明書の有効期間・更新なし・解約は受付日に成立）",
        "name_en": "Certificate authority service (the certificate's validity; no renewal; "
        "cancellation on receipt)",
        "term_kind": "fixed",
        "term_months": 12,
        "auto_renew": False,
        "notice_days": 0,
        "cancellation": "on_receipt",
        "reminder_days": 0,
    },
    {
        "code": "monthly-004",
        "name_ja": "運用支援サービス（月単位・自動更新・最低利用期間は成立月の翌月末まで）",
        "name_en": "Operations support (calendar months, renews; minimum term to the end of the "
        "month after formation)",
        "term_kind": "calendar_month",
        "term_months": 1,
        "auto_renew": True,
        "notice_days": 0,
        "minimum_term": "end_of_next_month",
        "cancellation": "month_after_acceptance",
        "cooling_off_days": 8,
        "reminder_days": 0,
        "first_month_whole": True,
    },
]


def ship(apps, schema_editor):
    TermsProfile = apps.get_model("clients", "TermsProfile")
    for values in PROFILES:
        values = {**COMMON, **values}
        TermsProfile.objects.update_or_create(code=values.pop("code"), defaults=values)


def unship(apps, schema_editor):
    TermsProfile = apps.get_model("clients", "TermsProfile")
    TermsProfile.objects.filter(code__in=[p["code"] for p in PROFILES], builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("clients", "0002_terms_profiles")]

    operations = [migrations.RunPython(ship, unship)]
