"""The watch no longer reads deployments: it reads the marks they leave on the endpoint
(certificates.ExpectedCertificate). Mark the certificates of the deployments made before."""

from django.db import migrations
from django.utils import timezone

MARKED_STATES = ["installing", "verifying", "succeeded"]


def mark(apps, schema_editor):
    Deployment = apps.get_model("lifecycle", "Deployment")
    Expected = apps.get_model("certificates", "ExpectedCertificate")
    pairs = (
        Deployment.objects.filter(state__in=MARKED_STATES, target__endpoint__isnull=False)
        .values_list("target__endpoint_id", "certificate_id")
        .distinct()
    )
    now = timezone.now()
    Expected.objects.bulk_create(
        [Expected(endpoint_id=e, certificate_id=c, since=now) for e, c in pairs],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("lifecycle", "0002_order_fee_amount_read_back"),
        ("certificates", "0003_expected_certificate"),
    ]

    operations = [migrations.RunPython(mark, migrations.RunPython.noop)]
