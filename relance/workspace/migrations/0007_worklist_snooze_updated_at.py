"""Worklist snoozes get ``updated_at`` so the API can list them with ``updated_since`` (a second
snooze of the same customer moves ``until`` in place, issue 18); existing ones take ``created_at``."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def stamp_existing(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("workspace", "WorklistSnooze").objects.update(updated_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("workspace", "0006_customer_note_updated_at")]

    operations = [
        migrations.AddField(
            model_name="worklistsnooze",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.RunPython(stamp_existing, migrations.RunPython.noop),
    ]
