"""Disputes moved to the ``cases`` app (``cases.0001``): the foreign keys follow, in state only (same table)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    run_before = [("dunning", "0013_cases_moved_out")]

    dependencies = [
        ("cases", "0001_initial"),
        ("workspace", "0003_saved_view"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="disputeassignment",
                    name="dispute",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="workspace_assignment",
                        to="cases.dispute",
                    ),
                ),
                migrations.AlterField(
                    model_name="disputecomment",
                    name="dispute",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="workspace_comments",
                        to="cases.dispute",
                    ),
                ),
            ],
        ),
    ]
