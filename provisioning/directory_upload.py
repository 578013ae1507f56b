"""Import in the browser: upload, a dry-run preview, then Import — through `import_directory`, as the command runs it.

The uploaded bytes are stored (DirectoryImportUpload) at upload time; the preview and the import both read
them from there, so the file imported is the file previewed, byte for byte (its SHA-256 is checked again),
and the browser never sends it twice.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from provisioning import csv_import, directory_import
from provisioning.models import DirectoryGroup, DirectoryImportUpload, DirectoryUser

KEEP_FOR = timedelta(days=1)
SHOWN = 200  # objects listed per section of the preview; the counts are always whole


class UploadGone(ValueError):
    """The stored upload is not there (imported already, expired, someone else's) or was altered."""


@dataclass
class Change:
    name: str  # UPN or display name
    object_id: str = ""
    attributes: list = field(default_factory=list)  # Graph names of what changes


@dataclass
class Section:
    """One kind of object (users or groups) in the preview."""

    kind: str
    created: list = field(default_factory=list)  # names
    updated: list = field(default_factory=list)  # Change
    unchanged: int = 0
    pruned: list = field(default_factory=list)  # names
    failed: int = 0
    created_count: int = 0
    updated_count: int = 0
    pruned_count: int = 0


@dataclass
class ErrorRow:
    row: str  # "row 4" (CSV) or "users[3] (objectId …)" (JSON)
    column: str
    message: str


@dataclass
class Preview:
    format: str  # "CSV" | "JSON"
    dry_run: bool
    summary: str
    file_errors: list
    errors: list  # ErrorRow
    sections: list  # Section

    @property
    def ok(self):
        return not self.file_errors and not self.errors

    @property
    def importable(self):
        """Something would be written: the file is readable and at least one entry is without error."""
        return not self.file_errors and any(s.created_count or s.updated_count or s.pruned_count for s in self.sections)


def store(uploaded_file, *, prune, user):
    """Keep the uploaded file on the server for its preview and import."""
    DirectoryImportUpload.objects.filter(created_at__lt=timezone.now() - KEEP_FOR).delete()
    data = uploaded_file.read()
    return DirectoryImportUpload.objects.create(
        uploaded_by=user, name=(uploaded_file.name or "upload")[:255], data=data,
        sha256=hashlib.sha256(data).hexdigest(), size=len(data), prune=prune,
    )


def stored(upload_id, user):
    upload = DirectoryImportUpload.objects.filter(pk=upload_id, uploaded_by=user, created_at__gte=timezone.now() - KEEP_FOR).first()
    if upload is None:
        raise UploadGone("That upload is no longer here (it was imported already, or is older than a day): upload the file again.")
    if hashlib.sha256(bytes(upload.data)).hexdigest() != upload.sha256:
        raise UploadGone("The stored file does not match what was previewed: upload the file again.")
    return upload


def preview(upload):
    """What Import would do: the same import with dry_run, nothing written."""
    return _describe(_run(upload, dry_run=True))


def run(upload):
    """Import the stored file; it is deleted in the same transaction, so a second Import finds nothing to do."""
    with transaction.atomic():
        locked = DirectoryImportUpload.objects.select_for_update().filter(pk=upload.pk).first()
        if locked is None:
            raise UploadGone("That upload was imported already: see the directory, or upload the file again.")
        result = _run(locked, dry_run=False)
        locked.delete()
    return _describe(result)


def _run(upload, *, dry_run):
    return directory_import.import_directory(bytes(upload.data), name=upload.name, prune=upload.prune, dry_run=dry_run)


def _describe(result):
    if isinstance(result, csv_import.ImportResult):
        return _describe_csv(result)
    return _describe_json(result)


def _graph_names(model, fields):
    names = []
    for name in fields:
        if name == "deleted_at":
            names.append("restored")
        elif name == "members":
            names.append("members")
        else:
            names.append(str(model._meta.get_field(name).verbose_name))
    return names


def _column(message, known):
    """The attribute a row error is about, when its message starts with it ("column X …", "manager '…' …")."""
    first, _, rest = message.partition(" ")
    if first == "column":
        return rest.partition(" ")[0]
    first = first.strip("'\"")
    return first if first in known else ""


def _describe_csv(result):
    section = Section("users", created=result.created[:SHOWN], unchanged=len(result.unchanged), failed=len(result.failed_rows),
                      created_count=len(result.created), updated_count=len(result.updated))
    section.updated = [Change(upn, attributes=_graph_names(DirectoryUser, result.changed_attributes.get(upn, []))) for upn in result.updated[:SHOWN]]
    known = set(directory_import.USER_KEYS)
    errors = [ErrorRow(f"row {e.row}", _column(e.message, known), e.message) for e in result.row_errors]
    return Preview("CSV", result.dry_run, result.summary(), result.file_errors, errors, [section])


def _describe_json(result):
    sections = []
    for kind, model, outcome, name_of in (
        ("users", DirectoryUser, result.users, lambda o: o.user_principal_name),
        ("groups", DirectoryGroup, result.groups, lambda o: o.display_name),
    ):
        # Names of what is shown (the result holds objectIds); after a dry run the new objects exist only in the file.
        shown_ids = outcome.updated[:SHOWN] + outcome.pruned[:SHOWN]
        names = {o.object_id: name_of(o) for o in model.objects.filter(object_id__in=shown_ids)}
        section = Section(kind, unchanged=len(outcome.unchanged), failed=result.failed(kind), created_count=len(outcome.created),
                          updated_count=len(outcome.updated), pruned_count=len(outcome.pruned))
        section.created = [outcome.names.get(i, str(i)) for i in outcome.created[:SHOWN]]
        section.updated = [Change(names.get(i, str(i)), str(i), _graph_names(model, outcome.changed_attributes.get(i, [])))
                           for i in outcome.updated[:SHOWN]]
        section.pruned = [names.get(i, str(i)) for i in outcome.pruned[:SHOWN]]
        sections.append(section)
    known = set(directory_import.USER_KEYS) | set(directory_import.GROUP_KEYS) | {"member", "userPrincipalName", "objectId"}
    errors = [ErrorRow(e.where, _column(e.message, known), e.message) for e in result.row_errors]
    return Preview("JSON", result.dry_run, result.summary(), result.file_errors, errors, sections)
