"""``DunningAction.step_channels``: the step's channels travel with the action (the engine's
``channels`` column), so delivery no longer re-reads the policy's spec. Actions stored before
are filled in from their policy's spec one last time, as delivery read it until now (the step's
channels, the decided channel first when the step does not list it)."""

from django.db import migrations, models


def _channels_from_specs(apps, schema_editor):
    Policy = apps.get_model("dunning", "Policy")
    DunningAction = apps.get_model("dunning", "DunningAction")
    steps_of = {}
    for entity_id, key, spec in Policy.objects.values_list("entity_id", "key", "spec"):
        steps = {}
        for step in (spec.get("steps") if isinstance(spec, dict) else None) or []:
            if isinstance(step, dict) and isinstance(step.get("key"), str):
                steps[step["key"]] = [c for c in step.get("channels") or [] if isinstance(c, str)]
        steps_of[(entity_id, key)] = steps
    groups = (
        DunningAction.objects.values_list("entity_id", "policy_key", "step_key", "channel")
        .distinct()
        .order_by()
    )
    for entity_id, policy_key, step_key, channel in list(groups):
        channels = list(steps_of.get((entity_id, policy_key), {}).get(step_key) or [])
        if channel and channel not in channels:
            channels = [channel, *channels]
        if channels:
            DunningAction.objects.filter(
                entity_id=entity_id, policy_key=policy_key, step_key=step_key, channel=channel
            ).update(step_channels=channels)


class Migration(migrations.Migration):
    dependencies = [
        ("dunning", "0013_cases_moved_out"),
    ]

    operations = [
        migrations.AddField(
            model_name="dunningaction",
            name="step_channels",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="The step's channels in the policy's order of preference, as the engine decided with them (``channel`` is the first the customer could be reached on); delivery falls back along this list",
            ),
        ),
        migrations.RunPython(_channels_from_specs, migrations.RunPython.noop),
    ]
