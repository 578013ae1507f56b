"""engine.status: what the Overview says about a finished cycle that provisioned nothing (real cycles, real target)."""

import pytest

from provisioning.engine.cycle import run_cycle, start_provisioning
from provisioning.engine.status import idle_cycle, overview
from provisioning.models import Application
from tests import factories

pytestmark = pytest.mark.django_db


def cycle_now(app):
    app.refresh_from_db()
    cycle = run_cycle(start_provisioning(app))
    cycle.refresh_from_db()
    return cycle


def test_scope_assigned_with_nothing_assigned_says_so_and_what_to_do(scim_app):
    factories.DirectoryUserFactory.create_batch(3)
    cycle_now(scim_app)

    idle = overview(scim_app).idle
    assert idle.text == "Nothing was provisioned: scope is 'Sync only assigned users and groups' and nothing is assigned."
    assert [page for _, page in idle.fixes] == ["assignments", "scope"]


def test_a_scoping_filter_that_excludes_everyone_is_named(scim_app):
    users = factories.DirectoryUserFactory.create_batch(4, department="Sales")
    for user in users:
        factories.AssignmentFactory(application=scim_app, user=user)
    mapping = scim_app.object_mappings.get(object_type="user")
    engineering = factories.ScopingFilterFactory(object_mapping=mapping, title="Engineering only")
    factories.ScopingClauseFactory(scoping_filter=engineering, attribute="department", operator="EQUALS", value="Engineering")
    cycle_now(scim_app)

    idle = overview(scim_app).idle
    assert idle.text == ("Nothing was provisioned: all 4 users are out of scope: scoping filter 'Engineering only' "
                         "excluded them.")
    assert idle.fixes == (("Edit the filter", "scoping:user"),)


def test_mixed_causes_are_counted_each(scim_app):
    sales = factories.DirectoryUserFactory.create_batch(2, department="Sales")
    disabled = factories.DirectoryUserFactory.create_batch(1, department="Engineering", account_enabled=False)
    for user in sales + disabled:
        factories.AssignmentFactory(application=scim_app, user=user)
    mapping = scim_app.object_mappings.get(object_type="user")
    engineering = factories.ScopingFilterFactory(object_mapping=mapping, title="Engineering only")
    factories.ScopingClauseFactory(scoping_filter=engineering, attribute="department", operator="EQUALS", value="Engineering")
    cycle_now(scim_app)

    text = overview(scim_app).idle.text
    assert text == ("Nothing was provisioned: of 3 users, 2 out of scope: scoping filter 'Engineering only' excluded "
                    "them, 1 disabled in the directory (accountEnabled is False).")


def test_a_cycle_that_provisioned_something_needs_no_explanation(scim_app):
    factories.AssignmentFactory(application=scim_app, user=factories.DirectoryUserFactory())
    cycle_now(scim_app)
    assert overview(scim_app).idle is None


def test_an_empty_directory_with_sync_all(scim_app):
    Application.objects.filter(pk=scim_app.pk).update(scope=Application.Scope.ALL)
    cycle_now(scim_app)
    assert overview(scim_app).idle.text.startswith("Nothing was provisioned: the directory has no users or groups yet.")


def test_the_explanation_costs_a_few_queries_whatever_the_size(scim_app, django_assert_max_num_queries):
    users = factories.DirectoryUserFactory.create_batch(30, department="Sales")
    for user in users:
        factories.AssignmentFactory(application=scim_app, user=user)
    mapping = scim_app.object_mappings.get(object_type="user")
    only = factories.ScopingFilterFactory(object_mapping=mapping, title="Engineering only")
    factories.ScopingClauseFactory(scoping_filter=only, attribute="department", operator="EQUALS", value="Engineering")
    cycle = cycle_now(scim_app)
    from provisioning.engine.status import cycle_counts

    counts, unchanged = cycle_counts(cycle)
    with django_assert_max_num_queries(3):
        idle = idle_cycle(scim_app, cycle, counts, unchanged)
    assert "all 30 users are out of scope" in idle.text
