"""servicePrincipals and their synchronization job: status, start, pause, restart, provisionOnDemand, schema.

Graph's paths and verbs (…/servicePrincipals/{id}/synchronization/jobs/{jobId}/…); each endpoint fetches the
application, calls the engine as the Overview, Provision on demand and mapping pages do, and serialises.
"""

import json
import uuid
from typing import Literal

from django.db import transaction
from ninja import Body, Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from provisioning import tasks
from provisioning.api import graph
from provisioning.api.errors import ApiError, not_found
from provisioning.api.odata import FilterError, parse
from provisioning.api.schemas import (
    OnDemandResult,
    ServicePrincipal,
    ServicePrincipalCollection,
    SynchronizationJob,
    SynchronizationJobCollection,
    answers,
)
from provisioning.api.security import admin_only, requested_by
from provisioning.engine.cycle import ProvisioningNotConfigured, start_provisioning, stop_provisioning
from provisioning.engine.on_demand import OnDemandRequestError, provision_on_demand, request_on_demand
from provisioning.engine.restart import RestartError, restart_provisioning
from provisioning.mapping_config import DocumentError, export_configuration, import_configuration, read_document
from provisioning.models import Application, DirectoryGroup, DirectoryUser, ProvisioningCycle

router = Router(tags=["synchronization"])
JOB = "/servicePrincipals/{id}/synchronization/jobs/{jobId}"


def _app(id):
    app = Application.objects.filter(pk=int(id)).first() if str(id).isdigit() and len(str(id)) <= 18 else None
    if app is None:
        raise not_found(f"The application '{id}' doesn't exist: it may have been deleted. GET /api/v1/servicePrincipals "
                        "lists the applications.")
    return app


def _job(id, job_id):
    app = _app(id)
    if job_id != app.job_id:
        raise not_found(f"The synchronization job '{job_id}' doesn't exist in '{app.name}': its job is '{app.job_id}' "
                        f"(GET /api/v1/servicePrincipals/{app.pk}/synchronization/jobs).")
    return app


@router.get("/servicePrincipals", **answers(ServicePrincipalCollection), summary="List applications")
def list_service_principals(request, filter: str | None = Query(None, alias="$filter", description="displayName eq 'Slack'")):
    apps = Application.objects.order_by("name")
    if filter is not None:
        try:
            conditions = parse(filter, {"displayName": ("eq",), "id": ("eq",)})
        except FilterError as exc:
            raise ApiError(400, str(exc)) from None
        for c in conditions:
            apps = apps.filter(name__iexact=c.value) if c.field == "displayName" else (
                apps.filter(pk=int(c.value)) if c.value.isdigit() and len(c.value) <= 18 else apps.none())
    return {"value": [graph.service_principal(app) for app in apps]}


@router.get("/servicePrincipals/{id}", **answers(ServicePrincipal), summary="Get an application")
def get_service_principal(request, id: str):
    return graph.service_principal(_app(id))


@router.get("/servicePrincipals/{id}/synchronization/jobs", **answers(SynchronizationJobCollection),
            summary="List the application's synchronization jobs")
def list_jobs(request, id: str):
    return {"value": [graph.synchronization_job(_app(id))]}


@router.get(JOB, **answers(SynchronizationJob), summary="Get the synchronization job and its synchronizationStatus")
def get_job(request, id: str, jobId: str):
    return graph.synchronization_job(_job(id, jobId))


@router.post(JOB + "/start", **answers(None, 204), summary="Start provisioning (Provisioning Status On)")
def start(request, id: str, jobId: str):
    admin_only(request)
    app = _job(id, jobId)
    try:
        cycle = start_provisioning(app, requested_by=requested_by(request))
    except ProvisioningNotConfigured as exc:
        raise ApiError(400, str(exc)) from None
    if cycle.state == ProvisioningCycle.State.QUEUED:
        # As the Overview's Start: a queued cycle may be enqueued twice; run_cycle claims it once.
        transaction.on_commit(lambda: tasks.run_cycle.delay(cycle.id))
    return Status(204, None)


@router.post(JOB + "/pause", **answers(None, 204), summary="Stop provisioning (Provisioning Status Off)")
def pause(request, id: str, jobId: str):
    admin_only(request)
    stop_provisioning(_job(id, jobId), requested_by=requested_by(request))
    return Status(204, None)


class RestartCriteria(Schema):
    resetScope: str = Field("", description="Comma-separated: Watermark, Escrows, QuarantineState, ForceDeletes, "
                                            "ConnectorDataStore, Full. Empty: the blade's Restart provisioning "
                                            "(Watermark, Escrows, QuarantineState).")


class RestartBody(Schema):
    criteria: RestartCriteria | None = None


@router.post(JOB + "/restart", **answers(None, 204), summary="Restart provisioning with reset scopes")
def restart(request, id: str, jobId: str, payload: RestartBody = Body(None)):
    admin_only(request)
    app = _job(id, jobId)
    scopes = payload.criteria.resetScope if payload and payload.criteria else ""
    try:
        with transaction.atomic():
            cycle = restart_provisioning(app, scopes, requested_by=requested_by(request))
            transaction.on_commit(lambda: tasks.run_cycle.delay(cycle.id))
    except (ProvisioningNotConfigured, RestartError) as exc:
        raise ApiError(400, str(exc)) from None
    return Status(204, None)


class Member(Schema):
    model_config = ConfigDict(extra="forbid")
    objectId: str
    objectTypeName: Literal["User", "user"] = "User"


class Links(Schema):
    members: list[Member] = []


class Subject(Schema):
    model_config = ConfigDict(extra="forbid")
    objectId: str
    objectTypeName: Literal["User", "Group", "user", "group"]
    links: Links | None = None


class Parameter(Schema):
    subjects: list[Subject] = Field(min_length=1)
    ruleId: str = Field("", description="Accepted as Graph requires it; a portal job has one rule, which is used.")


class OnDemandBody(Schema):
    parameters: list[Parameter] = Field(min_length=1, max_length=1)


def _by_object_id(model, object_id, noun):
    try:
        key = uuid.UUID(object_id)
    except ValueError:
        raise ApiError(400, f"'{object_id}' is not an objectId: a {noun}'s objectId is a GUID like "
                            "3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f.") from None
    row = model.objects.filter(object_id=key, deleted_at__isnull=True).first()
    if row is None:
        raise not_found(f"No {noun} with objectId {object_id} in the directory: it may have been deleted.")
    return row


@router.post(JOB + "/provisionOnDemand", **answers(OnDemandResult),
             summary="Provision on demand: one user, or a group and up to 5 of its members")
def provision_on_demand_endpoint(request, id: str, jobId: str, payload: OnDemandBody):
    """Runs the same pipeline as the Provision on demand page and answers when it has finished, as Graph does.
    The answer is Graph's stringKeyStringValuePair (key: the result, value: the subject's details as JSON text),
    plus synchronizationStepDetails: the details of every object provisioned, as structured JSON."""
    admin_only(request)
    app = _job(id, jobId)
    subjects = payload.parameters[0].subjects
    if len(subjects) != 1:
        raise ApiError(400, "Send one subject: a user, or a group with up to 5 members in links.members. Provision "
                            "the others in another request.")
    subject = subjects[0]
    try:
        if subject.objectTypeName.lower() == "user":
            user = _by_object_id(DirectoryUser, subject.objectId, "user")
            run = request_on_demand(app, user_ids=[user.pk], requested_by=requested_by(request))
        else:
            group = _by_object_id(DirectoryGroup, subject.objectId, "group")
            members = [_by_object_id(DirectoryUser, m.objectId, "user") for m in (subject.links.members if subject.links else [])]
            run = request_on_demand(app, user_ids=[m.pk for m in members], group_id=group.pk, requested_by=requested_by(request))
    except OnDemandRequestError as exc:
        raise ApiError(400, str(exc)) from None
    # In this request, not through the worker queue: Graph's call answers with the outcome, and the caller waits
    # for it either way. provision_on_demand claims the run, so it never runs twice.
    provision_on_demand(run)
    logs = list(run.logs.select_related("application", "cycle").order_by("created_at", "id"))
    details = [graph.provisioning_object_summary(log) for log in logs]
    main = next((d for d in details if d["sourceIdentity"]["id"] == str(subject.objectId)), details[-1] if details else None)
    result = (main or {}).get("provisioningStatusInfo", {}).get("status", "failure")
    error = ((main or {}).get("provisioningStatusInfo") or {}).get("errorInformation") or {}
    key = {"result": {"success": "Success", "skipped": "Skipped", "warning": "Success"}.get(result, "Failure"),
           "details": {"errorCode": error.get("errorCode"), "errorMessage": error.get("reason")} if error else {}}
    return {
        "@odata.type": "#microsoft.graph.stringKeyStringValuePair",
        "key": json.dumps(key),
        "value": json.dumps(main),
        "synchronizationStepDetails": details,
    }


@router.get(JOB + "/schema", **answers(dict), summary="Export the attribute mappings and scoping filters")
def get_schema(request, id: str, jobId: str):
    """Administrators only, as the mapping pages and their Export are."""
    admin_only(request)
    return export_configuration(_job(id, jobId))


@router.put(JOB + "/schema", **answers(None, 204), summary="Import attribute mappings and scoping filters",
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}})
def put_schema(request, id: str, jobId: str):
    """The document GET …/schema returns (the mapping page's Export). Checked whole: any problem and nothing changes.
    A change makes the next cycle an initial cycle, as the mapping page's Import does."""
    admin_only(request)
    app = _job(id, jobId)
    try:
        data = read_document(request.body)
    except DocumentError as exc:
        raise ApiError(400, str(exc)) from None
    result = import_configuration(app, data)
    if result.problems:
        details = [{"code": "InvalidConfiguration", "target": p.location, "message": p.message} for p in result.problems]
        raise ApiError(400, f"The configuration was not imported: {len(result.problems)} problem"
                            f"{'s' if len(result.problems) != 1 else ''} ({result.problems[0]}). Nothing was changed.",
                       details=details)
    return Status(204, None)
