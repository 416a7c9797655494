"""A customer's case (promises, disputes, plans, holds, contacts, hand-offs) moves to ``cases``.

State only: ``cases.0001_initial`` took the models (same tables, same rows); dunning forgets
them here. The other apps' foreign keys were pointed at ``cases`` before this runs
(``portal.0002_cases_moved``, ``workspace.0004_cases_moved``, both ``run_before`` this).
"""

from django.db import migrations

MOVED = (
    "Installment",  # before its plan
    "PaymentPlan",
    "Promise",
    "Dispute",
    "CustomerHold",
    "ContactLog",
    "CreditHold",
    "ExternalCollection",
)


class Migration(migrations.Migration):
    dependencies = [
        ("dunning", "0012_policyversion_author_comment"),
        ("cases", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name=name) for name in MOVED],
        ),
    ]
