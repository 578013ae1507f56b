"""`manage.py create_app NAME --tenant-url URL --token-file FILE [...]`: an application ready to provision.

The Secret Token is read from a file (or standard input with '-'), never from the command line, where it
would end up in the shell history and in every process listing.
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from provisioning.app_setup import SetupError, create_application
from provisioning.models import Application


class Command(BaseCommand):
    help = (
        "Create an application in Automatic provisioning mode with its Tenant URL, Secret Token and Entra's default "
        "attribute mappings. Provisioning Status stays Off: start it in the portal."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # argparse would take `--token SECRET` for `--token-file SECRET`, then print the secret as the missing file.
        parser.allow_abbrev = False
        error = parser.error

        def error_without_values(message):
            # "unrecognized arguments: --token SECRET" would repeat a token typed on the command line.
            if message.startswith("unrecognized arguments: "):
                shown = [_hide_value(arg) for arg in message.removeprefix("unrecognized arguments: ").split()]
                message = f"unrecognized arguments: {' '.join(shown)}. The Secret Token is read from --token-file only."
            error(message)

        parser.error = error_without_values
        return parser

    def add_arguments(self, parser):
        parser.add_argument("name", help="the application's name, e.g. Slack")
        parser.add_argument("--tenant-url", required=True, help="the target's SCIM base address, e.g. https://scim.example.com/scim/v2")
        parser.add_argument("--token-file", required=True,
                            help="a file holding the target's bearer token (one line); '-' reads standard input")
        parser.add_argument("--scope", choices=Application.Scope.values, default=Application.Scope.ASSIGNED,
                            help="'assigned' (default): sync only assigned users and groups; 'all': sync all users and groups")
        parser.add_argument("--entra-compatible", action="store_true", help="send requests as Entra does by default")
        parser.add_argument("--assign-all", action="store_true", help="assign every directory user to the application")
        parser.add_argument("--deletion-threshold", type=int, metavar="N",
                            help="hold a cycle's disables and deletes when there are N or more (default 500; 0 turns it off)")

    def handle(self, *args, name, tenant_url, token_file, scope, entra_compatible, assign_all, deletion_threshold, **options):
        token = self._read_token(token_file)
        try:
            app, assigned = create_application(name, tenant_url=tenant_url, token=token, scope=scope,
                                               entra_compatible=entra_compatible, assign_all=assign_all,
                                               deletion_threshold=deletion_threshold)
        except SetupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Created application {app.pk}: {app.name}"))
        details = [f"scope {app.scope}", "Entra-compatible requests" if app.entra_compatible else "RFC 7644 requests"]
        if assign_all:
            details.append(f"{assigned} users assigned")
        details.append(f"accidental deletion threshold {app.deletion_threshold}" if app.prevent_accidental_deletions
                       else "accidental-deletion prevention off")
        self.stdout.write(f"{', '.join(details)}. Provisioning Status is Off: turn it On in the portal to start the initial cycle.")

    def _read_token(self, file):
        where = "standard input" if file == "-" else file
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file. Write the target's bearer token into a file and give its path.") from None
        except IsADirectoryError:
            raise CommandError(f"{file} is a folder: give the path of the file holding the token") from None
        except PermissionError:
            raise CommandError(f"{file}: permission denied") from None
        except UnicodeDecodeError:
            raise CommandError(f"{file} is not UTF-8 text: it should hold only the bearer token") from None
        # Editors and `echo` end the file with a newline; the token itself never has one.
        token = text.rstrip("\r\n")
        if not token.strip():
            raise CommandError(f"The token in {where} is empty: write the target's bearer token into it (one line).")
        return token


def _hide_value(arg):
    if arg.startswith("-"):
        return arg.split("=", 1)[0] + ("=[hidden]" if "=" in arg else "")
    return "[hidden]"
