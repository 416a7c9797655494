"""Customer notes get ``updated_at`` so the API can list them with ``updated_since`` (issue 18);
existing notes take their ``created_at``."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def stamp_existing(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("workspace", "CustomerNote").objects.update(updated_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("workspace", "0005_case_event_backfill")]

    operations = [
        migrations.AddField(
            model_name="customernote",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.RunPython(stamp_existing, migrations.RunPython.noop),
    ]
