"""The Attribute Mapping pages: attribute table and Edit Attribute dialog, expression tester, scoping filters,
Restore default mappings, Export / Import."""

import html
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from provisioning.models import AttributeMapping, ObjectMapping, ScopingClause, ScopingFilter
from tests import factories

HTMX = {"HTTP_HX_REQUEST": "true"}
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def app(db):
    return factories.ApplicationFactory(name="Contoso HR")


@pytest.fixture
def users(app):
    return ObjectMapping.objects.get(application=app, object_type="user")


@pytest.fixture
def person(db):
    return factories.DirectoryUserFactory(
        given_name="Ada", surname="Lovelace", display_name="Ada Lovelace", user_principal_name="ada@contoso.example",
        department="Sales",
    )


def url(name, app, *args, object_type="user"):
    return reverse(f"apps:{name}", args=[app.id, object_type, *args])


def mapping_post(**overrides):
    data = {
        "mapping_type": "direct",
        "source_attribute": "jobTitle",
        "constant_value": "",
        "expression": "",
        "default_value": "",
        "target_attribute": f"{ENTERPRISE}:division",
        "is_matching": "no",
        "matching_precedence": "",
        "apply_on": "always",
    }
    data.update(overrides)
    return data


def page_urls(app, users):
    mapping = users.attribute_mappings.get(target_attribute="displayName")
    scoping_filter = factories.ScopingFilterFactory(object_mapping=users)
    return [
        ("get", url("mappings", app)),
        ("get", url("mappings", app, object_type="group")),
        ("get", url("mapping_new", app)),
        ("get", url("mapping_edit", app, mapping.id)),
        ("get", url("mapping_delete", app, mapping.id)),
        ("post", url("mapping_check_expression", app)),
        ("post", url("mapping_tester", app)),
        ("get", url("mapping_subjects", app)),
        ("get", url("scoping", app)),
        ("get", url("scoping_new", app)),
        ("get", url("scoping_edit", app, scoping_filter.id)),
        ("get", url("scoping_clause_value", app)),
        ("post", url("scoping_test", app)),
        ("get", reverse("apps:mappings_export", args=[app.id])),
        ("get", reverse("apps:mappings_import", args=[app.id])),
    ]


# --- access ---------------------------------------------------------------------------------------


def test_every_page_and_partial_answers_administrators(admin_client, app, users):
    for method, address in page_urls(app, users):
        response = getattr(admin_client, method)(address)
        assert response.status_code == 200, (method, address)
        response = getattr(admin_client, method)(address, **HTMX)
        assert response.status_code == 200, (method, address, "htmx")


def test_helpdesk_gets_403_on_every_page_and_write(helpdesk_client, app, users):
    writes = [
        url("mappings", app),
        url("mapping_new", app),
        url("mapping_delete", app, users.attribute_mappings.first().id),
        url("mappings_restore", app),
        url("scoping_new", app),
        url("scoping_delete", app, factories.ScopingFilterFactory(object_mapping=users).id),
        reverse("apps:mappings_import", args=[app.id]),
    ]
    for method, address in page_urls(app, users):
        assert getattr(helpdesk_client, method)(address).status_code == 403, address
    for address in writes:
        assert helpdesk_client.post(address, {"text": "{}"}).status_code == 403, address
    assert users.attribute_mappings.count() == 12 and ScopingFilter.objects.count() == 2


def test_anonymous_is_sent_to_sign_in(client, app):
    response = client.get(url("mappings", app))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_unknown_object_type_is_404(admin_client, app):
    assert admin_client.get(reverse("apps:mappings", args=[app.id, "device"])).status_code == 404


# --- the Attribute Mapping page ------------------------------------------------------------------


def test_page_lists_mappings_and_scope(admin_client, app, users):
    factories.ScopingClauseFactory(scoping_filter__object_mapping=users, scoping_filter__title="Sales only", value="Sales")
    page = admin_client.get(url("mappings", app)).content.decode()
    assert "userPrincipalName" in page and 'Join(&quot; &quot;, [givenName], [surname])' in page
    assert "Sales only" in page and "department EQUALS" in page
    assert "Restore default mappings" in page and "Add New Mapping" in page


def test_users_cannot_be_disabled_but_groups_can(admin_client, app, users):
    admin_client.post(url("mappings", app), {"enabled": "no", "action_create": "on"})
    users.refresh_from_db()
    assert users.enabled and users.action_create and not users.action_update and not users.action_delete

    response = admin_client.post(url("mappings", app, object_type="group"), {"enabled": "no", "action_create": "on", "action_update": "on"})
    assert response.status_code == 302
    groups = ObjectMapping.objects.get(application=app, object_type="group")
    assert not groups.enabled and not groups.action_delete


# --- Edit Attribute dialog -----------------------------------------------------------------------


def test_add_edit_and_delete_a_mapping_through_the_dialog(admin_client, app, users):
    response = admin_client.post(url("mapping_new", app), mapping_post(), **HTMX)
    assert response.status_code == 200 and response["HX-Redirect"] == url("mappings", app)
    added = users.attribute_mappings.get(target_attribute=f"{ENTERPRISE}:division")
    assert added.source_attribute == "jobTitle" and added.position == 12

    dialog = admin_client.get(url("mapping_edit", app, added.id), **HTMX).content.decode()
    assert "Edit Attribute" in dialog and "<html" not in dialog
    response = admin_client.post(
        url("mapping_edit", app, added.id),
        mapping_post(mapping_type="expression", source_attribute="jobTitle", expression='ToUpper([department])', apply_on="create_only"),
        **HTMX,
    )
    assert response.status_code == 200 and "HX-Redirect" in response
    added.refresh_from_db()
    assert added.mapping_type == "expression" and added.expression == "ToUpper([department])"
    assert added.source_attribute == ""  # only the field the type uses is kept
    assert added.apply_on == "create_only"

    response = admin_client.post(url("mapping_delete", app, added.id), **HTMX)
    assert response["HX-Redirect"] == url("mappings", app)
    assert not users.attribute_mappings.filter(pk=added.pk).exists()


def test_dialog_without_htmx_is_a_page_and_redirects(admin_client, app, users):
    page = admin_client.get(url("mapping_new", app)).content.decode()
    assert "<html" in page and "Add New Mapping" in page
    response = admin_client.post(url("mapping_new", app), mapping_post(mapping_type="constant", constant_value="Contoso", target_attribute=f"{ENTERPRISE}:organization"))
    assert response.status_code == 302


def test_dialog_errors_name_the_field_and_the_fix(admin_client, app, users):
    cases = [
        (mapping_post(source_attribute=""), "Source attribute is required for a Direct mapping"),
        (mapping_post(mapping_type="constant"), "Constant Value is required"),
        (mapping_post(target_attribute="id"), "id cannot be mapped"),
        (mapping_post(target_attribute="userName"), "is already mapped in this object mapping"),
        (mapping_post(target_attribute='emails[type eq "work".value'), "Target attribute is not a valid SCIM path"),
        (mapping_post(is_matching="yes"), "Matching precedence is required"),
        (mapping_post(is_matching="yes", matching_precedence="1"), "Matching precedence 1 is already used by userName"),
        (
            mapping_post(mapping_type="expression", expression='SelectUniqueValue(Join("", [givenName]), [surname])', is_matching="yes", matching_precedence="2"),
            "SelectUniqueValue cannot be used on a matching attribute",
        ),
    ]
    for data, message in cases:
        response = admin_client.post(url("mapping_new", app), data, **HTMX)
        assert response.status_code == 200 and "HX-Redirect" not in response, message
        assert message in response.content.decode(), message
    assert users.attribute_mappings.count() == 12


def test_the_only_matching_attribute_cannot_lose_matching_or_be_deleted(admin_client, app, users):
    user_name = users.attribute_mappings.get(target_attribute="userName")
    user_name.required = False
    user_name.save()
    response = admin_client.post(
        url("mapping_edit", app, user_name.id), mapping_post(source_attribute="userPrincipalName", target_attribute="userName"), **HTMX
    )
    assert "At least one attribute must be used for matching" in response.content.decode()
    dialog = admin_client.get(url("mapping_delete", app, user_name.id), **HTMX).content.decode()
    assert "the only matching attribute" in dialog and "at least one must remain" in dialog
    response = admin_client.post(url("mapping_delete", app, user_name.id))
    assert response.status_code == 409 and users.attribute_mappings.filter(pk=user_name.pk).exists()


def test_required_mappings_cannot_be_deleted(admin_client, app, users):
    user_name = users.attribute_mappings.get(target_attribute="userName")
    factories.AttributeMappingFactory(object_mapping=users, target_attribute="externalId2", is_matching=True, matching_precedence=2)
    response = admin_client.post(url("mapping_delete", app, user_name.id), **HTMX)
    assert "is a required attribute" in response.content.decode()
    assert users.attribute_mappings.filter(pk=user_name.pk).exists()


def test_inline_validation_shows_the_caret_and_suggestions(admin_client, app):
    address = url("mapping_check_expression", app)
    broken = admin_client.post(address, {"expression": 'Join(".", [givenName] [surname])'}, **HTMX).content.decode()
    assert "after argument 2 of Join" in broken and '<pre class="caret">' in broken
    caret_lines = html.unescape(broken.split('<pre class="caret">')[1].split("</pre>")[0]).splitlines()
    assert caret_lines[-1].index("^") == caret_lines[0].index("[surname]")

    typo = admin_client.post(address, {"expression": 'Joyn(".", [givenName])'}, **HTMX).content.decode()
    assert "unknown function &#x27;Joyn&#x27;" in typo and "did you mean Join?" in typo

    valid = admin_client.post(address, {"expression": 'Join(" ", [givenName], [surname])'}, **HTMX).content.decode()
    assert "✓ Valid expression — reads: givenName, surname" in valid


def test_expression_attributes_are_checked_against_the_source_schema(admin_client, app):
    factories.DirectoryUserFactory(extension_attributes={"extension_costCenter": "4711"})
    address = url("mapping_check_expression", app)
    assert "did you mean [givenName]?" in admin_client.post(address, {"expression": "ToLower([givnName])"}).content.decode()
    assert "reads: extension_costCenter" in admin_client.post(address, {"expression": "ToLower([extension_costCenter])"}).content.decode()
    too_long = admin_client.post(address, {"expression": 'Append("' + "x" * 10_000 + '", "y")'}).content.decode()
    assert "at most 10,000 characters" in too_long


# --- expression tester -----------------------------------------------------------------------------


def test_tester_evaluates_for_a_directory_user(admin_client, app, person):
    response = admin_client.post(
        url("mapping_tester", app), {"expression": 'Join(".", [givenName], [surname], [mail2])', "subject": person.id}, **HTMX
    )
    assert response.status_code == 200 and "The source has no attribute [mail2]" in response.content.decode()

    page = admin_client.post(
        url("mapping_tester", app), {"expression": 'Join(".", ToLower([givenName]), [surname], [jobTitle])', "subject": person.id, "tester": "page"}, **HTMX
    ).content.decode()
    assert 'id="page-result"' in page
    assert "<output class=\"mono\">ada.Lovelace.Engineer</output>" in page
    for attribute, value in (("givenName", "Ada"), ("surname", "Lovelace"), ("jobTitle", "Engineer")):
        assert f"[{attribute}]" in page and value in page


def test_tester_shows_null_for_absent_attributes_and_uses_test_values(admin_client, app, person):
    page = admin_client.post(
        url("mapping_tester", app), {"expression": "Coalesce([employeeId], [mailNickname])", "subject": person.id, "test__employeeId": "(null)"}
    ).content.decode()
    assert "<output class=\"mono\">ada</output>" in page and "(with test values)" in page

    page = admin_client.post(url("mapping_tester", app), {"expression": "Append([department], \"-x\")", "subject": person.id, "test__department": "Legal"}).content.decode()
    assert "Legal-x" in page

    nobody = factories.DirectoryUserFactory(job_title="")
    page = admin_client.post(url("mapping_tester", app), {"expression": "[jobTitle]", "subject": nobody.id}).content.decode()
    assert "(null)" in page and "does not flow" in page


def test_tester_shows_redact_and_errors(admin_client, app, person):
    page = admin_client.post(url("mapping_tester", app), {"expression": "Redact([mail])", "subject": person.id}).content.decode()
    assert "<output class=\"mono\">[Redact]</output>" in page
    assert "ada@contoso.example" not in page  # not in the value, nor in the attributes-read table

    page = admin_client.post(url("mapping_tester", app), {"expression": "Joyn([mail])", "subject": person.id}).content.decode()
    assert "The expression cannot be evaluated" in page and "did you mean Join?" in page


def test_subject_search_by_name_and_upn(admin_client, app, person):
    factories.DirectoryUserFactory(display_name="Grace Hopper", user_principal_name="grace@contoso.example")
    found = admin_client.get(url("mapping_subjects", app), {"q": "lovel", "tester": "dialog"}, **HTMX).content.decode()
    assert 'id="dialog-subject"' in found and "Ada Lovelace" in found and "Grace" not in found
    found = admin_client.get(url("mapping_subjects", app), {"q": "grace@"}).content.decode()
    assert "Grace Hopper" in found and "Ada" not in found
    group = factories.DirectoryGroupFactory(display_name="Sales team")
    found = admin_client.get(url("mapping_subjects", app, object_type="group"), {"q": "sales"}).content.decode()
    assert f'value="{group.id}"' in found


# --- scoping filters -------------------------------------------------------------------------------


def scoping_post(title, clauses, **extra):
    data = {"filter-title": title, "clause-TOTAL_FORMS": str(len(clauses)), "clause-INITIAL_FORMS": "0"}
    for i, (attribute, operator, value) in enumerate(clauses):
        data.update({f"clause-{i}-attribute": attribute, f"clause-{i}-operator": operator, f"clause-{i}-value": value})
    data.update(extra)
    return data


def test_scoping_filter_is_saved_and_listed(admin_client, app, users):
    response = admin_client.post(
        url("scoping_new", app), scoping_post("Sales", [("department", "EQUALS", "Sales"), ("accountEnabled", "IS TRUE", "stale")]), **HTMX
    )
    assert response["HX-Redirect"] == url("scoping", app)
    saved = users.scoping_filters.get()
    assert [(c.attribute, c.operator, c.value) for c in saved.clauses.all()] == [("department", "EQUALS", "Sales"), ("accountEnabled", "IS TRUE", "")]
    page = admin_client.get(url("scoping", app)).content.decode()
    assert "Sales" in page and "Clauses within a filter are AND-ed" in page and "Filters are OR-ed" in page

    response = admin_client.post(url("scoping_edit", app, saved.id), scoping_post("Sales EMEA", [("department", "ENDS_WITH", "es")]))
    assert response.status_code == 302
    saved.refresh_from_db()
    assert saved.title == "Sales EMEA" and saved.clauses.get().operator == "ENDS_WITH"

    admin_client.post(url("scoping_delete", app, saved.id))
    assert not users.scoping_filters.exists()


def test_scoping_editor_refuses_manager_and_bad_values_with_the_reason(admin_client, app, users):
    response = admin_client.post(
        url("scoping_new", app),
        scoping_post("Bad", [("manager", "IS NOT NULL", ""), ("employeeId", "Greater_Than", "ten"), ("department", "REGEX MATCH", "(")]),
        **HTMX,
    )
    page = response.content.decode()
    assert "&#x27;manager&#x27; cannot be used in a scoping filter: manager is a reference attribute" in page
    assert "compares integers only" in page and "not a valid regular expression" in page
    assert not ScopingFilter.objects.exists()

    empty = admin_client.post(url("scoping_new", app), scoping_post("", [("", "EQUALS", "")]), **HTMX).content.decode()
    assert "Scoping Filter Title is required" in empty and "needs at least one clause" in empty


def test_add_clause_adds_a_row_without_saving(admin_client, app):
    page = admin_client.post(url("scoping_new", app), scoping_post("Sales", [("department", "EQUALS", "Sales")], add_clause="1"), **HTMX).content.decode()
    assert 'name="clause-1-operator"' in page and "was not saved" not in page
    assert not ScopingFilter.objects.exists()


def test_clause_value_disables_the_value_for_unary_operators(admin_client, app):
    unary = admin_client.get(url("scoping_clause_value", app), {"prefix": "clause-0", "clause-0-operator": "IS NULL", "clause-0-value": "x"}).content.decode()
    assert "disabled" in unary and "No value: IS NULL" in unary and 'value="x"' not in unary
    integer = admin_client.get(url("scoping_clause_value", app), {"prefix": "clause-0", "clause-0-operator": "Greater_Than"}).content.decode()
    assert "An integer" in integer and "disabled" not in integer


def test_test_against_a_user_explains_every_clause(admin_client, app, users, person):
    sales = factories.ScopingFilterFactory(object_mapping=users, title="Sales")
    factories.ScopingClauseFactory(scoping_filter=sales, attribute="department", operator="EQUALS", value="Sales")
    factories.ScopingClauseFactory(scoping_filter=sales, attribute="jobTitle", operator="EQUALS", value="Manager")
    page = admin_client.post(url("scoping_test", app), {"subject": person.id}, **HTMX).content.decode()
    assert "Out of scope" in page and "Filter &#x27;Sales&#x27;" in page
    assert page.count("pill-success\">Passed") == 1 and page.count("pill-failure\">Failed") == 2  # one clause passes; the other and the filter fail
    assert 'jobTitle EQUALS &quot;Manager&quot; — value was &quot;Engineer&quot;' in page

    factories.ScopingClauseFactory(scoping_filter__object_mapping=users, scoping_filter__title="Engineers", attribute="jobTitle", value="Engineer")
    page = admin_client.post(url("scoping_test", app), {"subject": person.id}).content.decode()
    assert "In scope" in page and "Filter &#x27;Engineers&#x27; matched" in page

    missing = admin_client.post(url("scoping_test", app), {"subject": ""}).content.decode()
    assert "Choose a directory user" in missing


# --- Restore defaults, Export, Import ----------------------------------------------------------------


def test_restore_default_mappings(admin_client, app, users):
    users.attribute_mappings.filter(target_attribute="title").delete()
    factories.ScopingClauseFactory(scoping_filter__object_mapping=users)
    response = admin_client.post(url("mappings_restore", app))
    assert response.status_code == 302
    users = ObjectMapping.objects.get(application=app, object_type="user")
    assert users.attribute_mappings.filter(target_attribute="title").exists()
    assert not ScopingFilter.objects.exists()


def test_export_then_import_into_another_app_through_the_pages(admin_client, app, users):
    factories.ScopingClauseFactory(scoping_filter__object_mapping=users, scoping_filter__title="Sales", value="Sales")
    AttributeMapping.objects.filter(object_mapping=users, target_attribute="title").update(apply_on="create_only", default_value="Staff")
    response = admin_client.get(reverse("apps:mappings_export", args=[app.id]))
    assert response["Content-Disposition"] == 'attachment; filename="contoso-hr-mappings.json"'
    exported = json.loads(response.content)

    other = factories.ApplicationFactory(name="Fabrikam")
    upload = SimpleUploadedFile("contoso.json", response.content, content_type="application/json")
    response = admin_client.post(reverse("apps:mappings_import", args=[other.id]), {"file": upload})
    assert response.status_code == 302
    again = json.loads(admin_client.get(reverse("apps:mappings_export", args=[other.id])).content)
    assert again.pop("application") == "Fabrikam"
    exported.pop("application")
    assert again == exported


def test_import_lists_every_problem_and_applies_nothing(admin_client, app, users):
    document = json.loads(admin_client.get(reverse("apps:mappings_export", args=[app.id])).content)
    user_mapping = next(m for m in document["objectMappings"] if m["objectType"] == "user")
    user_mapping["attributeMappings"][7]["expression"] = 'Joyn(" ", [givenName])'
    user_mapping["attributeMappings"][2]["targetAttribute"] = "id"
    page = admin_client.post(reverse("apps:mappings_import", args=[app.id]), {"text": json.dumps(document)}).content.decode()
    index = document["objectMappings"].index(user_mapping)
    assert f"objectMappings[{index}].attributeMappings[7].expression</code>: unknown function &#x27;Joyn&#x27;" in page
    assert f"objectMappings[{index}].attributeMappings[2].targetAttribute</code>: id cannot be mapped" in page
    assert "2 problems" in page
    assert users.attribute_mappings.get(position=2).target_attribute == "displayName"


def test_malformed_json_gets_a_clear_message(admin_client, app):
    upload = SimpleUploadedFile("broken.json", b'{"format": "provisioning-portal/mappings",', content_type="application/json")
    response = admin_client.post(reverse("apps:mappings_import", args=[app.id]), {"file": upload})
    assert response.status_code == 200
    assert "not valid JSON" in response.content.decode() and "line 1" in response.content.decode()

    binary = SimpleUploadedFile("photo.json", b"\xff\xd8\xff\xe0", content_type="application/json")
    assert "not UTF-8 text" in admin_client.post(reverse("apps:mappings_import", args=[app.id]), {"file": binary}).content.decode()
    assert "Choose the .json file" in admin_client.post(reverse("apps:mappings_import", args=[app.id]), {}).content.decode()
    assert "must be a JSON object" in admin_client.post(reverse("apps:mappings_import", args=[app.id]), {"text": "[1, 2]"}).content.decode()
    assert ScopingClause.objects.count() == 0


def test_every_configuration_change_makes_the_next_cycle_a_full_one(admin_client, app, users):
    """Entra restarts the job after a mapping or scoping change; an incremental cycle would miss unchanged users."""
    from django.utils import timezone

    title = users.attribute_mappings.get(target_attribute="title")
    scoping_filter = factories.ScopingFilterFactory(object_mapping=users)
    changes = [
        (url("mappings", app), {"action_create": "on", "action_update": "on"}),
        (url("mapping_new", app), mapping_post()),
        (url("mapping_delete", app, title.id), {}),
        (url("scoping_new", app), scoping_post("Sales", [("department", "EQUALS", "Sales")])),
        (url("scoping_delete", app, scoping_filter.id), {}),
        (url("mappings_restore", app), {}),
        (reverse("apps:mappings_import", args=[app.id]), None),  # the export of the restored defaults
    ]
    for address, data in changes:
        if data is None:
            data = {"text": admin_client.get(reverse("apps:mappings_export", args=[app.id])).content.decode()}
        type(app).objects.filter(pk=app.pk).update(watermark=timezone.now())
        assert admin_client.post(address, data).status_code == 302, address
        app.refresh_from_db()
        assert app.watermark is None, address


def test_dialog_shows_the_caret_excerpt_of_a_saved_expression_error(admin_client, app):
    response = admin_client.post(url("mapping_new", app), mapping_post(mapping_type="expression", expression='Join(".", [givenName] [surname])'), **HTMX)
    page = html.unescape(response.content.decode())
    assert "after argument 2 of Join" in page
    excerpt = page.split('<pre class="caret">')[1].split("</pre>")[0].splitlines()
    assert excerpt[1].index("^") == excerpt[0].index("[surname]")


def test_group_tester_reads_group_attributes(admin_client, app, person):
    group = factories.DirectoryGroupFactory(display_name="Sales team", members=[person])
    page = admin_client.post(
        url("mapping_tester", app, object_type="group"), {"expression": 'Join(":", [displayName], Count([members]))', "subject": group.id}
    ).content.decode()
    assert '<output class="mono">Sales team:1</output>' in page
    refused = admin_client.post(url("mapping_tester", app, object_type="group"), {"expression": "[givenName]", "subject": group.id}).content.decode()
    assert "The source has no attribute [givenName]" in refused



def test_save_refuses_a_regex_that_runs_out_of_time_with_the_reason(admin_client, app, users):
    response = admin_client.post(url("scoping_new", app), scoping_post("Runaway", [("department", "REGEX MATCH", "(a+)+$")]), **HTMX)
    page = response.content.decode()
    assert "HX-Redirect" not in response and "cannot be used" in page and "took longer than" in page and "Rewrite the pattern" in page
    assert not ScopingFilter.objects.exists()

    response = admin_client.post(
        url("mapping_new", app), mapping_post(mapping_type="expression", expression='Replace([department], , "(a+)+$", , "x", , )'), **HTMX
    )
    page = response.content.decode()
    assert "HX-Redirect" not in response and "took longer than" in page and "backtracks catastrophically" in page
    assert users.attribute_mappings.count() == 12


# --- the target's attribute list --------------------------------------------------------------------


@pytest.fixture
def schema_app(db, scim_server, scim_tenant_url):
    """An app whose target schema was read from the real scim2-server by Test Connection."""
    from provisioning.engine.connection import check_target

    app = factories.ApplicationFactory(name="Contoso HR", tenant_url=scim_tenant_url, secret_token=scim_server.token)
    assert check_target(app).target_schema
    return app


def test_the_dialog_offers_the_targets_attributes_with_type_and_mutability(admin_client, schema_app):
    body = admin_client.get(url("mapping_new", schema_app), **HTMX).content.decode()
    assert '<select name="target_attribute"' in body
    assert ">name.givenName (string, readWrite)</option>" in body
    assert 'value="id" disabled>id (string, readOnly)</option>' in body
    assert "Send this write-only value to the target" in body


def test_without_a_schema_the_target_attribute_stays_free_text(admin_client, app):
    body = admin_client.get(url("mapping_new", app), **HTMX).content.decode()
    assert '<input type="text" name="target_attribute"' in body and "does not publish its attributes" in body


def test_save_refuses_an_attribute_the_target_does_not_have(admin_client, schema_app):
    response = admin_client.post(url("mapping_new", schema_app), mapping_post(target_attribute="badgeNumber"), **HTMX)
    body = html.unescape(response.content.decode())
    assert "The mapping was not saved" in body
    assert "'badgeNumber' is refused: the target's User core schema has no attribute 'badgeNumber'" in body
    assert not AttributeMapping.objects.filter(target_attribute="badgeNumber").exists()


def test_save_refuses_a_boolean_constant_that_is_not_true_or_false(admin_client, schema_app):
    users = schema_app.object_mappings.get(object_type="user")
    active = users.attribute_mappings.get(target_attribute="active")
    post = mapping_post(mapping_type="constant", source_attribute="", constant_value="yes", target_attribute="active")
    body = html.unescape(admin_client.post(url("mapping_edit", schema_app, active.id), post, **HTMX).content.decode())
    assert "active takes a Boolean: enter True or False, not 'yes'" in body
    active.refresh_from_db()
    assert active.mapping_type == "expression"


def test_save_takes_password_only_when_confirmed(admin_client, schema_app):
    post = mapping_post(target_attribute="password", source_attribute="mail")
    body = html.unescape(admin_client.post(url("mapping_new", schema_app), post, **HTMX).content.decode())
    assert "password is write-only" in body
    response = admin_client.post(url("mapping_new", schema_app), {**post, "confirm_write_only": "on"}, **HTMX)
    assert response.status_code == 200 and response.headers.get("HX-Redirect")
    assert AttributeMapping.objects.filter(target_attribute="password").exists()


def test_the_page_lists_the_targets_attributes_and_refresh_reads_them_again(admin_client, schema_app):
    body = admin_client.get(url("mappings", schema_app)).content.decode()
    assert "Contoso HR attribute list" in body and "attributes of User" in body
    type(schema_app).objects.filter(pk=schema_app.pk).update(target_schema={})
    response = admin_client.post(url("mappings_refresh_target", schema_app), follow=True)
    assert "The target&#x27;s attribute list is refreshed" in response.content.decode()
    schema_app.refresh_from_db()
    assert schema_app.target_schema


def test_refresh_without_credentials_says_what_to_do(admin_client, db):
    app = factories.ApplicationFactory(name="No creds", tenant_url="", secret_token="")
    response = admin_client.post(url("mappings_refresh_target", app), follow=True)
    assert "Save the Tenant URL and Admin Credentials on the Provisioning page first" in response.content.decode()


def test_saved_mappings_the_target_does_not_have_are_flagged(admin_client, schema_app):
    users = schema_app.object_mappings.get(object_type="user")
    factories.AttributeMappingFactory(object_mapping=users, target_attribute="badgeNumber", mapping_type="direct",
                                      source_attribute="mail", position=98)
    body = html.unescape(admin_client.get(url("mappings", schema_app)).content.decode())
    assert ("Not in the app's schema: the target's User core schema has no attribute 'badgeNumber' — did you mean "
            "'phoneNumbers'? Edit or delete this mapping.") in body
    assert body.count("Edit or delete this mapping.") == 1  # the defaults all exist on scim2-server


def test_the_scoping_tester_shows_a_regex_out_of_time_as_a_failure(admin_client, app, users):
    person = factories.DirectoryUserFactory(display_name="Ada Runaway", extension_attributes={"extension_costCenter": "a" * 5000 + "b"})
    runaway = factories.ScopingFilterFactory(object_mapping=users, title="Runaway")
    factories.ScopingClauseFactory(scoping_filter=runaway, attribute="extension_costCenter", operator="REGEX MATCH", value="(a+)+$")
    response = admin_client.post(url("scoping_test", app), {"subject": person.id}, **HTMX)
    page = response.content.decode()
    assert response.status_code == 200 and "Ada Runaway would fail provisioning" in page
    assert "took longer than" in page and "Edit the scoping filter" in page
    assert "Out of scope" not in page
