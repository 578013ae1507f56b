"""Database size per 100,000 provisioning log entries (and audit entries) on PostgreSQL, for sizing retention.

Generates the entries bench_logs.py generates (the mix an hourly sync of a stable tenant logs: mostly Skipped
and Success with their five steps, ~2 % Failure with an error and a fix), then VACUUMs and prints the table's
size with its indexes and TOAST, per 100,000 entries and per entry; the same for audit entries with a few
modified properties each. Multiply by entries per day × PORTAL_LOG_RETENTION_DAYS for the space needed.

    .venv/bin/python bench/bench_log_size.py [--rows N]

The database is DATABASE_URL if set, else postgres://postgres@127.0.0.1:5432/portal_bench_log_size; only a
loopback server is accepted, and only a database whose name contains "bench" is dropped (at the end).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import bench_logs  # noqa: E402  (the log generator; a sibling script)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_log_size"
PER = 100_000


def sizes(cursor, table):
    cursor.execute(f"VACUUM ANALYZE {table}")
    cursor.execute("SELECT pg_total_relation_size(%s), pg_relation_size(%s), pg_indexes_size(%s)", [table, table, table])
    return cursor.fetchone()


def show(label, rows, total, heap, indexes):
    scale = PER / rows
    print(f"{label}: {total * scale / 2**20:.1f} MiB per {PER:,} entries ({total / rows:,.0f} bytes each) — "
          f"table {heap * scale / 2**20:.1f} MiB, indexes {indexes * scale / 2**20:.1f} MiB, "
          f"TOAST {(total - heap - indexes) * scale / 2**20:.1f} MiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=PER, help=f"entries to generate (default {PER:,}; at least 50,000)")
    args = parser.parse_args()
    if args.rows < 50_000:
        raise SystemExit("--rows must be at least 50,000 (bench_logs.py spreads them over 200 cycles).")
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    url = bench_logs.database_url()
    bench_logs.prepare_database(url, reuse=False)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("PORTAL_VAR_DIR", tempfile.mkdtemp(prefix="portal-bench-log-size-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections, transaction
    from django.utils import timezone

    from provisioning.models import AuditEntry

    try:
        call_command("migrate", verbosity=0)
        print(f"generating {args.rows:,} log entries in {bench_logs.database_name(url)}…", flush=True)
        with transaction.atomic():
            app, seconds = bench_logs.generate(args.rows, connection)
        print(f"generated in {seconds:.1f} s")
        started = time.perf_counter()
        now = timezone.now()
        properties = [{"name": "Tenant URL", "old": "https://scim.example.com/scim/v2", "new": "https://scim.example.com/v2"},
                      {"name": "Secret Token", "old": "", "new": "changed"},
                      {"name": "Notification Email", "old": "", "new": "identity-team@contoso.example"}]
        AuditEntry.objects.bulk_create(
            (AuditEntry(created_at=now, application=app, application_name=app.name, initiated_by=f"admin{n % 7}",
                        category="application", activity="Update provisioning settings", target=app.name,
                        modified_properties=properties[: 1 + n % 3]) for n in range(args.rows)),
            batch_size=5000,
        )
        print(f"generated {args.rows:,} audit entries in {time.perf_counter() - started:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            print(cursor.fetchone()[0].split(",")[0])
            show("Provisioning log entries", args.rows, *sizes(cursor, "provisioning_provisioninglog"))
            show("Audit entries", args.rows, *sizes(cursor, "provisioning_auditentry"))
    finally:
        connections.close_all()
        bench_logs.drop_database(url)


if __name__ == "__main__":
    main()
