"""`manage.py app_status APP [--json]`: the provisioning job's status, in Graph's synchronizationStatus shape."""

import json

from django.core.management.base import BaseCommand

from provisioning.engine.status import synchronization_status
from provisioning.management.commands.provision import find_app


class Command(BaseCommand):
    help = (
        "Print an application's provisioning status as Graph's synchronizationStatus: code, quarantine (reason, since, "
        "next attempt), escrowed counts, held deletions, the last execution and its counts."
    )

    def add_arguments(self, parser):
        parser.add_argument("app", help="the application's name (or its id)")
        parser.add_argument("--json", action="store_true", help="the whole status as JSON (for scripts)")

    def handle(self, *args, app, json: bool, **options):
        application = find_app(app)
        status = synchronization_status(application)
        if json:
            self.stdout.write(_dumps(status))
            return
        self.stdout.write(f"{application.name}: {status['code']}")
        held = status["quarantine"]
        if held:
            self.stdout.write(f"  Quarantine: {held['reason']} since {held['currentBegan']}; next attempt {held['nextAttempt'] or 'none (waits for an administrator)'}")
            self.stdout.write(f"    {held['error']['message']}")
            self.stdout.write(f"    What to do: {held['error']['recommendedFix']}")
        escrowed = status["escrowed"]
        if escrowed["count"]:
            reasons = ", ".join(f"{r['code']} {r['count']}" for r in escrowed["reasons"])
            self.stdout.write(f"  Escrowed: {escrowed['count']} ({escrowed['references']} references): {reasons}")
        if status["stagedDeletes"]:
            self.stdout.write(f"  Held disables and deletes: {status['stagedDeletes']} (provision --allow-deletes or --reject-deletes)")
        last = status["lastExecution"]
        if last:
            self.stdout.write(f"  Last execution {last['activityIdentifier']}: {last['state']}, {last['timeBegan']} → {last['timeEnded']}; "
                              f"exported {last['countExported']}, escrowed {last['countEscrowed']}")
            if last["error"]:
                self.stdout.write(f"    {last['error']['message']}")
        for entry in status["synchronizedEntryCountByType"]:
            self.stdout.write(f"  {entry['key']}s in the target: {entry['value']}")


def _dumps(value):
    return json.dumps(value, indent=2, ensure_ascii=False)
