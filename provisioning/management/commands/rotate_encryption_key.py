"""`manage.py rotate_encryption_key`: re-encrypt every app's Secret Token with a new key (provisioning/secrets.py)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from provisioning import secrets
from provisioning.models import Application


class Command(BaseCommand):
    help = (
        "Re-encrypt every Secret Token with a new key. Embedded key file (no PORTAL_ENCRYPTION_KEY): a new key is "
        "generated and replaces var/encryption_key. With PORTAL_ENCRYPTION_KEY: set the new key there and the old "
        "one in PORTAL_ENCRYPTION_OLD_KEYS first; afterwards remove PORTAL_ENCRYPTION_OLD_KEYS. The old key is "
        "accepted while the command runs, so the portal keeps working."
    )

    def handle(self, *args, **options):
        try:
            count = secrets.rotate_keys(Application.objects.all())
        except secrets.SecretUnreadable as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"{count} Secret Token{'s' if count != 1 else ''} re-encrypted with the new key."))
        if settings.PORTAL_ENCRYPTION_KEY:
            if settings.PORTAL_ENCRYPTION_OLD_KEYS:
                self.stdout.write("Remove PORTAL_ENCRYPTION_OLD_KEYS now: no token needs the old keys any more.")
        else:
            self.stdout.write(f"The new key is in {secrets.key_file()} (only its owner can read it); back it up apart from the database.")
