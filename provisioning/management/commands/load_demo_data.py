"""`manage.py load_demo_data`: the demo directory and the "Contoso SCIM Demo" app (see provisioning/demo.py)."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator

from provisioning import demo


class Command(BaseCommand):
    help = "Load the demo directory (users, groups, managers) and the demo SCIM app. Safe to run again: it only adds what is missing."

    def add_arguments(self, parser):
        parser.add_argument("--tenant-url", default="", help="The demo SCIM target's Tenant URL, e.g. http://127.0.0.1:8081/scim/v2")
        # A file, not the token itself: a command line is readable by every user of the machine (ps).
        parser.add_argument("--token-file", default="", help="A file holding the demo SCIM target's bearer token (the app's Secret Token)")

    def handle(self, *args, tenant_url, token_file, **options):
        if bool(tenant_url) != bool(token_file):
            raise CommandError("Pass both --tenant-url and --token-file (the demo target's URL and the file with its bearer token), or neither.")
        token = ""
        if token_file:
            try:
                token = Path(token_file).read_text().strip()
            except OSError as exc:
                raise CommandError(f"--token-file {token_file}: cannot read it ({exc.strerror}).") from None
            if not token:
                raise CommandError(f"--token-file {token_file} is empty: it should hold the demo target's bearer token.")
        if tenant_url:
            try:
                URLValidator(schemes=["http", "https"])(tenant_url)
            except ValidationError:
                raise CommandError(f"--tenant-url {tenant_url!r} is not an http(s) URL, e.g. http://127.0.0.1:8081/scim/v2") from None

        result = demo.load_demo_data(tenant_url=tenant_url, token=token)

        self.stdout.write(
            f"Demo directory: {result.users_created} users created, {result.users_existing} already there; "
            f"{result.groups_created} groups created, {result.groups_existing} already there."
        )
        if result.app_created:
            self.stdout.write(f"Demo app '{result.app.name}' created (Provisioning Status Off: start it from its Provisioning page).")
        elif result.app_changes:
            self.stdout.write(f"Demo app '{result.app.name}': {' and '.join(result.app_changes)} updated to the running demo target.")
        else:
            self.stdout.write(f"Demo app '{result.app.name}' unchanged.")
        if not tenant_url:
            self.stdout.write(self.style.WARNING("No --tenant-url/--token-file given: the demo app has no credentials to provision with."))
