"""New API token: a name, a role (the pages' roles), an expiry."""

from django import forms

from provisioning.api_tokens import EXPIRY_DAYS
from provisioning.models import ApiToken


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=128, strip=True,
        error_messages={"required": "Enter a name for the token, e.g. the script or system that will use it.",
                        "max_length": "Keep the name to 128 characters or fewer."},
    )
    role = forms.ChoiceField(
        choices=ApiToken.Role.choices, initial=ApiToken.Role.READ_ONLY, widget=forms.RadioSelect,
        error_messages={"required": "Choose a role for the token: Read-only or Administrator.",
                        "invalid_choice": "Choose a role for the token: Read-only or Administrator."},
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires", coerce=int, choices=[(d, f"In {d} days") for d in EXPIRY_DAYS], initial=90,
        error_messages={"required": "Choose when the token expires.",
                        "invalid_choice": "Choose when the token expires from the list."},
    )
