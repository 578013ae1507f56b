"""Users and groups: search the assignments, search the directory, assign and remove."""

from django import forms
from django.forms.utils import ErrorDict
from django.db import transaction
from django.db.models import Q

from provisioning.directory_changes import touch_groups, touch_members_of, touch_users
from provisioning.models import Assignment, DirectoryGroup, DirectoryUser

SEARCH_LIMIT = 20  # per object type in the Add user/group picker; the query narrows it
# Users and groups one Assign takes (a script may send thousands); the request's field limit
# (DATA_UPLOAD_MAX_NUMBER_FIELDS in settings) leaves room for them.
ASSIGN_LIMIT = 10_000


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=256, strip=True)

    def query(self):
        return self.cleaned_data.get("q", "") if self.is_valid() else ""


def filter_assignments(queryset, query):
    """Assignments whose user or group the directory search finds (DirectoryUser.objects.search)."""
    if not query:
        return queryset
    return queryset.filter(Q(user__in=DirectoryUser.objects.search(query)) | Q(group__in=DirectoryGroup.objects.search(query)))


class AssignForm(forms.Form):
    """The users and groups ticked in the Add user/group picker."""

    users = forms.ModelMultipleChoiceField(
        queryset=DirectoryUser.objects.all(),
        required=False,
        error_messages={
            "invalid_choice": "A selected user no longer exists in the directory (id %(value)s): search again and reselect.",
            "invalid_pk_value": "“%(pk)s” is not a user id: select users from the search results.",
        },
    )
    groups = forms.ModelMultipleChoiceField(
        queryset=DirectoryGroup.objects.all(),
        required=False,
        error_messages={
            "invalid_choice": "A selected group no longer exists in the directory (id %(value)s): search again and reselect.",
            "invalid_pk_value": "“%(pk)s” is not a group id: select groups from the search results.",
        },
    )

    def full_clean(self):
        # Counted before the ids are looked up: a selection over the limit is refused in words, not parsed.
        if self.is_bound:
            values = self.data.getlist if hasattr(self.data, "getlist") else (lambda name: self.data.get(name) or [])
            selected = len(set(values("users"))) + len(set(values("groups")))
            if selected > ASSIGN_LIMIT:
                self._errors = ErrorDict()
                self.cleaned_data = {}
                self.add_error(None, (
                    f"{selected:,} users and groups were selected, and one Assign takes at most {ASSIGN_LIMIT:,}. "
                    "Assign them in batches of at most that many, or assign a group that holds them."
                ))
                return
        super().full_clean()

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("users") and not cleaned.get("groups"):
            raise forms.ValidationError("Select at least one user or group to assign, then select Assign.")
        return cleaned

    def save(self, app):
        """Assign each selected principal once. Returns (assigned, already_assigned) lists of principals.

        In bulk (a query per kind, not per principal), so thousands of ids take a moment, not minutes. The
        rows bypass the post_save signal: the directory changes it records are recorded here."""
        assigned, already = [], []
        with transaction.atomic():
            for field, principals in (("user", self.cleaned_data["users"]), ("group", self.cleaned_data["groups"])):
                principals = list(principals)
                if not principals:
                    continue
                existing = set(
                    Assignment.objects.filter(application=app, **{f"{field}__in": principals}).values_list(f"{field}_id", flat=True)
                )
                new = [p for p in principals if p.pk not in existing]
                # A concurrent Assign of the same principal loses nothing: the unique constraint keeps one row.
                Assignment.objects.bulk_create(
                    [Assignment(application=app, **{field: p}) for p in new], ignore_conflicts=True, batch_size=1000
                )
                if field == "user":
                    touch_users(p.pk for p in new)
                else:
                    touch_groups(p.pk for p in new)
                    touch_members_of(p.pk for p in new)
                assigned.extend(new)
                already.extend(p for p in principals if p.pk in existing)
        return assigned, already


class UnassignForm(forms.Form):
    assignment = forms.IntegerField(
        error_messages={
            "required": "Choose the assignment to remove.",
            "invalid": "The assignment id must be a number: use Remove assignment on a row of the list.",
        }
    )
