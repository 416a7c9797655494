"""Policies and decided actions name a call ``call`` (relance.core.channels: one vocabulary).

Stored specs (current and past versions) and actions said ``phone``; every row is kept, only the
channel's name changes. Backwards, ``call`` becomes ``phone`` again."""

from django.db import migrations


def _renamed(spec, old, new):
    if not isinstance(spec, dict) or not isinstance(spec.get("steps"), list):
        return spec, False
    changed = False
    for step in spec["steps"]:
        channels = step.get("channels") if isinstance(step, dict) else None
        if isinstance(channels, list) and old in channels:
            step["channels"] = [new if channel == old else channel for channel in channels]
            changed = True
    return spec, changed


def _rename(apps, old, new):
    for model in ("Policy", "PolicyVersion"):
        Model = apps.get_model("dunning", model)
        for row in Model.objects.all().only("pk", "spec").iterator():
            spec, changed = _renamed(row.spec, old, new)
            if changed:
                Model.objects.filter(pk=row.pk).update(spec=spec)
    apps.get_model("dunning", "DunningAction").objects.filter(channel=old).update(channel=new)


def phone_to_call(apps, schema_editor):
    _rename(apps, "phone", "call")


def call_to_phone(apps, schema_editor):
    _rename(apps, "call", "phone")


class Migration(migrations.Migration):

    dependencies = [
        ("dunning", "0012_policyversion_author_comment"),
    ]

    operations = [
        migrations.RunPython(phone_to_call, call_to_phone, elidable=False),
    ]
