"""manage.py ensure_admin and import_users."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from provisioning.models import DirectoryUser
from provisioning.roles import ADMINISTRATORS, HELPDESK

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
