"""The filters of a dry run's object list, kept in the query string."""

from django import forms

from provisioning.models import ProvisioningLog


class DryRunEntryFilter(forms.Form):
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *ProvisioningLog.Action.choices])
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ProvisioningLog.Status.choices])
    object_type = forms.ChoiceField(required=False, choices=[("", "Users and groups"), ("user", "Users"), ("group", "Groups")])
    attribute = forms.CharField(required=False, max_length=256, help_text="only updates of this target attribute")

    def filter(self, entries):
        data = self.cleaned_data
        for field in ("action", "status", "object_type"):
            if data.get(field):
                entries = entries.filter(**{field: data[field]})
        if data.get("attribute"):
            entries = entries.filter(action=ProvisioningLog.Action.UPDATE, changed_attributes__contains=f"|{data['attribute']}|")
        return entries
