"""The source directory: the portal's own users and groups (what Entra ID is to Entra's engine)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Source attribute names as Entra spells them, in the order the pages list them.
# Entra's attribute name → the model field, for the text attributes every import, export and API shares.
USER_TEXT_FIELDS = {
    "userPrincipalName": "user_principal_name",
    "displayName": "display_name",
    "givenName": "given_name",
    "surname": "surname",
    "mail": "mail",
    "mailNickname": "mail_nickname",
    "jobTitle": "job_title",
    "department": "department",
    "employeeId": "employee_id",
}
# ... and every stored scalar attribute (accountEnabled is a boolean), without the objectId key.
USER_FIELDS = {**USER_TEXT_FIELDS, "accountEnabled": "account_enabled"}
GROUP_TEXT_FIELDS = {"displayName": "display_name", "description": "description", "mailNickname": "mail_nickname"}

USER_ATTRIBUTES = [
    "objectId",
    "userPrincipalName",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "mailNickname",
    "jobTitle",
    "department",
    "employeeId",
    "accountEnabled",
    "manager",
]
# Computed by the engine, not stored: true when the user is unassigned, out of scope or disabled.
COMPUTED_USER_ATTRIBUTES = ["IsSoftDeleted"]
GROUP_ATTRIBUTES = ["objectId", "displayName", "description", "mailNickname", "members"]


def _object_id(text):
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


class DirectoryQuerySet(models.QuerySet):
    def active(self):
        """Not soft-deleted."""
        return self.filter(deleted_at__isnull=True)


class DirectoryUserQuerySet(DirectoryQuerySet):
    def search(self, text):
        """The one directory user search (the directory pages, the pickers of Users and groups and Provision on
        demand, the API): by first name, surname, user principal name or mail from their start, by display name
        anywhere in it, by employeeId or objectId exactly, as Entra's people pickers search. Blank text: all."""
        text = (text or "").strip()
        if not text:
            return self
        matches = (
            Q(given_name__istartswith=text)
            | Q(surname__istartswith=text)
            | Q(display_name__icontains=text)
            | Q(user_principal_name__istartswith=text)
            | Q(mail__istartswith=text)
            | Q(employee_id__iexact=text)
        )
        if (object_id := _object_id(text)) is not None:
            matches |= Q(object_id=object_id)
        return self.filter(matches)


class DirectoryGroupQuerySet(DirectoryQuerySet):
    def search(self, text):
        """The one directory group search: display name anywhere, mailNickname from its start, objectId exactly."""
        text = (text or "").strip()
        if not text:
            return self
        matches = Q(display_name__icontains=text) | Q(mail_nickname__istartswith=text)
        if (object_id := _object_id(text)) is not None:
            matches |= Q(object_id=object_id)
        return self.filter(matches)


class SoftDeletable(models.Model):
    """Deleting a directory object in the portal or the API is Entra's soft delete: the apps disable it,
    and it can be restored."""

    deleted_at = models.DateTimeField("deleted", null=True, blank=True)

    class Meta:
        abstract = True

    def soft_delete(self):
        self.deleted_at = timezone.now()
        self.save(update_fields=["deleted_at", "updated_at"])

    def restore(self):
        self.deleted_at = None
        self.save(update_fields=["deleted_at", "updated_at"])


class DirectoryUser(SoftDeletable):
    object_id = models.UUIDField("objectId", default=uuid.uuid4, unique=True, editable=False)
    user_principal_name = models.CharField("userPrincipalName", max_length=256, unique=True)
    display_name = models.CharField("displayName", max_length=256, blank=True)
    given_name = models.CharField("givenName", max_length=64, blank=True)
    surname = models.CharField("surname", max_length=64, blank=True)
    mail = models.CharField("mail", max_length=256, blank=True)
    mail_nickname = models.CharField("mailNickname", max_length=64, blank=True)
    job_title = models.CharField("jobTitle", max_length=128, blank=True)
    department = models.CharField("department", max_length=64, blank=True)
    employee_id = models.CharField("employeeId", max_length=64, blank=True)
    account_enabled = models.BooleanField("accountEnabled", default=True)
    manager = models.ForeignKey(
        "self", verbose_name="manager", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    # Free extension attributes, by name (e.g. {"extension_costCenter": "4711"}).
    extension_attributes = models.JSONField("extension attributes", default=dict, blank=True)
    # Entra's soft delete: the user stays (restorable) and provisioning disables it in every target.
    created_at = models.DateTimeField(auto_now_add=True)
    # Incremental cycles read rows changed since their watermark; a change of the user's group
    # memberships or assignments counts as a change too (provisioning.directory_changes).
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = DirectoryUserQuerySet.as_manager()

    class Meta:
        ordering = ["display_name", "user_principal_name"]
        verbose_name = "directory user"

    def __str__(self):
        return self.display_name or self.user_principal_name

    def source_attributes(self):
        """The user's attributes by Entra name; null and empty values are dropped, as Entra does."""
        from provisioning.engine.source import user_attributes

        row = {f.attname: getattr(self, f.attname) for f in self._meta.concrete_fields}
        return user_attributes(row, self.manager.object_id if self.manager_id else None)


class DirectoryGroup(SoftDeletable):
    object_id = models.UUIDField("objectId", default=uuid.uuid4, unique=True, editable=False)
    display_name = models.CharField("displayName", max_length=256)
    description = models.CharField("description", max_length=1024, blank=True)
    mail_nickname = models.CharField("mailNickname", max_length=64, blank=True)
    security_enabled = models.BooleanField("securityEnabled", default=True)
    members = models.ManyToManyField(DirectoryUser, related_name="groups", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = DirectoryGroupQuerySet.as_manager()

    class Meta:
        ordering = ["display_name"]
        verbose_name = "directory group"

    def __str__(self):
        return self.display_name

    def source_attributes(self):
        values = {
            "objectId": str(self.object_id),
            "displayName": self.display_name,
            "description": self.description,
            "mailNickname": self.mail_nickname,
            "members": [str(m) for m in self.members.values_list("object_id", flat=True)],
        }
        return {k: v for k, v in values.items() if v is not None and v != "" and v != []}


class DeletedDirectoryObject(models.Model):
    """The tombstone of a hard-deleted user or group, so the next cycle still sees the delete.

    Written by provisioning.directory_changes whenever a directory row is deleted (the admin, the API);
    each app then deletes (or disables) the object in its target. (An import with --prune soft-deletes:
    it sets deleted_at, and the apps disable the users.)
    """

    object_type = models.CharField(max_length=8)  # "user" | "group"
    object_id = models.UUIDField("objectId", db_index=True)
    display_name = models.CharField(max_length=256, blank=True)
    user_principal_name = models.CharField(max_length=256, blank=True)
    deleted_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-deleted_at"]
        verbose_name = "deleted directory object"

    def __str__(self):
        return f"{self.display_name or self.object_id} (deleted)"


class DirectoryImportUpload(models.Model):
    """A file uploaded on the Import page, kept on the server between its dry-run preview and Import.

    Import runs on these stored bytes, never on a second upload: what the admin previewed is what is
    imported (the SHA-256 is checked again before the import). Only its uploader can import it; it is
    deleted once imported, and left-overs older than a day are deleted at the next upload.
    """

    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255)
    data = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    prune = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "directory import upload"

    def __str__(self):
        return f"{self.name} ({self.size:,} bytes)"
