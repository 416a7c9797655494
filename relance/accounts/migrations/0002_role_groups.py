"""The role groups. Their permissions are given after every migrate by ``roles_sync``
(``relance.accounts.apps``), once every app's permissions exist."""

from django.db import migrations

ROLES = ("admin", "credit_manager", "collector", "sales", "support", "auditor")


def groups_create(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(groups_create, migrations.RunPython.noop)]
