"""The notice periods of the seed contracts, on the terms profiles Mamori ships.

- 運用支援サービス契約約款 (monthly-004): terms changes 14 days ahead (004 §2), the end of the
  service 2 months ahead (004 §24); the suspension of the service for maintenance is announced
  beforehand with no set period (004 §23), recorded as 0.
- セコムパスポート for Web (ca-003): changes announced beforehand with no set period (003 §20),
  recorded as 0; the end of the service 3 months ahead (003 §23).

The other seed contracts name no period for announcements; they have no rows (0: any date).
"""

from django.db import migrations

PERIODS = [
    ("monthly-004", "terms_change", 14, 0, "004 §2"),
    ("monthly-004", "service_end", 0, 2, "004 §24"),
    ("monthly-004", "maintenance", 0, 0, "004 §23"),
    ("ca-003", "terms_change", 0, 0, "003 §20"),
    ("ca-003", "service_end", 0, 3, "003 §23"),
]


def ship(apps, schema_editor):
    TermsProfile = apps.get_model("clients", "TermsProfile")
    NoticePeriod = apps.get_model("announcements", "NoticePeriod")
    for code, kind, days, months, source in PERIODS:
        profile = TermsProfile.objects.filter(code=code).first()
        if profile is not None:
            NoticePeriod.objects.update_or_create(
                terms_profile=profile,
                kind=kind,
                defaults={"days": days, "months": months, "source": source},
            )


def unship(apps, schema_editor):
    NoticePeriod = apps.get_model("announcements", "NoticePeriod")
    NoticePeriod.objects.filter(source__in=[p[4] for p in PERIODS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("announcements", "0001_initial"),
        ("clients", "0003_shipped_terms_profiles"),
    ]

    operations = [migrations.RunPython(ship, unship)]
