"""Attribute Mapping pages (Administrators only): the attribute table and Edit Attribute dialog, the expression
tester, the scoping filter editor, Restore default mappings, and Export / Import of the whole configuration.

Templates: mappings/page.html (partials #tester, #tester-result, #subject-options), mappings/attribute.html
(#dialog-body, #expression-check), mappings/delete.html (#dialog-body), mappings/scoping.html (#filter-editor,
#clause-value, #scope-result), mappings/import.html. HTMX requests get the partial, others the full page.
"""

import re

from django.contrib import messages
from django.db import transaction
from django.db.models import Q
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from provisioning import audit
from provisioning.defaults import install_default_mappings
from provisioning.engine.connection import check_target
from provisioning.expressions import FUNCTIONS
from provisioning.forms.mappings import (
    AttributeMappingForm,
    ClauseFormSet,
    ImportForm,
    ObjectMappingSettingsForm,
    ScopingFilterForm,
)
from provisioning.mapping_config.attribute_rules import check_expression, deletion_refusal, saved_mapping_warning
from provisioning.mapping_config.expression_tester import subject_attributes, test_expression
from provisioning.mapping_config.source_schema import source_schema
from provisioning.mapping_config.target_schema import target_schema
from provisioning.mapping_config.transfer import DocumentError, export_configuration, import_configuration, read_document
from provisioning.mapping_config.watermark import require_full_cycle
from provisioning.models import Application, AttributeMapping, DirectoryGroup, DirectoryUser, ObjectMapping, ScopingFilter
from provisioning.roles import administrators_only
from provisioning.views.htmx import render_region
from provisioning.scoping import (
    OPERATOR_HELP,
    OPERATORS,
    UNARY_OPERATORS,
    Clause,
    ScopingFilterSpec,
    ScopingRegexTimeout,
    evaluate_scope,
)

SUBJECT_LIMIT = 20
FULL_CYCLE = "The next cycle re-evaluates every user and group, as after a restart."


def _object_mapping(app_id, object_type):
    if object_type not in ObjectMapping.ObjectType.values:
        raise Http404("Object type must be user or group.")
    app = get_object_or_404(Application, pk=app_id)
    object_mapping = get_object_or_404(ObjectMapping, application=app, object_type=object_type)
    return app, object_mapping


def _base_context(app, object_mapping, **extra):
    return {"app": app, "blade_tab": "mappings", "object_mapping": object_mapping, "object_type": object_mapping.object_type, **extra}


def _mappings_url(object_mapping):
    return reverse("apps:mappings", args=[object_mapping.application_id, object_mapping.object_type])


# --- subjects: the directory users (or groups) the tester and scoping test run against ----------------


def _subjects(object_type, query=""):
    if object_type == ObjectMapping.ObjectType.GROUP:
        groups = DirectoryGroup.objects.all()
        if query:
            groups = groups.filter(Q(display_name__icontains=query) | Q(mail_nickname__icontains=query))
        return [(g.pk, g.display_name) for g in groups[:SUBJECT_LIMIT]]
    users = DirectoryUser.objects.all()
    if query:
        users = users.filter(Q(display_name__icontains=query) | Q(user_principal_name__icontains=query))
    return [(u.pk, f"{u.display_name or u.user_principal_name} ({u.user_principal_name})") for u in users[:SUBJECT_LIMIT]]


def _subject(object_type, subject_id):
    if not subject_id or not str(subject_id).isdigit():
        return None
    model = DirectoryGroup if object_type == ObjectMapping.ObjectType.GROUP else DirectoryUser
    return model.objects.filter(pk=subject_id).first()


def _subject_noun(object_type):
    return "group" if object_type == ObjectMapping.ObjectType.GROUP else "user"


def _tester_context(object_mapping, tester_id, query="", **extra):
    return {
        "tester_id": tester_id,
        "query": query,
        "subjects": _subjects(object_mapping.object_type, query),
        "subject_noun": _subject_noun(object_mapping.object_type),
        **extra,
    }


# --- the Attribute Mapping page ---------------------------------------------------------------------


def _page(request, app, object_mapping, settings_form, status=200):
    target = target_schema(app.target_schema, object_mapping.object_type)
    attribute_mappings = list(object_mapping.attribute_mappings.all())
    for mapping in attribute_mappings:
        mapping.target_warning = saved_mapping_warning(mapping.target_attribute, object_mapping.object_type, target)
    context = _base_context(
        app,
        object_mapping,
        settings_form=settings_form,
        attribute_mappings=attribute_mappings,
        scoping_filters=object_mapping.scoping_filters.prefetch_related("clauses"),
        other_mappings=app.object_mappings.exclude(pk=object_mapping.pk),
        functions=FUNCTIONS.values(),
        target=target,
        **_tester_context(object_mapping, "page", show_expression=True),
    )
    return render(request, "mappings/page.html", context, status=status)


@administrators_only
@require_POST
def refresh_target_schema(request, app_id, object_type):
    """Read the target's /Schemas again with the saved credentials (the checklist's discovery lines)."""
    app, object_mapping = _object_mapping(app_id, object_type)
    if not app.tenant_url or not app.has_credentials:
        messages.error(request, "Save the Tenant URL and Admin Credentials on the Provisioning page first: the attribute "
                                "list is read from the target with them.")
        return redirect(_mappings_url(object_mapping))
    result = check_target(app)
    line = next((c for c in result.checks if c.key == "schemas"), None)
    schema = target_schema(app.target_schema, object_mapping.object_type) if result.target_schema else None
    if schema is not None:
        messages.success(request, f"The target's attribute list is refreshed: {len(schema.attributes())} attributes "
                                  f"for {object_mapping.target_object}.")
    elif line is not None:
        messages.error(request, f"The attribute list was not refreshed: {line.summary} {line.fix}".strip())
    else:
        messages.error(request, f"The attribute list was not refreshed: {result.message} {result.fix}".strip())
    return redirect(_mappings_url(object_mapping))


@administrators_only
@require_http_methods(["GET", "POST"])
def mappings_page(request, app_id, object_type):
    app, object_mapping = _object_mapping(app_id, object_type)
    if request.method == "GET":
        return _page(request, app, object_mapping, ObjectMappingSettingsForm(instance=object_mapping))
    form = ObjectMappingSettingsForm(request.POST, instance=object_mapping)
    if not form.is_valid():
        return _page(request, app, ObjectMapping.objects.get(pk=object_mapping.pk), form)
    with audit.changes(object_mapping, "Update object mapping", by=request.user):
        form.save()
    require_full_cycle(app)
    messages.success(request, f"{object_mapping.name}: your settings are saved. {FULL_CYCLE}")
    return redirect(_mappings_url(object_mapping))


# --- Edit Attribute dialog ---------------------------------------------------------------------------


def _attribute_dialog(request, app, object_mapping, form, mapping=None):
    if mapping is not None:
        form_url = reverse("apps:mapping_edit", args=[app.id, object_mapping.object_type, mapping.id])
    else:
        form_url = reverse("apps:mapping_new", args=[app.id, object_mapping.object_type])
    context = _base_context(
        app,
        object_mapping,
        form=form,
        form_url=form_url,
        mapping=mapping,
        functions=FUNCTIONS.values(),
        **_tester_context(object_mapping, "dialog", show_expression=False),
    )
    return render_region(request, "mappings/attribute.html", "dialog-body", context)


def _attribute_form_view(request, app_id, object_type, mapping_id=None):
    app, object_mapping = _object_mapping(app_id, object_type)
    mapping = None
    if mapping_id is not None:
        mapping = get_object_or_404(AttributeMapping, pk=mapping_id, object_mapping=object_mapping)
    schema = source_schema(object_mapping.object_type)
    kwargs = {"object_mapping": object_mapping, "schema": schema, "instance": mapping,
              "target_schema": target_schema(app.target_schema, object_mapping.object_type)}
    if request.method == "GET":
        return _attribute_dialog(request, app, object_mapping, AttributeMappingForm(**kwargs), mapping)
    form = AttributeMappingForm(request.POST, **kwargs)
    if not form.is_valid():
        return _attribute_dialog(request, app, object_mapping, form, mapping)
    with audit.changes(mapping, "Update attribute mapping" if mapping else "Add attribute mapping", by=request.user, application=app) as watched:
        saved = watched.obj = form.save()
    require_full_cycle(app)
    verb = "updated" if mapping else "added"
    messages.success(request, f"The mapping to {saved.target_attribute} is {verb}. {FULL_CYCLE}")
    url = _mappings_url(object_mapping)
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@administrators_only
@require_http_methods(["GET", "POST"])
def attribute_new(request, app_id, object_type):
    return _attribute_form_view(request, app_id, object_type)


@administrators_only
@require_http_methods(["GET", "POST"])
def attribute_edit(request, app_id, object_type, mapping_id):
    return _attribute_form_view(request, app_id, object_type, mapping_id)


@administrators_only
@require_http_methods(["GET", "POST"])
def attribute_delete(request, app_id, object_type, mapping_id):
    app, object_mapping = _object_mapping(app_id, object_type)
    mapping = get_object_or_404(AttributeMapping, pk=mapping_id, object_mapping=object_mapping)
    refusal = deletion_refusal(mapping)
    if request.method == "POST" and not refusal:
        target = mapping.target_attribute
        with audit.changes(mapping, "Delete attribute mapping", by=request.user, application=app):
            mapping.delete()
        require_full_cycle(app)
        messages.success(request, f"The mapping to {target} is deleted. {FULL_CYCLE}")
        url = _mappings_url(object_mapping)
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context = _base_context(app, object_mapping, mapping=mapping, refusal=refusal)
    status = 409 if request.method == "POST" else 200
    template = "mappings/delete.html"
    if request.htmx:
        return render(request, f"{template}#dialog-body", context, status=200 if refusal else status)
    return render(request, template, context, status=status)


@administrators_only
@require_POST
def expression_check(request, app_id, object_type):
    """Inline validation of the Expression box while the admin types."""
    app, object_mapping = _object_mapping(app_id, object_type)
    text = request.POST.get("expression", "")
    check = check_expression(text, source_schema(object_mapping.object_type)) if text.strip() else None
    context = _base_context(app, object_mapping, check=check)
    return render(request, "mappings/attribute.html#expression-check", context)


# --- the expression tester ---------------------------------------------------------------------------


@administrators_only
@require_GET
def subject_options(request, app_id, object_type):
    app, object_mapping = _object_mapping(app_id, object_type)
    tester_id = _safe_id(request.GET.get("tester", "page"))
    query = request.GET.get("q", "").strip()
    context = _base_context(app, object_mapping, **_tester_context(object_mapping, tester_id, query=query))
    return render(request, "mappings/page.html#subject-options", context)


def _safe_id(value):
    """Element ids come back from the page; keep them to a harmless alphabet."""
    return re.sub(r"[^A-Za-z0-9_-]", "", value)[:40] or "page"


@administrators_only
@require_POST
def expression_tester(request, app_id, object_type):
    app, object_mapping = _object_mapping(app_id, object_type)
    tester_id = _safe_id(request.POST.get("tester", "page"))
    outcome = _test_expression(object_mapping, request.POST)
    context = _base_context(app, object_mapping, tester_id=tester_id, outcome=outcome, subject_noun=_subject_noun(object_type))
    return render(request, "mappings/page.html#tester-result", context)


def _test_expression(object_mapping, data):
    typed = {key.removeprefix("test__"): value for key, value in data.items() if key.startswith("test__")}
    subject = _subject(object_mapping.object_type, data.get("subject"))
    return test_expression(data.get("expression", ""), source_schema(object_mapping.object_type), subject, typed)


# --- Restore defaults, Export, Import ------------------------------------------------------------------


@administrators_only
@require_POST
def restore_defaults(request, app_id, object_type):
    app, object_mapping = _object_mapping(app_id, object_type)
    install_default_mappings(app)
    audit.record("Restore default mappings", by=request.user, application=app, target="Attribute mappings and scoping filters")
    require_full_cycle(app)
    messages.success(request, f"Default mappings are restored for users and groups; scoping filters were removed. {FULL_CYCLE}")
    return redirect("apps:mappings", app_id=app.id, object_type=object_type)


@administrators_only
@require_GET
def export_mappings(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    response = JsonResponse(export_configuration(app), json_dumps_params={"indent": 2, "ensure_ascii": False})
    filename = f"{slugify(app.name) or 'application'}-mappings.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@administrators_only
@require_http_methods(["GET", "POST"])
def import_mappings(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    back = request.GET.get("from") if request.GET.get("from") in ObjectMapping.ObjectType.values else "user"
    context = {"app": app, "blade_tab": "mappings", "back": back}
    if request.method == "GET":
        return render(request, "mappings/import.html", {**context, "form": ImportForm()})
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "mappings/import.html", {**context, "form": form})
    try:
        data = read_document(form.cleaned_data["raw"])
    except DocumentError as exc:
        return render(request, "mappings/import.html", {**context, "form": form, "document_error": str(exc)})
    result = import_configuration(app, data)
    if not result.ok:
        return render(request, "mappings/import.html", {**context, "form": form, "problems": result.problems})
    audit.record("Import mapping configuration", by=request.user, application=app, target=form.cleaned_data.get("file") or "pasted document")
    messages.success(
        request, f"The mapping configuration is imported: every object mapping, attribute mapping and scoping filter was replaced. {FULL_CYCLE}"
    )
    return redirect("apps:mappings", app_id=app.id, object_type=back if app.object_mappings.filter(object_type=back).exists() else app.object_mappings.first().object_type)


# --- scoping filters ---------------------------------------------------------------------------------


def _scoping_page(request, app, object_mapping, *, editor=None, editing=None):
    if editor:
        editor["rows"] = [
            (form, _clause_row(form.prefix, form["operator"].value() or "", form["value"].value() or ""))
            for form in editor["clauses"].forms
        ]
    context = _base_context(
        app,
        object_mapping,
        scoping_filters=object_mapping.scoping_filters.prefetch_related("clauses"),
        editor=editor,
        editing=editing,
        editor_url=(
            reverse("apps:scoping_edit", args=[app.id, object_mapping.object_type, editing.id])
            if editing
            else reverse("apps:scoping_new", args=[app.id, object_mapping.object_type])
        ),
        operators=[(o, OPERATOR_HELP[o]) for o in OPERATORS],
        **_tester_context(object_mapping, "scope"),
    )
    if editor:
        return render_region(request, "mappings/scoping.html", "filter-editor", context)
    return render(request, "mappings/scoping.html", context)


def _editor(object_mapping, data=None, scoping_filter=None):
    schema = source_schema(object_mapping.object_type)
    if scoping_filter is not None and data is None:
        initial = [{"attribute": c.attribute, "operator": c.operator, "value": c.value} for c in scoping_filter.clauses.all()]
    else:
        initial = [{"operator": "EQUALS"}]
    form = ScopingFilterForm(data, instance=scoping_filter, prefix="filter")
    clauses = ClauseFormSet(data, initial=None if data else initial, prefix="clause", schema=schema)
    return {"form": form, "clauses": clauses}


@administrators_only
@require_GET
def scoping_page(request, app_id, object_type):
    app, object_mapping = _object_mapping(app_id, object_type)
    return _scoping_page(request, app, object_mapping)


def _scoping_editor_view(request, app_id, object_type, filter_id=None):
    app, object_mapping = _object_mapping(app_id, object_type)
    scoping_filter = None
    if filter_id is not None:
        scoping_filter = get_object_or_404(ScopingFilter, pk=filter_id, object_mapping=object_mapping)
    if request.method == "GET":
        return _scoping_page(request, app, object_mapping, editor=_editor(object_mapping, None, scoping_filter), editing=scoping_filter)
    data = request.POST.copy()
    if "add_clause" in data:
        # Add clause: one more row, nothing saved yet.
        total = int(data.get("clause-TOTAL_FORMS", "0") or 0)
        data[f"clause-{total}-operator"] = "EQUALS"
        data["clause-TOTAL_FORMS"] = str(total + 1)
        editor = _editor(object_mapping, data, scoping_filter)
        editor["fresh"] = True  # don't show errors for rows the admin has not filled in yet
        return _scoping_page(request, app, object_mapping, editor=editor, editing=scoping_filter)
    editor = _editor(object_mapping, data, scoping_filter)
    if not (editor["form"].is_valid() and editor["clauses"].is_valid()):
        return _scoping_page(request, app, object_mapping, editor=editor, editing=scoping_filter)
    with transaction.atomic(), audit.changes(scoping_filter, "Update scoping filter" if scoping_filter else "Add scoping filter",
                                             by=request.user, application=app) as watched:
        saved = watched.obj = editor["form"].save_with(editor["clauses"], object_mapping)
    messages.success(request, f"Scoping filter '{saved.title}' is saved. {FULL_CYCLE}")
    url = reverse("apps:scoping", args=[app.id, object_type])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@administrators_only
@require_http_methods(["GET", "POST"])
def scoping_new(request, app_id, object_type):
    return _scoping_editor_view(request, app_id, object_type)


@administrators_only
@require_http_methods(["GET", "POST"])
def scoping_edit(request, app_id, object_type, filter_id):
    return _scoping_editor_view(request, app_id, object_type, filter_id)


@administrators_only
@require_POST
def scoping_delete(request, app_id, object_type, filter_id):
    app, object_mapping = _object_mapping(app_id, object_type)
    scoping_filter = get_object_or_404(ScopingFilter, pk=filter_id, object_mapping=object_mapping)
    title = scoping_filter.title
    with audit.changes(scoping_filter, "Delete scoping filter", by=request.user, application=app):
        scoping_filter.delete()
    require_full_cycle(app)
    messages.success(request, f"Scoping filter '{title}' is deleted. {FULL_CYCLE}")
    return redirect("apps:scoping", app_id=app.id, object_type=object_type)


@administrators_only
@require_GET
def clause_value(request, app_id, object_type):
    """The value box and hint of one clause row, redrawn when its operator changes."""
    app, object_mapping = _object_mapping(app_id, object_type)
    prefix = _safe_id(request.GET.get("prefix", ""))
    row = _clause_row(prefix, request.GET.get(f"{prefix}-operator", ""), request.GET.get(f"{prefix}-value", ""))
    return render(request, "mappings/scoping.html#clause-value", _base_context(app, object_mapping, row=row))


def _clause_row(prefix, operator, value):
    """What the value cell of a clause row shows for its operator: the box (disabled when unary) and a hint."""
    if operator in UNARY_OPERATORS:
        hint = f"No value: {operator} tests the attribute alone."
    elif operator in ("Greater_Than", "Greater_Than_OR_EQUALS"):
        hint = "An integer, e.g. 1000000 (both sides must be whole numbers)."
    elif operator in ("REGEX MATCH", "NOT REGEX MATCH"):
        hint = "A regular expression, e.g. ^Sales.* or .*@contoso\\.com$ ; add (?i) to ignore case."
    elif operator in ("&", "!&"):
        hint = "The text the attribute's value must occur in, e.g. Sales,Marketing."
    else:
        hint = "Text; the comparison is case-sensitive."
    return {
        "prefix": prefix,
        "operator": operator if operator in OPERATORS else "",
        "value": "" if operator in UNARY_OPERATORS else (value or ""),
        "unary": operator in UNARY_OPERATORS,
        "hint": hint,
        "help": OPERATOR_HELP.get(operator, ""),
    }


@administrators_only
@require_POST
def scoping_test(request, app_id, object_type):
    app, object_mapping = _object_mapping(app_id, object_type)
    subject = _subject(object_type, request.POST.get("subject"))
    context = _base_context(app, object_mapping, subject=subject, tested=True, subject_noun=_subject_noun(object_type))
    if subject is not None:
        specs = [
            ScopingFilterSpec(f.title, tuple(Clause(c.attribute, c.operator, c.value) for c in f.clauses.all()))
            for f in object_mapping.scoping_filters.prefetch_related("clauses")
        ]
        try:
            context["decision"] = evaluate_scope(specs, subject_attributes(object_type, subject))
        except ScopingRegexTimeout as timeout:
            context["scope_error"] = timeout
    return render(request, "mappings/scoping.html#scope-result", context)


_MAPPING = "apps/<int:app_id>/mappings/<str:object_type>/"

urlpatterns = [
    # Application-wide routes first: "export" and "import" are not object types.
    path("apps/<int:app_id>/mappings/export/", export_mappings, name="mappings_export"),
    path("apps/<int:app_id>/mappings/import/", import_mappings, name="mappings_import"),
    path(_MAPPING, mappings_page, name="mappings"),
    path(f"{_MAPPING}attributes/new/", attribute_new, name="mapping_new"),
    path(f"{_MAPPING}attributes/<int:mapping_id>/", attribute_edit, name="mapping_edit"),
    path(f"{_MAPPING}attributes/<int:mapping_id>/delete/", attribute_delete, name="mapping_delete"),
    path(f"{_MAPPING}check-expression/", expression_check, name="mapping_check_expression"),
    path(f"{_MAPPING}tester/", expression_tester, name="mapping_tester"),
    path(f"{_MAPPING}subjects/", subject_options, name="mapping_subjects"),
    path(f"{_MAPPING}restore-defaults/", restore_defaults, name="mappings_restore"),
    path(f"{_MAPPING}refresh-target-schema/", refresh_target_schema, name="mappings_refresh_target"),
    path(f"{_MAPPING}scoping/", scoping_page, name="scoping"),
    path(f"{_MAPPING}scoping/new/", scoping_new, name="scoping_new"),
    path(f"{_MAPPING}scoping/<int:filter_id>/", scoping_edit, name="scoping_edit"),
    path(f"{_MAPPING}scoping/<int:filter_id>/delete/", scoping_delete, name="scoping_delete"),
    path(f"{_MAPPING}scoping/clause-value/", clause_value, name="scoping_clause_value"),
    path(f"{_MAPPING}scoping/test/", scoping_test, name="scoping_test"),
]
