"""The one directory search (DirectoryUser.objects.search, DirectoryGroup.objects.search) and each of its callers."""

import pytest
from django.urls import reverse

from provisioning.forms.assignments import filter_assignments
from provisioning.forms.on_demand import group_members
from provisioning.models import ApiToken, Assignment, DirectoryGroup, DirectoryUser
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def zoe():
    return factories.DirectoryUserFactory(given_name="Zoë", surname="Müller", display_name="Zoë Müller",
                                          user_principal_name="zoe.m@contoso.example", mail="zm@contoso.example",
                                          employee_id="E4711")


@pytest.fixture
def other():
    return factories.DirectoryUserFactory(given_name="Other", surname="Person", display_name="Other Person")


@pytest.mark.parametrize("query", ["Zoë", "Müller", "zoë müller", "ë Mü", "zoe.m", "zm@", "e4711", " Zoë "])
def test_it_finds_users_by_first_last_display_upn_mail_or_employee_id(zoe, other, query):
    assert list(DirectoryUser.objects.search(query)) == [zoe]


def test_it_finds_a_user_by_object_id(zoe, other):
    assert list(DirectoryUser.objects.search(str(zoe.object_id))) == [zoe]


def test_names_and_addresses_match_from_their_start_only(zoe, other):
    # "ller" is inside the display name (anywhere) but is not the start of the surname, UPN or mail.
    assert list(DirectoryUser.objects.search("ller")) == [zoe]
    assert list(DirectoryUser.objects.search("contoso")) == []
    assert list(DirectoryUser.objects.search("4711")) == []  # employeeId matches whole


def test_blank_text_finds_everyone(zoe, other):
    assert set(DirectoryUser.objects.search("  ")) == {zoe, other}
    assert set(DirectoryUser.objects.search(None)) == {zoe, other}


def test_it_chains_with_other_filters_and_related_managers(zoe, other):
    zoe.deleted_at = zoe.created_at
    zoe.save()
    assert list(DirectoryUser.objects.active().search("Zoë")) == []
    group = factories.DirectoryGroupFactory(members=[zoe, other])
    assert list(group.members.search("other")) == [other]


def test_groups_by_display_name_mail_nickname_or_object_id():
    sales = factories.DirectoryGroupFactory(display_name="Sales EMEA", mail_nickname="sales-emea")
    factories.DirectoryGroupFactory(display_name="Engineering", mail_nickname="eng")
    assert list(DirectoryGroup.objects.search("emea")) == [sales]
    assert list(DirectoryGroup.objects.search("sales-")) == [sales]
    assert list(DirectoryGroup.objects.search(str(sales.object_id))) == [sales]
    assert list(DirectoryGroup.objects.search("-emea")) == []  # a mailNickname matches from its start


# ------------------------------------------------------------------------------------ the callers


def test_the_assignments_filter_uses_it(zoe, other):
    app = factories.ApplicationFactory()
    sales = factories.DirectoryGroupFactory(display_name="Sales EMEA")
    mine = factories.AssignmentFactory(application=app, user=zoe)
    factories.AssignmentFactory(application=app, user=other)
    group = factories.AssignmentFactory(application=app, user=None, group=sales)
    found = filter_assignments(Assignment.objects.filter(application=app), "zm@")
    assert list(found) == [mine]
    assert list(filter_assignments(Assignment.objects.filter(application=app), "emea")) == [group]


def test_the_on_demand_member_search_uses_it(zoe, other):
    group = factories.DirectoryGroupFactory(members=[zoe, other])
    assert list(group_members(group, "E4711")) == [zoe]
    assert list(group_members(group, "")) == [other, zoe]


def test_the_on_demand_and_assignment_pickers_use_it(admin_client, zoe, other):
    app = factories.ApplicationFactory()
    body = admin_client.get(reverse("apps:on_demand_search", args=[app.id]), {"q": "E4711"}).text
    assert "Zoë Müller" in body and "Other Person" not in body
    body = admin_client.get(reverse("apps:users_groups", args=[app.id]), {"add": "1", "dq": "e4711"}).text
    assert "Zoë Müller" in body and "Other Person" not in body


def test_the_directory_page_uses_it(admin_client, zoe, other):
    body = admin_client.get(reverse("apps:directory_users"), {"q": "E4711"}).text
    assert "Zoë Müller" in body and "Other Person" not in body


def test_the_api_search_uses_it(client, zoe, other):
    token = factories.ApiTokenFactory(name="search", role=ApiToken.Role.READ_ONLY)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token.text}"}
    answer = client.get("/api/v1/users", {"$search": '"displayName:Zoë"'}, **headers).json()
    assert [u["userPrincipalName"] for u in answer["value"]] == ["zoe.m@contoso.example"]
    answer = client.get("/api/v1/users", {"$search": "e4711"}, **headers).json()
    assert [u["userPrincipalName"] for u in answer["value"]] == ["zoe.m@contoso.example"]
    sales = factories.DirectoryGroupFactory(display_name="Sales EMEA")
    factories.DirectoryGroupFactory(display_name="Engineering")
    answer = client.get("/api/v1/groups", {"$search": "displayName:emea"}, **headers).json()
    assert [g["id"] for g in answer["value"]] == [str(sales.object_id)]
