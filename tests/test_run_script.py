"""scripts/demo_target.py (the demo SCIM target keeps its data across restarts) and scripts/run.py's port checks."""

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "demo_target.py"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


class Target:
    def __init__(self, tmp_path, port=None):
        self.port = port or free_port()
        self.data = tmp_path / "demo-target.json"
        self.token_file = tmp_path / "token"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--port", str(self.port), "--data", str(self.data), "--token-file", str(self.token_file)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        wait_for_port(self.port, timeout=60, process=self.process)
        return self

    def stop(self, signum=signal.SIGTERM):
        self.process.send_signal(signum)
        output, _ = self.process.communicate(timeout=60)
        return self.process.returncode, output

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def client(self):
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}/scim/v2", timeout=5,
                            headers={"Authorization": f"Bearer {self.token_file.read_text().strip()}"})


@pytest.fixture
def target(tmp_path):
    made = Target(tmp_path)
    yield made
    made.kill()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_users_and_groups_survive_a_restart(target, signum):
    target.start()
    with target.client() as client:
        created = client.post("/Users", json={"schemas": [CORE_USER], "userName": "zoë.müller@contoso.example", "active": True})
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        group = client.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Pilot users",
                                             "members": [{"value": user_id}]})
        assert group.status_code == 201, group.text
    code, output = target.stop(signum)
    assert code == 0, output
    assert "2 resources saved" in output
    token = target.token_file.read_text()

    target.start()
    assert target.token_file.read_text() == token  # the token is generated once
    with target.client() as client:
        found = client.get("/Users", params={"filter": 'userName eq "ZOË.MÜLLER@contoso.example"'}).json()
        assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user_id
        groups = client.get("/Groups").json()["Resources"]
        assert groups[0]["members"][0]["value"] == user_id
        # Uniqueness still holds for what was loaded from disk.
        again = client.post("/Users", json={"schemas": [CORE_USER], "userName": "zoë.müller@contoso.example"})
        assert again.status_code == 409
        # A changed resource gets a version newer than any saved one.
        patched = client.patch(f"/Users/{user_id}", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                                         "Operations": [{"op": "replace", "path": "active", "value": False}]})
        assert patched.status_code in (200, 204), patched.text
        version = client.get(f"/Users/{user_id}").json()["meta"]["version"]
        assert version not in ('W/"1"', 'W/"2"')
    target.stop()


def test_requests_need_the_token_and_the_prefix(target):
    target.start()
    base = f"http://127.0.0.1:{target.port}"
    assert httpx.get(f"{base}/scim/v2/Users").status_code == 401
    assert httpx.get(f"{base}/scim/v2/Users", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(f"{base}/scim/v2/ServiceProviderConfig").status_code == 200
    outside = httpx.get(f"{base}/v2/Users")
    assert outside.status_code == 404 and "/scim/v2" in outside.text
    with target.client() as client:
        assert client.get("/Users").json()["totalResults"] == 0


def load_script_module():
    spec = importlib.util.spec_from_file_location("demo_target", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_writes_mark_the_data_for_the_periodic_save(target):
    """A kill -9 loses at most the last few seconds: changed data is saved every SAVE_EVERY_SECONDS."""
    app = load_script_module().DemoTarget("t", target.data)
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://test/scim/v2", headers={"Authorization": "Bearer t"}) as client:
        assert not app.dirty.is_set()
        client.get("/Users")
        assert not app.dirty.is_set()  # reads do not mark it for saving
        client.post("/Users", json={"schemas": [CORE_USER], "userName": "a@contoso.example"})
        assert app.dirty.is_set()
    assert app.save() == 1 and not app.dirty.is_set()
    saved = json.loads(target.data.read_text())
    assert saved["format"] == 1 and saved["resources"][0]["userName"] == "a@contoso.example"


def test_damaged_data_file_is_refused_with_advice(target):
    target.data.write_text("{not json")
    process = subprocess.run([sys.executable, str(SCRIPT), "--port", str(target.port), "--data", str(target.data),
                              "--token-file", str(target.token_file)], capture_output=True, text=True, timeout=30)
    assert process.returncode == 2
    assert f"Cannot read the demo target's saved data in {target.data}" in process.stderr
    assert "Move or delete the file" in process.stderr and "Traceback" not in process.stderr


def test_port_in_use_is_explained(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = subprocess.run([sys.executable, str(SCRIPT), "--port", str(port), "--data", str(tmp_path / "d.json"),
                                  "--token-file", str(tmp_path / "t")], capture_output=True, text=True, timeout=30)
        run = subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py")], capture_output=True, text=True, timeout=30,
                             env={"PATH": "/usr/bin:/bin", "PORT": str(port), "PORTAL_VAR_DIR": str(tmp_path / "var")})
    assert process.returncode == 2
    assert f"Port {port} is already in use" in process.stderr and f"DEMO_SCIM_PORT={port + 1}" in process.stderr
    assert run.returncode == 2
    assert f"Port {port} on 127.0.0.1 is already in use" in run.stdout and f"PORT={port + 1} make run" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def children_of(pid):
    """{pid: command line} of the direct children of pid (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


class Portal:
    """scripts/run.py on free ports, its own SQLite and embedded broker in a temp folder."""

    def __init__(self, tmp_path):
        self.port, self.scim_port = free_port(), free_port()
        self.var = tmp_path / "var"
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
        self.env.update(PORT=str(self.port), DEMO_SCIM_PORT=str(self.scim_port), PORTAL_VAR_DIR=str(self.var))
        self.lines = []

    def start(self):
        self.process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "run.py")], cwd=ROOT, env=self.env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.process.stdout:
            self.lines.append(line)
            if "Press Ctrl-C to stop." in line:
                return self
        raise AssertionError("run.py stopped before it was ready:\n" + "".join(self.lines))

    def read_until(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        for line in self.process.stdout:
            self.lines.append(line)
            if text in line:
                return
            if time.monotonic() > deadline:
                break
        raise AssertionError(f"run.py did not print {text!r}:\n" + "".join(self.lines[-60:]))

    def finish(self):
        self.lines.extend(self.process.stdout)
        return self.process.wait(timeout=120), "".join(self.lines)

    def kill(self):
        if self.process.poll() is None:
            for pid in children_of(self.process.pid):
                os.killpg(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait()


def test_make_run_starts_stops_and_keeps_data(tmp_path):
    portal = Portal(tmp_path)
    try:
        portal.start()
        output = "".join(portal.lines)
        password = (portal.var / "admin_password").read_text().strip()
        assert f"Sign in at http://127.0.0.1:{portal.port}/ as admin / {password}" in output
        assert f"Demo SCIM target: http://127.0.0.1:{portal.scim_port}/scim/v2" in output
        assert httpx.get(f"http://127.0.0.1:{portal.port}/login/").status_code == 200
        token = (portal.var / "demo_target_token").read_text().strip()
        scim = f"http://127.0.0.1:{portal.scim_port}/scim/v2"
        created = httpx.post(f"{scim}/Users", headers={"Authorization": f"Bearer {token}"},
                             json={"schemas": [CORE_USER], "userName": "kept@contoso.example"})
        assert created.status_code == 201
        children = children_of(portal.process.pid)
        assert len(children) == 4  # demo target, worker, beat, web server

        portal.process.send_signal(signal.SIGINT)
        code, output = portal.finish()
        assert code == 0, output
        assert "SIGINT received: stopping" in output and "1 resources saved" in output
        assert not any(Path(f"/proc/{pid}").exists() for pid in children)

        # Second start: same data, same password; a child that dies takes the others down.
        again = Portal(tmp_path)
        again.start()
        output = "".join(again.lines)
        assert "1 resources loaded" in output and "0 users created, 66 already there" in output
        assert f"as admin / {password}" in output
        users = httpx.get(f"http://127.0.0.1:{again.scim_port}/scim/v2/Users", headers={"Authorization": f"Bearer {token}"}).json()
        assert [u["userName"] for u in users["Resources"]] == ["kept@contoso.example"]
        # No child carries the demo target's token on its command line (ps shows it to every user).
        assert not any(token in cmd for cmd in children_of(again.process.pid).values())

        # A worker or beat that dies is started again, with a line that says so; a second crash in a row waits longer.
        for name, command, waits in (("Celery beat", "portal beat", "1 s"), ("Celery worker", "portal worker", "1 s"),
                                     ("Celery worker", "portal worker", "2 s")):
            pid = next(pid for pid, cmd in children_of(again.process.pid).items() if command in cmd)
            os.kill(pid, signal.SIGKILL)
            again.read_until(f"The {name} started again")
            output = "".join(again.lines)
            assert f"The {name} exited unexpectedly (killed by SIGKILL): starting it again in {waits}" in output
            assert pid not in children_of(again.process.pid)
            if name == "Celery worker":
                again.read_until(" ready.")
        assert len(children_of(again.process.pid)) == 4
        assert httpx.get(f"http://127.0.0.1:{again.port}/login/").status_code == 200

        # The web server is not restarted: its death stops the portal.
        web = next(pid for pid, cmd in children_of(again.process.pid).items() if "runserver" in cmd)
        os.kill(web, signal.SIGKILL)
        code, output = again.finish()
        assert code == 1
        assert "The web server exited unexpectedly (killed by SIGKILL): stopping the others." in output
        assert children_of(again.process.pid) == {}
    finally:
        portal.kill()
        if "again" in locals():
            again.kill()


@pytest.mark.django_db
def test_a_generated_token_starting_with_a_dash_reaches_load_demo_data(monkeypatch, tmp_path):
    # secrets.token_urlsafe can start with "-": passed as a separate word, argparse took it for an option.
    from django.core.management import call_command

    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import run

    token_file = tmp_path / "token"
    token_file.write_text("-starts-with-a-dash\n")
    call_command("load_demo_data", *run.load_demo_data_args("http://127.0.0.1:9/scim/v2", token_file))
    from provisioning.models import Application

    assert Application.objects.get().get_secret_token() == "-starts-with-a-dash"
