"""Forms of the Attribute Mapping pages: object mapping settings, Edit Attribute, scoping filters, import.

The rules live in provisioning.mapping_config; these forms turn posted text into Python values, put the
domain's problems next to the fields they are about, and save what passed.
"""

from django import forms
from django.db import transaction

from provisioning.mapping_config.attribute_rules import LABELS, mapping_values, validate_attribute_mapping
from provisioning.mapping_config.clause_rules import validate_filter_title, validate_scoping_clause
from provisioning.mapping_config.source_schema import SourceSchema
from provisioning.mapping_config.target_schema import TargetSchema
from provisioning.mapping_config.watermark import require_full_cycle
from provisioning.models import AttributeMapping, ObjectMapping, ScopingClause, ScopingFilter
from provisioning.scoping import OPERATORS, UNARY_OPERATORS

YES_NO = [("yes", "Yes"), ("no", "No")]

# Common SCIM paths for the Target attribute datalist (free text stays allowed, as custom attributes exist).
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_TARGETS = [
    "userName",
    "active",
    "displayName",
    "title",
    'emails[type eq "work"].value',
    "name.givenName",
    "name.familyName",
    "name.formatted",
    "externalId",
    'phoneNumbers[type eq "work"].value',
    'phoneNumbers[type eq "mobile"].value',
    'addresses[type eq "work"].streetAddress',
    'addresses[type eq "work"].locality',
    'addresses[type eq "work"].region',
    'addresses[type eq "work"].postalCode',
    'addresses[type eq "work"].country',
    *(f"{ENTERPRISE}:{name}" for name in ("employeeNumber", "department", "manager", "costCenter", "organization", "division")),
]
GROUP_TARGETS = ["displayName", "externalId", "members"]


def _yes_no(value):
    return value == "yes"


class ObjectMappingSettingsForm(forms.ModelForm):
    """Enabled and Target Object Actions, at the top of the Attribute Mapping page."""

    enabled = forms.TypedChoiceField(label="Enabled", choices=YES_NO, coerce=_yes_no, widget=forms.RadioSelect)

    class Meta:
        model = ObjectMapping
        fields = ["enabled", "action_create", "action_update", "action_delete"]

    def __init__(self, *args, instance, **kwargs):
        kwargs.setdefault("initial", {})["enabled"] = "yes" if instance.enabled else "no"
        super().__init__(*args, instance=instance, **kwargs)
        self.users_locked = instance.object_type == ObjectMapping.ObjectType.USER
        if self.users_locked:
            # Entra's user mapping has no Enabled switch to turn off; a disabled field also ignores forged posts.
            self.fields["enabled"].disabled = True

    def clean(self):
        cleaned = super().clean()
        if not self.instance.attribute_mappings.filter(is_matching=True).exists() and cleaned.get("enabled"):
            self.add_error(
                "enabled",
                "This object mapping has no matching attribute, so it cannot be enabled: edit a mapping and set "
                "Match objects using this attribute to Yes first.",
            )
        return cleaned


class AttributeMappingForm(forms.ModelForm):
    """The Edit Attribute dialog."""

    mapping_type = forms.ChoiceField(label="Mapping type", choices=AttributeMapping.MappingType.choices)
    source_attribute = forms.CharField(label="Source attribute", required=False, strip=True)
    constant_value = forms.CharField(label="Constant Value", required=False, strip=False)
    expression = forms.CharField(label="Expression", required=False, strip=False, widget=forms.Textarea(attrs={"rows": 4}))
    default_value = forms.CharField(label="Default value if null (optional)", required=False, strip=False)
    target_attribute = forms.CharField(label="Target attribute", required=False, strip=True)
    is_matching = forms.TypedChoiceField(label=LABELS["is_matching"], choices=YES_NO, coerce=_yes_no)
    matching_precedence = forms.IntegerField(
        label="Matching precedence",
        required=False,
        error_messages={"invalid": "Matching precedence must be a whole number of 1 or more, e.g. 1."},
    )
    apply_on = forms.ChoiceField(label="Apply this mapping", choices=AttributeMapping.ApplyOn.choices)
    # Not stored: a write-only target attribute (password) is mapped only when the admin ticks this.
    confirm_write_only = forms.BooleanField(label="Send this write-only value to the target", required=False)

    class Meta:
        model = AttributeMapping
        fields = list(LABELS)

    def __init__(self, *args, object_mapping, schema: SourceSchema, target_schema: TargetSchema | None = None, **kwargs):
        instance = kwargs.get("instance")
        if instance is not None and instance.pk:
            kwargs.setdefault("initial", {})["is_matching"] = "yes" if instance.is_matching else "no"
        else:
            kwargs.setdefault("initial", {})["is_matching"] = "no"
        super().__init__(*args, **kwargs)
        self.object_mapping = object_mapping
        self.schema = schema
        # Caret excerpts of expression errors, by field, shown in a monospace <pre> under the message.
        self.excerpts = {}
        # A Select over a CharField: the domain names an unknown attribute instead of Django's generic choice error.
        choices = [("", "Choose an attribute")] + [(a, a) for a in schema.attributes]
        current = self.initial.get("source_attribute") or ""
        if current and schema.canonical(current) is None:
            choices.append((current, f"{current} (not in the source schema)"))
        self.fields["source_attribute"].widget = forms.Select(choices=choices)
        self.target_schema = target_schema
        self.target_choices = GROUP_TARGETS if object_mapping.object_type == ObjectMapping.ObjectType.GROUP else USER_TARGETS
        if target_schema is not None:
            # The target's own list ("Edit attribute list for app"): a pick list with type and mutability.
            self.target_attributes = target_schema.attributes()
            current = (self.initial.get("target_attribute") or "").strip()
            self.target_unknown = current if current and target_schema.lookup(current).problem else ""
            if self.instance.pk and self.instance.target_attribute:
                self.fields["confirm_write_only"].initial = _write_only(target_schema, self.instance.target_attribute)
        else:
            self.target_attributes, self.target_unknown = [], ""
        for name in ("mapping_type", "apply_on", "is_matching"):
            self.fields[name].error_messages["required"] = f"{LABELS[name]} is required: choose one."
            self.fields[name].error_messages["invalid_choice"] = f"{LABELS[name]}: %(value)s is not one of the choices; choose one from the list."

    def clean(self):
        cleaned = super().clean()
        if self.errors:  # a field could not even be read; its message already says what to fix
            return cleaned
        siblings = self.object_mapping.attribute_mappings.all()
        if self.instance.pk:
            siblings = siblings.exclude(pk=self.instance.pk)
        was_matching = bool(self.instance.pk and AttributeMapping.objects.filter(pk=self.instance.pk, is_matching=True).exists())
        problems = validate_attribute_mapping(
            cleaned, schema=self.schema, siblings=[mapping_values(m) for m in siblings], was_matching=was_matching,
            target_schema=self.target_schema, password_confirmed=cleaned.get("confirm_write_only", False),
        )
        for problem in problems:
            self.add_error(problem.field, problem.message)
            if problem.excerpt:
                self.excerpts[problem.field] = problem.excerpt
        if not problems:
            self._keep_only_what_the_type_uses(cleaned)
        return cleaned

    def _keep_only_what_the_type_uses(self, cleaned):
        # The dialog keeps hidden fields' text while the admin switches types; save only the one in use.
        kind = cleaned["mapping_type"]
        Type = AttributeMapping.MappingType
        if kind != Type.DIRECT:
            cleaned["source_attribute"] = ""
        if kind != Type.CONSTANT:
            cleaned["constant_value"] = ""
        if kind != Type.EXPRESSION:
            cleaned["expression"] = ""
        if not cleaned["is_matching"]:
            cleaned["matching_precedence"] = None

    def save(self, commit=True):
        mapping = super().save(commit=False)
        mapping.object_mapping = self.object_mapping
        if not mapping.pk:
            last = self.object_mapping.attribute_mappings.order_by("-position").first()
            mapping.position = (last.position + 1) if last else 0
        if commit:
            mapping.save()
        return mapping


def _write_only(target_schema, path):
    found = target_schema.lookup(path)
    return bool(found.definition and found.definition["mutability"] == "writeOnly") or path.strip().lower() == "password"


class ScopingFilterForm(forms.ModelForm):
    class Meta:
        model = ScopingFilter
        fields = ["title"]
        error_messages = {"title": {"required": validate_filter_title("")[0]}}

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        for message in validate_filter_title(title):
            raise forms.ValidationError(message)
        return title

    @transaction.atomic
    def save_with(self, clauses: "BaseClauseFormSet", object_mapping) -> ScopingFilter:
        """The filter (new ones last) and exactly the clauses kept in the editor; the next cycle is a full one."""
        saved = self.save(commit=False)
        saved.object_mapping = object_mapping
        if saved.pk is None:
            last = object_mapping.scoping_filters.order_by("-position").first()
            saved.position = (last.position + 1) if last else 0
        saved.save()
        saved.clauses.all().delete()
        ScopingClause.objects.bulk_create(
            ScopingClause(scoping_filter=saved, attribute=a, operator=o, value=v, position=i)
            for i, (a, o, v) in enumerate(clauses.clauses())
        )
        require_full_cycle(object_mapping.application)
        return saved


class ScopingClauseForm(forms.Form):
    attribute = forms.CharField(label="Attribute Name", required=False)
    operator = forms.ChoiceField(label="Operator", choices=[(o, o) for o in OPERATORS])
    value = forms.CharField(label="Attribute Value", required=False, strip=False)

    def __init__(self, *args, schema: SourceSchema, **kwargs):
        super().__init__(*args, **kwargs)
        self.schema = schema
        choices = [("", "Choose an attribute")] + [(a, a) for a in schema.attributes]
        current = (self.initial.get("attribute") or self.data.get(self.add_prefix("attribute")) or "").strip()
        if current and schema.canonical(current) is None:
            choices.append((current, current))
        self.fields["attribute"].widget = forms.Select(choices=choices)
        self.fields["operator"].error_messages["invalid_choice"] = (
            "Operator %(value)s is not a scoping operator: choose one from the list."
        )

    def clean(self):
        cleaned = super().clean()
        if self.errors or cleaned.get("DELETE"):
            return cleaned
        if not (cleaned.get("attribute") or "").strip() and not cleaned.get("value"):
            return cleaned  # a row left blank is ignored, like Entra's empty last row
        if cleaned.get("operator") in UNARY_OPERATORS:
            # The value box is disabled for IS NULL, IS TRUE…: an old value in it is not the admin's intent.
            cleaned["value"] = ""
        for message in validate_scoping_clause(self.schema, cleaned.get("attribute", ""), cleaned["operator"], cleaned.get("value", "")):
            self.add_error(None, message)
        return cleaned


class BaseClauseFormSet(forms.BaseFormSet):
    def __init__(self, *args, schema, **kwargs):
        self.schema = schema
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "schema": self.schema}

    def clean(self):
        if any(self.errors):
            return
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("attribute")]
        if not kept:
            raise forms.ValidationError("A scoping filter needs at least one clause: choose an Attribute Name, an Operator and a value.")

    def clauses(self):
        """(attribute, operator, value) of the kept rows, in order."""
        return [
            (f.cleaned_data["attribute"].strip(), f.cleaned_data["operator"], f.cleaned_data["value"])
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("attribute")
        ]


ClauseFormSet = forms.formset_factory(ScopingClauseForm, formset=BaseClauseFormSet, extra=0, can_delete=True)


class ImportForm(forms.Form):
    file = forms.FileField(label="Configuration file (.json)", required=False)
    text = forms.CharField(label="Or paste the JSON", required=False, strip=False, widget=forms.Textarea(attrs={"rows": 10}))

    MAX_BYTES = 2 * 1024 * 1024

    def clean(self):
        cleaned = super().clean()
        upload, text = cleaned.get("file"), cleaned.get("text") or ""
        if upload is None and not text.strip():
            raise forms.ValidationError("Choose the .json file that Export downloaded, or paste its text.")
        if upload is not None and text.strip():
            raise forms.ValidationError("Give either a file or pasted text, not both: clear one of them.")
        if upload is not None:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError(
                    f"The file is {upload.size:,} bytes; a mapping configuration is at most {self.MAX_BYTES:,}. "
                    "Upload the file Export downloaded."
                )
            cleaned["raw"] = upload.read()
        else:
            cleaned["raw"] = text
        return cleaned
