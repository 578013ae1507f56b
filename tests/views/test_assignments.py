"""Users and groups: the assignment list and its search, the Add user/group picker, assign and remove."""

import pytest
from django.urls import reverse

from provisioning.models import Application, Assignment
from tests import factories

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def app(db):
    return factories.ApplicationFactory(name="Contoso HR")


@pytest.fixture
def jane(db):
    return factories.DirectoryUserFactory(
        given_name="Jane", surname="Doe", display_name="Jane Doe", user_principal_name="jane.doe@contoso.example",
        mail="jane@contoso.example",
    )


@pytest.fixture
def john(db):
    return factories.DirectoryUserFactory(
        given_name="John", surname="Smith", display_name="John Smith", user_principal_name="jsmith@contoso.example"
    )


@pytest.fixture
def sales(db):
    return factories.DirectoryGroupFactory(display_name="Sales EMEA")


def page(app):
    return reverse("apps:users_groups", args=[app.id])


# ---- Access ----------------------------------------------------------------------------------


def test_helpdesk_gets_403_everywhere(helpdesk_client, app, jane):
    assignment = factories.AssignmentFactory(application=app, user=jane)
    assert helpdesk_client.get(page(app)).status_code == 403
    assert helpdesk_client.get(page(app), {"q": "jane"}, **HTMX).status_code == 403
    assert helpdesk_client.get(reverse("apps:directory_search", args=[app.id]), {"dq": "ja"}, **HTMX).status_code == 403
    assert helpdesk_client.post(reverse("apps:assign", args=[app.id]), {"users": [jane.id]}).status_code == 403
    assert helpdesk_client.post(reverse("apps:unassign", args=[app.id]), {"assignment": assignment.id}).status_code == 403
    assert Assignment.objects.filter(pk=assignment.pk).exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, app):
    response = client.get(page(app))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# ---- The list ---------------------------------------------------------------------------------


def test_it_lists_assigned_users_and_groups(admin_client, app, jane, sales):
    factories.AssignmentFactory(application=app, user=jane)
    factories.AssignmentFactory(application=app, user=None, group=sales)
    factories.AssignmentFactory(user=factories.DirectoryUserFactory(display_name="Elsewhere Only"))  # another app
    response = admin_client.get(page(app))
    assert response.status_code == 200
    body = response.content.decode()
    for text in ["Display name", "Object type", "Email / UPN", "Role assigned", "Jane Doe", "jane@contoso.example",
                 "jane.doe@contoso.example", "Sales EMEA", "<td>Group</td>", "<td>User</td>", "2 assignments"]:
        assert text in body, text
    assert "Elsewhere Only" not in body
    assert body.index("Jane Doe") < body.index("Sales EMEA")


def test_the_search_returns_only_the_table_for_htmx(admin_client, app, jane, john, sales):
    for principal in (jane, john):
        factories.AssignmentFactory(application=app, user=principal)
    factories.AssignmentFactory(application=app, user=None, group=sales)
    response = admin_client.get(page(app), {"q": "jsmith"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and body.lstrip().startswith('<div id="assignment-table">')
    assert "John Smith" in body and "Jane Doe" not in body and "Sales EMEA" not in body
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_full_page(admin_client, app):
    response = admin_client.get(page(app), {"q": "x"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    assert "<html" in response.content.decode()


def test_the_search_matches_groups_by_display_name_and_keeps_the_query_in_the_full_page(admin_client, app, jane, sales):
    factories.AssignmentFactory(application=app, user=jane)
    factories.AssignmentFactory(application=app, user=None, group=sales)
    body = admin_client.get(page(app), {"q": "emea"}).content.decode()
    assert "Sales EMEA" in body and "Jane Doe" not in body
    assert 'name="q" value="emea"' in body
    assert 'hx-push-url="true"' in body


def test_an_empty_search_says_so(admin_client, app):
    assert "No assignment matches “nobody”." in admin_client.get(page(app), {"q": "nobody"}).content.decode()


def test_an_app_without_assignments_says_how_to_add_some(admin_client, app):
    assert "No users or groups are assigned to Contoso HR." in admin_client.get(page(app)).content.decode()


def test_sync_all_scope_shows_that_assignments_do_not_limit_scope(admin_client, app):
    assert "do not limit who is provisioned" not in admin_client.get(page(app)).content.decode()
    app.scope = Application.Scope.ALL
    app.save()
    assert "do not limit who is provisioned" in admin_client.get(page(app)).content.decode()


# ---- Add user/group ---------------------------------------------------------------------------


def test_the_add_panel_opens_with_a_directory_search(admin_client, app, jane):
    body = admin_client.get(page(app), {"add": "1"}).content.decode()
    assert "Add Assignment" in body
    assert reverse("apps:directory_search", args=[app.id]) in body
    assert "Type a display name" in body


@pytest.mark.parametrize("query", ["Jane", "Doe", "jane.doe@", "jane@contoso", "ne Do"])
def test_directory_search_finds_users_by_name_upn_and_mail(admin_client, app, jane, john, query):
    response = admin_client.get(reverse("apps:directory_search", args=[app.id]), {"dq": query}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="directory-search-results">')
    assert f'name="users" value="{jane.id}"' in body
    assert "John Smith" not in body


def test_directory_search_finds_groups_by_display_name_and_marks_assigned_ones(admin_client, app, sales):
    factories.AssignmentFactory(application=app, user=None, group=sales)
    body = admin_client.get(reverse("apps:directory_search", args=[app.id]), {"dq": "sales"}, **HTMX).content.decode()
    assert f'name="groups" value="{sales.id}" id="pick-group-{sales.id}" disabled' in body
    assert "Assigned" in body


def test_directory_search_without_matches_says_so(admin_client, app):
    body = admin_client.get(reverse("apps:directory_search", args=[app.id]), {"dq": "zzz"}, **HTMX).content.decode()
    assert "No users or groups match “zzz”." in body


def test_directory_search_without_htmx_opens_the_full_page(admin_client, app, jane):
    response = admin_client.get(reverse("apps:directory_search", args=[app.id]), {"dq": "jane"}, follow=True)
    body = response.content.decode()
    assert "Add Assignment" in body and f'name="users" value="{jane.id}"' in body


def test_it_assigns_the_selected_users_and_groups(admin_client, app, jane, john, sales):
    response = admin_client.post(reverse("apps:assign", args=[app.id]), {"users": [jane.id, john.id], "groups": [sales.id]})
    assert response.status_code == 302 and response["Location"] == page(app)
    assert set(app.assignments.values_list("user_id", flat=True)) == {jane.id, john.id, None}
    assert app.assignments.filter(group=sales).exists()
    body = admin_client.get(page(app)).content.decode()
    assert "Assigned to Contoso HR: Jane Doe, John Smith, Sales EMEA." in body


def test_a_duplicate_assignment_is_a_friendly_message(admin_client, app, jane, john):
    factories.AssignmentFactory(application=app, user=jane)
    response = admin_client.post(reverse("apps:assign", args=[app.id]), {"users": [jane.id, john.id]}, follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Assigned to Contoso HR: John Smith." in body
    assert "Already assigned, left as they were: Jane Doe." in body
    assert app.assignments.filter(user=jane).count() == 1


def test_assign_without_a_selection_explains(admin_client, app):
    response = admin_client.post(reverse("apps:assign", args=[app.id]), {"dq": "ja"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was assigned." in body
    assert "Select at least one user or group to assign, then select Assign." in body
    assert "Add Assignment" in body


def test_assign_with_a_vanished_user_explains(admin_client, app):
    body = admin_client.post(reverse("apps:assign", args=[app.id]), {"users": ["424242"]}).content.decode()
    assert "A selected user no longer exists in the directory (id 424242)" in body
    assert not app.assignments.exists()


def test_a_selection_of_more_than_a_thousand_is_assigned_in_bulk(admin_client, app, django_assert_max_num_queries):
    from provisioning.models import DirectoryUser

    DirectoryUser.objects.bulk_create(
        [DirectoryUser(user_principal_name=f"u{n:04}@contoso.example", display_name=f"User {n:04}") for n in range(1500)]
    )
    ids = list(DirectoryUser.objects.order_by("display_name").values_list("id", flat=True))
    factories.AssignmentFactory(application=app, user_id=ids[0])
    with django_assert_max_num_queries(40):  # a handful per kind, never one per principal
        response = admin_client.post(reverse("apps:assign", args=[app.id]), {"users": ids})
    assert response.status_code == 302
    assert app.assignments.count() == 1500
    body = admin_client.get(page(app)).content.decode()
    # The message names a few and counts the rest: it does not grow with the selection.
    assert "Assigned to Contoso HR: User 0001, User 0002" in body and "and 1,489 more." in body
    assert "Already assigned, left as they were: User 0000." in body


def test_assigned_users_count_as_changed_for_the_next_incremental_cycle(admin_client, app, jane, sales):
    from datetime import timedelta

    from django.utils import timezone

    from provisioning.models import DirectoryUser

    long_ago = timezone.now() - timedelta(days=3)
    sales.members.add(jane)
    DirectoryUser.objects.filter(pk=jane.pk).update(updated_at=long_ago)
    admin_client.post(reverse("apps:assign", args=[app.id]), {"groups": [sales.id]})
    jane.refresh_from_db()
    assert jane.updated_at > long_ago  # a member of a newly assigned group is in the next incremental cycle


def test_a_selection_over_the_limit_is_refused_in_words(admin_client, app, jane):
    from provisioning.forms.assignments import ASSIGN_LIMIT

    body = admin_client.post(reverse("apps:assign", args=[app.id]), {"users": list(range(1, ASSIGN_LIMIT + 2))}).content.decode()
    assert "Nothing was assigned." in body
    assert f"{ASSIGN_LIMIT + 1:,} users and groups were selected, and one Assign takes at most {ASSIGN_LIMIT:,}" in body
    assert not app.assignments.exists()


def test_a_request_over_the_field_limit_states_the_limit_not_could_not_be_used(admin_client, app, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 50
    response = admin_client.post(reverse("apps:assign", args=[app.id]), {"users": list(range(60))}, **HTMX)
    assert response.status_code == 400
    body = response.content.decode()
    assert "The form sent more than 50 values, the most one request may carry" in body and "data-error-message" in body
    assert "could not be used" not in body


# ---- Remove assignment ------------------------------------------------------------------------


def test_remove_assignment_asks_for_confirmation(admin_client, app, jane):
    factories.AssignmentFactory(application=app, user=jane)
    assert 'hx-confirm="Remove the assignment of Jane Doe?' in admin_client.get(page(app)).content.decode()


def test_it_removes_an_assignment_and_returns_the_table(admin_client, app, jane, john):
    removed = factories.AssignmentFactory(application=app, user=jane)
    factories.AssignmentFactory(application=app, user=john)
    response = admin_client.post(reverse("apps:unassign", args=[app.id]), {"assignment": removed.id, "q": ""}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="assignment-table">')
    assert "Removed the assignment of Jane Doe." in body
    assert "John Smith" in body
    assert not Assignment.objects.filter(pk=removed.pk).exists()


def test_it_removes_an_assignment_without_htmx_too(admin_client, app, jane):
    removed = factories.AssignmentFactory(application=app, user=jane)
    response = admin_client.post(reverse("apps:unassign", args=[app.id]), {"assignment": removed.id, "q": "ja"})
    assert response.status_code == 302 and response["Location"] == f"{page(app)}?q=ja"
    assert not Assignment.objects.filter(pk=removed.pk).exists()


def test_removing_an_assignment_twice_or_of_another_app_is_a_warning_not_an_error(admin_client, app, jane):
    other = factories.AssignmentFactory(user=jane)  # belongs to another app
    response = admin_client.post(reverse("apps:unassign", args=[app.id]), {"assignment": other.id}, **HTMX)
    assert response.status_code == 200
    assert "That assignment no longer exists" in response.content.decode()
    assert Assignment.objects.filter(pk=other.pk).exists()


def test_remove_with_a_malformed_id_explains(admin_client, app):
    response = admin_client.post(reverse("apps:unassign", args=[app.id]), {"assignment": "abc"}, **HTMX)
    assert response.status_code == 200
    assert "The assignment id must be a number" in response.content.decode()
