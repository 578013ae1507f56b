"""Dry run: a whole cycle planned and evaluated by the real planner and pipeline, sending only reads.

The cycle runs in this process inside a transaction that is rolled back at the end, so its export state,
escrow, watermark, quarantine and log entries never happen; before the rollback, what it would have done
is copied out — the aggregate and each object's outcome with its old → new values (DryRunEntry). Writes
(POST, PATCH, DELETE) are answered by ReadOnlyClient as the target would have, and never sent; POST /Bulk
is not used. The accidental-deletion threshold is evaluated as in a real cycle.

A dry run holds row locks on the app while it runs: a real cycle of the same app waits for it (and a dry
run is refused while a cycle runs).
"""

import logging
import uuid
from collections import Counter

from django.db import transaction

from provisioning.engine import lifecycle
from provisioning.engine.cycle import next_cycle_kind, cycle_counts, run_cycle
from provisioning.models import DryRun, DryRunEntry, PendingRemoval, ProvisioningCycle, ProvisioningLog, RunState

logger = logging.getLogger(__name__)
DRY_RUN_ID_PREFIX = "dry-run-"


class DryRunRefused(ValueError):
    """A dry run cannot start now; str() says why and what to do."""


class ReadOnlyClient:
    """The SCIM client of a dry run: reads go to the target; writes are answered here, as the target would
    (a created resource gets an id of its own), and nothing is sent."""

    def __init__(self, client):
        self._client = client
        self.created = {}
        self.writes = Counter()

    def __getattr__(self, name):
        return getattr(self._client, name)

    def create(self, resource_type, resource):
        self.writes["POST"] += 1
        created = {**resource, "id": f"{DRY_RUN_ID_PREFIX}{uuid.uuid4().hex}"}
        self.created[created["id"]] = created
        return created

    def patch(self, resource_type, resource_id, operations):
        self.writes["PATCH"] += 1
        return None  # as a 204: applied

    def delete(self, resource_type, resource_id):
        self.writes["DELETE"] += 1

    def get(self, resource_type, resource_id, *args, **kwargs):
        if str(resource_id).startswith(DRY_RUN_ID_PREFIX):
            return self.created[resource_id]  # created earlier in this dry run: the target never saw it
        return self._client.get(resource_type, resource_id, *args, **kwargs)

    def bulk(self, operations):
        raise AssertionError("a dry run never sends POST /Bulk")


def request_dry_run(app, *, requested_by=None):
    """A queued dry run of the app's next cycle; refused while a cycle or another dry run is active."""
    if not app.tenant_url:
        raise DryRunRefused("Enter the Tenant URL and Secret Token (Provisioning > Admin Credentials) first: a dry run reads the target.")
    if app.cycles.filter(state__in=(RunState.QUEUED, RunState.RUNNING)).exists():
        raise DryRunRefused("A provisioning cycle is queued or running: run the dry run when it has ended (or Stop provisioning).")
    if app.dry_runs.filter(state__in=(RunState.QUEUED, RunState.RUNNING)).exists():
        raise DryRunRefused("A dry run of this application is already queued or running: wait for its result.")
    return DryRun.objects.create(application=app, requested_by=requested_by, kind=next_cycle_kind(app))


def run_dry_run(dry_run_id):
    """Run a queued dry run to its end (one process); returns it."""
    dry_run = DryRun.objects.select_related("application").get(pk=dry_run_id)
    if not lifecycle.claim(dry_run):
        return dry_run
    app = dry_run.application
    kind, summary, entries, error = dry_run.kind, {}, [], ""
    try:
        with transaction.atomic():
            cycle = ProvisioningCycle.objects.create(application=app, kind=next_cycle_kind(app), requested_by=dry_run.requested_by,
                                                     dry_run=True)
            cycle = run_cycle(cycle)
            kind = cycle.kind
            summary, entries = _outcome(cycle)
            if cycle.state != RunState.COMPLETED:
                error = cycle.error or f"The cycle ended {cycle.state}."
            transaction.set_rollback(True)
    except Exception as exc:  # noqa: BLE001 — a dry run that breaks says so on its page, never as a stuck "Running"
        logger.exception("dry run %s of application %s failed", dry_run.pk, app.pk)
        error = f"The dry run stopped: {exc.__class__.__name__}: {exc}"
    for start in range(0, len(entries), 2000):
        DryRunEntry.objects.bulk_create([DryRunEntry(dry_run=dry_run, **entry) for entry in entries[start:start + 2000]])
    DryRun.objects.filter(pk=dry_run.pk).update(kind=kind, summary=summary, error=error)
    lifecycle.finish(dry_run, RunState.FAILED if error else RunState.COMPLETED, error)
    dry_run.refresh_from_db()
    return dry_run


def _outcome(cycle):
    """(summary, entries) of the rolled-back cycle, read before the rollback."""
    actions, updated, members = {}, Counter(), Counter()
    entries = []
    fields = ("object_type", "source_id", "source_display_name", "source_upn", "target_id", "action", "status",
              "error_description", "recommended_fix", "modified_properties")
    for row in ProvisioningLog.objects.filter(cycle=cycle).order_by("pk").values_list(*fields).iterator(chunk_size=2000):
        entry = dict(zip(fields, row))
        entry["description"] = entry.pop("error_description")
        if entry["target_id"].startswith(DRY_RUN_ID_PREFIX):
            entry["target_id"] = ""
        by_status = actions.setdefault(entry["action"], {})
        by_status[entry["status"]] = by_status.get(entry["status"], 0) + 1
        attributes = []
        for change in entry["modified_properties"] or ():
            if change.get("name") == "members":
                members["added"] += change.get("added", 0)
                members["removed"] += change.get("removed", 0)
            elif entry["action"] == ProvisioningLog.Action.UPDATE:
                updated[change["name"]] += 1
                attributes.append(change["name"])
        entry["changed_attributes"] = "".join(f"|{name}" for name in attributes) + "|" if attributes else ""
        entries.append(entry)
    unchanged = sum(cycle_counts(cycle).get("unchanged", {}).values())
    held = PendingRemoval.objects.filter(cycle=cycle, staged=True).count()
    removals = held + sum(by_status.get("success", 0) for action, by_status in actions.items()
                          if action in (ProvisioningLog.Action.DISABLE, ProvisioningLog.Action.DELETE))
    app = cycle.application
    summary = {
        "actions": actions,
        "updated_attributes": dict(updated.most_common()),
        "members_added": members["added"],
        "members_removed": members["removed"],
        "unchanged": unchanged,
        "deletions": {"count": removals, "threshold": app.deletion_threshold if app.prevent_accidental_deletions else None,
                      "held": held},
    }
    return summary, entries
