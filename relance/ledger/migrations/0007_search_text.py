"""A folded search column on customers and contacts (accent- and case-insensitive search), filled
for the rows that exist."""

from django.db import migrations, models

SEARCHED = {"Customer": ("name", "external_ref", "tax_id"), "Contact": ("name", "email", "phone")}


def fill_search_text(apps, schema_editor):
    from relance.core.text import search_text

    for model_name, fields in SEARCHED.items():
        model = apps.get_model("ledger", model_name)
        batch = []
        for row in model.objects.only("pk", *fields).iterator(chunk_size=2000):
            row.search_text = search_text(*(getattr(row, name) for name in fields))
            batch.append(row)
            if len(batch) >= 2000:
                model.objects.bulk_update(batch, ["search_text"])
                batch = []
        if batch:
            model.objects.bulk_update(batch, ["search_text"])


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_version_scope_documents"),
    ]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="search_text",
            field=models.CharField(blank=True, default="", editable=False, max_length=600),
        ),
        migrations.AddField(
            model_name="customer",
            name="search_text",
            field=models.CharField(blank=True, default="", editable=False, max_length=600),
        ),
        migrations.RunPython(fill_search_text, migrations.RunPython.noop),
    ]
