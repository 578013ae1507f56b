"""Directory objects as the pipeline reads them: plain snapshots, loaded in bulk (a few queries per chunk).

The pipeline never touches the directory models; it gets a Source per object with Entra's attribute names
(null and empty values dropped, as Entra does), and for hard-deleted objects a Source built from the
tombstone.
"""

import uuid
from dataclasses import dataclass, field

from provisioning.models import DeletedDirectoryObject, DirectoryGroup, DirectoryUser
from provisioning.models.directory import GROUP_TEXT_FIELDS, USER_FIELDS

USER = "user"
GROUP = "group"

_USER_FIELDS = {"objectId": "object_id", **USER_FIELDS}
_GROUP_FIELDS = {"objectId": "object_id", **GROUP_TEXT_FIELDS}


@dataclass
class Source:
    object_type: str  # USER | GROUP
    object_id: uuid.UUID
    name: str
    pk: int | None = None  # None for a hard-deleted object
    upn: str = ""
    attributes: dict = field(default_factory=dict)
    account_enabled: bool = True
    deleted: str = ""  # "" | "soft" | "hard"
    manager_id: uuid.UUID | None = None  # users: the manager's objectId
    members: tuple = ()  # groups: the members' objectIds

    @property
    def key(self):
        return (self.object_type, self.object_id)


def _clean(values):
    return {k: v for k, v in values.items() if v is not None and v != "" and v != []}


def user_attributes(row, manager_object_id=None):
    """Entra attribute name → value for one user row (a dict of model field values)."""
    values = {name: row[column] for name, column in _USER_FIELDS.items()}
    values["objectId"] = str(values["objectId"])
    # A reference: the manager's objectId; the engine resolves it to the target's id.
    values["manager"] = str(manager_object_id) if manager_object_id else None
    values.update(row.get("extension_attributes") or {})
    return _clean(values)


def load_users(pks):
    """Sources for these DirectoryUser pks, in the given order (missing rows are left out)."""
    columns = [*_USER_FIELDS.values(), "pk", "extension_attributes", "deleted_at", "manager__object_id"]
    rows = {row["pk"]: row for row in DirectoryUser.objects.filter(pk__in=list(pks)).values(*columns)}
    sources = []
    for pk in pks:
        row = rows.get(pk)
        if row is None:
            continue
        manager = row["manager__object_id"]
        sources.append(Source(
            USER, row["object_id"], row["display_name"] or row["user_principal_name"], pk=pk,
            upn=row["user_principal_name"], attributes=user_attributes(row, manager),
            account_enabled=row["account_enabled"], deleted="soft" if row["deleted_at"] else "", manager_id=manager,
        ))
    return sources


def load_groups(pks):
    """Sources for these DirectoryGroup pks with their members' objectIds, in the given order."""
    rows = {row["pk"]: row for row in DirectoryGroup.objects.filter(pk__in=list(pks)).values(*_GROUP_FIELDS.values(), "pk", "deleted_at")}
    members = {}
    through = DirectoryGroup.members.through.objects.filter(directorygroup_id__in=list(rows))
    for group_pk, member in through.values_list("directorygroup_id", "directoryuser__object_id").order_by("directorygroup_id", "directoryuser_id"):
        members.setdefault(group_pk, []).append(member)
    sources = []
    for pk in pks:
        row = rows.get(pk)
        if row is None:
            continue
        attributes = {name: row[column] for name, column in _GROUP_FIELDS.items()}
        attributes["objectId"] = str(attributes["objectId"])
        group_members = tuple(members.get(pk, ()))
        attributes["members"] = [str(m) for m in group_members]
        sources.append(Source(
            GROUP, row["object_id"], row["display_name"], pk=pk, attributes=_clean(attributes),
            deleted="soft" if row["deleted_at"] else "", members=group_members,
        ))
    return sources


def from_tombstone(tombstone: DeletedDirectoryObject):
    attributes = _clean({"objectId": str(tombstone.object_id), "displayName": tombstone.display_name,
                         "userPrincipalName": tombstone.user_principal_name})
    return Source(tombstone.object_type, tombstone.object_id, tombstone.display_name or tombstone.user_principal_name or str(tombstone.object_id),
                  upn=tombstone.user_principal_name, attributes=attributes, account_enabled=False, deleted="hard")


def of_user(user):
    return load_users([user.pk])[0]


def of_group(group):
    return load_groups([group.pk])[0]
