"""Households already on a transaction become clients of the escrow company of their first one."""

from django.db import migrations


def claim(apps, schema_editor):
    Organization = apps.get_model("identity", "Organization")
    EscrowTransaction = apps.get_model("transactions", "EscrowTransaction")
    for txn in EscrowTransaction.objects.order_by("created_at", "id").only("buyer_id", "seller_id", "escrow_company_id"):
        Organization.objects.filter(
            pk__in=[txn.buyer_id, txn.seller_id], kind="individual", client_of__isnull=True
        ).update(client_of_id=txn.escrow_company_id)


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0001_initial"),
        ("identity", "0003_organization_client_of_org_admin"),
    ]

    operations = [migrations.RunPython(claim, migrations.RunPython.noop)]
