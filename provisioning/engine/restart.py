"""Restart provisioning with Entra's reset scopes, and Allow deletes / Reject for held deletions.

Graph's restart takes `{"criteria": {"resetScope": "Watermark, Escrows, QuarantineState"}}`; the blade's
Restart provisioning is that default. Each scope does one thing, said on the Overview's dialog:
"""

import logging

from django.db import transaction

from provisioning import audit
from provisioning.engine import deletion_protection, quarantine
from provisioning.engine.cycle import advance, queue_after
from provisioning.models import Application, Escrow, ExportState, RunState

logger = logging.getLogger(__name__)

SCOPES = {
    "Watermark": "Re-evaluate every user and group in the next cycle, not only the changes (an initial cycle).",
    "Escrows": "Forget the failed objects waiting to be retried; they are tried again only when they change or in a full cycle.",
    "QuarantineState": "Lift the quarantine now, without waiting for the next attempt.",
    "ForceDeletes": "Send the disables and deletes that the accidental deletion threshold held back.",
    "ConnectorDataStore": (
        "Forget every link to the target's objects: the next cycle matches each object again by its matching "
        "attributes. An object whose matching value changed since it was created cannot be found again and is "
        "created a second time (a duplicate account)."
    ),
    "Full": "All of the above.",
}
DEFAULT = ("Watermark", "Escrows", "QuarantineState")


class RestartError(ValueError):
    """The reset scopes cannot be used; str() says which and what the valid ones are."""


def parse_scopes(text):
    """'Watermark, Escrows' (Graph's resetScope) or a list → a tuple of known scope names."""
    names = [part.strip() for part in (text.split(",") if isinstance(text, str) else text) if part and part.strip()]
    by_lower = {name.lower(): name for name in SCOPES}
    unknown = [name for name in names if name.lower() not in by_lower]
    if unknown:
        raise RestartError(f"Unknown reset scope{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: use any of "
                           f"{', '.join(SCOPES)} (comma-separated).")
    scopes = tuple(dict.fromkeys(by_lower[name.lower()] for name in names)) or DEFAULT
    if "Full" in scopes:
        scopes = tuple(name for name in SCOPES if name != "Full")
    return scopes


def restart_provisioning(app, scopes=DEFAULT, *, requested_by=None):
    """Apply the reset scopes and queue a new cycle (a running one is asked to stop first); returns it."""
    scopes = parse_scopes(scopes)
    by = requested_by.get_username() if requested_by else ""
    for running in app.cycles.filter(state=RunState.RUNNING):
        running.stop_requested = True
        running.save(update_fields=["stop_requested"])
        advance(running.pk)  # nobody working on it: it stops now
    with transaction.atomic():
        app = Application.objects.select_for_update().get(pk=app.pk)
        if "ConnectorDataStore" in scopes:
            ExportState.objects.filter(application=app).delete()
        if "Escrows" in scopes or "ConnectorDataStore" in scopes:
            Escrow.objects.filter(application=app).delete()
        if "Watermark" in scopes or "ConnectorDataStore" in scopes:
            Application.objects.filter(pk=app.pk).update(watermark=None)
        if "QuarantineState" in scopes or "ForceDeletes" in scopes:
            quarantine.lift(app, f"Restart with {', '.join(scopes)}", by=by)
        app.refresh_from_db()
        cycle = queue_after(app, requested_by=requested_by, restart_scopes=",".join(scopes), force_deletes="ForceDeletes" in scopes)
        audit.record("Restart provisioning", by=requested_by, application=app, changes=[{"name": "Scope", "old": "", "new": ", ".join(scopes)}])
    logger.info("application %s: provisioning restarted by %s with %s", app.pk, by or "an operator", ", ".join(scopes))
    return cycle


def allow_deletes(app, *, requested_by=None):
    """Send exactly the held disables and deletes (a cycle of ForceDeletes alone), then clear the state."""
    if not deletion_protection.held(app).exists():
        raise RestartError("No disables or deletes are held back for this application: there is nothing to allow.")
    return restart_provisioning(app, ("ForceDeletes",), requested_by=requested_by)


def reject_deletes(app, *, requested_by=None):
    """Drop the held disables and deletes; the job stays paused until the cause is fixed and provisioning restarted."""
    if not deletion_protection.held(app).exists():
        raise RestartError("No disables or deletes are held back for this application: there is nothing to reject.")
    audit.record("Reject held deletes", by=requested_by, application=app)
    return deletion_protection.reject(app, by=requested_by.get_username() if requested_by else "")
