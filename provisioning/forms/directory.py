"""The directory pages: the Users and Groups list filters, create / edit of a user or group, members, import."""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef

from provisioning.csv_import import control_character_problem, mail_problem, upn_problem
from provisioning.models import DirectoryGroup, DirectoryUser

YES_NO = [("yes", "Yes"), ("no", "No")]
STATES = [("deleted", "Deleted (restorable)"), ("all", "Active and deleted")]
# The largest file the browser import takes: a 10,000-user directory export is about 4 MB.
IMPORT_MAX_BYTES = 10 * 1024 * 1024


def _yes_no(label, *, error):
    return django_filters.ChoiceFilter(label=label, choices=YES_NO, empty_label="All", method=f"filter_{label.lower().replace(' ', '_')}",
                                       error_messages={"invalid_choice": error})


class _DirectoryFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label="Search", method="filter_q", max_length=256)
    state = django_filters.ChoiceFilter(
        label="State", choices=STATES, empty_label="Active", method="filter_state",
        error_messages={"invalid_choice": "State is Active, Deleted or Active and deleted (%(value)s is not one)."},
    )

    def filter_q(self, queryset, name, value):
        return queryset.search(value)

    def filter_state(self, queryset, name, value):
        return queryset  # applied in .qs, so that the default (Active) holds without a value too

    @property
    def qs(self):
        queryset = super().qs
        state = self.form.cleaned_data.get("state") if self.is_bound and self.form.is_valid() else ""
        if state == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        if state == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)

    @property
    def is_filtered(self):
        return self.is_bound and any(self.form.data.get(name) for name in self.filters)


class DirectoryUserFilterSet(_DirectoryFilterSet):
    department = django_filters.ChoiceFilter(
        label="Department", empty_label="All", field_name="department",
        error_messages={"invalid_choice": "No user is in the department %(value)s: choose a department from the list."},
    )
    enabled = _yes_no("Enabled", error="Enabled is Yes or No (%(value)s is not one).")
    has_manager = _yes_no("Has manager", error="Has manager is Yes or No (%(value)s is not one).")
    member_of = django_filters.ModelChoiceFilter(
        label="Member of", field_name="groups", queryset=DirectoryGroup.objects.active().order_by("display_name"),
        empty_label="Any group",
        error_messages={"invalid_choice": "That group is not in the directory (any more): choose a group from the list."},
    )

    class Meta:
        model = DirectoryUser
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        departments = DirectoryUser.objects.exclude(department="").order_by("department").values_list("department", flat=True).distinct()
        self.filters["department"].extra["choices"] = [(d, d) for d in departments]

    def filter_enabled(self, queryset, name, value):
        return queryset.filter(account_enabled=value == "yes")

    def filter_has_manager(self, queryset, name, value):
        return queryset.filter(manager__isnull=value == "no")


class DirectoryGroupFilterSet(_DirectoryFilterSet):
    has_members = _yes_no("Has members", error="Has members is Yes or No (%(value)s is not one).")

    class Meta:
        model = DirectoryGroup
        fields = []

    def filter_has_members(self, queryset, name, value):
        members = DirectoryGroup.members.through.objects.filter(directorygroup_id=OuterRef("pk"))
        return queryset.filter(Exists(members)) if value == "yes" else queryset.exclude(Exists(members))


def _clean_text(form, names):
    for name in names:
        value = form.cleaned_data.get(name)
        if value and (problem := control_character_problem(value)):
            form.add_error(name, f"{form.fields[name].label} {problem}.")


class DirectoryUserForm(forms.ModelForm):
    """Create or edit a directory user; the manager is picked by user principal name (the directory may hold thousands)."""

    manager_upn = forms.CharField(label="Manager", required=False, max_length=256,
                                  help_text="The manager's user principal name, e.g. lukasz.zolc@contoso.example. Leave empty for none.")

    class Meta:
        model = DirectoryUser
        fields = ["user_principal_name", "display_name", "given_name", "surname", "mail", "mail_nickname", "job_title",
                  "department", "employee_id", "account_enabled"]
        error_messages = {
            "user_principal_name": {
                "required": "Enter the user principal name, e.g. jane.doe@contoso.example.",
                "unique": "Another user already has this user principal name: choose another one.",
            },
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.manager_id and not self.is_bound:
            self.initial["manager_upn"] = self.instance.manager.user_principal_name

    def clean_user_principal_name(self):
        upn = self.cleaned_data["user_principal_name"].strip()
        if problem := upn_problem(upn):
            raise forms.ValidationError(f"'{upn}' is not a valid user principal name: {problem}.")
        clash = DirectoryUser.objects.filter(user_principal_name__iexact=upn).exclude(pk=self.instance.pk).first()
        if clash is not None:
            raise forms.ValidationError(f"'{clash.user_principal_name}' already belongs to {clash}: choose another user principal name.")
        return upn

    def clean_mail(self):
        mail = self.cleaned_data["mail"].strip()
        if mail and (problem := mail_problem(mail)):
            raise forms.ValidationError(problem[0].upper() + problem[1:] + ".")
        return mail

    def clean_manager_upn(self):
        upn = self.cleaned_data["manager_upn"].strip()
        if not upn:
            return None
        manager = DirectoryUser.objects.active().filter(user_principal_name__iexact=upn).first()
        if manager is None:
            raise forms.ValidationError(f"No user '{upn}' in the directory: enter the manager's user principal name, or leave it empty.")
        if manager.pk == self.instance.pk:
            raise forms.ValidationError("A user cannot be their own manager: enter another user, or leave it empty.")
        # A loop (Jane manages Bob who manages Jane) would never resolve in the targets' references.
        seen, boss = {manager.pk}, manager
        while boss.manager_id and self.instance.pk:
            if boss.manager_id == self.instance.pk:
                raise forms.ValidationError(f"{manager} reports to {self.instance} already (directly or further up): "
                                            "a user cannot manage their own manager.")
            if boss.manager_id in seen:
                break
            seen.add(boss.manager_id)
            boss = boss.manager
        return manager

    def clean(self):
        cleaned = super().clean()
        _clean_text(self, ["display_name", "given_name", "surname", "mail_nickname", "job_title", "department", "employee_id"])
        if not cleaned.get("display_name") and not self.has_error("display_name"):
            derived = " ".join(v for v in (cleaned.get("given_name"), cleaned.get("surname")) if v)
            cleaned["display_name"] = derived or (cleaned.get("user_principal_name") or "").partition("@")[0]
        if not cleaned.get("mail_nickname") and cleaned.get("user_principal_name"):
            cleaned["mail_nickname"] = cleaned["user_principal_name"].partition("@")[0][:64]
        return cleaned

    def save(self, commit=True):
        self.instance.manager = self.cleaned_data.get("manager_upn")
        self.instance.display_name = self.cleaned_data["display_name"]
        self.instance.mail_nickname = self.cleaned_data["mail_nickname"]
        return super().save(commit)


class DirectoryGroupForm(forms.ModelForm):
    class Meta:
        model = DirectoryGroup
        fields = ["display_name", "description", "mail_nickname", "security_enabled"]
        error_messages = {"display_name": {"required": "Enter the group's display name, e.g. Sales EMEA."}}

    def clean(self):
        cleaned = super().clean()
        _clean_text(self, ["display_name", "description", "mail_nickname"])
        return cleaned


class AddMemberForm(forms.Form):
    upn = forms.CharField(label="User principal name", max_length=256,
                          error_messages={"required": "Enter the user principal name of the user to add."})

    def __init__(self, *args, group, **kwargs):
        super().__init__(*args, **kwargs)
        self.group = group

    def clean_upn(self):
        upn = self.cleaned_data["upn"].strip()
        user = DirectoryUser.objects.active().filter(user_principal_name__iexact=upn).first()
        if user is None:
            raise forms.ValidationError(f"No user '{upn}' in the directory: check the spelling, or create the user first.")
        if self.group.members.filter(pk=user.pk).exists():
            raise forms.ValidationError(f"{user} is already a member of {self.group}.")
        return user


class ImportForm(forms.Form):
    file = forms.FileField(label="File", error_messages={
        "required": "Choose a .json or .csv file to import.",
        "empty": "The file is empty: choose the directory export you meant to import.",
    })
    prune = forms.BooleanField(label="Soft-delete users and groups missing from the file (JSON only)", required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MB; the browser import takes up to {IMPORT_MAX_BYTES // 1024 // 1024} MB. "
                "Split it, or use manage.py import_directory for larger files.")
        return upload
