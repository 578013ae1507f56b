"""`manage.py ensure_admin`: the two logins `make run` prints — admin (Administrators) and helpdesk (Helpdesk).

A password comes from PORTAL_ADMIN_PASSWORD / PORTAL_HELPDESK_PASSWORD when set (and is reset to it on
every run), otherwise it is generated once and kept in the var folder, so every restart shows the same one.
"""

import os
import secrets

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from provisioning.roles import ADMINISTRATORS, HELPDESK

# (username, role, environment variable, file in VAR_DIR, Django admin access)
LOGINS = [
    ("admin", ADMINISTRATORS, "PORTAL_ADMIN_PASSWORD", "admin_password", True),
    ("helpdesk", HELPDESK, "PORTAL_HELPDESK_PASSWORD", "helpdesk_password", False),
]


def stored_password(filename):
    """The generated password kept in VAR_DIR/filename, generating it on first use."""
    path = settings.VAR_DIR / filename
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


def ensure_login(username, role, password, *, superuser):
    try:
        group = Group.objects.get(name=role)
    except Group.DoesNotExist:
        raise CommandError(f"The '{role}' group is missing: run 'manage.py migrate' first (migration 0002 creates it).") from None
    user, _ = User.objects.get_or_create(username=username)
    user.is_active = True
    user.is_staff = superuser
    user.is_superuser = superuser
    if not user.check_password(password):
        user.set_password(password)
    user.save()
    user.groups.add(group)
    return user


class Command(BaseCommand):
    help = "Create or keep the 'admin' (Administrators) and 'helpdesk' (Helpdesk) logins and print their passwords."

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"), help="the port the portal listens on, for the sign-in line")

    @transaction.atomic
    def handle(self, *args, port, **options):
        for username, role, variable, filename, superuser in LOGINS:
            password = os.environ.get(variable) or stored_password(filename)
            ensure_login(username, role, password, superuser=superuser)
            source = f"from {variable}" if os.environ.get(variable) else f"kept in {settings.VAR_DIR / filename}"
            self.stdout.write(f"Sign in at http://127.0.0.1:{port}/ as {username} / {password}   ({role}; password {source})")
