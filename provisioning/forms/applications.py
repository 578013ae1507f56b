from django import forms

from provisioning.models import Application


class NewApplicationForm(forms.ModelForm):
    class Meta:
        model = Application
        fields = ["name"]
        labels = {"name": "Name"}
        help_texts = {"name": "The name admins see in Enterprise applications, e.g. the SaaS product's name."}
        error_messages = {
            "name": {
                "required": "Name is required: enter a name for the application.",
                "max_length": "Name is too long: use at most %(limit_value)d characters (it has %(show_value)d).",
            }
        }

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Name is required: enter a name for the application.")
        # Case-insensitive, so "Slack" and "slack" cannot both exist and confuse the list.
        if Application.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError(
                f"An application named “{name}” already exists. Choose another name, or open the existing one "
                "from Enterprise applications."
            )
        return name
