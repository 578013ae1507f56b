"""CSV import of directory users (provisioning/csv_import.py)."""

import pytest

from provisioning.csv_import import import_users, upn_problem
from provisioning.models import DirectoryUser
from tests.factories import DirectoryUserFactory

HEADER = "userPrincipalName,displayName,givenName,surname,mail,jobTitle,department,employeeId,accountEnabled,manager,extension_costCenter"


def csv(*rows, header=HEADER):
    return "\n".join([header, *rows]) + "\n"


def errors(result):
    return [str(e) for e in result.row_errors]


@pytest.mark.django_db
class TestCreateAndUpdate:
    def test_creates_users_with_every_attribute(self):
        result = import_users(csv(
            "zoe@contoso.example,Zoë Müller,Zoë,Müller,zoe@contoso.example,Engineer,Engineering,E1,true,,CC-1",
        ))
        assert result.ok and result.created == ["zoe@contoso.example"]
        zoe = DirectoryUser.objects.get(user_principal_name="zoe@contoso.example")
        assert (zoe.display_name, zoe.given_name, zoe.surname, zoe.job_title, zoe.department, zoe.employee_id) == (
            "Zoë Müller", "Zoë", "Müller", "Engineer", "Engineering", "E1")
        assert zoe.account_enabled is True
        assert zoe.extension_attributes == {"extension_costCenter": "CC-1"}
        assert zoe.mail_nickname == "zoe"

    def test_updates_by_upn_case_insensitively_and_keeps_empty_cells(self):
        existing = DirectoryUserFactory(user_principal_name="Jose@Contoso.example", job_title="Engineer", department="Sales",
                                        extension_attributes={"extension_site": "Madrid"})
        stamp = existing.updated_at
        result = import_users(csv("jose@contoso.example,,,,,Account Executive,,,no,,CC-2"))
        assert result.ok and result.updated == ["Jose@Contoso.example"] and not result.created
        existing.refresh_from_db()
        assert existing.job_title == "Account Executive"
        assert existing.department == "Sales"  # empty cell: unchanged
        assert existing.account_enabled is False
        assert existing.extension_attributes == {"extension_site": "Madrid", "extension_costCenter": "CC-2"}
        assert existing.updated_at > stamp
        assert DirectoryUser.objects.count() == 1

    def test_unchanged_rows_are_not_saved(self):
        user = DirectoryUserFactory(user_principal_name="a@contoso.example", job_title="Engineer")
        stamp = user.updated_at
        result = import_users(csv("a@contoso.example,,,,,Engineer,,,,,", header=HEADER))
        assert result.unchanged == ["a@contoso.example"] and not result.updated
        user.refresh_from_db()
        assert user.updated_at == stamp

    @pytest.mark.parametrize(("cell", "expected"), [("true", True), ("YES", True), ("1", True), ("False", False), ("no", False), ("0", False)])
    def test_account_enabled_words(self, cell, expected):
        result = import_users(f"userPrincipalName,accountEnabled\nu@contoso.example,{cell}\n")
        assert result.ok
        assert DirectoryUser.objects.get().account_enabled is expected

    def test_manager_later_in_the_file_and_in_the_directory(self):
        boss = DirectoryUserFactory(user_principal_name="boss@contoso.example")
        result = import_users(csv(
            "dev@contoso.example,Dev,,,,,,,,lead@contoso.example,",
            "lead@contoso.example,Lead,,,,,,,,BOSS@contoso.example,",
        ))
        assert result.ok, errors(result)
        dev = DirectoryUser.objects.get(user_principal_name="dev@contoso.example")
        assert dev.manager.user_principal_name == "lead@contoso.example"
        assert dev.manager.manager == boss

    def test_bom_and_utf8_semicolons_and_header_case(self):
        data = "\ufeffUserPrincipalName;DisplayName;Department\r\nlukasz@contoso.example;Łukasz Żółć;Inżynieria\r\n".encode("utf-8")
        result = import_users(data)
        assert result.ok, result.file_errors
        user = DirectoryUser.objects.get()
        assert (user.user_principal_name, user.display_name, user.department) == ("lukasz@contoso.example", "Łukasz Żółć", "Inżynieria")

    def test_quoted_commas_and_blank_lines(self):
        result = import_users('userPrincipalName,displayName\n\n"a@contoso.example","Núñez, José"\n,\n')
        assert result.ok and DirectoryUser.objects.get().display_name == "Núñez, José"

    def test_display_name_derived_when_missing(self):
        import_users("userPrincipalName,givenName,surname\nb@contoso.example,Björn,Ångström\nc@contoso.example,,\n")
        assert DirectoryUser.objects.get(user_principal_name="b@contoso.example").display_name == "Björn Ångström"
        assert DirectoryUser.objects.get(user_principal_name="c@contoso.example").display_name == "c"


@pytest.mark.django_db
class TestRowErrors:
    def test_bad_rows_are_reported_and_the_others_imported(self):
        result = import_users(csv(
            "good@contoso.example,Good,,,,,,,,,",  # row 2
            "bob@,Bob,,,,,,,,,",  # row 3
            "carol@contoso.example,Carol,,,,,,,maybe,,",  # row 4
            "dave@contoso.example,Dave,,,,,,,,x@y.example,",  # row 5
        ))
        assert errors(result) == [
            "row 3: userPrincipalName 'bob@' is not a valid UPN: expected name@domain",
            "row 4: accountEnabled 'maybe' is not a boolean: use true or false (or yes/no, 1/0)",
            "row 5: manager 'x@y.example' not found in the file or the directory",
        ]
        assert result.created == ["good@contoso.example"]
        assert result.failed_rows == [3, 4, 5]
        assert result.summary() == "1 created, 0 updated, 0 unchanged, 3 failed"
        assert list(DirectoryUser.objects.values_list("user_principal_name", flat=True)) == ["good@contoso.example"]

    @pytest.mark.parametrize(
        ("upn", "reason"),
        [
            ("bob", "expected name@domain"),
            ("@contoso.example", "expected name@domain"),
            ("a@b@contoso.example", "expected name@domain"),
            ("bob@localhost", "the domain 'localhost' is not a DNS name such as contoso.com"),
            ("zoë@contoso.example", "the name part contains 'ë'"),
            ("jo hn@contoso.example", "the name part contains ' '"),
            (".bob@contoso.example", "cannot start or end with a dot"),
        ],
    )
    def test_upn_problems(self, upn, reason):
        assert reason in upn_problem(upn)
        result = import_users(f"userPrincipalName\n{upn}\n")
        assert errors(result) == [f"row 2: userPrincipalName '{upn}' is not a valid UPN: {upn_problem(upn)}"]

    def test_empty_upn(self):
        result = import_users("userPrincipalName,displayName\n,Nobody\n")
        assert errors(result) == ["row 2: userPrincipalName is empty: every user needs one"]

    def test_duplicate_upn_fails_every_copy(self):
        result = import_users("userPrincipalName,jobTitle\na@contoso.example,One\nb@contoso.example,\nA@contoso.example,Two\n")
        assert errors(result) == [
            "row 2: userPrincipalName 'a@contoso.example' is on rows 2, 4: each user must appear once",
            "row 4: userPrincipalName 'A@contoso.example' is on rows 2, 4: each user must appear once",
        ]
        assert result.created == ["b@contoso.example"]

    def test_manager_on_a_failed_row(self):
        result = import_users("userPrincipalName,manager,accountEnabled\nemp@contoso.example,lead@contoso.example,\nlead@contoso.example,,sometimes\n")
        assert errors(result) == [
            "row 2: manager 'lead@contoso.example' is on row 3, which has errors: fix that row first",
            "row 3: accountEnabled 'sometimes' is not a boolean: use true or false (or yes/no, 1/0)",
        ]
        assert not DirectoryUser.objects.exists()

    def test_own_manager(self):
        result = import_users("userPrincipalName,manager\na@contoso.example,A@contoso.example\n")
        assert errors(result) == ["row 2: manager is the user themself: a user cannot be their own manager"]

    def test_wrong_number_of_values(self):
        result = import_users("userPrincipalName,displayName\na@contoso.example,A,extra\n")
        assert errors(result) == ["row 2: has 3 values but the header has 2 columns (check for a missing or extra comma)"]

    def test_too_long_and_bad_mail(self):
        result = import_users(f"userPrincipalName,givenName,mail\na@contoso.example,{'x' * 65},not-an-address\n")
        assert errors(result) == [
            "row 2: mail 'not-an-address' is not an email address: expected name@domain",
            "row 2: givenName is 65 characters long: at most 64 are allowed",
        ]


@pytest.mark.django_db
class TestFileErrors:
    @pytest.mark.parametrize("data", [b"", b"   \n", "\ufeff".encode()])
    def test_empty_file(self, data):
        result = import_users(data)
        assert result.file_errors == [
            "The file is empty. Expected a header row of attribute names (userPrincipalName, displayName, givenName, surname, "
            "mail, mailNickname, jobTitle, department, employeeId, accountEnabled, manager, objectId, extension_<name>), then one user per row."
        ]
        assert not result.ok and result.summary().endswith("0 failed")

    def test_header_only(self):
        assert import_users("userPrincipalName,displayName\n").file_errors == ["The file has a header but no users: add one user per row under it."]

    def test_unknown_columns_are_listed_with_the_accepted_ones(self):
        result = import_users("userPrincipalName,Email,Title,extension_cost-center,\na@contoso.example,a@b.example,x,1,\n")
        assert result.file_errors == [
            "Unknown columns 'Email', 'Title', 'extension_cost-center', '(no name, column 5)'. Accepted columns: userPrincipalName, "
            "displayName, givenName, surname, mail, mailNickname, jobTitle, department, employeeId, accountEnabled, manager, objectId, extension_<name>."
        ]
        assert not DirectoryUser.objects.exists()

    def test_missing_upn_column(self):
        result = import_users("displayName\nZoë\n")
        assert result.file_errors[0].startswith("The header has no userPrincipalName column")

    def test_column_twice(self):
        assert import_users("userPrincipalName,mail,Mail\na@contoso.example,,\n").file_errors == ["The column 'mail' appears twice in the header: keep one."]

    def test_not_utf8(self):
        result = import_users("userPrincipalName,displayName\na@contoso.example,José\n".encode("cp1252"))
        assert result.file_errors == [
            "The file is not UTF-8 (byte 0xe9 on line 2). Save it as UTF-8: in Excel choose 'CSV UTF-8 (Comma delimited)'."
        ]


@pytest.mark.django_db
class TestObjectIdColumn:
    OBJECT_ID = "8d6e4c1a-2f3b-4e5d-9a7c-1b2c3d4e5f60"

    def test_the_object_id_is_kept_and_a_reimport_updates_the_same_user(self):
        first = import_users(csv(f"{self.OBJECT_ID},jane@contoso.example,Jane,Sales", header="objectId,userPrincipalName,displayName,department"))
        assert first.ok and first.created == ["jane@contoso.example"]
        jane = DirectoryUser.objects.get()
        assert str(jane.object_id) == self.OBJECT_ID

        # The UPN changed in the source: the objectId still finds her, no second user.
        again = import_users(csv(f"{self.OBJECT_ID},jane.doe@contoso.example,Jane Doe,Sales", header="objectId,userPrincipalName,displayName,department"))
        assert again.ok and again.updated == ["jane.doe@contoso.example"] and not again.created
        jane.refresh_from_db()
        assert (jane.user_principal_name, jane.display_name) == ("jane.doe@contoso.example", "Jane Doe")
        assert DirectoryUser.objects.count() == 1

    def test_an_empty_object_id_cell_falls_back_to_the_upn(self):
        existing = DirectoryUserFactory(user_principal_name="sam@contoso.example")
        result = import_users(csv(",sam@contoso.example,Sales", header="objectId,userPrincipalName,department"))
        assert result.ok and result.updated == ["sam@contoso.example"]
        existing.refresh_from_db()
        assert existing.department == "Sales"

    def test_a_bad_or_repeated_object_id_fails_its_rows(self):
        result = import_users(csv(
            "not-a-uuid,a@contoso.example", f"{self.OBJECT_ID},b@contoso.example", f"{self.OBJECT_ID},c@contoso.example",
            header="objectId,userPrincipalName",
        ))
        assert errors(result) == [
            "row 2: objectId 'not-a-uuid' is not a UUID: expected 32 hex digits such as 8d6e4c1a-2f3b-4e5d-9a7c-1b2c3d4e5f60, "
            "or leave the cell empty for a new user",
            f"row 3: objectId {self.OBJECT_ID} is on rows 3, 4: each user must appear once",
            f"row 4: objectId {self.OBJECT_ID} is on rows 3, 4: each user must appear once",
        ]
        assert not DirectoryUser.objects.exists()

    def test_a_upn_that_belongs_to_another_user_is_refused(self):
        other = DirectoryUserFactory(user_principal_name="taken@contoso.example")
        result = import_users(csv(f"{self.OBJECT_ID},taken@contoso.example", header="objectId,userPrincipalName"))
        assert errors(result) == [
            f"row 2: userPrincipalName 'taken@contoso.example' belongs to another directory user (objectId {other.object_id}), "
            f"not to objectId {self.OBJECT_ID}: fix the objectId, or the userPrincipalName"
        ]
        assert DirectoryUser.objects.count() == 1


@pytest.mark.django_db
class TestHostileCells:
    @pytest.mark.parametrize("cell, named", [
        ("Ja\x00ne", "a NUL character (U+0000) at character 3"),
        ("Jane\x1b[31m", "an ESC character (U+001B) at character 5"),
        ('"Jane\nDoe"', "a line break (U+000A) at character 5"),
        ("Jane\u202eeoD", "the invisible character U+202E (right-to-left override) at character 5"),
        ("Jane\x7f", "the invisible character U+007F (control character) at character 5"),
    ])
    def test_control_characters_are_refused_with_the_row_and_column(self, cell, named):
        result = import_users(csv("ok@contoso.example,Fine", f"bad@contoso.example,{cell}", header="userPrincipalName,displayName"))
        assert errors(result) == [f"row 3: column displayName contains {named}: remove it (it often comes from pasting)"]
        assert list(DirectoryUser.objects.values_list("user_principal_name", flat=True)) == ["ok@contoso.example"]

    def test_a_control_character_in_the_header_is_a_file_error(self):
        result = import_users("userPrincipalName,display\x00Name\na@contoso.example,A\n")
        assert result.file_errors == ["The header's column 2 contains a NUL character (U+0000) at character 8: remove it (it often comes from pasting)."]

    def test_a_utf8_bom_is_accepted_with_crlf_lines(self):
        result = import_users("\ufeffobjectId,userPrincipalName\r\n,bom@contoso.example\r\n".encode("utf-8"))
        assert result.ok and result.created == ["bom@contoso.example"]

    def test_utf16_with_its_bom_is_accepted(self):
        result = import_users("userPrincipalName\tdisplayName\r\nzoe@contoso.example\tZoë\r\n".encode("utf-16"))
        assert result.ok and DirectoryUser.objects.get().display_name == "Zoë"

    @pytest.mark.parametrize("data", [
        "jane@contoso.example,Jane Doe,Sales\nsam@contoso.example,Sam,HR\n",
        "\ufeffjane@contoso.example;Jane Doe\n",
    ])
    def test_a_file_without_a_header_row_says_so(self, data):
        (message,) = import_users(data).file_errors
        assert message.startswith("The file has no header row: its first line holds 'jane@contoso.example', 'Jane Doe'")
        assert "Add a first line naming the columns, e.g. userPrincipalName,displayName,department" in message
        assert not DirectoryUser.objects.exists()


@pytest.mark.django_db
def test_dry_run_writes_nothing_but_reports_the_same():
    existing = DirectoryUserFactory(user_principal_name="old@contoso.example", job_title="Old")
    data = csv("new@contoso.example,New,,,,,,,,old@contoso.example,", "old@contoso.example,,,,,New title,,,,,", "bad,,,,,,,,,,")
    result = import_users(data, dry_run=True)
    assert (result.created, result.updated, result.failed_rows) == (["new@contoso.example"], ["old@contoso.example"], [4])
    assert result.summary() == "1 would be created, 1 would be updated, 0 unchanged, 1 failed (dry run: nothing was written)"
    assert list(DirectoryUser.objects.all()) == [existing]
    existing.refresh_from_db()
    assert existing.job_title == "Old"
