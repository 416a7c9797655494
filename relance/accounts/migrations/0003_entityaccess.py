"""EntityAccess, moved here from the api app: the model's state only; its table (``api_entityaccess``),
rows and constraint stay as they are."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_role_groups"),
        ("api", "0002_entityaccess_to_accounts"),
        ("ledger", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="EntityAccess",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "entity",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="access", to="ledger.entity"
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="entity_access",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "entity access",
                        "db_table": "api_entityaccess",
                        "constraints": [
                            models.UniqueConstraint(fields=("user", "entity"), name="entity_access_unique")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
