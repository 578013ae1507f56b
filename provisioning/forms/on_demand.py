"""Provision on demand: what the admin picked — one user, or a group and up to five of its members.

The pick travels as one value, "user:<id>" or "group:<id>", so a user and a group cannot both be selected.
"""

from django import forms

from provisioning.models import DirectoryGroup, DirectoryUser, OnDemandRun

GROUP_SEARCH_LIMIT = 10
MEMBERS_SHOWN = 50  # members listed for a group; a member search narrows larger groups


def group_members(group, query="", limit=MEMBERS_SHOWN):
    return group.members.search(query).order_by("display_name", "user_principal_name")[:limit]


def parse_subject(value):
    """ "user:12" → ("user", DirectoryUser), "group:3" → ("group", DirectoryGroup); None when it names nothing."""
    kind, _, pk = (value or "").partition(":")
    if kind not in ("user", "group") or not pk.isdigit() or len(pk) > 18:
        return None
    model = DirectoryUser if kind == "user" else DirectoryGroup
    obj = model.objects.filter(pk=int(pk)).first()
    return (kind, obj) if obj else None


class OnDemandForm(forms.Form):
    subject = forms.CharField(
        max_length=40,
        error_messages={"required": "Search for a user or a group, then select one from the results."},
    )
    members = forms.ModelMultipleChoiceField(
        queryset=DirectoryUser.objects.all(),
        required=False,
        error_messages={
            "invalid_choice": "A selected member no longer exists in the directory: select the group again.",
            "invalid_pk_value": "“%(pk)s” is not a user: select members from the list.",
        },
    )

    def clean_subject(self):
        parsed = parse_subject(self.cleaned_data["subject"])
        if parsed is None:
            raise forms.ValidationError(
                "That user or group no longer exists in the directory: search again and select it from the results."
            )
        return parsed

    def clean(self):
        cleaned = super().clean()
        subject, members = cleaned.get("subject"), cleaned.get("members")
        if not subject or subject[0] != "group" or members is None:
            return cleaned
        group, limit = subject[1], OnDemandRun.MAX_GROUP_MEMBERS
        if not members:
            self.add_error("members", f"Select the members of '{group}' to provision (up to {limit}).")
        elif len(members) > limit:
            self.add_error(
                "members",
                f"Select at most {limit} members of the group: you selected {len(members)}. "
                "Provision the others in another request.",
            )
        elif group.members.filter(pk__in=[m.pk for m in members]).count() != len(members):
            self.add_error("members", f"Select only members of '{group}': the list has changed, select the group again.")
        return cleaned

    def request_kwargs(self):
        """The arguments of engine.on_demand.request_on_demand for this (valid) form."""
        kind, obj = self.cleaned_data["subject"]
        if kind == "user":
            return {"user_ids": [obj.pk], "group_id": None}
        return {"user_ids": [m.pk for m in self.cleaned_data["members"]], "group_id": obj.pk}
