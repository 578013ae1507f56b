"""The demo directory and app that `make run` loads (provisioning/demo.py)."""

import pytest
from django.core.management import CommandError, call_command

from provisioning import demo
from provisioning.models import Application, Assignment, DirectoryGroup, DirectoryUser, ObjectMapping

TENANT_URL = "http://127.0.0.1:8081/scim/v2"


@pytest.fixture
def loaded(db):
    return demo.load_demo_data(tenant_url=TENANT_URL, token="demo-token")


def snapshot():
    users = sorted(DirectoryUser.objects.values_list("user_principal_name", "display_name", "manager__user_principal_name", "updated_at"))
    groups = sorted((g.display_name, g.updated_at, tuple(sorted(g.members.values_list("user_principal_name", flat=True)))) for g in DirectoryGroup.objects.all())
    apps = list(Application.objects.values_list("name", "tenant_url", "secret_token_encrypted"))
    return users, groups, apps, Assignment.objects.count()


def test_directory_size_and_departments(loaded):
    assert DirectoryUser.objects.count() >= 60
    assert loaded.users_created == DirectoryUser.objects.count()
    departments = set(DirectoryUser.objects.exclude(department="").values_list("department", flat=True))
    assert {"Engineering", "Sales", "Marketing", "Finance", "HR", "Support"} <= departments
    assert DirectoryGroup.objects.count() >= 6
    for name in ("All Engineering", "Pilot users", "VPN users"):
        assert DirectoryGroup.objects.get(display_name=name).members.exists()


def test_managers_form_a_hierarchy(loaded):
    ceo = DirectoryUser.objects.get(user_principal_name="margaret.chen@contoso.example")
    assert ceo.manager is None
    zoe = DirectoryUser.objects.get(user_principal_name="zoe.muller@contoso.example")
    assert zoe.manager.user_principal_name == "lukasz.zolc@contoso.example"
    assert zoe.manager.manager.manager == ceo
    # Every user but the CEO and the outside consultant reaches the CEO.
    for user in DirectoryUser.objects.exclude(pk=ceo.pk).exclude(department=""):
        chain, seen = user, set()
        while chain.manager_id and chain.pk not in seen:
            seen.add(chain.pk)
            chain = chain.manager
        assert chain == ceo, user


def test_unicode_names_keep_their_letters_and_get_ascii_upns(loaded):
    names = set(DirectoryUser.objects.values_list("display_name", flat=True))
    assert {"Zoë Müller", "José Núñez", "Łukasz Żółć", "Björn Ångström", "Siobhán Ó Briain", "Nguyễn Thị Minh"} <= names
    for upn in DirectoryUser.objects.values_list("user_principal_name", flat=True):
        assert upn.isascii() and upn.endswith("@contoso.example")
    assert demo.ascii_fold("Łukasz Żółć Þórsdóttir Weiß") == "Lukasz Zolc Thorsdottir Weiss"


def test_some_attributes_missing_some_accounts_disabled_and_extensions(loaded):
    assert DirectoryUser.objects.filter(mail="").exists()
    assert DirectoryUser.objects.filter(job_title="").exists()
    assert DirectoryUser.objects.filter(employee_id="").exists()
    assert DirectoryUser.objects.filter(account_enabled=False).count() >= 2
    zoe = DirectoryUser.objects.get(user_principal_name="zoe.muller@contoso.example")
    assert zoe.extension_attributes["extension_costCenter"] == "CC-4100"
    assert zoe.source_attributes()["extension_officeLocation"] == "Zürich"
    no_mail = DirectoryUser.objects.filter(mail="").first()
    assert "mail" not in no_mail.source_attributes()


def test_demo_app_is_configured_with_default_mappings_and_assignments(loaded):
    app = Application.objects.get(name=demo.APP_NAME)
    assert loaded.app_created and loaded.app == app
    assert app.provisioning_mode == Application.Mode.AUTOMATIC
    assert app.tenant_url == TENANT_URL
    assert app.get_secret_token() == "demo-token"
    assert app.scope == Application.Scope.ASSIGNED
    assert app.notification_email
    assert app.provisioning_enabled is False
    assert set(app.object_mappings.values_list("object_type", flat=True)) == {ObjectMapping.ObjectType.USER, ObjectMapping.ObjectType.GROUP}
    users_mapping = app.object_mappings.get(object_type=ObjectMapping.ObjectType.USER)
    assert users_mapping.attribute_mappings.get(is_matching=True).source_attribute == "userPrincipalName"
    assigned_users = set(app.assignments.filter(user__isnull=False).values_list("user__user_principal_name", flat=True))
    assert "zoe.muller@contoso.example" in assigned_users and len(assigned_users) >= 3
    assert set(app.assignments.filter(group__isnull=False).values_list("group__display_name", flat=True)) == set(demo.ASSIGNED_GROUPS)


def test_second_run_changes_nothing(loaded):
    before = snapshot()
    again = demo.load_demo_data(tenant_url=TENANT_URL, token="demo-token")
    assert snapshot() == before
    assert (again.users_created, again.groups_created, again.app_created, again.app_changes) == (0, 0, False, [])
    assert again.users_existing == len(demo.PEOPLE)


def test_rerun_keeps_admin_edits_but_follows_the_target(loaded):
    app = Application.objects.get(name=demo.APP_NAME)
    app.notification_email = "me@contoso.example"
    app.scope = Application.Scope.ALL
    app.save()
    app.assignments.filter(group__isnull=False).delete()
    zoe = DirectoryUser.objects.get(user_principal_name="zoe.muller@contoso.example")
    zoe.job_title = "Principal Engineer"
    zoe.manager = None
    zoe.save()
    pilot = DirectoryGroup.objects.get(display_name="Pilot users")
    pilot.members.remove(zoe)
    DirectoryUser.objects.filter(user_principal_name="yuki.tanaka@contoso.example").delete()

    result = demo.load_demo_data(tenant_url="http://127.0.0.1:9999/scim/v2", token="new-token")

    app.refresh_from_db()
    assert result.app_changes == ["Tenant URL", "Secret Token"]
    assert (app.tenant_url, app.get_secret_token()) == ("http://127.0.0.1:9999/scim/v2", "new-token")
    assert (app.notification_email, app.scope) == ("me@contoso.example", Application.Scope.ALL)
    assert not app.assignments.filter(group__isnull=False).exists()
    zoe.refresh_from_db()
    assert (zoe.job_title, zoe.manager) == ("Principal Engineer", None)
    assert zoe not in pilot.members.all()
    # A deleted demo user comes back, with its manager.
    assert result.users_created == 1
    assert DirectoryUser.objects.get(user_principal_name="yuki.tanaka@contoso.example").manager.user_principal_name == "lukasz.zolc@contoso.example"


def test_command_loads_and_reports(db, capsys, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("t0k\n")
    call_command("load_demo_data", "--tenant-url", TENANT_URL, "--token-file", str(token_file))
    out = capsys.readouterr().out
    assert f"{len(demo.PEOPLE)} users created" in out and "created (Provisioning Status Off" in out
    assert Application.objects.get().get_secret_token() == "t0k"
    call_command("load_demo_data", "--tenant-url", TENANT_URL, "--token-file", str(token_file))
    out = capsys.readouterr().out
    assert "0 users created" in out and "unchanged" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant-url", TENANT_URL], "Pass both --tenant-url and --token-file"),
        (["--tenant-url", "127.0.0.1:8081", "--token-file", __file__], "is not an http(s) URL"),
        (["--tenant-url", TENANT_URL, "--token-file", "/nonexistent/token"], "cannot read it"),
        (["--tenant-url", TENANT_URL, "--token-file", "/dev/null"], "is empty"),
    ],
)
def test_command_refuses_bad_options(db, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("load_demo_data", *args)
    assert not DirectoryUser.objects.exists()
