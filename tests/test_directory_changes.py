"""What counts as a change of a directory object (so an incremental cycle sees it), and hard-delete tombstones."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.models import DeletedDirectoryObject, DirectoryGroup, DirectoryUser
from tests import factories

pytestmark = pytest.mark.django_db
LONG_AGO = timezone.now() - timedelta(days=3)


def aged(*objects):
    """Move these rows' updated_at into the past, so a change shows as a newer one."""
    for obj in objects:
        type(obj).objects.filter(pk=obj.pk).update(updated_at=LONG_AGO)


def changed(obj):
    return type(obj).objects.get(pk=obj.pk).updated_at > LONG_AGO


@pytest.fixture
def people():
    users = factories.DirectoryUserFactory.create_batch(3)
    group = factories.DirectoryGroupFactory(members=users[:2])
    aged(*users, group)
    return users, group


def test_adding_and_removing_members_changes_the_group_and_those_users(people):
    users, group = people
    group.members.add(users[2])
    assert changed(group) and changed(users[2]) and not changed(users[0])
    aged(group, users[2])
    users[0].groups.remove(group)  # from the user's side
    assert changed(group) and changed(users[0]) and not changed(users[1])


def test_clearing_a_group_changes_every_former_member(people):
    users, group = people
    group.members.clear()
    assert changed(group) and changed(users[0]) and changed(users[1]) and not changed(users[2])


def test_an_assignment_of_a_group_changes_its_members(people):
    users, group = people
    app = factories.ApplicationFactory(default_mappings=False)
    assignment = factories.AssignmentFactory(application=app, user=None, group=group)
    assert changed(group) and changed(users[0]) and changed(users[1]) and not changed(users[2])
    aged(*users, group)
    assignment.delete()
    assert changed(users[0]) and changed(users[1])


def test_an_assignment_of_a_user_changes_that_user(people):
    users, _ = people
    factories.AssignmentFactory(application=factories.ApplicationFactory(default_mappings=False), user=users[2])
    assert changed(users[2]) and not changed(users[0])


def test_soft_deleting_or_restoring_a_group_changes_its_members(people):
    users, group = people
    group.deleted_at = timezone.now()
    group.save()
    assert changed(users[0]) and changed(users[1]) and not changed(users[2])
    aged(*users)
    group.description = "renamed"
    group.save()
    assert not changed(users[0])  # an ordinary edit of the group is not a change of its members
    group.deleted_at = None
    group.save()
    assert changed(users[0])


def test_a_hard_delete_leaves_a_tombstone_and_changes_the_reports_and_groups(people):
    users, group = people
    users[1].manager = users[0]
    users[1].save()
    aged(*users, group)
    object_id = users[0].object_id

    users[0].delete()

    tombstone = DeletedDirectoryObject.objects.get(object_id=object_id)
    assert (tombstone.object_type, tombstone.user_principal_name) == ("user", users[0].user_principal_name)
    assert changed(users[1]) and changed(group)
    assert DirectoryUser.objects.get(pk=users[1].pk).manager is None


def test_a_deleted_group_leaves_a_tombstone(people):
    _, group = people
    object_id = group.object_id
    DirectoryGroup.objects.filter(pk=group.pk).delete()  # a queryset delete fires the signals too
    assert DeletedDirectoryObject.objects.filter(object_type="group", object_id=object_id).exists()
