"""Users and groups: search the assignments, search the directory, assign and remove."""

from django import forms
from django.db import IntegrityError, transaction
from django.db.models import Q

from provisioning.models import Assignment, DirectoryGroup, DirectoryUser

SEARCH_LIMIT = 20  # per object type in the Add user/group picker; the query narrows it


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=256, strip=True)

    def query(self):
        return self.cleaned_data.get("q", "") if self.is_valid() else ""


def filter_assignments(queryset, query):
    """Assignments whose user (display name, UPN, mail, given name, surname) or group (display name) matches."""
    if not query:
        return queryset
    return queryset.filter(
        Q(user__display_name__icontains=query)
        | Q(user__user_principal_name__icontains=query)
        | Q(user__mail__icontains=query)
        | Q(user__given_name__icontains=query)
        | Q(user__surname__icontains=query)
        | Q(group__display_name__icontains=query)
    )


def search_groups(query, limit=SEARCH_LIMIT):
    query = (query or "").strip()
    if not query:
        return DirectoryGroup.objects.none()
    return DirectoryGroup.objects.filter(display_name__icontains=query).order_by("display_name")[:limit]


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

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("users") and not cleaned.get("groups"):
            raise forms.ValidationError("Select at least one user or group to assign, then select Assign.")
        return cleaned

    def save(self, app):
        """Assign each selected principal once. Returns (assigned, already_assigned) lists of principals."""
        assigned, already = [], []
        for field, principals in (("user", self.cleaned_data["users"]), ("group", self.cleaned_data["groups"])):
            for principal in principals:
                try:
                    # A savepoint per row: a concurrent duplicate (unique constraint) must not undo the others.
                    with transaction.atomic():
                        _, created = Assignment.objects.get_or_create(application=app, **{field: principal})
                except IntegrityError:
                    created = False
                (assigned if created else already).append(principal)
        return assigned, already


class UnassignForm(forms.Form):
    assignment = forms.IntegerField(
        error_messages={
            "required": "Choose the assignment to remove.",
            "invalid": "The assignment id must be a number: use Remove assignment on a row of the list.",
        }
    )
