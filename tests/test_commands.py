"""The management commands: ensure_admin, import_users, import_directory, create_app, provision."""

import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from provisioning.models import Application, Assignment, DirectoryGroup, DirectoryUser
from provisioning.roles import ADMINISTRATORS, HELPDESK
from tests.factories import ApplicationFactory, DirectoryUserFactory

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def var_dir(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    for name in ("PORTAL_ADMIN_PASSWORD", "PORTAL_HELPDESK_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def ensure_admin(*args):
    out = io.StringIO()
    call_command("ensure_admin", *args, stdout=out)
    return out.getvalue()


def password_in(output, username):
    line = next(line for line in output.splitlines() if f" as {username} / " in line)
    return line.split(f" as {username} / ")[1].split()[0]


@pytest.mark.django_db
class TestEnsureAdmin:
    def test_generates_passwords_once_and_keeps_them(self, var_dir):
        first = ensure_admin("--port", "8123")
        admin_password = password_in(first, "admin")
        helpdesk_password = password_in(first, "helpdesk")
        assert f"Sign in at http://127.0.0.1:8123/ as admin / {admin_password}" in first
        assert (var_dir / "admin_password").read_text().strip() == admin_password
        assert (var_dir / "helpdesk_password").read_text().strip() == helpdesk_password
        assert oct((var_dir / "admin_password").stat().st_mode & 0o777) == "0o600"
        assert admin_password != helpdesk_password and len(admin_password) >= 12

        second = ensure_admin("--port", "8123")
        assert password_in(second, "admin") == admin_password
        assert User.objects.filter(username="admin").count() == 1

        admin = User.objects.get(username="admin")
        assert admin.check_password(admin_password)
        assert admin.is_staff and admin.is_superuser and admin.is_active
        assert list(admin.groups.values_list("name", flat=True)) == [ADMINISTRATORS]
        helpdesk = User.objects.get(username="helpdesk")
        assert helpdesk.check_password(helpdesk_password)
        assert not helpdesk.is_staff and not helpdesk.is_superuser
        assert list(helpdesk.groups.values_list("name", flat=True)) == [HELPDESK]

    def test_environment_passwords_win_and_are_reset_every_run(self, var_dir, monkeypatch):
        ensure_admin()
        monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", "chosen by the operator")
        monkeypatch.setenv("PORTAL_HELPDESK_PASSWORD", "helpdesk chosen")
        admin = User.objects.get(username="admin")
        admin.set_password("changed in the UI")
        admin.is_superuser = False
        admin.save()

        out = ensure_admin()

        assert "as admin / chosen by the operator" in out and "from PORTAL_ADMIN_PASSWORD" in out
        admin.refresh_from_db()
        assert admin.check_password("chosen by the operator") and admin.is_superuser
        assert User.objects.get(username="helpdesk").check_password("helpdesk chosen")

    def test_without_roles_says_to_migrate(self, var_dir):
        from django.contrib.auth.models import Group

        Group.objects.filter(name=ADMINISTRATORS).delete()
        with pytest.raises(CommandError, match="run 'manage.py migrate' first"):
            ensure_admin()


@pytest.mark.django_db
class TestImportUsersCommand:
    def test_success(self, tmp_path, capsys):
        path = tmp_path / "users.csv"
        path.write_text("userPrincipalName,displayName\nzoe@contoso.example,Zoë Müller\n", encoding="utf-8")
        call_command("import_users", str(path))
        assert "1 created, 0 updated, 0 unchanged, 0 failed" in capsys.readouterr().out
        assert DirectoryUser.objects.get().display_name == "Zoë Müller"

    def test_failed_rows_exit_1_and_are_printed(self, tmp_path, capsys):
        path = tmp_path / "users.csv"
        path.write_text("userPrincipalName,accountEnabled\nok@contoso.example,yes\nbob@,yes\n")
        with pytest.raises(CommandError, match=r"1 row\(s\) were not imported") as raised:
            call_command("import_users", str(path))
        assert raised.value.returncode == 1
        captured = capsys.readouterr()
        assert "row 3: userPrincipalName 'bob@' is not a valid UPN: expected name@domain" in captured.err
        assert "1 created, 0 updated, 0 unchanged, 1 failed" in captured.out
        assert DirectoryUser.objects.count() == 1

    def test_dry_run(self, tmp_path, capsys):
        path = tmp_path / "users.csv"
        path.write_text("userPrincipalName\nnew@contoso.example\n")
        call_command("import_users", str(path), "--dry-run")
        assert "1 would be created" in capsys.readouterr().out
        assert not DirectoryUser.objects.exists()

    def test_file_error(self, tmp_path, capsys):
        path = tmp_path / "users.csv"
        path.write_text("")
        with pytest.raises(CommandError, match="nothing was imported"):
            call_command("import_users", str(path))
        assert "The file is empty." in capsys.readouterr().err

    def test_missing_file(self, tmp_path):
        with pytest.raises(CommandError, match="no such file"):
            call_command("import_users", str(tmp_path / "nope.csv"))
        with pytest.raises(CommandError, match="is a folder"):
            call_command("import_users", str(tmp_path))


def test_exit_codes_of_the_real_command(tmp_path):
    """The process exit code, as a script or CI sees it (its own SQLite database in a temp folder)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env["PORTAL_VAR_DIR"] = str(tmp_path)

    def manage(*args):
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    migrate = manage("migrate", "--noinput", "--skip-checks")
    assert migrate.returncode == 0, migrate.stderr
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("userPrincipalName\na@contoso.example\n")
    bad.write_text("userPrincipalName,manager\nb@contoso.example,x@y.example\n")

    ok = manage("import_users", str(good), "--skip-checks")
    assert (ok.returncode, ok.stdout.strip()) == (0, "1 created, 0 updated, 0 unchanged, 0 failed.")
    failed = manage("import_users", str(bad), "--skip-checks")
    assert failed.returncode == 1
    assert "row 2: manager 'x@y.example' not found in the file or the directory" in failed.stderr


# ------------------------------------------------------------------------- import_directory and create_app

ZOE, LEAD, TEAM = (uuid.UUID(f"{n}" * 8 + "-0000-4000-8000-" + f"{n}" * 12) for n in (5, 6, 7))


def directory_file(tmp_path, users=None, groups=None):
    document = {key: value for key, value in (("users", users), ("groups", groups)) if value is not None}
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.django_db
class TestImportDirectoryCommand:
    def test_success(self, tmp_path, capsys):
        path = directory_file(tmp_path, users=[
            {"objectId": str(ZOE), "userPrincipalName": "zoe@contoso.example", "manager": str(LEAD)},
            {"objectId": str(LEAD), "userPrincipalName": "lead@contoso.example"},
        ], groups=[{"objectId": str(TEAM), "displayName": "Team", "members": [str(ZOE), str(LEAD)]}])
        call_command("import_directory", str(path))
        assert capsys.readouterr().out.strip() == (
            "users: 2 created, 0 updated, 0 unchanged, 0 failed; groups: 1 created, 0 updated, 0 unchanged, 0 failed; "
            "pruned: 0 users, 0 groups.")
        assert DirectoryUser.objects.get(object_id=ZOE).manager.object_id == LEAD
        assert DirectoryGroup.objects.get(object_id=TEAM).members.count() == 2

    def test_failed_entries_exit_1_and_are_printed(self, tmp_path, capsys):
        path = directory_file(tmp_path, users=[
            {"objectId": str(ZOE), "userPrincipalName": "zoe@contoso.example"},
            {"objectId": str(LEAD), "userPrincipalName": "lead@"},
        ], groups=[{"objectId": str(TEAM), "displayName": "Team", "members": [str(uuid.UUID(int=1))]}])
        with pytest.raises(CommandError, match=r"2 row\(s\) were not imported") as raised:
            call_command("import_directory", str(path))
        assert raised.value.returncode == 1
        captured = capsys.readouterr()
        assert captured.err.splitlines() == [
            f"users[1] (objectId {LEAD}): userPrincipalName 'lead@' is not a valid UPN: expected name@domain",
            f"groups[0] (objectId {TEAM}): member 00000000-0000-0000-0000-000000000001 is not a user in the file or the directory",
        ]
        assert "users: 1 created, 0 updated, 0 unchanged, 1 failed; groups: 0 created, 0 updated, 0 unchanged, 1 failed" in captured.out
        assert DirectoryUser.objects.count() == 1

    def test_prune_and_dry_run(self, tmp_path, capsys):
        DirectoryUserFactory(object_id=LEAD)
        path = directory_file(tmp_path, users=[{"objectId": str(ZOE), "userPrincipalName": "zoe@contoso.example"}])
        call_command("import_directory", str(path), "--prune", "--dry-run")
        assert "would be pruned: 1 users, 0 groups (dry run: nothing was written)." in capsys.readouterr().out
        assert list(DirectoryUser.objects.values_list("object_id", "deleted_at")) == [(LEAD, None)]

        call_command("import_directory", str(path), "--prune")
        assert capsys.readouterr().out.strip().endswith("pruned: 1 users, 0 groups.")
        assert DirectoryUser.objects.get(object_id=LEAD).deleted_at is not None

    def test_a_csv_file_is_reported_as_import_users_does(self, tmp_path, capsys):
        path = tmp_path / "users.csv"
        path.write_text("userPrincipalName,displayName\nzoe@contoso.example,Zoë Müller\n", encoding="utf-8")
        call_command("import_directory", str(path))
        assert capsys.readouterr().out.strip() == "1 created, 0 updated, 0 unchanged, 0 failed."

    def test_invalid_json_imports_nothing_and_says_where(self, tmp_path, capsys):
        path = tmp_path / "directory.json"
        path.write_text('{"users": [\n  {"userPrincipalName": "zoe@contoso.example"}\n  {"userPrincipalName": "x@contoso.example"}\n]}')
        with pytest.raises(CommandError, match="nothing was imported") as raised:
            call_command("import_directory", str(path))
        assert raised.value.returncode == 1
        assert "The file is not valid JSON: Expecting ',' delimiter at line 3, column 3." in capsys.readouterr().err

    def test_standard_input(self, monkeypatch, capsys):
        data = json.dumps({"users": [{"userPrincipalName": "zoe@contoso.example"}]}).encode()
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        call_command("import_directory", "-")
        assert capsys.readouterr().out.startswith("users: 1 created")

    def test_missing_file(self, tmp_path):
        with pytest.raises(CommandError, match="no such file"):
            call_command("import_directory", str(tmp_path / "nope.json"))
        with pytest.raises(CommandError, match="is a folder"):
            call_command("import_directory", str(tmp_path))


TOKEN = "s3cr3t-T0ken_value.0123456789"


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")  # as `echo $TOKEN > token` writes it
    return path


def create_app(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_app", *args, stdout=out, stderr=err)
    assert TOKEN not in out.getvalue() + err.getvalue()
    return out.getvalue()


@pytest.mark.django_db
class TestCreateAppCommand:
    def test_creates_an_app_ready_to_provision(self, token_file):
        out = create_app("Slack", "--tenant-url", "https://scim.example.com/scim/v2", "--token-file", str(token_file))

        app = Application.objects.get()
        assert out.splitlines()[0] == f"Created application {app.pk}: Slack"
        assert (app.name, app.provisioning_mode, app.tenant_url, app.scope, app.entra_compatible) == (
            "Slack", Application.Mode.AUTOMATIC, "https://scim.example.com/scim/v2", Application.Scope.ASSIGNED, False)
        assert app.get_secret_token() == TOKEN  # the file's newline is not part of it
        assert TOKEN not in app.secret_token_encrypted
        assert (app.job_status, app.provisioning_enabled) == (Application.JobStatus.NOT_RUN, False)
        assert sorted(app.object_mappings.values_list("object_type", flat=True)) == ["group", "user"]
        assert not Assignment.objects.exists()

    def test_scope_all_entra_compatible_and_the_token_from_standard_input(self, monkeypatch):
        monkeypatch.setattr("sys.stdin", io.StringIO(TOKEN + "\r\n"))
        create_app("Workday", "--tenant-url", "https://hr.example.com/scim", "--token-file", "-", "--scope", "all", "--entra-compatible")
        app = Application.objects.get()
        assert (app.scope, app.entra_compatible, app.get_secret_token()) == (Application.Scope.ALL, True, TOKEN)

    def test_assign_all(self, token_file):
        users = DirectoryUserFactory.create_batch(3)
        out = create_app("Slack", "--tenant-url", "https://scim.example.com/scim/v2", "--token-file", str(token_file), "--assign-all")
        assert "3 users assigned" in out
        app = Application.objects.get()
        assert sorted(app.assignments.values_list("user_id", flat=True)) == sorted(u.pk for u in users)

    @pytest.mark.parametrize(("url", "message"), [
        ("scim.example.com/scim/v2", "The Tenant URL has no scheme: it must start with https://, for example https://scim.example.com/scim/v2."),
        ("https://scim.example.com/scim?aadOptscim062020", "The Tenant URL contains a query string"),
        ("ftp://scim.example.com/", "The Tenant URL must start with https:// (or http://), not ftp://."),
        ("https://admin:pw@scim.example.com/scim/v2", "The Tenant URL contains a user name or password"),
        ("https://scim.example.com/scim/v2/Schemas", "without /Schemas: use https://scim.example.com/scim/v2."),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ])
    def test_refuses_a_bad_tenant_url(self, token_file, url, message):
        with pytest.raises(CommandError) as raised:
            create_app("Slack", "--tenant-url", url, "--token-file", str(token_file))
        assert message in str(raised.value) and TOKEN not in str(raised.value)
        assert not Application.objects.exists()

    @pytest.mark.parametrize(("content", "message"), [
        (None, "no such file. Write the target's bearer token into a file and give its path."),
        ("\n", "is empty: write the target's bearer token into it (one line)."),
        (f"Bearer {TOKEN}\n", "The Secret Token starts with 'Bearer '. Paste only the token: the portal adds 'Bearer ' itself."),
        (f"{TOKEN}\nsecond line\n", "The Secret Token contains a line break at character 30, and a bearer token never contains spaces or line breaks."),
    ])
    def test_refuses_a_missing_or_bad_token(self, tmp_path, content, message):
        path = tmp_path / "token"
        if content is not None:
            path.write_text(content)
        with pytest.raises(CommandError) as raised:
            create_app("Slack", "--tenant-url", "https://scim.example.com/scim/v2", "--token-file", str(path))
        assert message in str(raised.value) and TOKEN not in str(raised.value)
        assert not Application.objects.exists()

    def test_refuses_an_existing_name(self, token_file):
        existing = ApplicationFactory(name="Slack")
        with pytest.raises(CommandError) as raised:
            create_app("slack", "--tenant-url", "https://scim.example.com/scim/v2", "--token-file", str(token_file))
        assert str(raised.value) == (f"An application named 'Slack' already exists (id {existing.pk}): choose another name, "
                                     "or change that application in the portal.")
        assert Application.objects.count() == 1

    def test_the_token_is_never_an_argument_and_never_echoed(self, token_file):
        url = "https://scim.example.com/scim/v2"
        with pytest.raises(CommandError) as raised:  # not taken for an abbreviation of --token-file
            call_command("create_app", "Slack", "--tenant-url", url, "--token", TOKEN)
        assert str(raised.value) == "Error: the following arguments are required: --token-file"
        for extra in (["--token", TOKEN], [f"--token={TOKEN}"], [TOKEN]):
            with pytest.raises(CommandError) as raised:
                call_command("create_app", "Slack", "--tenant-url", url, "--token-file", str(token_file), *extra)
            assert str(raised.value).startswith("Error: unrecognized arguments: ")
            assert str(raised.value).endswith("The Secret Token is read from --token-file only.")
            assert TOKEN not in str(raised.value)
        assert not Application.objects.exists()


# --- provision


@pytest.mark.django_db
class TestProvision:
    """`manage.py provision APP [--wait]` queues a cycle for the workers, as Start provisioning does."""

    @pytest.fixture
    def enqueued(self, monkeypatch):
        from provisioning import tasks

        ids = []
        monkeypatch.setattr(tasks.run_cycle, "delay", lambda cycle_id: ids.append(cycle_id))
        return ids

    def test_queues_a_cycle_and_turns_provisioning_on(self, enqueued, django_capture_on_commit_callbacks):
        app = ApplicationFactory(name="Slack")
        out = io.StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("provision", "slack", stdout=out)
        cycle = app.cycles.get()
        assert enqueued == [cycle.pk]
        assert f"Initial cycle {cycle.cycle_id} of Slack queued." in out.getvalue()
        app.refresh_from_db()
        assert app.provisioning_enabled

    def test_an_unknown_app_lists_the_ones_there_are(self):
        ApplicationFactory(name="Slack")
        with pytest.raises(CommandError, match=r"No application named 'Zoom'\. Applications: Slack\."):
            call_command("provision", "Zoom")

    def test_an_unconfigured_app_says_what_to_fix(self):
        ApplicationFactory(name="Slack", tenant_url="", provisioning_mode="manual")
        with pytest.raises(CommandError, match="set Provisioning Mode to Automatic, enter the Tenant URL"):
            call_command("provision", "Slack")

    @pytest.mark.django_db(transaction=True)
    def test_wait_follows_the_cycle_through_a_real_worker(self, celery_worker, scim_server):
        app = ApplicationFactory(name="Slack", tenant_url=scim_server.tenant_url(), secret_token=scim_server.token, scope="all")
        DirectoryUserFactory.create_batch(3)
        out = io.StringIO()
        call_command("provision", "Slack", "--wait", stdout=out)
        text = out.getvalue()
        assert "Initial cycle completed in" in text and "Create   Success  3" in text
        assert app.cycles.get().state == "completed"

    @pytest.mark.django_db(transaction=True)
    def test_wait_exits_non_zero_when_objects_fail(self, celery_worker, scim_server):
        app = ApplicationFactory(name="Slack", tenant_url=scim_server.tenant_url(), secret_token=scim_server.token, scope="all")
        mapping = app.object_mappings.get(object_type="user")
        mapping.attribute_mappings.filter(target_attribute="title").update(required=True)
        DirectoryUserFactory(job_title="")
        with pytest.raises(CommandError, match=r"1 object\(s\) failed: see the provisioning logs of Slack\."):
            call_command("provision", "Slack", "--wait", stdout=io.StringIO())


@pytest.mark.django_db
class TestBadDayCommands:
    """create_app --deletion-threshold, provision --restart/--allow-deletes/--reject-deletes, app_status."""

    @pytest.fixture
    def enqueued(self, monkeypatch):
        from provisioning import tasks

        ids = []
        monkeypatch.setattr(tasks.run_cycle, "delay", lambda cycle_id: ids.append(cycle_id))
        return ids

    @pytest.fixture
    def held(self):
        from provisioning.engine import quarantine
        from provisioning.models import Quarantine
        from tests.factories import PendingRemovalFactory, ProvisioningCycleFactory

        app = ApplicationFactory(name="Slack", provisioning_enabled=True)
        PendingRemovalFactory.create_batch(2, cycle=ProvisioningCycleFactory(application=app, state="completed"), staged=True)
        quarantine.enter(app, Quarantine.Reason.TOO_MANY_DELETES, *quarantine.for_deletes(app, 2, 0)[1:])
        return app

    @pytest.mark.parametrize(("given", "prevent", "threshold"), [([], True, 500), (["--deletion-threshold", "40"], True, 40),
                                                                 (["--deletion-threshold", "0"], False, 500)])
    def test_create_app_sets_the_deletion_threshold(self, token_file, given, prevent, threshold):
        create_app("Slack", "--tenant-url", "https://scim.example.com/scim/v2", "--token-file", str(token_file), *given)
        app = Application.objects.get()
        assert (app.prevent_accidental_deletions, app.deletion_threshold) == (prevent, threshold)

    def test_a_negative_threshold_is_refused(self, token_file):
        with pytest.raises(CommandError, match=r"must be 0 \(off\) or more disables and deletes per cycle, not -1"):
            create_app("Slack", "--tenant-url", "https://scim.example.com/scim/v2", "--token-file", str(token_file),
                       "--deletion-threshold", "-1")

    def test_restart_with_scopes(self, enqueued, django_capture_on_commit_callbacks):
        app = ApplicationFactory(name="Slack")
        out = io.StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("provision", "Slack", "--restart", "Watermark,Escrows", stdout=out)
        cycle = app.cycles.get()
        assert enqueued == [cycle.pk] and cycle.restart_scopes == "Watermark,Escrows"

    def test_restart_with_an_unknown_scope_lists_the_valid_ones(self):
        ApplicationFactory(name="Slack")
        with pytest.raises(CommandError, match="Unknown reset scope Everything: use any of Watermark"):
            call_command("provision", "Slack", "--restart", "Everything")

    def test_allow_deletes_queues_a_force_deletes_cycle(self, held, enqueued, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("provision", "Slack", "--allow-deletes", stdout=io.StringIO())
        cycle = held.cycles.get(state="queued")
        assert cycle.force_deletes and enqueued == [cycle.pk]

    def test_reject_deletes_says_what_it_dropped(self, held):
        out = io.StringIO()
        call_command("provision", "Slack", "--reject-deletes", stdout=out)
        assert "Rejected 2 held disables and deletes of Slack; provisioning is paused" in out.getvalue()

    def test_allow_deletes_with_nothing_held_says_so(self):
        ApplicationFactory(name="Slack")
        with pytest.raises(CommandError, match="nothing to allow"):
            call_command("provision", "Slack", "--allow-deletes")

    def test_app_status_in_graphs_shape(self, held):
        out = io.StringIO()
        call_command("app_status", "Slack", "--json", stdout=out)
        status = json.loads(out.getvalue())
        assert status["code"] == "Quarantine"
        assert status["quarantine"]["reason"] == "TooManyDeletes" and status["quarantine"]["nextAttempt"] is None
        assert status["stagedDeletes"] == 2
        text = io.StringIO()
        call_command("app_status", "Slack", stdout=text)
        assert "Quarantine: TooManyDeletes since" in text.getvalue()
        assert "Held disables and deletes: 2 (provision --allow-deletes or --reject-deletes)" in text.getvalue()
