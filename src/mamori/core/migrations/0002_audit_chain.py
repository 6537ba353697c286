"""The audit trail becomes a hash chain (ACC-03): a gap-free sequence, prev_hash and hash.

Events written before this migration are chained in the order they were written (time, then
id), so that ``mamori audit verify`` covers them too.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def chain_existing_events(apps, schema_editor):
    # The hash function is the application's own: a chain must be verifiable by exactly the
    # code that verifies it (its serialisation is versioned, CHAIN_VERSION).
    from mamori.core.audit import GENESIS_HASH, event_hash

    AuditEvent = apps.get_model("core", "AuditEvent")
    db = schema_editor.connection.alias
    prev_hash = GENESIS_HASH
    events = AuditEvent.objects.using(db).order_by("created_at", "id")
    for sequence, event in enumerate(events.iterator(), start=1):
        event.sequence = sequence
        event.prev_hash = prev_hash
        event.hash = event_hash(event)
        AuditEvent.objects.using(db).filter(pk=event.pk).update(
            sequence=sequence, prev_hash=prev_hash, hash=event.hash
        )
        prev_hash = event.hash


class Migration(migrations.Migration):

    dependencies = [
        ('clients', '0001_initial'),
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='auditevent',
            options={'ordering': ['-sequence'], 'verbose_name': 'audit event', 'verbose_name_plural': 'audit events'},
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='created_at',
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False, verbose_name='time'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='client',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='clients.client', verbose_name='client'),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='sequence',
            field=models.PositiveBigIntegerField(editable=False, null=True, verbose_name='sequence'),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='prev_hash',
            field=models.CharField(default='', editable=False, max_length=64, verbose_name='previous hash'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='auditevent',
            name='hash',
            field=models.CharField(default='', editable=False, max_length=64, verbose_name='hash'),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='auditevent',
            name='sequence',
            field=models.PositiveBigIntegerField(editable=False, unique=True, verbose_name='sequence'),
        ),
    ]
