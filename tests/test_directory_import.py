"""JSON import of directory users and groups (provisioning/directory_import.py)."""

import datetime
import json
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from provisioning import csv_import
from provisioning.directory_import import DirectoryImportResult, import_directory
from provisioning.models import DirectoryGroup, DirectoryUser
from tests.factories import DirectoryGroupFactory, DirectoryUserFactory

pytestmark = pytest.mark.django_db

Membership = DirectoryGroup.members.through
# Fixed objectIds, so messages can be asserted whole.
A, B, C, D = (uuid.UUID(f"{n}" * 8 + "-0000-4000-8000-" + f"{n}" * 12) for n in (1, 2, 3, 4))
G1, G2 = uuid.UUID("aaaaaaaa-0000-4000-8000-aaaaaaaaaaaa"), uuid.UUID("bbbbbbbb-0000-4000-8000-bbbbbbbbbbbb")


def doc(users=None, groups=None, **extra):
    document = dict(extra)
    if users is not None:
        document["users"] = users
    if groups is not None:
        document["groups"] = groups
    return json.dumps(document)


def user(object_id, upn, **attributes):
    return {"objectId": str(object_id), "userPrincipalName": upn, **attributes}


def errors(result):
    return [str(e) for e in result.row_errors]


def imported(*args, **kwargs) -> DirectoryImportResult:
    result = import_directory(*args, **kwargs)
    assert isinstance(result, DirectoryImportResult)
    return result


@pytest.fixture
def long_ago():
    """Sets every directory row's updated_at to one known instant (so 'moved' and 'untouched' are exact)."""
    stamp = timezone.now() - datetime.timedelta(days=3)

    def freeze():
        DirectoryUser.objects.update(updated_at=stamp)
        DirectoryGroup.objects.update(updated_at=stamp)
        return stamp

    return freeze


def stamps(model):
    return dict(model.objects.values_list("object_id", "updated_at"))


class TestCreate:
    def test_users_and_groups_keep_their_object_ids(self):
        result = imported(doc(
            users=[
                user(A, "zoe@contoso.example", displayName="Zoë Müller", givenName="Zoë", surname="Müller",
                     mail="zoe@contoso.example", mailNickname="zoe", jobTitle="Engineer", department="Engineering",
                     employeeId="E1", accountEnabled=False, manager=str(B), extension_costCenter="CC-1"),
                user(B, "lukasz@contoso.example", displayName="Łukasz Żółć"),  # the manager comes later in the file
            ],
            groups=[{"objectId": str(G1), "displayName": "Engineering", "description": "All engineers",
                     "mailNickname": "eng", "members": [str(A), str(B)]}],
            **{"@odata.context": "ignored: other top-level keys are"},
        ))

        assert result.ok, errors(result)
        assert result.users.created == [A, B] and result.groups.created == [G1]
        assert result.summary() == "users: 2 created, 0 updated, 0 unchanged, 0 failed; groups: 1 created, 0 updated, " \
                                   "0 unchanged, 0 failed; pruned: 0 users, 0 groups"
        zoe = DirectoryUser.objects.get(object_id=A)
        assert (zoe.user_principal_name, zoe.display_name, zoe.given_name, zoe.surname, zoe.mail, zoe.mail_nickname,
                zoe.job_title, zoe.department, zoe.employee_id, zoe.account_enabled) == (
            "zoe@contoso.example", "Zoë Müller", "Zoë", "Müller", "zoe@contoso.example", "zoe", "Engineer", "Engineering", "E1", False)
        assert zoe.manager.object_id == B
        assert zoe.extension_attributes == {"extension_costCenter": "CC-1"}
        group = DirectoryGroup.objects.get(object_id=G1)
        assert (group.display_name, group.description, group.mail_nickname) == ("Engineering", "All engineers", "eng")
        assert set(group.members.values_list("object_id", flat=True)) == {A, B}

    def test_a_user_without_object_id_gets_a_new_one_and_derived_names(self):
        result = imported(doc(users=[{"userPrincipalName": "new.person@contoso.example", "givenName": "New", "surname": "Person"}]))
        assert result.ok, errors(result)
        created = DirectoryUser.objects.get()
        assert result.users.created == [created.object_id] and created.object_id.version == 4
        assert (created.display_name, created.mail_nickname, created.account_enabled) == ("New Person", "new.person", True)

    def test_object_ids_in_any_uuid_spelling(self):
        result = imported(doc(users=[{"objectId": A.hex.upper(), "userPrincipalName": "a@contoso.example"}]))
        assert result.ok, errors(result)
        assert DirectoryUser.objects.get().object_id == A


class TestUpdate:
    def test_only_changed_rows_are_written_and_unchanged_keep_their_timestamp(self, long_ago):
        DirectoryUserFactory(object_id=A, user_principal_name="a@contoso.example", department="Sales")
        DirectoryUserFactory(object_id=B, user_principal_name="b@contoso.example", department="Sales")
        DirectoryGroupFactory(object_id=G1, display_name="Sales")
        stamp = long_ago()

        result = imported(doc(
            users=[user(A, "a@contoso.example", department="Marketing"), user(B, "b@contoso.example", department="Sales")],
            groups=[{"objectId": str(G1), "displayName": "Sales"}],
        ))

        assert result.ok, errors(result)
        assert (result.users.updated, result.users.unchanged, result.groups.unchanged) == ([A], [B], [G1])
        users = stamps(DirectoryUser)
        assert users[A] > stamp and users[B] == stamp
        assert stamps(DirectoryGroup)[G1] == stamp
        assert DirectoryUser.objects.get(object_id=A).department == "Marketing"

    def test_reimporting_the_same_file_touches_nothing(self, long_ago):
        DirectoryUserFactory(object_id=D, user_principal_name="boss@contoso.example")
        data = doc(
            users=[user(A, "a@contoso.example", manager=str(B), extension_x=1), user(B, "b@contoso.example", manager=str(D))],
            groups=[{"objectId": str(G1), "displayName": "One", "members": [str(A), str(B)]}],
        )
        assert imported(data).ok
        stamp = long_ago()

        again = imported(data)

        assert again.ok
        assert (again.users.unchanged, again.groups.unchanged) == ([A, B], [G1])
        assert set(stamps(DirectoryUser).values()) == set(stamps(DirectoryGroup).values()) == {stamp}

    def test_a_left_out_key_keeps_the_value_and_null_clears_it(self):
        DirectoryUserFactory(object_id=A, user_principal_name="a@contoso.example", job_title="Engineer", department="Sales")
        result = imported(doc(users=[{"objectId": str(A), "jobTitle": None}]))  # no userPrincipalName: an existing user
        assert result.ok, errors(result)
        updated = DirectoryUser.objects.get()
        assert (updated.user_principal_name, updated.job_title, updated.department) == ("a@contoso.example", "", "Sales")

    def test_a_case_only_rename_of_the_upn(self):
        DirectoryUserFactory(object_id=A, user_principal_name="Zoe@Contoso.example")
        result = imported(doc(users=[user(A, "zoe@contoso.example")]))
        assert result.ok and result.users.updated == [A]
        assert DirectoryUser.objects.get().user_principal_name == "zoe@contoso.example"


class TestManagers:
    def test_managers_in_the_file_and_in_the_directory(self):
        boss = DirectoryUserFactory(object_id=D, user_principal_name="boss@contoso.example")
        result = imported(doc(users=[
            user(A, "dev@contoso.example", manager=str(B)),
            user(B, "lead@contoso.example", manager=str(D)),
        ]))
        assert result.ok, errors(result)
        dev = DirectoryUser.objects.get(object_id=A)
        assert dev.manager.object_id == B and dev.manager.manager == boss

    def test_a_manager_change_updates_only_that_user_and_null_clears(self, long_ago):
        DirectoryUserFactory(object_id=D, user_principal_name="boss@contoso.example")
        lead = DirectoryUserFactory(object_id=B, user_principal_name="lead@contoso.example")
        DirectoryUserFactory(object_id=A, user_principal_name="dev@contoso.example", manager=lead)
        DirectoryUserFactory(object_id=C, user_principal_name="ops@contoso.example", manager=lead)
        stamp = long_ago()

        result = imported(doc(users=[
            user(A, "dev@contoso.example", manager=str(D)),
            user(C, "ops@contoso.example", manager=None),
            user(B, "lead@contoso.example"),  # manager left out: kept (none)
        ]))

        assert result.ok, errors(result)
        assert (result.users.updated, result.users.unchanged) == ([A, C], [B])
        managers = dict(DirectoryUser.objects.values_list("object_id", "manager__object_id"))
        assert (managers[A], managers[C]) == (D, None)
        assert {k: v == stamp for k, v in stamps(DirectoryUser).items()} == {A: False, C: False, B: True, D: True}

    def test_new_users_managing_each_other_and_a_chain_deeper_than_the_insert_waves(self):
        # New users are inserted managers first; a loop and a very deep chain take the second pass instead.
        chain = [uuid.UUID(int=n + 1) for n in range(30)]
        result = imported(doc(users=[
            user(A, "a@contoso.example", manager=str(B)), user(B, "b@contoso.example", manager=str(A)),
            *(user(oid, f"c{n}@contoso.example", manager=str(chain[n - 1]) if n else None) for n, oid in reversed(list(enumerate(chain)))),
        ]))
        assert result.ok, errors(result)
        managers = dict(DirectoryUser.objects.values_list("object_id", "manager__object_id"))
        assert (managers[A], managers[B]) == (B, A)
        assert [managers[oid] for oid in chain] == [None, *chain[:-1]]

    def test_an_existing_user_whose_entry_fails_can_still_be_a_manager(self):
        DirectoryUserFactory(object_id=B, user_principal_name="lead@contoso.example")
        result = imported(doc(users=[user(B, "lead@"), user(A, "dev@contoso.example", manager=str(B))]))
        assert errors(result) == [f"users[0] (objectId {B}): userPrincipalName 'lead@' is not a valid UPN: expected name@domain"]
        assert DirectoryUser.objects.get(object_id=A).manager.object_id == B


class TestExtensionAttributes:
    def test_other_keys_become_extension_attributes_merged_and_null_removes(self):
        DirectoryUserFactory(object_id=A, user_principal_name="a@contoso.example",
                             extension_attributes={"extension_site": "Madrid", "extension_old": "x", "extension_level": 1})
        result = imported(doc(users=[user(A, "a@contoso.example", extension_costCenter="CC-2", extension_old=None,
                                          extension_level=True, extension_ratio=0.5)]))
        assert result.ok and result.users.updated == [A]
        # 1 and true compare equal in Python: the change is still seen.
        assert DirectoryUser.objects.get().extension_attributes == {
            "extension_site": "Madrid", "extension_costCenter": "CC-2", "extension_level": True, "extension_ratio": 0.5}

    def test_same_extension_values_are_unchanged(self, long_ago):
        DirectoryUserFactory(object_id=A, user_principal_name="a@contoso.example", extension_attributes={"extension_n": 1.5})
        stamp = long_ago()
        result = imported(doc(users=[user(A, "a@contoso.example", extension_n=1.5)]))
        assert result.users.unchanged == [A]
        assert stamps(DirectoryUser)[A] == stamp


class TestMemberships:
    def test_members_are_set_and_exactly_the_affected_rows_are_touched(self, long_ago):
        a, b, c, d = (DirectoryUserFactory(object_id=o, user_principal_name=f"{n}@contoso.example") for o, n in zip((A, B, C, D), "abcd"))
        DirectoryGroupFactory(object_id=G1, display_name="One", members=[a, b])
        DirectoryGroupFactory(object_id=G2, display_name="Two", members=[a, d])
        stamp = long_ago()

        result = imported(doc(groups=[
            {"objectId": str(G1), "displayName": "One", "members": [str(B), str(C), str(C)]},  # a leaves, c joins
            {"objectId": str(G2), "displayName": "Two", "members": [str(A), str(D)]},  # as it was
        ]))

        assert result.ok, errors(result)
        assert (result.groups.updated, result.groups.unchanged) == ([G1], [G2])
        assert set(DirectoryGroup.objects.get(object_id=G1).members.values_list("object_id", flat=True)) == {B, C}
        moved = {k for k, v in {**stamps(DirectoryUser), **stamps(DirectoryGroup)}.items() if v != stamp}
        assert moved == {G1, A, C}
        assert result.users.created == result.users.updated == []  # users' own rows were not in the file

    def test_members_left_out_are_kept_and_an_empty_list_empties(self):
        a = DirectoryUserFactory(object_id=A)
        DirectoryGroupFactory(object_id=G1, display_name="One", members=[a])
        DirectoryGroupFactory(object_id=G2, display_name="Two", members=[a])
        result = imported(doc(groups=[{"objectId": str(G1), "displayName": "Renamed"}, {"objectId": str(G2), "members": []}]))
        assert result.ok, errors(result)
        assert list(DirectoryGroup.objects.get(object_id=G1).members.all()) == [a]
        assert not DirectoryGroup.objects.get(object_id=G2).members.exists()
        assert DirectoryGroup.objects.get(object_id=G1).display_name == "Renamed"

    def test_new_users_join_new_and_existing_groups(self, long_ago):
        DirectoryGroupFactory(object_id=G2, display_name="Existing")
        stamp = long_ago()
        result = imported(doc(
            users=[user(A, "a@contoso.example")],
            groups=[{"objectId": str(G1), "displayName": "New", "members": [str(A)]},
                    {"objectId": str(G2), "displayName": "Existing", "members": [str(A)]}],
        ))
        assert result.ok, errors(result)
        assert Membership.objects.count() == 2
        assert result.groups.updated == [G2] and stamps(DirectoryGroup)[G2] > stamp


class TestPrune:
    def test_soft_deletes_what_the_file_misses_and_restores_what_returns(self, long_ago):
        DirectoryUserFactory(object_id=A, user_principal_name="a@contoso.example")
        DirectoryUserFactory(object_id=B, user_principal_name="b@contoso.example")  # missing: pruned
        DirectoryUserFactory(object_id=C, user_principal_name="c@contoso.example", deleted_at=timezone.now())  # returns
        DirectoryUserFactory(object_id=D, user_principal_name="d@contoso.example", deleted_at=timezone.now())  # stays deleted
        DirectoryGroupFactory(object_id=G1, display_name="Kept")
        DirectoryGroupFactory(object_id=G2, display_name="Gone")
        stamp = long_ago()
        d_deleted = DirectoryUser.objects.get(object_id=D).deleted_at

        result = imported(doc(users=[user(A, "a@contoso.example"), user(C, "c@contoso.example")],
                              groups=[{"objectId": str(G1), "displayName": "Kept"}]), prune=True)

        assert result.ok, errors(result)
        assert (result.users.pruned, result.groups.pruned, result.users.restored) == ([B], [G2], [C])
        assert (result.users.updated, result.users.unchanged) == ([C], [A])
        assert result.summary().endswith("pruned: 1 users, 1 groups")
        deleted = dict(DirectoryUser.objects.values_list("object_id", "deleted_at"))
        assert deleted[A] is None and deleted[C] is None and deleted[B] is not None and deleted[D] == d_deleted
        assert DirectoryGroup.objects.get(object_id=G2).deleted_at is not None
        moved = {k for k, v in {**stamps(DirectoryUser), **stamps(DirectoryGroup)}.items() if v != stamp}
        assert moved == {B, C, G2}

    def test_without_prune_nothing_is_deleted_or_restored(self):
        DirectoryUserFactory(object_id=A)
        DirectoryUserFactory(object_id=C, user_principal_name="c@contoso.example", deleted_at=timezone.now())
        result = imported(doc(users=[user(C, "c@contoso.example")]))
        assert result.ok and result.users.pruned == []
        assert DirectoryUser.objects.filter(deleted_at__isnull=True).count() == 1

    def test_only_the_kinds_the_file_lists_are_pruned(self):
        DirectoryUserFactory(object_id=B)
        DirectoryGroupFactory(object_id=G2)
        result = imported(doc(users=[user(A, "a@contoso.example")]), prune=True)
        assert (result.users.pruned, result.groups.pruned) == ([B], [])

    def test_an_entry_that_fails_keeps_its_object(self):
        DirectoryUserFactory(object_id=A, user_principal_name="a@contoso.example")
        DirectoryUserFactory(object_id=B, user_principal_name="b@contoso.example")
        result = imported(doc(users=[user(A, "a@"), {"objectId": "typo", "userPrincipalName": "b@contoso.example"},
                                     user(C, "c@contoso.example")]), prune=True)
        assert len(result.failed_rows) == 2
        assert result.users.pruned == [] and not DirectoryUser.objects.filter(deleted_at__isnull=False).exists()

    def test_an_empty_list_with_prune_is_refused(self):
        DirectoryUserFactory()
        result = imported(doc(users=[]), prune=True)
        assert result.file_errors == ['"users" is an empty list: with --prune that would soft-delete every directory user. '
                                      'Leave the "users" key out to keep them, or delete them in the admin.']
        assert not DirectoryUser.objects.filter(deleted_at__isnull=False).exists()


class TestValidation:
    @pytest.mark.parametrize(("entry", "message"), [
        (user(A, "bob@"), f"users[1] (objectId {A}): userPrincipalName 'bob@' is not a valid UPN: expected name@domain"),
        (user(A, ""), f"users[1] (objectId {A}): userPrincipalName is empty: every user needs one"),
        ({"objectId": str(A), "displayName": "No UPN"},
         f"users[1] (objectId {A}): userPrincipalName is missing: a new user needs one (objectId {A} is not in the directory)"),
        ({"objectId": "12345", "userPrincipalName": "x@contoso.example"},
         'users[1] (objectId 12345): objectId "12345" is not a UUID: expected 32 hex digits such as 6f1c3b2a-9d4e-4f7a-8b1c-2d3e4f5a6b7c'),
        (user(A, "x@contoso.example", mail="x.contoso.example"),
         f"users[1] (objectId {A}): mail 'x.contoso.example' is not an email address: expected name@domain"),
        (user(A, "x@contoso.example", displayName="x" * 257),
         f"users[1] (objectId {A}): displayName is 257 characters long: at most 256 are allowed"),
        (user(A, "x@contoso.example", displayName="Ja\x00ne"),
         f"users[1] (objectId {A}): displayName contains a NUL character (U+0000) at character 3: remove it (it often comes from pasting)"),
        (user(A, "x@contoso.example", department="Sales\u202e"),
         f"users[1] (objectId {A}): department contains the invisible character U+202E (right-to-left override) at character 6: "
         "remove it (it often comes from pasting)"),
        (user(A, "x@contoso.example", surname="x" * 65), f"users[1] (objectId {A}): surname is 65 characters long: at most 64 are allowed"),
        (user(A, "x@contoso.example", accountEnabled="yes"),
         f'users[1] (objectId {A}): accountEnabled is "yes": use true or false (without quotes)'),
        (user(A, "x@contoso.example", employeeId=4711),
         f"users[1] (objectId {A}): employeeId is a number: expected text (in quotes), or null to clear it"),
        (user(A, "x@contoso.example", manager="boss@contoso.example"),
         f'users[1] (objectId {A}): manager "boss@contoso.example" is not a UUID: give the manager\'s objectId, or null for none'),
        (user(A, "x@contoso.example", manager=str(A)),
         f"users[1] (objectId {A}): manager is the user themself: a user cannot be their own manager"),
        (user(A, "x@contoso.example", manager=str(D)),
         f"users[1] (objectId {A}): manager {D} is not a user in the file or the directory"),
        (user(A, "x@contoso.example", extension_tags=["a", "b"]),
         f"users[1] (objectId {A}): extension attribute 'extension_tags' is a list: only text, numbers, true/false and null "
         "(which removes it) can be stored"),
        (user(A, "x@contoso.example", displayname="X"),
         f"users[1] (objectId {A}): 'displayname' is not an attribute name: did you mean 'displayName'? (names are case-sensitive)"),
        ({"id": str(A), "userPrincipalName": "x@contoso.example"},
         "users[1] (userPrincipalName x@contoso.example): 'id' is not an attribute name: did you mean 'objectId'? (names are case-sensitive)"),
        ("x@contoso.example", 'users[1]: is text: each user is an object such as {"userPrincipalName": "…"}'),
    ])
    def test_user_entry_errors(self, entry, message):
        result = imported(doc(users=[user(B, "good@contoso.example"), entry]))
        assert errors(result) == [message]
        assert result.failed_rows == [("users", 1)]
        assert result.users.created == [B]  # the other entries are imported
        assert DirectoryUser.objects.count() == 1

    def test_a_upn_held_by_another_object_id_names_both(self):
        DirectoryUserFactory(object_id=A, user_principal_name="Zoe@contoso.example")
        result = imported(doc(users=[user(B, "zoe@contoso.example"), {"userPrincipalName": "ZOE@contoso.example"}]))
        assert errors(result) == [
            f"users[0] (objectId {B}): userPrincipalName 'zoe@contoso.example' is on users[0], users[1]: each user must appear once",
            f"users[0] (objectId {B}): userPrincipalName 'zoe@contoso.example' belongs to objectId {A} in the directory, "
            f"not to objectId {B}",
            "users[1] (userPrincipalName ZOE@contoso.example): userPrincipalName 'ZOE@contoso.example' is on users[0], users[1]: "
            "each user must appear once",
            "users[1] (userPrincipalName ZOE@contoso.example): userPrincipalName 'ZOE@contoso.example' belongs to objectId "
            f"{A} in the directory, not to a new user (this entry has no objectId): to update that user, give this entry "
            f'"objectId": "{A}"',
        ]

    def test_handing_a_upn_on_in_one_file_says_to_rename_first(self):
        DirectoryUserFactory(object_id=A, user_principal_name="desk@contoso.example")
        result = imported(doc(users=[user(A, "old.desk@contoso.example"), user(B, "desk@contoso.example")]))
        assert errors(result) == [
            f"users[1] (objectId {B}): userPrincipalName 'desk@contoso.example' belongs to objectId {A} in the directory, "
            f"not to objectId {B}; users[0] renames that user: import the rename first, then this entry"]
        assert result.users.updated == [A]

    def test_the_same_object_id_twice(self):
        result = imported(doc(users=[user(A, "a@contoso.example"), user(A, "b@contoso.example")]))
        assert errors(result) == [
            f"users[0] (objectId {A}): objectId {A} is on users[0], users[1]: each user must appear once",
            f"users[1] (objectId {A}): objectId {A} is on users[0], users[1]: each user must appear once",
        ]

    def test_an_entry_that_names_a_failed_manager_fails_too(self):
        result = imported(doc(users=[user(A, "a@contoso.example", manager=str(B)), user(B, "b@", manager=str(C)),
                                     user(C, "c@contoso.example")]))
        assert errors(result) == [
            f"users[0] (objectId {A}): manager {B} is users[1] (objectId {B}), which has errors: fix that entry first",
            f"users[1] (objectId {B}): userPrincipalName 'b@' is not a valid UPN: expected name@domain",
        ]
        assert result.users.created == [C]

    @pytest.mark.parametrize(("group", "message"), [
        ({"objectId": str(G1), "displayName": "G", "members": [str(A), str(D)]},
         f"groups[0] (objectId {G1}): member {D} is not a user in the file or the directory"),
        ({"objectId": str(G1), "displayName": "G", "members": [str(G2)]},
         f"groups[0] (objectId {G1}): member {G2} is a group: only users can be managers and members (nested groups are not supported)"),
        ({"objectId": str(G1), "displayName": "G", "members": [str(B)]},
         f"groups[0] (objectId {G1}): member {B} is users[1] (objectId {B}), which has errors: fix that entry first"),
        ({"objectId": str(G1), "displayName": "G", "members": str(A)},
         f"groups[0] (objectId {G1}): members is text: expected a list of user objectIds"),
        ({"objectId": str(G1), "displayName": "G", "members": ["nobody"]},
         f'groups[0] (objectId {G1}): members[0] "nobody" is not a UUID: list the members\' objectIds'),
        ({"objectId": str(G1), "description": "no name"},
         f"groups[0] (objectId {G1}): displayName is missing: a new group needs one (objectId {G1} is not in the directory)"),
        ({"objectId": str(G1), "displayName": ""}, f"groups[0] (objectId {G1}): displayName is empty: every group needs one"),
        ({"objectId": str(G1), "displayName": "G", "mailNickname": "n" * 65},
         f"groups[0] (objectId {G1}): mailNickname is 65 characters long: at most 64 are allowed"),
    ])
    def test_group_entry_errors(self, group, message):
        result = imported(doc(users=[user(A, "a@contoso.example"), user(B, "b@")],
                              groups=[group, {"objectId": str(G2), "displayName": "Good", "members": [str(A)]}]))
        assert [e for e in errors(result) if e.startswith("groups")] == [message]
        assert result.groups.created == [G2]
        assert list(DirectoryGroup.objects.values_list("object_id", flat=True)) == [G2]

    def test_many_missing_members_are_summed_up(self):
        missing = [str(uuid.uuid4()) for _ in range(8)]
        result = imported(doc(groups=[{"objectId": str(G1), "displayName": "G", "members": missing}]))
        assert len(result.row_errors) == 6
        assert str(result.row_errors[-1]) == f"groups[0] (objectId {G1}): …and 3 more members that cannot be added"

    def test_other_group_keys_are_ignored(self):
        result = imported(doc(groups=[{"objectId": str(G1), "displayName": "G", "securityEnabled": True, "groupTypes": []}]))
        assert result.ok, errors(result)


class TestFileErrors:
    @pytest.mark.parametrize(("data", "position"), [
        ('{\n  "users": [\n    {"objectId": "x",}\n  ]\n}', "line 3, column 21"),  # the trailing comma
        ('{"users": [{"a": 1} {"b": 2}]}', "line 1, column 21"),  # the missing comma
    ])
    def test_invalid_json_says_where(self, data, position):
        result = imported(data)
        # json's wording of the problem varies between Python versions; the position does not.
        assert len(result.file_errors) == 1
        assert re.fullmatch(rf"The file is not valid JSON: .+ at {position}\. "
                            r"Look for a missing comma or quote, or a comma after the last item of a list\.", result.file_errors[0])
        assert not DirectoryUser.objects.exists()

    @pytest.mark.parametrize(("data", "message"), [
        ('[{"userPrincipalName": "a@contoso.example"}]',
         'The file holds a list, expected an object such as {"users": [...], "groups": [...]}.'),
        ('{"value": []}', 'The file has neither "users" nor "groups": expected an object such as {"users": [...], "groups": [...]}.'),
        ('{"users": {"a": 1}}', '"users" is an object: expected a list of user objects.'),
        ('{"users": [{"extension_x": NaN}]}', "The file holds NaN, which JSON does not allow: use a number or null."),
        (b'{"users": [{"displayName": "Caf\xe9"}]}', "The file is not UTF-8 (byte 0xe9 on line 1). Save it as UTF-8."),
    ])
    def test_nothing_is_imported(self, data, message):
        result = imported(data)
        assert result.file_errors == [message]
        assert not result.ok and not DirectoryUser.objects.exists()

    def test_byte_order_mark_and_leading_whitespace(self):
        result = imported("\ufeff\n  " + doc(users=[user(A, "a@contoso.example")]))
        assert result.ok and result.users.created == [A]


class TestCsv:
    def test_csv_goes_to_import_users(self):
        result = import_directory(b"userPrincipalName,displayName\nzoe@contoso.example,Zoe\n", name="users.txt")
        assert isinstance(result, csv_import.ImportResult)
        assert result.ok and result.summary() == "1 created, 0 updated, 0 unchanged, 0 failed"
        assert DirectoryUser.objects.get().display_name == "Zoe"

    def test_the_content_decides_not_the_name(self):
        assert isinstance(import_directory(doc(users=[user(A, "a@contoso.example")]), name="export.csv"), DirectoryImportResult)
        # A .json file that is not JSON gets the JSON error, not a puzzling CSV header error.
        result = import_directory("userPrincipalName\na@contoso.example\n", name="export.json")
        assert isinstance(result, DirectoryImportResult)
        assert result.file_errors[0].startswith("The file is not valid JSON: Expecting value at line 1, column 1.")

    def test_prune_needs_json(self):
        DirectoryUserFactory()
        result = import_directory("userPrincipalName\na@contoso.example\n", prune=True)
        assert result.file_errors[0].startswith("--prune needs a JSON file")
        assert DirectoryUser.objects.count() == 1


class TestDryRun:
    def test_reports_and_writes_nothing(self, long_ago):
        DirectoryUserFactory(object_id=A, user_principal_name="a@contoso.example", department="Sales")
        DirectoryUserFactory(object_id=B)
        DirectoryGroupFactory(object_id=G1)
        stamp = long_ago()

        result = imported(doc(users=[user(A, "a@contoso.example", department="Marketing"), user(C, "c@contoso.example")],
                              groups=[{"objectId": str(G2), "displayName": "New", "members": [str(A), str(C)]}]),
                          prune=True, dry_run=True)

        assert result.ok, errors(result)
        assert result.summary() == ("users: 1 would be created, 1 would be updated, 0 unchanged, 0 failed; groups: 1 would be "
                                    "created, 0 would be updated, 0 unchanged, 0 failed; would be pruned: 1 users, 1 groups "
                                    "(dry run: nothing was written)")
        assert set(stamps(DirectoryUser)) == {A, B} and set(stamps(DirectoryGroup)) == {G1}
        assert set(stamps(DirectoryUser).values()) == set(stamps(DirectoryGroup).values()) == {stamp}
        assert DirectoryUser.objects.get(object_id=A).department == "Sales"
        assert not DirectoryUser.objects.filter(deleted_at__isnull=False).exists() and not Membership.objects.exists()


def big_directory(users=10_000, groups=500):
    """A directory export: managers in a tree (often further down the file), 40-80 members per group."""
    ids = [uuid.UUID(int=n + 1) for n in range(users)]
    user_entries = [
        {"objectId": str(ids[n]), "userPrincipalName": f"user{n}@contoso.example", "displayName": f"User {n}",
         "givenName": "User", "surname": str(n), "mail": f"user{n}@contoso.example", "department": f"Dept {n % 40}",
         "jobTitle": "Engineer", "employeeId": f"E{n:05d}", "accountEnabled": n % 50 != 0,
         "manager": str(ids[(n - 1) // 10]) if n else None, "extension_costCenter": f"CC-{n % 100}"}
        for n in reversed(range(users))
    ]
    group_entries = [
        {"objectId": str(uuid.UUID(int=10**9 + g)), "displayName": f"Group {g}", "mailNickname": f"group{g}",
         "members": [str(ids[(g * 37 + k * 13) % users]) for k in range(36 + g % 41)]}
        for g in range(groups)
    ]
    return {"users": user_entries, "groups": group_entries}


class TestAtScale:
    def test_ten_thousand_users_in_a_constant_number_of_queries(self):
        document = big_directory()
        memberships = sum(len(set(g["members"])) for g in document["groups"])
        assert 27_000 < memberships < 29_000

        with CaptureQueriesContext(connection) as first:
            result = imported(json.dumps(document))
        assert result.ok, errors(result)[:5]
        assert (len(result.users.created), len(result.groups.created)) == (10_000, 500)
        assert (DirectoryUser.objects.count(), DirectoryGroup.objects.count(), Membership.objects.count()) == (10_000, 500, memberships)
        assert DirectoryUser.objects.filter(manager__isnull=False).count() == 9_999
        assert len(first.captured_queries) < 60, len(first.captured_queries)

        # An incremental export: 100 users change department, one group swaps a member, one user is gone.
        for entry in document["users"][:100]:
            entry["department"] = "Reorganised"
        document["groups"][0]["members"][0] = document["users"][0]["objectId"]  # user 9999, not in group 0
        del document["users"][500]
        with CaptureQueriesContext(connection) as second:
            result = imported(json.dumps(document), prune=True)
        assert result.ok, errors(result)[:5]
        assert (len(result.users.updated), len(result.users.unchanged), len(result.users.pruned)) == (100, 9_899, 1)
        assert (len(result.groups.updated), len(result.groups.unchanged)) == (1, 499)
        assert len(second.captured_queries) < 60, len(second.captured_queries)
