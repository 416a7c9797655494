import django.core.validators
from decimal import Decimal
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("cashapp", "0003_residuals"),
    ]

    operations = [
        migrations.AddField(
            model_name="cashappsettings",
            name="match_tolerance",
            field=models.DecimalField(
                decimal_places=4,
                default=Decimal("1.00"),
                help_text="An amount this close to the open amount pays it (in the line's currency: bank fees)",
                max_digits=18,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AddField(
            model_name="cashappsettings",
            name="match_tolerance_percent",
            field=models.DecimalField(
                decimal_places=6,
                default=Decimal("0"),
                help_text="Or this % of the open amount, whichever is larger (small deductions on large invoices)",
                max_digits=9,
                validators=[
                    django.core.validators.MinValueValidator(Decimal("0")),
                    django.core.validators.MaxValueValidator(Decimal("100")),
                ],
            ),
        ),
    ]
