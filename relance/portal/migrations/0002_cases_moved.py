"""Disputes and payment plans moved to the ``cases`` app (``cases.0001``): the foreign keys follow, in state only (same tables)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    run_before = [("dunning", "0013_cases_moved_out")]

    dependencies = [
        ("cases", "0001_initial"),
        ("portal", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="disputecase",
                    name="dispute",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="portal_case",
                        to="cases.dispute",
                    ),
                ),
                migrations.AlterField(
                    model_name="planrequest",
                    name="plan",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="cases.paymentplan",
                    ),
                ),
            ],
        ),
    ]
