"""The portal's objects in Graph's JSON shapes: servicePrincipal, synchronizationJob, provisioningObjectSummary
(with provisioningStep), user, group. Plain functions of model rows; no queries beyond what the rows carry."""

from provisioning.engine.status import job_status_code, synchronization_status
from provisioning.models import ProvisioningLog, directory

SOURCE_SYSTEM = {"id": "directory", "displayName": "Provisioning Portal directory", "details": {}}
# Our step keys → Graph's provisioningStepType.
STEP_TYPES = {"test_connection": "processing", "import": "import", "scope": "scoping", "match": "matching",
              "action": "export"}
# Our action values → Graph's provisioningAction (Graph writes stagedDelete in camel case).
ACTIONS = {ProvisioningLog.Action.STAGED_DELETE: "stagedDelete"}
ACTIONS_FROM_GRAPH = {"stagedDelete": ProvisioningLog.Action.STAGED_DELETE}


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def service_principal(app):
    return {
        "id": str(app.pk),
        "appId": str(app.pk),
        "displayName": app.name,
        "appDisplayName": app.name,
        "description": app.description or None,
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "createdDateTime": iso(app.created_at),
    }


def synchronization_job(app):
    status = synchronization_status(app)
    # The app row was read before the cycles: read it again, so a cycle that finished meanwhile (its end and the
    # job's status commit together) is never shown with the status from before it.
    app.refresh_from_db()
    status["code"] = job_status_code(app)
    return {
        "id": app.job_id,
        "templateId": "scim",
        "schedule": {
            "expiration": None,
            "interval": f"PT{app.provisioning_interval_minutes}M",
            "state": "Active" if app.provisioning_enabled else "Disabled",
        },
        "status": status,
        "synchronizationJobSettings": [
            {"name": "DeleteThresholdEnabled", "value": str(app.prevent_accidental_deletions)},
            {"name": "DeleteThresholdValue", "value": str(app.deletion_threshold)},
        ],
    }


def provisioning_step(step):
    details = {}
    sections = step.get("sections") or []
    for section in sections:
        title = section.get("title") or ""
        for row in section.get("rows") or []:
            if not row:
                continue
            key = f"{title}: {row[0]}" if title and len(sections) > 1 else str(row[0])
            details[key] = " | ".join(str(cell) for cell in row[1:])
    return {
        "name": step.get("name", ""),
        "provisioningStepType": STEP_TYPES.get(step.get("key"), "processing"),
        "status": step.get("status", ""),
        "description": step.get("description", ""),
        "details": details,
    }


def provisioning_object_summary(log):
    """A log entry as Graph's provisioningObjectSummary (select_related application and cycle)."""
    app = log.application
    user = log.initiated_by_user
    # As Entra: a cycle is the provisioning service's (whoever pressed Start); on demand is the admin's.
    initiated = (
        {"initiatorType": "user", "displayName": user, "id": user}
        if user and log.initiated_by != ProvisioningLog.InitiatedBy.CYCLE
        else {"initiatorType": "system", "displayName": log.get_initiated_by_display(), "id": log.initiated_by}
    )
    failed = log.status in (ProvisioningLog.Status.FAILURE, ProvisioningLog.Status.WARNING)
    return {
        "id": str(log.change_id),
        "activityDateTime": iso(log.created_at),
        "changeId": str(log.change_id),
        "cycleId": str(log.cycle.cycle_id) if log.cycle_id else None,
        "jobId": app.job_id,
        "durationInMilliseconds": log.duration_ms,
        "initiatedBy": initiated,
        "provisioningAction": ACTIONS.get(log.action, log.action),
        "provisioningStatusInfo": {
            "status": log.status,
            "errorInformation": {
                "errorCode": log.error_code or None,
                "errorCategory": "failure" if log.status == ProvisioningLog.Status.FAILURE else "nonServiceFailure",
                "reason": log.error_description or None,
                "additionalDetails": None,
                "recommendedAction": log.recommended_fix or None,
            } if failed or log.error_code else None,
        },
        "provisioningSteps": [provisioning_step(step) for step in log.steps or []],
        "modifiedProperties": [
            {"displayName": p.get("name"), "oldValue": _text(p.get("old")), "newValue": _text(p.get("new"))}
            for p in log.modified_properties or []
        ],
        "servicePrincipal": {"id": str(app.pk), "displayName": app.name},
        "sourceIdentity": {
            "id": log.source_id,
            "displayName": log.source_display_name or None,
            "identityType": log.object_type,
            "details": {"userPrincipalName": log.source_upn} if log.source_upn else {},
        },
        "sourceSystem": SOURCE_SYSTEM,
        "targetIdentity": {"id": log.target_id or None, "displayName": None, "identityType": log.object_type, "details": {}},
        "targetSystem": {"id": str(app.pk), "displayName": app.name, "details": {"ServicePrincipalId": str(app.pk)}},
    }


def _text(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


USER_FIELDS = directory.USER_FIELDS
GROUP_FIELDS = {**directory.GROUP_TEXT_FIELDS, "securityEnabled": "security_enabled"}


def user(row):
    values = {name: getattr(row, attr) for name, attr in USER_FIELDS.items()}
    # Graph answers null for an empty property.
    return {"@odata.type": "#microsoft.graph.user", "id": str(row.object_id),
            **{k: (None if v == "" else v) for k, v in values.items()}}


def group(row):
    values = {name: getattr(row, attr) for name, attr in GROUP_FIELDS.items()}
    return {"@odata.type": "#microsoft.graph.group", "id": str(row.object_id),
            **{k: (None if v == "" else v) for k, v in values.items()},
            "mailEnabled": False, "groupTypes": [], "createdDateTime": iso(row.created_at)}
