"""GET /auditLogs/provisioning: the provisioning logs of every application, Graph's provisioningObjectSummary.

$filter takes the logs page's filters in Graph's property names and goes through the page's FilterSet, so a
bad value gets the page's message; $top and @odata.nextLink page by keyset ($skiptoken: the last entry read),
newest first, each page one indexed range scan like the page's.
"""

from urllib.parse import urlencode

from django.db.models import Q
from ninja import Query, Router

from provisioning.api import graph
from provisioning.api.errors import ApiError
from provisioning.api.odata import FilterError, parse
from provisioning.api.schemas import ProvisioningObjectSummaryCollection, answers
from provisioning.filters import ProvisioningLogFilterSet
from provisioning.models import Application, ProvisioningLog

router = Router(tags=["auditLogs"])
DEFAULT_TOP = 50
MAX_TOP = 1000
EQ = ("eq",)
# Graph's property → (operators, the FilterSet's parameter); None: handled here.
FIELDS = {
    "activityDateTime": (("ge", "le"), None),
    "provisioningStatusInfo/status": (EQ, "status"),
    "provisioningStatusInfo/errorInformation/errorCode": (EQ, "error_code"),
    "provisioningAction": (EQ, "action"),
    "sourceIdentity/displayName": (EQ, "identity"),
    "sourceIdentity/id": (EQ, "identity"),
    "targetIdentity/id": (EQ, "identity"),
    "cycleId": (EQ, "cycle"),
    "changeId": (EQ, "change"),
    "jobId": (EQ, None),
    "servicePrincipal/id": (EQ, None),
}


def _filter(queryset, text):
    try:
        conditions = parse(text, {name: ops for name, (ops, _) in FIELDS.items()})
    except FilterError as exc:
        raise ApiError(400, str(exc)) from None
    data, seen = {}, set()
    for c in conditions:
        key = (c.field, c.operator)
        if key in seen:
            raise ApiError(400, f"{c.field} {c.operator} appears twice in the $filter: give each condition once.")
        seen.add(key)
        if c.field == "activityDateTime":
            data["date"] = "custom"
            data["start" if c.operator == "ge" else "end"] = c.value
        elif c.field == "jobId":
            queryset = queryset.filter(application__in=Application.objects.filter(job_id=c.value).values("pk"))
        elif c.field == "servicePrincipal/id":
            queryset = queryset.filter(application_id=int(c.value)) if c.value.isdigit() and len(c.value) <= 18 else queryset.none()
        elif c.field == "provisioningAction":
            data["action"] = graph.ACTIONS_FROM_GRAPH.get(c.value, c.value)
        else:
            parameter = FIELDS[c.field][1]
            if parameter in data:
                raise ApiError(400, f"{c.field} and another identity condition cannot be combined: give one of "
                                    "sourceIdentity/displayName, sourceIdentity/id, targetIdentity/id.")
            data[parameter] = c.value
    filterset = ProvisioningLogFilterSet(data, queryset=queryset)
    if not filterset.is_valid():
        names = {param: field for field, (_, param) in FIELDS.items() if param}
        names.update(start="activityDateTime ge", end="activityDateTime le", date="activityDateTime")
        details = [
            {"code": "InvalidFilter", "target": names.get(name, name), "message": str(message)}
            for name, messages in filterset.form.errors.items() for message in messages
        ]
        raise ApiError(400, "The $filter is not valid: " + " ".join(f"{d['target']}: {d['message']}" for d in details),
                       details=details)
    return filterset.qs


@router.get("/auditLogs/provisioning", **answers(ProvisioningObjectSummaryCollection),
            summary="List provisioning log entries (provisioningObjectSummary)")
def list_provisioning_logs(
    request,
    filter: str | None = Query(None, alias="$filter", description="e.g. provisioningStatusInfo/status eq 'failure' and "
                               "activityDateTime ge 2025-11-23T00:00:00Z. Supported: " + ", ".join(FIELDS)),
    top: int = Query(DEFAULT_TOP, alias="$top", ge=1, le=MAX_TOP),
    skiptoken: str | None = Query(None, alias="$skiptoken", description="From @odata.nextLink; do not build it yourself."),
):
    queryset = ProvisioningLog.objects.select_related("application", "cycle")
    if filter is not None:
        queryset = _filter(queryset, filter)
    if skiptoken:
        cursor = None
        if skiptoken.isdigit() and len(skiptoken) <= 18:
            cursor = ProvisioningLog.objects.filter(pk=int(skiptoken)).only("created_at").first()
        if cursor is None:
            raise ApiError(400, "That page no longer exists (the entry it started from is gone): request the first page "
                                "again, without $skiptoken.")
        at = cursor.created_at
        # The plain bound lets the database start its index scan at the cursor (as the logs page does).
        queryset = queryset.filter(created_at__lte=at).filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=cursor.id))
    rows = list(queryset.order_by("-created_at", "-id")[: top + 1])
    answer = {
        "@odata.context": request.build_absolute_uri("/api/v1/$metadata#auditLogs/provisioning"),
        "value": [graph.provisioning_object_summary(log) for log in rows[:top]],
    }
    if len(rows) > top:
        params = {"$top": top, "$skiptoken": rows[top - 1].pk}
        if filter is not None:
            params["$filter"] = filter
        answer["@odata.nextLink"] = request.build_absolute_uri(request.path) + "?" + urlencode(params)
    return answer
