"""`manage.py import_directory FILE [--prune] [--dry-run]`: users and groups from JSON, or users from CSV.

See provisioning/directory_import.py and docs/directory-import.md.
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from provisioning.directory_import import import_directory


class Command(BaseCommand):
    help = (
        'Create or update directory users and groups from a JSON file ({"users": [...], "groups": [...]} with Graph '
        "attribute names; objects are matched by objectId), or users from a CSV file as import_users does. Entries "
        "with errors are not imported; the exit code is 1 when any entry failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the JSON or CSV file (UTF-8); '-' reads standard input")
        parser.add_argument(
            "--prune", action="store_true",
            help="soft-delete directory users and groups missing from the file (only the kinds it lists), "
            "and restore soft-deleted ones it lists",
        )
        parser.add_argument("--dry-run", action="store_true", help="check the file and report what would change, without writing anything")

    def handle(self, *args, file, prune, dry_run, **options):
        data = self._read(file)
        result = import_directory(data, name="" if file == "-" else file, prune=prune, dry_run=dry_run)
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
            raise CommandError(f"{file} is a folder: give the path of a .json or .csv file") from None
        except PermissionError:
            raise CommandError(f"{file}: permission denied") from None
