"""The answers' shapes for the OpenAPI document (Graph's names), and for ninja to check each answer against.

Graph's objects carry more properties than the portal has; these list what the portal sends. `extra="allow"`
keeps a property a serialiser adds before its model is updated, rather than dropping it silently.
"""

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# --- errors


class InnerError(Out):
    date: str
    request_id: str = Field(alias="request-id")


class ErrorDetail(Out):
    code: str
    target: str | None = None
    message: str


class ErrorBody(Out):
    code: str = Field(description="Graph's code: BadRequest, InvalidAuthenticationToken, Authorization_RequestDenied, "
                                  "Request_ResourceNotFound, Conflict, TooManyRequests")
    message: str
    details: list[ErrorDetail] | None = None
    innerError: InnerError


class GraphError(Out):
    error: ErrorBody


# --- servicePrincipal, synchronizationJob, synchronizationStatus


class ServicePrincipal(Out):
    id: str
    appId: str
    displayName: str
    appDisplayName: str
    description: str | None
    servicePrincipalType: str
    accountEnabled: bool
    createdDateTime: str | None


class ServicePrincipalCollection(Out):
    value: list[ServicePrincipal]


class CodeMessage(Out):
    code: str | None
    message: str | None


class TaskExecution(Out):
    activityIdentifier: str
    countEntitled: int
    countExported: int
    countEscrowed: int
    error: CodeMessage | None
    state: str = Field(description="Succeeded, EntryLevelErrors, Failed, Running")
    timeBegan: str | None
    timeEnded: str | None


class SynchronizationProgress(Out):
    completedUnits: int
    totalUnits: int
    units: str
    progressObservationDateTime: str


class QuarantineError(Out):
    code: str
    message: str
    tenantActionable: bool
    recommendedFix: str


class SynchronizationQuarantine(Out):
    currentBegan: str | None
    nextAttempt: str | None
    reason: str
    seriesBegan: str | None
    seriesCount: int
    error: QuarantineError


class KeyValue(Out):
    key: str
    value: int | str


class EscrowReason(Out):
    code: str
    count: int
    example: str


class Escrowed(Out):
    count: int
    references: int
    reasons: list[EscrowReason]


class SynchronizationStatus(Out):
    code: str = Field(description="NotConfigured, NotRun, Active, Paused, Quarantine")
    countSuccessiveCompleteFailures: int
    escrowsPruned: bool
    lastExecution: TaskExecution | None
    lastSuccessfulExecution: TaskExecution | None
    progress: list[SynchronizationProgress]
    quarantine: SynchronizationQuarantine | None
    synchronizedEntryCountByType: list[KeyValue]
    escrowed: Escrowed = Field(description="Not in Graph: the objects waiting in escrow and why")
    stagedDeletes: int = Field(description="Not in Graph: disables and deletes held by the accidental-deletion threshold")


class Schedule(Out):
    expiration: str | None
    interval: str
    state: str


class NameValue(Out):
    name: str
    value: str


class SynchronizationJob(Out):
    id: str
    templateId: str
    schedule: Schedule
    status: SynchronizationStatus
    synchronizationJobSettings: list[NameValue]


class SynchronizationJobCollection(Out):
    value: list[SynchronizationJob]


# --- provisioningObjectSummary


class Initiator(Out):
    initiatorType: str
    displayName: str
    id: str


class ErrorInformation(Out):
    errorCode: str | None
    errorCategory: str
    reason: str | None
    additionalDetails: str | None
    recommendedAction: str | None


class StatusInfo(Out):
    status: str = Field(description="success, failure, skipped, warning")
    errorInformation: ErrorInformation | None


class ProvisioningStep(Out):
    name: str
    provisioningStepType: str = Field(description="import, scoping, matching, processing, export")
    status: str
    description: str
    details: dict[str, str]


class ModifiedProperty(Out):
    displayName: str | None
    oldValue: str | None
    newValue: str | None


class Identity(Out):
    id: str | None
    displayName: str | None
    identityType: str | None = None
    details: dict[str, str] = {}


class ProvisioningObjectSummary(Out):
    id: str
    activityDateTime: str
    changeId: str
    cycleId: str | None
    jobId: str
    durationInMilliseconds: int
    initiatedBy: Initiator
    provisioningAction: str = Field(description="create, update, delete, disable, stagedDelete, other")
    provisioningStatusInfo: StatusInfo
    provisioningSteps: list[ProvisioningStep]
    modifiedProperties: list[ModifiedProperty]
    servicePrincipal: Identity
    sourceIdentity: Identity
    sourceSystem: Identity
    targetIdentity: Identity
    targetSystem: Identity


class ProvisioningObjectSummaryCollection(Out):
    odata_context: str = Field(alias="@odata.context")
    value: list[ProvisioningObjectSummary]
    odata_next_link: str | None = Field(None, alias="@odata.nextLink")


class OnDemandResult(Out):
    odata_type: str = Field(alias="@odata.type")
    key: str = Field(description='JSON text: {"result": "Success|Skipped|Failure", "details": {"errorCode", "errorMessage"}}')
    value: str = Field(description="JSON text: the requested subject's provisioningObjectSummary")
    synchronizationStepDetails: list[ProvisioningObjectSummary] = Field(
        description="Not in Graph: every object provisioned (a group's members first), as structured JSON")


# --- directory


class User(Out):
    odata_type: str = Field("#microsoft.graph.user", alias="@odata.type")
    id: str
    userPrincipalName: str
    displayName: str | None
    givenName: str | None
    surname: str | None
    mail: str | None
    mailNickname: str | None
    jobTitle: str | None
    department: str | None
    employeeId: str | None
    accountEnabled: bool


class UserCollection(Out):
    value: list[User]
    odata_next_link: str | None = Field(None, alias="@odata.nextLink")


class Group(Out):
    odata_type: str = Field("#microsoft.graph.group", alias="@odata.type")
    id: str
    displayName: str
    description: str | None
    mailNickname: str | None
    securityEnabled: bool
    mailEnabled: bool
    groupTypes: list[str]
    createdDateTime: str | None


class GroupCollection(Out):
    value: list[Group]
    odata_next_link: str | None = Field(None, alias="@odata.nextLink")


# Every operation documents Graph's error body for the 4xx answers the API gives.
ERRORS = {frozenset({400, 401, 403, 404, 405, 409, 429}): GraphError}


def answers(model, status=200):
    """An operation's documented answers: the model (Graph's @odata names; a nextLink only when there is one)
    and Graph's error body."""
    return {"response": {status: model, **ERRORS}, "by_alias": True, "exclude_unset": True}
