"""User names in their one form (NFKC, case-folded: mamori.core.usernames).

Every account is renamed to the one form of its name, unless another account already has that
form: then the account that is already in the one form keeps it (or, if none is, the oldest
account gets it), and the others keep their own spelling. Sign-in finds those by their exact
spelling first (UserManager.get_by_natural_key); every other spelling finds the account in the
one form, and all spellings share one failure counter. docs/access.md says how to resolve them.
"""

from collections import defaultdict

from django.db import migrations

import mamori.core.models
from mamori.core.usernames import MAX_LENGTH, canonical


def rename_to_one_form(apps, schema_editor):
    User = apps.get_model("core", "User")
    groups = defaultdict(list)
    for pk, name in User.objects.order_by("pk").values_list("pk", "username"):
        groups[canonical(name)].append((pk, name))
    for form, accounts in groups.items():
        if len(form) > MAX_LENGTH or any(name == form for _pk, name in accounts):
            continue
        User.objects.filter(pk=accounts[0][0]).update(username=form)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_audit_chain"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", mamori.core.models.UserManager()),
            ],
        ),
        migrations.RunPython(rename_to_one_form, migrations.RunPython.noop, elidable=True),
    ]
