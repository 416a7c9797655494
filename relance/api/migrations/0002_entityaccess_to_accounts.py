"""EntityAccess moves to the accounts app (who sees what is accounts' business; the layers forbid
accounts to import api). The table stays where it is: the state alone moves."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("api", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="EntityAccess")],
            database_operations=[],
        ),
    ]
