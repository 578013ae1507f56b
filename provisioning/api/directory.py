"""The directory in Graph's shape: /users and /groups by objectId, create / update / delete, members by $ref,
a user's manager by $ref.

DELETE is Graph's: a soft delete (deletedAt set), which every app's next cycle provisions as a disable, as an
import with --prune does. Writes save rows the ordinary way, so provisioning.directory_changes sees them.
"""

import uuid
from urllib.parse import urlencode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from provisioning import audit
from provisioning.api import graph
from provisioning.api.errors import ApiError, not_found
from provisioning.api.odata import FilterError, parse
from provisioning.api.schemas import Group, GroupCollection, User, UserCollection, answers
from provisioning.api.security import admin_only
from provisioning.models import DirectoryGroup, DirectoryUser

router = Router(tags=["directory"])
DEFAULT_TOP = 100
MAX_TOP = 999


class UserCreate(Schema):
    model_config = ConfigDict(extra="forbid")
    userPrincipalName: str = Field(min_length=1)
    displayName: str = ""
    givenName: str = ""
    surname: str = ""
    mail: str = ""
    mailNickname: str = ""
    jobTitle: str = ""
    department: str = ""
    employeeId: str = ""
    accountEnabled: bool = True


class UserUpdate(Schema):
    model_config = ConfigDict(extra="forbid")
    userPrincipalName: str | None = Field(None, min_length=1)
    displayName: str | None = None
    givenName: str | None = None
    surname: str | None = None
    mail: str | None = None
    mailNickname: str | None = None
    jobTitle: str | None = None
    department: str | None = None
    employeeId: str | None = None
    accountEnabled: bool | None = None


class GroupCreate(Schema):
    model_config = ConfigDict(extra="forbid")
    displayName: str = Field(min_length=1)
    description: str = ""
    mailNickname: str = ""
    securityEnabled: bool = True


class GroupUpdate(Schema):
    model_config = ConfigDict(extra="forbid")
    displayName: str | None = Field(None, min_length=1)
    description: str | None = None
    mailNickname: str | None = None
    securityEnabled: bool | None = None


class Reference(Schema):
    odata_id: str = Field(alias="@odata.id", description="…/users/{objectId} or …/directoryObjects/{objectId}")


def _uuid(value, noun):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ApiError(400, f"'{value}' is not an objectId: a {noun}'s objectId is a GUID like "
                            "3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f.") from None


def _get(model, object_id, noun):
    row = model.objects.filter(object_id=_uuid(object_id, noun), deleted_at__isnull=True).first()
    if row is None:
        raise not_found(f"No {noun} with objectId {object_id} in the directory: it may have been deleted.")
    return row


def _referenced_user(reference):
    # Graph sends the whole URL of the object; its last segment is the objectId.
    return _get(DirectoryUser, reference.odata_id.rstrip("/").rsplit("/", 1)[-1], "user")


FILTER = Query(None, alias="$filter", description="eq on the properties, joined by and, e.g. "
                                                  "userPrincipalName eq 'jane@contoso.example'")


def filtered(queryset, text, fields, noun):
    """$filter with eq on Graph's property names (strings compared case-insensitively, as Graph does)."""
    if text is None:
        return queryset
    names = {"id": "object_id", **fields}
    try:
        conditions = parse(text, {name: ("eq",) for name in names})
    except FilterError as exc:
        raise ApiError(400, str(exc)) from None
    for c in conditions:
        attr = names[c.field]
        if attr == "object_id":
            queryset = queryset.filter(object_id=_uuid(c.value, noun))
        elif queryset.model._meta.get_field(attr).get_internal_type() == "BooleanField":
            if c.value not in ("true", "false"):
                raise ApiError(400, f"{c.field} is true or false (unquoted), not {c.value!r}.")
            queryset = queryset.filter(**{attr: c.value == "true"})
        else:
            queryset = queryset.filter(**{f"{attr}__iexact": c.value})
    return queryset


SEARCH = Query(None, alias="$search", description='Graph\'s $search: "displayName:jane" or plain text, matched as the '
                                                   "portal's directory search does (names, UPN and mail from their start)")


def searched(queryset, text):
    """Graph's $search ("displayName:jane", in quotes or not) through the directory's one search."""
    if text is None:
        return queryset
    text = text.strip().strip('"')
    _, colon, value = text.partition(":")
    return queryset.search(value if colon else text)


def _page(request, queryset, top, skiptoken, serialise, filter=None, search=None):
    if skiptoken:
        if not (skiptoken.isdigit() and len(skiptoken) <= 18):
            raise ApiError(400, "The $skiptoken is not one the API gave: follow @odata.nextLink as it is.")
        queryset = queryset.filter(pk__gt=int(skiptoken))
    rows = list(queryset.order_by("pk")[: top + 1])
    answer = {"value": [serialise(row) for row in rows[:top]]}
    if len(rows) > top:
        params = {"$top": top, "$skiptoken": rows[top - 1].pk, **({"$filter": filter} if filter is not None else {}),
                  **({"$search": search} if search is not None else {})}
        answer["@odata.nextLink"] = request.build_absolute_uri(request.path) + "?" + urlencode(params)
    return answer


def _save(request, row, values, fields, noun):
    """Validate and save, as the directory pages do, audited under the token's name."""
    existing = row if row.pk else None
    for name, value in values.items():
        setattr(row, fields[name], value)
    try:
        row.full_clean(exclude=["manager"] if noun == "user" else None)
    except DjangoValidationError as exc:
        taken = [f for f, errors in exc.error_dict.items() if any(e.code == "unique" for e in errors)]
        if taken:
            raise ApiError(409, f"Another {noun} already has this {_graph_name(taken[0], fields)}: "
                                f"{getattr(row, taken[0])!r}. Choose another value.") from None
        details = [{"code": "ValidationError", "target": _graph_name(f, fields), "message": " ".join(m for m in messages)}
                   for f, messages in exc.message_dict.items()]
        raise ApiError(400, "The " + noun + " was not saved: " + "; ".join(f"{d['target']}: {d['message']}" for d in details),
                       details=details) from None
    try:
        with transaction.atomic(), audit.changes(existing, f"Update {noun}" if existing else f"Add {noun}", by=_by(request),
                                                 category=audit.Category.DIRECTORY) as watched:
            row.save()
            watched.obj = row
    except IntegrityError:
        raise ApiError(409, f"Another {noun} was saved with the same unique value at the same moment: read it and try again.") from None
    return row


def _soft_delete(request, obj, kind):
    """As the directory pages delete: Entra's soft delete, in the audit log under the token's name."""
    obj.soft_delete()
    audit.record(f"Delete {kind}", by=_by(request), category=audit.Category.DIRECTORY, target=str(obj),
                 changes=[{"name": "State", "old": "Active", "new": "Deleted"}])


def _by(request):
    return f"API token '{request.auth.name}'"


def _graph_name(field, fields):
    return next((name for name, attr in fields.items() if attr == field), field)


# --------------------------------------------------------------------------------------------- users


@router.get("/users", **answers(UserCollection), summary="List directory users")
def list_users(request, filter: str | None = FILTER, top: int = Query(DEFAULT_TOP, alias="$top", ge=1, le=MAX_TOP),
               skiptoken: str | None = Query(None, alias="$skiptoken"), search: str | None = SEARCH):
    users = searched(filtered(DirectoryUser.objects.active(), filter, graph.USER_FIELDS, "user"), search)
    return _page(request, users, top, skiptoken, graph.user, filter, search)


@router.post("/users", **answers(User, 201), summary="Create a directory user")
def create_user(request, payload: UserCreate):
    admin_only(request)
    user = _save(request, DirectoryUser(), payload.model_dump(), graph.USER_FIELDS, "user")
    return Status(201, graph.user(user))


@router.get("/users/{id}", **answers(User), summary="Get a directory user")
def get_user(request, id: str):
    return graph.user(_get(DirectoryUser, id, "user"))


@router.patch("/users/{id}", **answers(None, 204), summary="Update a directory user")
def update_user(request, id: str, payload: UserUpdate):
    admin_only(request)
    user = _get(DirectoryUser, id, "user")
    _save(request, user, payload.model_dump(exclude_unset=True), graph.USER_FIELDS, "user")
    return Status(204, None)


@router.delete("/users/{id}", **answers(None, 204), summary="Delete a directory user (soft delete: apps disable it)")
def delete_user(request, id: str):
    admin_only(request)
    user = _get(DirectoryUser, id, "user")
    _soft_delete(request, user, "user")
    return Status(204, None)


@router.get("/users/{id}/manager", **answers(User), summary="Get a user's manager")
def get_manager(request, id: str):
    user = _get(DirectoryUser, id, "user")
    if user.manager_id is None or user.manager.deleted_at is not None:
        raise not_found(f"'{user}' has no manager.")
    return graph.user(user.manager)


@router.put("/users/{id}/manager/$ref", **answers(None, 204), summary="Set a user's manager")
def set_manager(request, id: str, payload: Reference):
    admin_only(request)
    user = _get(DirectoryUser, id, "user")
    manager = _referenced_user(payload)
    if manager.pk == user.pk:
        raise ApiError(400, "A user cannot be their own manager: choose another user.")
    user.manager = manager
    user.save(update_fields=["manager", "updated_at"])
    return Status(204, None)


@router.delete("/users/{id}/manager/$ref", **answers(None, 204), summary="Remove a user's manager")
def remove_manager(request, id: str):
    admin_only(request)
    user = _get(DirectoryUser, id, "user")
    if user.manager_id is None:
        raise not_found(f"'{user}' has no manager to remove.")
    user.manager = None
    user.save(update_fields=["manager", "updated_at"])
    return Status(204, None)


# --------------------------------------------------------------------------------------------- groups


@router.get("/groups", **answers(GroupCollection), summary="List directory groups")
def list_groups(request, filter: str | None = FILTER, top: int = Query(DEFAULT_TOP, alias="$top", ge=1, le=MAX_TOP),
                skiptoken: str | None = Query(None, alias="$skiptoken"), search: str | None = SEARCH):
    groups = searched(filtered(DirectoryGroup.objects.active(), filter, graph.GROUP_FIELDS, "group"), search)
    return _page(request, groups, top, skiptoken, graph.group, filter, search)


@router.post("/groups", **answers(Group, 201), summary="Create a directory group")
def create_group(request, payload: GroupCreate):
    admin_only(request)
    group = _save(request, DirectoryGroup(), payload.model_dump(), graph.GROUP_FIELDS, "group")
    return Status(201, graph.group(group))


@router.get("/groups/{id}", **answers(Group), summary="Get a directory group")
def get_group(request, id: str):
    return graph.group(_get(DirectoryGroup, id, "group"))


@router.patch("/groups/{id}", **answers(None, 204), summary="Update a directory group")
def update_group(request, id: str, payload: GroupUpdate):
    admin_only(request)
    group = _get(DirectoryGroup, id, "group")
    _save(request, group, payload.model_dump(exclude_unset=True), graph.GROUP_FIELDS, "group")
    return Status(204, None)


@router.delete("/groups/{id}", **answers(None, 204), summary="Delete a directory group (soft delete)")
def delete_group(request, id: str):
    admin_only(request)
    group = _get(DirectoryGroup, id, "group")
    _soft_delete(request, group, "group")
    return Status(204, None)


@router.get("/groups/{id}/members", **answers(UserCollection), summary="List a group's members")
def list_members(request, id: str, top: int = Query(DEFAULT_TOP, alias="$top", ge=1, le=MAX_TOP),
                 skiptoken: str | None = Query(None, alias="$skiptoken")):
    group = _get(DirectoryGroup, id, "group")
    return _page(request, group.members.filter(deleted_at__isnull=True), top, skiptoken, graph.user)


@router.post("/groups/{id}/members/$ref", **answers(None, 204), summary="Add a member")
def add_member(request, id: str, payload: Reference):
    admin_only(request)
    group = _get(DirectoryGroup, id, "group")
    user = _referenced_user(payload)
    if group.members.filter(pk=user.pk).exists():
        raise ApiError(409, f"'{user}' is already a member of '{group}'.")
    group.members.add(user)
    return Status(204, None)


@router.delete("/groups/{id}/members/{memberId}/$ref", **answers(None, 204), summary="Remove a member")
def remove_member(request, id: str, memberId: str):
    admin_only(request)
    group = _get(DirectoryGroup, id, "group")
    user = group.members.filter(object_id=_uuid(memberId, "user")).first()
    if user is None:
        raise not_found(f"The user {memberId} is not a member of '{group}'.")
    group.members.remove(user)
    return Status(204, None)
