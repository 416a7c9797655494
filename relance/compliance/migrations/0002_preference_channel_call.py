"""Opt-out evidence for calls is recorded as ``call`` (relance.core.channels: one vocabulary).

Every event is kept; only the channel's name changes (``phone`` → ``call``; backwards, the reverse).
The flag itself stays ``Contact.opt_out_phone`` (a column of the API and of imports)."""

from django.db import migrations, models


def phone_to_call(apps, schema_editor):
    apps.get_model("compliance", "ContactPreferenceEvent").objects.filter(channel="phone").update(channel="call")


def call_to_phone(apps, schema_editor):
    apps.get_model("compliance", "ContactPreferenceEvent").objects.filter(channel="call").update(channel="phone")


class Migration(migrations.Migration):

    dependencies = [
        ("compliance", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="contactpreferenceevent",
            name="channel",
            field=models.CharField(
                choices=[("email", "Email"), ("sms", "SMS"), ("letter", "Letter"), ("call", "Phone call")],
                max_length=10,
            ),
        ),
        migrations.RunPython(phone_to_call, call_to_phone, elidable=False),
    ]
