"""Policies and decided actions name a call ``call`` (relance.core.channels: one vocabulary).

Stored specs (current and past versions), actions (their channel and their step's channels) and
contacts logged by hand said ``phone``; every row is kept, only the channel's name changes.
Backwards, ``call`` becomes ``phone`` again."""

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
    Action = apps.get_model("dunning", "DunningAction")
    Action.objects.filter(channel=old).update(channel=new)
    # JSON text match narrows to the actions whose step listed the channel (icontains: any backend)
    for action in Action.objects.filter(step_channels__icontains=f'"{old}"').only("pk", "step_channels"):
        channels = [new if channel == old else channel for channel in action.step_channels or []]
        Action.objects.filter(pk=action.pk).update(step_channels=channels)
    apps.get_model("cases", "ContactLog").objects.filter(channel=old).update(channel=new)


def phone_to_call(apps, schema_editor):
    _rename(apps, "phone", "call")


def call_to_phone(apps, schema_editor):
    _rename(apps, "call", "phone")


class Migration(migrations.Migration):

    dependencies = [
        ("dunning", "0014_action_step_channels"),
        ("cases", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(phone_to_call, call_to_phone, elidable=False),
    ]
