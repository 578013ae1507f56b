"""PostgreSQL only: trigram indexes so the logs' Identity search ("contains", any case) stays fast.

Django's icontains on PostgreSQL compares UPPER(column::text) LIKE UPPER('%…%'), so the indexes are on
that expression. Creating the pg_trgm extension needs a privileged role; without it the indexes are
skipped with a warning and the search still works, only slower on large log tables.
"""

import warnings

from django.db import migrations

COLUMNS = ("source_display_name", "source_upn")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        try:
            cursor.execute("SAVEPOINT trgm")
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cursor.execute("RELEASE SAVEPOINT trgm")
        except Exception as exc:  # noqa: BLE001 - any refusal means: go on without the indexes
            cursor.execute("ROLLBACK TO SAVEPOINT trgm")
            warnings.warn(f"pg_trgm is not available ({exc}); the provisioning logs' name search will not be indexed.")
            return
        for column in COLUMNS:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS provisioning_log_{column}_trgm "
                f"ON provisioning_provisioninglog USING gin (UPPER({column}::text) gin_trgm_ops)"
            )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for column in COLUMNS:
            cursor.execute(f"DROP INDEX IF EXISTS provisioning_log_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0003_log_cycle_index")]
    operations = [migrations.RunPython(create, drop)]
