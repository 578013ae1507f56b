"""`manage.py import_users FILE [--dry-run]`: directory users from CSV (see provisioning/csv_import.py)."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from provisioning.csv_import import ACCEPTED_COLUMNS_TEXT, import_users


class Command(BaseCommand):
    help = (
        "Create or update directory users from a CSV file whose header holds Entra attribute names "
        f"({ACCEPTED_COLUMNS_TEXT}). Rows with errors are not imported; the exit code is 1 when any row failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file (UTF-8, with or without a byte order mark); '-' reads standard input")
        parser.add_argument("--dry-run", action="store_true", help="check the file and report what would change, without writing anything")

    def handle(self, *args, file, dry_run, **options):
        data = self._read(file)
        result = import_users(data, dry_run=dry_run)
        for error in result.file_errors:
            self.stderr.write(self.style.ERROR(error))
        for error in result.row_errors:
            self.stderr.write(str(error))
        summary = f"{result.summary()}."
        if result.ok:
            self.stdout.write(self.style.SUCCESS(summary))
            return
        self.stdout.write(summary)
        raise CommandError("nothing was imported" if result.file_errors else f"{len(result.failed_rows)} row(s) were not imported", returncode=1)

    def _read(self, file):
        if file == "-":
            return sys.stdin.buffer.read()
        path = Path(file)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file") from None
        except IsADirectoryError:
            raise CommandError(f"{file} is a folder: give the path of a .csv file") from None
        except PermissionError:
            raise CommandError(f"{file}: permission denied") from None
