from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("dunning", "0011_action_status_follows_messages"),
    ]

    operations = [
        migrations.AddField(
            model_name="policyversion",
            name="comment",
            field=models.CharField(blank=True, help_text="Why it changed, in the author's words", max_length=500),
        ),
        migrations.AddField(
            model_name="policyversion",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                help_text="Who saved it in the back office (empty: an import or the command line)",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="policyversion",
            name="restores",
            field=models.PositiveIntegerField(
                blank=True, help_text="The earlier version this one rolled back to, if any", null=True
            ),
        ),
    ]
