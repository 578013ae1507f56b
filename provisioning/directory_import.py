"""Import directory users and groups from JSON with Graph attribute names (CSV files go to csv_import).

    {"users": [{"objectId": "…", "userPrincipalName": "…", "manager": "<objectId>", …}],
     "groups": [{"objectId": "…", "displayName": "…", "members": ["<user objectId>", …]}]}

Objects are matched by objectId, which the import keeps, so a re-import of an export updates the same rows
and the targets' links (which carry the objectId) stay valid. A key that is left out leaves the attribute
as it is; null clears it. Entries are numbered as JSON paths: users[0] is the first user. An entry with
any error is not imported; the others are. With prune, directory objects of a kind the file lists that
are missing from it are soft-deleted (deleted_at set), and listed ones that were soft-deleted are restored.

Built for whole-directory files: existing rows are read in a few bulk queries and written with
bulk_create / bulk_update, so 10,000 users cost a few dozen queries. Bulk writes fire no signals, so the
rows whose memberships changed are touched here (provisioning.directory_changes), and rows whose values
did not change are not written at all: their updated_at is what incremental cycles read.
"""

import json
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone

from provisioning import audit, csv_import
from provisioning.csv_import import control_character_problem, mail_problem, upn_problem
from provisioning.directory_changes import touch_groups, touch_members_of, touch_users
from provisioning.models import DirectoryGroup, DirectoryUser
from provisioning.models.directory import GROUP_TEXT_FIELDS, USER_TEXT_FIELDS

Membership = DirectoryGroup.members.through

CHUNK = 5000  # ids per `__in` query, well under PostgreSQL's and SQLite's parameter limits
BATCH = 1000  # rows per bulk_create / bulk_update statement
MEMBERSHIP_BATCH = 5000  # membership rows are two integers: bigger batches, fewer round trips
MANAGER_WAVES = 12  # levels of an org chart inserted managers-first (see _Import._create_users)

USERS, GROUPS = "users", "groups"

# Text attributes: Graph name → model field.
USER_TEXT = USER_TEXT_FIELDS
GROUP_TEXT = GROUP_TEXT_FIELDS
USER_KEYS = ["objectId", *USER_TEXT, "accountEnabled", "manager"]
GROUP_KEYS = ["objectId", *GROUP_TEXT, "members"]
EXTENSION_TYPES = (str, int, float, bool)
UUID_EXAMPLE = "6f1c3b2a-9d4e-4f7a-8b1c-2d3e4f5a6b7c"

_ABSENT = object()  # a key the entry leaves out: the attribute stays as it is


def _max_length(model, field_name):
    return model._meta.get_field(field_name).max_length


def _near_misses(keys):
    # A key that differs from an attribute name only in letter case is a typo, not an extension attribute
    # (Graph names are case-sensitive); Graph's own exports call the objectId "id".
    return {key.lower(): key for key in keys} | {"id": "objectId"}


USER_NEAR_MISSES = _near_misses(USER_KEYS)
GROUP_NEAR_MISSES = _near_misses(GROUP_KEYS)


@dataclass
class RowError:
    kind: str  # USERS | GROUPS
    index: int
    where: str  # 'users[12] (objectId …)'
    message: str

    def __str__(self):
        return f"{self.where}: {self.message}"


@dataclass
class Outcome:
    """What happened to one kind of object, as objectIds."""

    created: list[uuid.UUID] = field(default_factory=list)
    updated: list[uuid.UUID] = field(default_factory=list)  # includes restored and membership changes
    unchanged: list[uuid.UUID] = field(default_factory=list)
    pruned: list[uuid.UUID] = field(default_factory=list)
    restored: list[uuid.UUID] = field(default_factory=list)
    # objectId → the model fields that changed (updated objects only; "members" for a membership change)
    changed_attributes: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)  # objectId → UPN (users) or display name (groups) of created objects


@dataclass
class DirectoryImportResult:
    dry_run: bool = False
    users: Outcome = field(default_factory=Outcome)
    groups: Outcome = field(default_factory=Outcome)
    # Problems with the file as a whole (not JSON, wrong shape): nothing was imported.
    file_errors: list[str] = field(default_factory=list)
    row_errors: list[RowError] = field(default_factory=list)

    @property
    def failed_rows(self) -> list[tuple[str, int]]:
        return sorted({(e.kind, e.index) for e in self.row_errors})

    def failed(self, kind) -> int:
        return sum(1 for k, _ in self.failed_rows if k == kind)

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.row_errors

    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""

        def counts(kind, outcome):
            return (f"{kind}: {len(outcome.created)} {verb}created, {len(outcome.updated)} {verb}updated, "
                    f"{len(outcome.unchanged)} unchanged, {self.failed(kind)} failed")

        text = (f"{counts(USERS, self.users)}; {counts(GROUPS, self.groups)}; "
                f"{verb}pruned: {len(self.users.pruned)} users, {len(self.groups.pruned)} groups")
        return text + (" (dry run: nothing was written)" if self.dry_run else "")


@dataclass(eq=False)
class _Row:
    kind: str
    index: int
    object_id: uuid.UUID | None = None  # None: a new object, given a fresh objectId when written
    values: dict = field(default_factory=dict)  # model field → value, only for keys the entry has
    extensions: dict = field(default_factory=dict)  # users: name → value (None removes it)
    manager: object = _ABSENT  # users: uuid.UUID, None (clear) or _ABSENT
    members: list | None = None  # groups: user objectIds, None when the key is left out
    errors: list[str] = field(default_factory=list)
    where: str = ""

    @property
    def upn(self) -> str:
        return self.values.get("user_principal_name") or ""


class _FileError(Exception):
    pass


# ---------------------------------------------------------------------------------------------- reading


def looks_like_json(data: bytes | str, name: str = "") -> bool:
    """JSON when the content opens with { or [ (whatever the file is called), or the name says .json."""
    if isinstance(data, bytes):
        head = data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1].decode("latin-1")
    else:
        head = data.removeprefix("\ufeff").lstrip()[:1]
    # '[' too: never the start of a CSV header, and "expected an object" beats "unknown column '['".
    return head in ("{", "[") or name.lower().endswith(".json")


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else "an object"


def _reject_constant(name):
    raise _FileError(f"The file holds {name}, which JSON does not allow: use a number or null.")


def _load(data: bytes | str) -> dict:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise _FileError(f"The file is not UTF-8 (byte 0x{data[exc.start]:02x} on line {line}). Save it as UTF-8.") from None
    try:
        document = json.loads(data.removeprefix("\ufeff"), parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _FileError(
            f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. "
            "Look for a missing comma or quote, or a comma after the last item of a list."
        ) from None
    shape = 'expected an object such as {"users": [...], "groups": [...]}'
    if not isinstance(document, dict):
        raise _FileError(f"The file holds {_json_type(document)}, {shape}.")
    if USERS not in document and GROUPS not in document:
        raise _FileError(f'The file has neither "users" nor "groups": {shape}.')
    for kind in (USERS, GROUPS):
        if kind in document and not isinstance(document[kind], list):
            raise _FileError(f'"{kind}" is {_json_type(document[kind])}: expected a list of {kind[:-1]} objects.')
    return document


def _where(kind, index, entry):
    if isinstance(entry, dict):
        if entry.get("objectId") not in (None, ""):
            return f"{kind}[{index}] (objectId {entry['objectId']})"
        name_key = "userPrincipalName" if kind == USERS else "displayName"
        if isinstance(entry.get(name_key), str) and entry[name_key]:
            return f"{kind}[{index}] ({name_key} {entry[name_key]})"
    return f"{kind}[{index}]"


def _uuid(value) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _text(row, model, key, field_name, value):
    """Store a text attribute on row.values, or record why it cannot be."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        row.errors.append(f"{key} is {_json_type(value)}: expected text (in quotes), or null to clear it")
        return
    max_length = _max_length(model, field_name)
    if len(value) > max_length:
        row.errors.append(f"{key} is {len(value)} characters long: at most {max_length} are allowed")
    if problem := control_character_problem(value):
        row.errors.append(f"{key} {problem}")
        return
    row.values[field_name] = value


def _object_id(row, entry):
    value = entry.get("objectId")
    if value in (None, ""):
        return
    row.object_id = _uuid(value)
    if row.object_id is None:
        row.errors.append(f"objectId {json.dumps(value)} is not a UUID: expected 32 hex digits such as {UUID_EXAMPLE}")


def _near_miss(row, key, near_misses):
    known = near_misses.get(key.lower())
    if known and known != key:
        row.errors.append(f"'{key}' is not an attribute name: did you mean '{known}'? (names are case-sensitive)")
        return True
    return False


def _parse_user(index, entry) -> _Row:
    row = _Row(USERS, index, where=_where(USERS, index, entry))
    if not isinstance(entry, dict):
        row.errors.append(f"is {_json_type(entry)}: each user is an object such as {{\"userPrincipalName\": \"…\"}}")
        return row
    _object_id(row, entry)
    for key, value in entry.items():
        if key == "objectId":
            continue
        if key in USER_TEXT:
            _text(row, DirectoryUser, key, USER_TEXT[key], value)
        elif key == "accountEnabled":
            if isinstance(value, bool):
                row.values["account_enabled"] = value
            else:
                row.errors.append(f"accountEnabled is {json.dumps(value)}: use true or false (without quotes)")
        elif key == "manager":
            row.manager = _uuid(value) if value not in (None, "") else None
            if value not in (None, "") and row.manager is None:
                row.errors.append(f"manager {json.dumps(value)} is not a UUID: give the manager's objectId, or null for none")
        elif not _near_miss(row, key, USER_NEAR_MISSES):
            if value is not None and not isinstance(value, EXTENSION_TYPES):
                row.errors.append(f"extension attribute '{key}' is {_json_type(value)}: only text, numbers, "
                                  "true/false and null (which removes it) can be stored")
            row.extensions[key] = value
    if "user_principal_name" in row.values:
        if not row.upn:
            row.errors.append("userPrincipalName is empty: every user needs one")
        elif problem := upn_problem(row.upn):
            row.errors.append(f"userPrincipalName '{row.upn}' is not a valid UPN: {problem}")
    if (mail := row.values.get("mail")) and (problem := mail_problem(mail)):
        row.errors.append(problem)
    if row.manager is not _ABSENT and row.manager is not None and row.manager == row.object_id:
        row.errors.append("manager is the user themself: a user cannot be their own manager")
    return row


def _parse_group(index, entry) -> _Row:
    row = _Row(GROUPS, index, where=_where(GROUPS, index, entry))
    if not isinstance(entry, dict):
        row.errors.append(f"is {_json_type(entry)}: each group is an object such as {{\"displayName\": \"…\"}}")
        return row
    _object_id(row, entry)
    for key, value in entry.items():
        if key in GROUP_TEXT:
            _text(row, DirectoryGroup, key, GROUP_TEXT[key], value)
        elif key == "members":
            row.members = _members(row, value)
        elif key != "objectId":
            # Graph's other group properties (securityEnabled, groupTypes, …) have no column here.
            _near_miss(row, key, GROUP_NEAR_MISSES)
    if "display_name" in row.values and not row.values["display_name"]:
        row.errors.append("displayName is empty: every group needs one")
    return row


def _members(row, value) -> list:
    if not isinstance(value, list):
        row.errors.append(f"members is {_json_type(value)}: expected a list of user objectIds")
        return []
    members = {}
    for position, item in enumerate(value):
        member = _uuid(item)
        if member is None:
            row.errors.append(f"members[{position}] {json.dumps(item)} is not a UUID: list the members' objectIds")
        else:
            members[member] = None  # a dict keeps the order and drops repeats
    return list(members)


# ---------------------------------------------------------------------------------------------- the import


def _chunks(items, size=CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _Import:
    def __init__(self, document, *, prune, result):
        self.result = result
        self.prune = prune
        # Prune only the kinds the file lists: a users-only file says nothing about groups.
        self.kinds = [kind for kind in (USERS, GROUPS) if kind in document]
        self.users = [_parse_user(i, entry) for i, entry in enumerate(document.get(USERS, []))]
        self.groups = [_parse_group(i, entry) for i, entry in enumerate(document.get(GROUPS, []))]
        self.user_rows = {row.object_id: row for row in self.users if row.object_id}
        self.group_rows = {row.object_id: row for row in self.groups if row.object_id}

    def run(self, *, dry_run):
        self._check_empty_prune()
        if self.result.file_errors:
            return
        self._check_duplicates(self.users, "user")
        self._check_duplicates(self.groups, "group")
        self._check_duplicate_upns()
        self._load()
        self._check_new_objects()
        self._check_upns_against_directory()
        self._check_references()
        for row in self.users + self.groups:
            self.result.row_errors.extend(RowError(row.kind, row.index, row.where, message) for message in row.errors)
        with transaction.atomic():
            now = timezone.now()
            if self.prune:
                self._prune(now)
            self._write_users(now)
            self._write_groups(now)
            if dry_run:
                transaction.set_rollback(True)

    # -------------------------------------------------------------------------------- checks

    def _check_empty_prune(self):
        if not self.prune:
            return
        for kind in self.kinds:
            if not (self.users if kind == USERS else self.groups):
                self.result.file_errors.append(
                    f'"{kind}" is an empty list: with --prune that would soft-delete every directory {kind[:-1]}. '
                    f'Leave the "{kind}" key out to keep them, or delete them in the admin.'
                )

    @staticmethod
    def _check_duplicates(rows, noun):
        by_id = {}
        for row in rows:
            if row.object_id:
                by_id.setdefault(row.object_id, []).append(row)
        for same in by_id.values():
            if len(same) > 1:
                places = ", ".join(f"{r.kind}[{r.index}]" for r in same)
                for row in same:
                    row.errors.append(f"objectId {row.object_id} is on {places}: each {noun} must appear once")

    def _check_duplicate_upns(self):
        by_upn = {}
        for row in self.users:
            if row.upn:
                by_upn.setdefault(row.upn.lower(), []).append(row)
        for same in by_upn.values():
            if len(same) > 1:
                places = ", ".join(f"users[{r.index}]" for r in same)
                for row in same:
                    row.errors.append(f"userPrincipalName '{row.upn}' is on {places}: each user must appear once")

    def _load(self):
        """The directory rows the file names, in a few queries whatever its size."""
        self.existing_users = {}
        for chunk in _chunks(self.user_rows):
            self.existing_users.update((u.object_id, u) for u in DirectoryUser.objects.filter(object_id__in=chunk).order_by())
        self.existing_groups = {}
        for chunk in _chunks(self.group_rows):
            self.existing_groups.update((g.object_id, g) for g in DirectoryGroup.objects.filter(object_id__in=chunk).order_by())
        # Managers and members that are not entries of the file must already be directory users.
        referenced = {row.manager for row in self.users if row.manager not in (None, _ABSENT)}
        referenced |= {m for row in self.groups for m in row.members or ()}
        referenced -= self.user_rows.keys()
        self.referenced_users = {}
        for chunk in _chunks(referenced):
            self.referenced_users.update(DirectoryUser.objects.filter(object_id__in=chunk).values_list("object_id", "pk"))
        unknown = referenced - self.referenced_users.keys() - self.group_rows.keys()
        self.directory_group_ids = set()
        for chunk in _chunks(unknown):  # only to say "is a group" instead of "not found"
            self.directory_group_ids.update(DirectoryGroup.objects.filter(object_id__in=chunk).values_list("object_id", flat=True))
        # Who holds the UPNs that new or renamed users take (Entra compares UPNs case-insensitively).
        wanted = {row.upn.lower() for row in self.users if row.upn and self._takes_upn(row)}
        self.upn_holders = {}
        for chunk in _chunks(wanted):
            users = DirectoryUser.objects.annotate(upn_lower=Lower("user_principal_name")).filter(upn_lower__in=chunk)
            for upn, object_id in users.values_list("upn_lower", "object_id"):
                self.upn_holders.setdefault(upn, set()).add(object_id)

    def _takes_upn(self, row):
        existing = self.existing_users.get(row.object_id)
        return existing is None or existing.user_principal_name.lower() != row.upn.lower()

    def _check_new_objects(self):
        for row in self.users:
            if row.object_id not in self.existing_users and "user_principal_name" not in row.values and not row.errors:
                row.errors.append("userPrincipalName is missing: a new user needs one"
                                  + (f" (objectId {row.object_id} is not in the directory)" if row.object_id else ""))
        for row in self.groups:
            if row.object_id not in self.existing_groups and "display_name" not in row.values and not row.errors:
                row.errors.append("displayName is missing: a new group needs one"
                                  + (f" (objectId {row.object_id} is not in the directory)" if row.object_id else ""))

    def _check_upns_against_directory(self):
        for row in self.users:
            if not row.upn or not self._takes_upn(row):
                continue
            others = sorted(str(h) for h in self.upn_holders.get(row.upn.lower(), ()) if h != row.object_id)
            if not others:
                continue
            holder = others[0]
            mine = f"objectId {row.object_id}" if row.object_id else "a new user (this entry has no objectId)"
            message = f"userPrincipalName '{row.upn}' belongs to objectId {holder} in the directory, not to {mine}"
            renamer = self.user_rows.get(uuid.UUID(holder))
            if renamer is not None and renamer.upn and renamer.upn.lower() != row.upn.lower():
                message += f"; users[{renamer.index}] renames that user: import the rename first, then this entry"
            elif row.object_id is None:
                message += f": to update that user, give this entry \"objectId\": \"{holder}\""
            row.errors.append(message)

    def _user_problem(self, object_id) -> str | None:
        """Why object_id cannot be a manager or member, or None when it is (or will be) a directory user."""
        if object_id in self.existing_users or object_id in self.referenced_users:
            return None  # in the directory, even if its entry in the file has errors
        row = self.user_rows.get(object_id)
        if row is not None:
            return f"is {row.where}, which has errors: fix that entry first" if row.errors else None
        if object_id in self.group_rows or object_id in self.directory_group_ids:
            return "is a group: only users can be managers and members (nested groups are not supported)"
        return "is not a user in the file or the directory"

    def _check_references(self):
        # A failed entry can take down the entries that reference it, which can take down others: repeat.
        changed = True
        while changed:
            changed = False
            for row in self.users:
                if row.errors or row.manager in (None, _ABSENT):
                    continue
                if problem := self._user_problem(row.manager):
                    row.errors.append(f"manager {row.manager} {problem}")
                    changed = True
        for row in self.groups:
            if row.errors:
                continue
            missing = [(m, problem) for m in row.members or () if (problem := self._user_problem(m))]
            for member, problem in missing[:5]:
                row.errors.append(f"member {member} {problem}")
            if len(missing) > 5:
                row.errors.append(f"…and {len(missing) - 5} more members that cannot be added")

    # -------------------------------------------------------------------------------- writing

    def _protected(self, rows, kind):
        """objectIds that prune must keep: every entry of the file, also those that failed."""
        keep = {row.object_id for row in rows if row.object_id}
        if kind == USERS:
            # A failed entry without a usable objectId still names its user by UPN.
            for row in rows:
                if row.errors and row.upn:
                    keep |= self.upn_holders.get(row.upn.lower(), set())
        return keep

    def _prune(self, now):
        for kind, model, rows, outcome in ((USERS, DirectoryUser, self.users, self.result.users),
                                           (GROUPS, DirectoryGroup, self.groups, self.result.groups)):
            if kind not in self.kinds:
                continue
            keep = self._protected(rows, kind)
            alive = model.objects.filter(deleted_at__isnull=True).order_by().values_list("pk", "object_id")
            gone = [(pk, object_id) for pk, object_id in alive if object_id not in keep]
            for chunk in _chunks(pk for pk, _ in gone):
                model.objects.filter(pk__in=chunk).update(deleted_at=now, updated_at=now)
                if model is DirectoryGroup:
                    touch_members_of(chunk)  # assignments through a deleted group end too
            outcome.pruned = [object_id for _, object_id in gone]

    def _restore(self, obj, changed, outcome):
        if self.prune and obj.deleted_at is not None:
            obj.deleted_at = None
            changed.add("deleted_at")
            outcome.restored.append(obj.object_id)

    def _write_users(self, now):
        outcome = self.result.users
        pairs = []  # (row, user, changed fields, or None for a new user)
        for row in self.users:
            if row.errors:
                continue
            user = self.existing_users.get(row.object_id)
            if user is None:
                pairs.append((row, _new_user(row), None))
            else:
                changed = _apply(user, row.values)
                if row.extensions:
                    merged = _merge_extensions(user.extension_attributes, row.extensions)
                    if _json_key(merged) != _json_key(user.extension_attributes):
                        user.extension_attributes = merged
                        changed.add("extension_attributes")
                self._restore(user, changed, outcome)
                pairs.append((row, user, changed))
        # Every user a manager or member may name: failed entries of existing users count (the row is there).
        self.user_pks = dict(self.referenced_users)
        self.user_pks.update((object_id, u.pk) for object_id, u in self.existing_users.items())
        new = [(row, user) for row, user, changed in pairs if changed is None]
        self._create_users(new)
        self.new_user_pks = {user.pk for _, user in new}

        # The managers that are still to set, now that every user has a pk.
        new_with_manager = []
        for row, user, changed in pairs:
            if row.manager is _ABSENT:
                continue
            manager_pk = self.user_pks[row.manager] if row.manager else None
            if user.manager_id != manager_pk:
                user.manager_id = manager_pk
                if changed is None:
                    new_with_manager.append(user)
                else:
                    changed.add("manager")

        updated = [(user, changed) for _, user, changed in pairs if changed]
        for user, _ in updated:
            user.updated_at = now  # bulk_update does not apply auto_now
        fields = sorted(set().union(*(changed for _, changed in updated)))
        DirectoryUser.objects.bulk_update([user for user, _ in updated], [*fields, "updated_at"], batch_size=BATCH)
        # New rows already carry this import's updated_at.
        DirectoryUser.objects.bulk_update(new_with_manager, ["manager"], batch_size=BATCH)
        for _, user, changed in pairs:
            (outcome.created if changed is None else outcome.updated if changed else outcome.unchanged).append(user.object_id)
            if changed:
                outcome.changed_attributes[user.object_id] = sorted(changed)
            elif changed is None:
                outcome.names[user.object_id] = user.user_principal_name

    def _create_users(self, pairs):
        """bulk_create new users managers first, so most get their manager_id on insert.

        Setting it afterwards takes a bulk_update, which Django builds as a CASE with one branch per row: the
        slowest part of a large import. Each wave inserts the users whose manager already has a pk; an org chart
        is a few levels deep. What is left after MANAGER_WAVES (a loop of managers, an unusually deep chain) is
        inserted without a manager, which the caller sets in a second pass.
        """
        waiting = pairs
        for _ in range(MANAGER_WAVES):
            ready = [(row, user) for row, user in waiting if row.manager in (None, _ABSENT) or row.manager in self.user_pks]
            if not ready:
                break
            for row, user in ready:
                if row.manager not in (None, _ABSENT):
                    user.manager_id = self.user_pks[row.manager]
            self._insert_users([user for _, user in ready])
            waiting = [(row, user) for row, user in waiting if user.pk is None]
            if not waiting:
                return
        self._insert_users([user for _, user in waiting])

    def _insert_users(self, users):
        DirectoryUser.objects.bulk_create(users, batch_size=BATCH)
        self.user_pks.update((user.object_id, user.pk) for user in users)

    def _write_groups(self, now):
        outcome = self.result.groups
        pairs, new = [], []
        for row in self.groups:
            if row.errors:
                continue
            group = self.existing_groups.get(row.object_id)
            if group is None:
                group = DirectoryGroup(object_id=row.object_id or uuid.uuid4(), **row.values)
                new.append(group)
                pairs.append((row, group, None))
            else:
                changed = _apply(group, row.values)
                self._restore(group, changed, outcome)
                pairs.append((row, group, changed))
        DirectoryGroup.objects.bulk_create(new, batch_size=BATCH)

        updated = [(group, changed) for _, group, changed in pairs if changed]
        for group, _ in updated:
            group.updated_at = now
        fields = sorted(set().union(*(changed for _, changed in updated)))
        DirectoryGroup.objects.bulk_update([group for group, _ in updated], [*fields, "updated_at"], batch_size=BATCH)
        touch_members_of(group.pk for group, changed in updated if "deleted_at" in changed)  # restored groups

        membership_changed = self._write_memberships([(row, group) for row, group, _ in pairs if row.members is not None])
        for _, group, changed in pairs:
            if changed is None:
                outcome.created.append(group.object_id)
                outcome.names[group.object_id] = group.display_name
            elif changed or group.pk in membership_changed:
                outcome.updated.append(group.object_id)
                outcome.changed_attributes[group.object_id] = sorted(changed | ({"members"} if group.pk in membership_changed else set()))
            else:
                outcome.unchanged.append(group.object_id)

    def _write_memberships(self, pairs) -> set[int]:
        """Make each listed group's members exactly the file's; returns the pks of the groups that changed."""
        wanted = {(group.pk, self.user_pks[m]) for row, group in pairs for m in row.members}
        current = {}  # (group pk, user pk) → through row pk
        existing = [group.pk for _, group in pairs if group.object_id in self.existing_groups]
        for chunk in _chunks(existing):
            rows = Membership.objects.filter(directorygroup_id__in=chunk).values_list("id", "directorygroup_id", "directoryuser_id")
            current.update(((g, u), pk) for pk, g, u in rows)
        added = wanted - current.keys()
        removed = {pair: pk for pair, pk in current.items() if pair not in wanted}
        Membership.objects.bulk_create(
            [Membership(directorygroup_id=g, directoryuser_id=u) for g, u in added], batch_size=MEMBERSHIP_BATCH
        )
        for chunk in _chunks(removed.values()):
            Membership.objects.filter(pk__in=chunk).delete()
        touched = added | removed.keys()
        # Bulk writes send no m2m_changed: touch both sides as the signal would, except rows created by
        # this import (already stamped now).
        new_groups = {group.pk for _, group in pairs if group.object_id not in self.existing_groups}
        groups = {g for g, _ in touched} - new_groups
        users = {u for _, u in touched} - self.new_user_pks
        for chunk in _chunks(groups):
            touch_groups(chunk)
        for chunk in _chunks(users):
            touch_users(chunk)
        return {g for g, _ in touched}


def _new_user(row) -> DirectoryUser:
    values = dict(row.values)
    name = row.upn.partition("@")[0]
    # As csv_import does: Entra requires both on a new user, so derive them rather than refuse the entry.
    if not values.get("display_name"):
        values["display_name"] = " ".join(v for v in (values.get("given_name"), values.get("surname")) if v) or name
    if not values.get("mail_nickname"):
        values["mail_nickname"] = name[:64]
    return DirectoryUser(
        object_id=row.object_id or uuid.uuid4(),
        extension_attributes=_merge_extensions({}, row.extensions),
        **values,
    )


def _apply(obj, values) -> set[str]:
    changed = set()
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.add(name)
    return changed


def _merge_extensions(current, incoming):
    merged = {**(current or {}), **incoming}
    return {k: v for k, v in merged.items() if v is not None}


def _json_key(value):
    # == calls 1, 1.0 and true equal; a change between them is still a change.
    return json.dumps(value or {}, sort_keys=True)


def import_directory(data: bytes | str, *, name: str = "", prune: bool = False, dry_run: bool = False, by="manage.py import_directory"):
    """Create or update directory users and groups from JSON (see the module docstring) or users from CSV.

    name is the file's name, a hint for telling JSON from CSV. Returns a DirectoryImportResult, or for a
    CSV file the csv_import.ImportResult (the same result `manage.py import_users` reports). An import that
    wrote something is in the audit log, by `by`.
    """
    result = _import_directory(data, name=name, prune=prune, dry_run=dry_run)
    if not dry_run and not result.file_errors:
        audit.record("Import directory", by=by, category=audit.Category.DIRECTORY, target=name or "standard input",
                     changes=[{"name": "Result", "old": "", "new": result.summary()}])
    return result


def _import_directory(data, *, name, prune, dry_run):
    if not looks_like_json(data, name):
        if prune:
            result = csv_import.ImportResult(dry_run=dry_run)
            result.file_errors.append(
                "--prune needs a JSON file: a CSV file has no groups to compare the directory with. "
                "Import the CSV without --prune, or export the directory as JSON."
            )
            return result
        return csv_import.import_users(data, dry_run=dry_run)
    result = DirectoryImportResult(dry_run=dry_run)
    try:
        document = _load(data)
    except _FileError as exc:
        result.file_errors.append(str(exc))
        return result
    _Import(document, prune=prune, result=result).run(dry_run=dry_run)
    result.row_errors.sort(key=lambda e: (e.kind != USERS, e.index))
    return result
