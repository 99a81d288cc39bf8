import uuid

from django.db import migrations, models


def fill_public_ids(apps, schema_editor):
    Finding = apps.get_model("screening", "Finding")
    for finding in Finding.objects.filter(public_id__isnull=True).only("pk"):
        finding.public_id = uuid.uuid4()
        finding.save(update_fields=["public_id"])


class Migration(migrations.Migration):
    dependencies = [("screening", "0002_evidence_fingerprint")]

    operations = [
        migrations.AddField(model_name="finding", name="public_id", field=models.UUIDField(null=True, editable=False)),
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="finding", name="public_id",
            field=models.UUIDField(default=uuid.uuid4, unique=True, editable=False),
        ),
    ]
