import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0012_exchange_rate_pair_first'),
        ('portal', '0004_contact_proposals'),
    ]

    operations = [
        migrations.AlterField(
            model_name='contactproposal',
            name='contact',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='ledger.contact'),
        ),
    ]
