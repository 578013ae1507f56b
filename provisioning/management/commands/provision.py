"""`manage.py provision APP [--wait]`: queue a provisioning cycle through the workers, as Start provisioning does."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from provisioning import tasks
from provisioning.engine.cycle import ProvisioningNotConfigured, start_provisioning
from provisioning.engine.restart import DEFAULT, SCOPES, RestartError, restart_provisioning
from provisioning.engine.restart import allow_deletes as restart_allow_deletes
from provisioning.engine.restart import reject_deletes as restart_reject_deletes
from provisioning.engine.status import cycle_counts, overview
from provisioning.models import Application, RunState


def find_app(name_or_id):
    app = Application.objects.filter(name__iexact=name_or_id).first()
    if app is None and str(name_or_id).isdigit():
        app = Application.objects.filter(pk=int(name_or_id)).first()
    if app is None:
        names = ", ".join(Application.objects.values_list("name", flat=True)[:10]) or "none yet (manage.py create_app)"
        raise CommandError(f"No application named {name_or_id!r}. Applications: {names}.")
    return app


class Command(BaseCommand):
    help = (
        "Turn provisioning on for an application and queue a cycle for the workers (an initial cycle until one has "
        "completed, then incremental ones). With --wait, follow it and exit non-zero unless it completes."
    )

    def add_arguments(self, parser):
        parser.add_argument("app", help="the application's name (or its id)")
        parser.add_argument("--wait", action="store_true", help="print progress until the cycle ends, then its counts")
        parser.add_argument("--timeout", type=float, default=6 * 3600, help="with --wait: give up after this many seconds")
        what = parser.add_mutually_exclusive_group()
        what.add_argument("--restart", metavar="SCOPE[,SCOPE…]", nargs="?", const=",".join(DEFAULT),
                          help=f"Restart provisioning with these reset scopes ({', '.join(SCOPES)}; default {', '.join(DEFAULT)})")
        what.add_argument("--allow-deletes", action="store_true", help="send the disables and deletes the threshold held back")
        what.add_argument("--reject-deletes", action="store_true", help="drop the held disables and deletes and pause provisioning")

    def handle(self, *args, app, wait, timeout, restart, allow_deletes, reject_deletes, **options):
        application = find_app(app)
        if reject_deletes:
            try:
                count = restart_reject_deletes(application)
            except RestartError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"Rejected {count} held disables and deletes of {application.name}; provisioning is paused until "
                              "it is restarted.")
            return
        try:
            with transaction.atomic():
                if allow_deletes:
                    cycle = restart_allow_deletes(application)
                elif restart is not None:
                    cycle = restart_provisioning(application, restart)
                else:
                    cycle = start_provisioning(application)
                if cycle.state == RunState.QUEUED:
                    transaction.on_commit(lambda: tasks.run_cycle.delay(cycle.pk))
        except (ProvisioningNotConfigured, RestartError) as exc:
            raise CommandError(str(exc)) from None
        verb = "queued" if cycle.state == RunState.QUEUED else "already running"
        self.stdout.write(f"{cycle.get_kind_display()} {cycle.cycle_id} of {application.name} {verb}.")
        if not wait:
            return
        self._follow(application, cycle, timeout)

    def _follow(self, application, cycle, timeout):
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            cycle.refresh_from_db()
            status = overview(application)
            if status.cycle_status_text != last:
                self.stdout.write(status.cycle_status_text)
                last = status.cycle_status_text
            if not cycle.is_active:
                break
            time.sleep(1)
        else:
            raise CommandError(f"The cycle did not finish within {timeout:g} seconds; it goes on in the workers.")
        rows, unchanged = cycle_counts(cycle)
        for row in rows:
            self.stdout.write(f"  {row.action_label:8} {row.status_label:8} {row.n}")
        if unchanged:
            self.stdout.write(f"  unchanged (not logged) {unchanged}")
        if cycle.state != RunState.COMPLETED:
            raise CommandError(f"The cycle ended {cycle.get_state_display().lower()}: {cycle.error or 'see the Overview'}", returncode=1)
        failures = sum(row.n for row in rows if row.status == "failure")
        if failures:
            raise CommandError(f"{failures} object(s) failed: see the provisioning logs of {application.name}.", returncode=1)
