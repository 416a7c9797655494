"""A contact's preference for a call is stored as ``call`` (relance.core.channels: one vocabulary).

Contacts that preferred ``phone`` keep their preference, under its one name; backwards, ``call``
becomes ``phone`` again."""

from django.db import migrations, models


def phone_to_call(apps, schema_editor):
    apps.get_model("ledger", "Contact").objects.filter(preferred_channel="phone").update(preferred_channel="call")


def call_to_phone(apps, schema_editor):
    apps.get_model("ledger", "Contact").objects.filter(preferred_channel="call").update(preferred_channel="phone")


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0007_search_text"),
    ]

    operations = [
        migrations.AlterField(
            model_name="contact",
            name="preferred_channel",
            field=models.CharField(
                choices=[
                    ("email", "Email"),
                    ("sms", "SMS"),
                    ("letter", "Letter"),
                    ("call", "Phone call"),
                    ("portal", "Portal"),
                ],
                default="email",
                max_length=10,
            ),
        ),
        migrations.RunPython(phone_to_call, call_to_phone, elidable=False),
    ]
