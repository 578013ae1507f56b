"""Import directory users from a CSV file whose columns are Entra attribute names.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first user row 2.
Each row creates the user or updates the one with the same userPrincipalName (case-insensitive, as
Entra compares UPNs). An `objectId` column, when given, identifies the user instead: the id is kept on
create, so a re-import (of the portal's own export, say) updates the same user, even after a UPN change, and
the targets' links, which carry the objectId, stay valid. An empty cell leaves the attribute as it is on an
update. A row with any error is not imported; the others are. `manager` holds the manager's
userPrincipalName, found in the same file (on any row) or in the directory.

Cells may not hold control characters (NUL, line breaks inside a quoted cell, ESC …) or the invisible
characters that reorder text (right-to-left overrides): a directory attribute never needs one, and they
show as something else than what is stored. The row and column are named.
"""

import codecs
import csv
import io
import re
import unicodedata
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models.functions import Lower

from provisioning.models import DirectoryUser
from provisioning.models.directory import USER_FIELDS

# Column (Entra attribute name) → DirectoryUser field, in the order the help lists them.
COLUMNS = {**USER_FIELDS, "manager": "manager", "objectId": "object_id"}
EXTENSION_PREFIX = "extension_"
EXTENSION_NAME = re.compile(r"^extension_[A-Za-z0-9_]+$")
ACCEPTED_COLUMNS_TEXT = ", ".join(COLUMNS) + ", extension_<name>"

TRUE_WORDS = {"true", "yes", "1"}
FALSE_WORDS = {"false", "no", "0"}
# Entra's UPN rules: the name part takes A-Z a-z 0-9 ' . - _ ! # ^ ~ (and + here, as mail does); the
# domain is a dotted DNS name.
UPN_NAME = re.compile(r"^[A-Za-z0-9'._\-!#^~+]+$")
UPN_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def upn_problem(value: str) -> str | None:
    """Why value is not a valid user principal name, or None when it is."""
    name, at, domain = value.partition("@")
    if not at or not name or not domain or "@" in domain:
        return "expected name@domain"
    if not UPN_DOMAIN.match(domain):
        return f"the domain '{domain}' is not a DNS name such as contoso.com"
    bad = sorted({c for c in name if not UPN_NAME.match(c)})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        return f"the name part contains {shown}: use letters A-Z, digits and . - _ ' ! # ^ ~ +"
    if name.startswith(".") or name.endswith(".") or ".." in name:
        return "the name part cannot start or end with a dot, or hold two dots in a row"
    return None


# Bidirectional embeddings, overrides and isolates: they make "gnp.exe" read as "exe.png".
_REORDERING = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def control_character_problem(value: str) -> str | None:
    """Why a text value cannot be stored as a directory attribute (a control or reordering character), or None."""
    for position, char in enumerate(value, start=1):
        if unicodedata.category(char) == "Cc" or char in _REORDERING:
            return f"contains {character_name(char)} at character {position}: remove it (it often comes from pasting)"
    return None


def character_name(char: str) -> str:
    names = {"\x00": "a NUL character (U+0000)", "\n": "a line break (U+000A)", "\r": "a line break (U+000D)",
             "\t": "a tab (U+0009)", "\x1b": "an ESC character (U+001B)"}
    if char in names:
        return names[char]
    return f"the invisible character U+{ord(char):04X} ({unicodedata.name(char, 'control character').lower()})"


def mail_problem(mail: str) -> str | None:
    """Why mail is not an email address, or None when it is."""
    if "@" not in mail or " " in mail or mail.startswith("@") or mail.endswith("@"):
        return f"mail '{mail}' is not an email address: expected name@domain"
    return None


def parse_bool(value: str) -> bool | None:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


@dataclass
class RowError:
    row: int
    message: str

    def __str__(self):
        return f"row {self.row}: {self.message}"


@dataclass
class ImportResult:
    dry_run: bool = False
    rows: int = 0
    created: list[str] = field(default_factory=list)  # userPrincipalNames
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    changed_attributes: dict = field(default_factory=dict)  # userPrincipalName → the model fields that changed
    # Problems with the file as a whole (encoding, header): nothing was imported.
    file_errors: list[str] = field(default_factory=list)
    row_errors: list[RowError] = field(default_factory=list)

    @property
    def failed_rows(self) -> list[int]:
        return sorted({e.row for e in self.row_errors})

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.row_errors

    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""
        text = (
            f"{len(self.created)} {verb}created, {len(self.updated)} {verb}updated, "
            f"{len(self.unchanged)} unchanged, {len(self.failed_rows)} failed"
        )
        return text + (" (dry run: nothing was written)" if self.dry_run else "")


@dataclass
class _Row:
    number: int
    values: dict[str, str]  # column → non-empty, stripped cell
    extensions: dict[str, str]
    errors: list[str] = field(default_factory=list)
    object_id: uuid.UUID | None = None  # from the objectId column
    existing: DirectoryUser | None = None  # the directory user this row updates

    @property
    def upn(self):
        return self.values.get("userPrincipalName", "")


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode Text" and some exports: UTF-16 with its byte order mark.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise _FileError("The file starts as UTF-16 but is not valid UTF-16. Save it as 'CSV UTF-8 (Comma delimited)'.") from None
    try:
        # utf-8-sig drops the byte order mark Excel writes at the start of "CSV UTF-8" files.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _FileError(
            f"The file is not UTF-8 (byte 0x{data[exc.start]:02x} on line {line}). "
            "Save it as UTF-8: in Excel choose 'CSV UTF-8 (Comma delimited)'."
        ) from None


class _FileError(Exception):
    pass


def _delimiter(header_line: str) -> str:
    # Excel writes ';' where the decimal separator is ','; accept it and tabs when the header has no comma.
    if "," not in header_line:
        for candidate in (";", "\t"):
            if candidate in header_line:
                return candidate
    return ","


def _read_header(header: list[str]) -> list[str]:
    """The canonical column names, or _FileError listing what is wrong."""
    by_lower = {name.lower(): name for name in COLUMNS}
    for position, raw in enumerate(header, start=1):
        if problem := control_character_problem(raw):
            raise _FileError(f"The header's column {position} {problem}.")
    cells = [raw.strip() for raw in header]
    if not any(cell.lower() in by_lower or EXTENSION_NAME.match(cell) for cell in cells):
        first = ", ".join(f"'{cell}'" for cell in cells[:3] if cell) or "(empty cells)"
        raise _FileError(
            f"The file has no header row: its first line holds {first}, not attribute names. Add a first line "
            f"naming the columns, e.g. userPrincipalName,displayName,department (accepted: {ACCEPTED_COLUMNS_TEXT})."
        )
    names, unknown, seen = [], [], set()
    for position, raw in enumerate(header, start=1):
        cell = raw.strip()
        if cell.lower().startswith(EXTENSION_PREFIX):
            if not EXTENSION_NAME.match(cell):
                unknown.append(cell)
            name = cell
        else:
            name = by_lower.get(cell.lower())
            if name is None:
                unknown.append(cell or f"(no name, column {position})")
                name = cell
        if name.lower() in seen:
            raise _FileError(f"The column '{name}' appears twice in the header: keep one.")
        seen.add(name.lower())
        names.append(name)
    if unknown:
        listed = ", ".join(f"'{u}'" for u in unknown)
        raise _FileError(f"Unknown column{'s' if len(unknown) > 1 else ''} {listed}. Accepted columns: {ACCEPTED_COLUMNS_TEXT}.")
    if "userPrincipalName" not in names:
        raise _FileError(f"The header has no userPrincipalName column: every row needs one. Accepted columns: {ACCEPTED_COLUMNS_TEXT}.")
    return names


def _read_rows(text: str) -> list[_Row]:
    if not text.strip():
        raise _FileError(f"The file is empty. Expected a header row of attribute names ({ACCEPTED_COLUMNS_TEXT}), then one user per row.")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.splitlines()[0]))
    try:
        records = list(reader)
    except csv.Error as exc:
        raise _FileError(f"The file is not valid CSV near line {reader.line_num}: {exc}.") from None
    columns = _read_header(records[0])
    rows = []
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue  # a blank line is not a user
        row = _Row(number=number, values={}, extensions={})
        if len(record) != len(columns):
            row.errors.append(f"has {len(record)} values but the header has {len(columns)} columns (check for a missing or extra comma)")
        for name, cell in zip(columns, record):
            if problem := control_character_problem(cell):
                row.errors.append(f"column {name} {problem}")
                continue
            cell = cell.strip()
            if not cell:
                continue
            if name.startswith(EXTENSION_PREFIX):
                row.extensions[name] = cell
            else:
                row.values[name] = cell
        rows.append(row)
    if not rows:
        raise _FileError("The file has a header but no users: add one user per row under it.")
    return rows


def _check_row(row: _Row):
    if (object_id := row.values.get("objectId")) is not None:
        try:
            row.object_id = uuid.UUID(object_id)
        except ValueError:
            row.errors.append(f"objectId '{object_id}' is not a UUID: expected 32 hex digits such as "
                              "8d6e4c1a-2f3b-4e5d-9a7c-1b2c3d4e5f60, or leave the cell empty for a new user")
    upn = row.upn
    if not upn:
        row.errors.append("userPrincipalName is empty: every user needs one")
    elif problem := upn_problem(upn):
        row.errors.append(f"userPrincipalName '{upn}' is not a valid UPN: {problem}")
    if "accountEnabled" in row.values and parse_bool(row.values["accountEnabled"]) is None:
        row.errors.append(f"accountEnabled '{row.values['accountEnabled']}' is not a boolean: use true or false (or yes/no, 1/0)")
    if (mail := row.values.get("mail")) and (problem := mail_problem(mail)):
        row.errors.append(problem)
    for column, field_name in COLUMNS.items():
        value = row.values.get(column)
        max_length = DirectoryUser._meta.get_field(field_name).max_length if column not in ("manager", "accountEnabled", "objectId") else None
        if value and max_length and len(value) > max_length:
            row.errors.append(f"{column} is {len(value)} characters long: at most {max_length} are allowed")
    if (manager := row.values.get("manager")) and upn and manager.lower() == upn.lower():
        row.errors.append("manager is the user themself: a user cannot be their own manager")


def _check_duplicates(rows: list[_Row]):
    by_upn: dict[str, list[_Row]] = {}
    by_id: dict[uuid.UUID, list[_Row]] = {}
    for row in rows:
        if row.upn:
            by_upn.setdefault(row.upn.lower(), []).append(row)
        if row.object_id:
            by_id.setdefault(row.object_id, []).append(row)
    for same in by_upn.values():
        if len(same) > 1:
            numbers = ", ".join(str(r.number) for r in same)
            for row in same:
                row.errors.append(f"userPrincipalName '{row.upn}' is on rows {numbers}: each user must appear once")
    for object_id, same in by_id.items():
        if len(same) > 1:
            numbers = ", ".join(str(r.number) for r in same)
            for row in same:
                row.errors.append(f"objectId {object_id} is on rows {numbers}: each user must appear once")


def _match_existing(rows: list[_Row], directory: dict[str, DirectoryUser]):
    """Which directory user each row updates: by objectId when the row has one, else by userPrincipalName."""
    ids = {row.object_id for row in rows if row.object_id}
    by_id = {user.object_id: user for user in DirectoryUser.objects.filter(object_id__in=ids)} if ids else {}
    for row in rows:
        if row.errors:
            continue
        holder = directory.get(row.upn.lower())
        if row.object_id is None:
            row.existing = holder
            continue
        row.existing = by_id.get(row.object_id)
        if holder is not None and holder != row.existing:
            row.errors.append(
                f"userPrincipalName '{row.upn}' belongs to another directory user (objectId {holder.object_id}), "
                f"not to objectId {row.object_id}: fix the objectId, or the userPrincipalName"
            )


def _directory_users(upns) -> dict[str, DirectoryUser]:
    lowered = {u.lower() for u in upns}
    if not lowered:
        return {}
    users = DirectoryUser.objects.annotate(upn_lower=Lower("user_principal_name")).filter(upn_lower__in=lowered)
    return {u.upn_lower: u for u in users}


def _check_managers(rows: list[_Row], directory: dict[str, DirectoryUser]):
    """A manager must be a good row of the file or a directory user; repeat as rows fail."""
    in_file = {row.upn.lower(): row for row in rows}
    changed = True
    while changed:
        changed = False
        for row in rows:
            manager = row.values.get("manager")
            if row.errors or not manager:
                continue
            target = in_file.get(manager.lower())
            if target is not None and target.errors:
                row.errors.append(f"manager '{manager}' is on row {target.number}, which has errors: fix that row first")
                changed = True
            elif target is None and manager.lower() not in directory:
                row.errors.append(f"manager '{manager}' not found in the file or the directory")
                changed = True


def _field_values(row: _Row) -> dict:
    values = {}
    for column, field_name in COLUMNS.items():
        if column in ("manager", "userPrincipalName", "objectId") or column not in row.values:
            continue
        value = row.values[column]
        values[field_name] = parse_bool(value) if column == "accountEnabled" else value
    return values


def _create(row: _Row) -> DirectoryUser:
    values = _field_values(row)
    name = row.upn.partition("@")[0]
    # Entra requires both on a new user; derive them rather than refuse the row.
    values.setdefault("display_name", " ".join(v for v in (values.get("given_name"), values.get("surname")) if v) or name)
    values.setdefault("mail_nickname", name[:64])
    if row.object_id:
        values["object_id"] = row.object_id
    return DirectoryUser.objects.create(user_principal_name=row.upn, extension_attributes=dict(row.extensions), **values)


def _update(user: DirectoryUser, row: _Row) -> list[str]:
    changed = []
    if row.object_id and user.user_principal_name != row.upn:  # matched by objectId: the UPN was renamed
        user.user_principal_name = row.upn
        changed.append("user_principal_name")
    for field_name, value in _field_values(row).items():
        if getattr(user, field_name) != value:
            setattr(user, field_name, value)
            changed.append(field_name)
    if row.extensions:
        merged = {**(user.extension_attributes or {}), **row.extensions}
        if merged != user.extension_attributes:
            user.extension_attributes = merged
            changed.append("extension_attributes")
    return changed


def _write(rows: list[_Row], directory: dict[str, DirectoryUser], result: ImportResult):
    users, changes = {}, {}
    for row in rows:
        existing = row.existing
        if existing is None:
            users[row.upn.lower()] = _create(row)
            result.created.append(row.upn)
        else:
            changes[row.upn.lower()] = _update(existing, row)
            users[row.upn.lower()] = existing
    # Managers last: a row may name a manager created further down the file.
    for row in rows:
        manager_upn = row.values.get("manager")
        user = users[row.upn.lower()]
        if manager_upn:
            manager = users.get(manager_upn.lower()) or directory[manager_upn.lower()]
            if user.manager_id != manager.pk:
                user.manager = manager
                if row.upn.lower() in changes:
                    changes[row.upn.lower()].append("manager")
                else:
                    user.save(update_fields=["manager"])
    for key, changed in changes.items():
        user = users[key]
        if changed:
            # Saving only what changed keeps updated_at (incremental cycles' watermark) honest.
            user.save(update_fields=[*changed, "updated_at"])
            result.updated.append(user.user_principal_name)
            result.changed_attributes[user.user_principal_name] = sorted(changed)
        else:
            result.unchanged.append(user.user_principal_name)


def import_users(data: bytes | str, *, dry_run: bool = False) -> ImportResult:
    """Create or update directory users from CSV; with dry_run, report what would happen and write nothing."""
    result = ImportResult(dry_run=dry_run)
    try:
        rows = _read_rows(_decode(data))
    except _FileError as exc:
        result.file_errors.append(str(exc))
        return result
    result.rows = len(rows)
    for row in rows:
        _check_row(row)
    _check_duplicates(rows)
    directory = _directory_users([row.upn for row in rows] + [row.values["manager"] for row in rows if "manager" in row.values])
    _match_existing(rows, directory)
    _check_managers(rows, directory)
    for row in rows:
        result.row_errors.extend(RowError(row.number, message) for message in row.errors)
    result.row_errors.sort(key=lambda e: e.row)

    good = [row for row in rows if not row.errors]
    with transaction.atomic():
        _write(good, directory, result)
        if dry_run:
            transaction.set_rollback(True)
    return result
