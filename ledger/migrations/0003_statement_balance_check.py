"""The journal balance check runs once per INSERT statement instead of twice per line at COMMIT."""

from django.db import migrations

import ledger.db_guards


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0002_lean_indexes"),
    ]

    operations = [
        migrations.RunPython(ledger.db_guards.install_balance_check, migrations.RunPython.noop),
    ]
