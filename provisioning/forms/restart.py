"""Restart provisioning: Entra's reset scopes as checkboxes, each with the one line of what it does."""

from django import forms

from provisioning.engine.restart import DEFAULT, SCOPES


class RestartForm(forms.Form):
    scopes = forms.MultipleChoiceField(
        label="Reset",
        choices=[(name, name) for name in SCOPES],
        initial=list(DEFAULT),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Choose at least one thing to reset; the usual Restart is Watermark, Escrows and QuarantineState.",
            "invalid_choice": f"%(value)s is not a reset scope: choose from {', '.join(SCOPES)}.",
        },
    )

    @staticmethod
    def explanations():
        return SCOPES
