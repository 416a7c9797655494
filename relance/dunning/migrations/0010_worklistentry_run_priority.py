"""An index for the workspace's worklist: one run's entries in priority order.

``WHERE run_id = … ORDER BY priority DESC LIMIT 100`` (filtered by collector) reads the first
entries of the index instead of sorting the whole run: 70 → 6 ms on a run of 34,543 entries
(docs/benchmarks.md, workspace). Plain SQL that SQLite and PostgreSQL both take; it is not in
``WorklistEntry.Meta.indexes`` so the model stays the dunning app's own (``makemigrations`` sees
no change either way). ``IF NOT EXISTS`` lets a database where it was created by hand migrate.
"""

from django.db import migrations

INDEX = "dunning_worklistentry_run_priority"


class Migration(migrations.Migration):
    dependencies = [("dunning", "0009_suppressions_summarised")]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX IF NOT EXISTS {INDEX} ON dunning_worklistentry (run_id, priority DESC)",
            reverse_sql=f"DROP INDEX IF EXISTS {INDEX}",
            elidable=False,
        )
    ]
