"""`make run`: the portal with demo data on the embedded defaults, in one terminal.

Prepares the database (migrate, logins, static files), starts the demo SCIM target, loads the demo
directory and app, then runs the web server, a Celery worker and Celery beat. Ctrl-C (or SIGTERM)
stops them all. A worker or beat that dies is started again after a pause that grows with each crash in a
row (a line says so); if the web server or the demo target dies, the others are stopped and the message
names it.

Environment: PORT (web, default 8000), DEMO_SCIM_PORT (demo target, default 8081), PORTAL_VAR_DIR
(data folder, default ./var), plus everything portal/settings.py reads.
"""

import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo_target  # noqa: E402  (a sibling script, not a package)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MANAGE = [PYTHON, str(ROOT / "manage.py")]
STOP_TIMEOUT_SECONDS = 15
START_TIMEOUT_SECONDS = 60
# Restarts of a crashed worker or beat: 1 s, 2 s, 4 s … at most a minute; a child that ran this long
# before it died starts the count again.
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 60.0
RESTART_RESET_AFTER_SECONDS = 60.0


class Interrupted(BaseException):
    """SIGINT or SIGTERM during start-up or while running: stop everything."""


class StartupError(Exception):
    """A step failed; str() says which and what to do. Exit with .code."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


@dataclass
class Child:
    name: str
    label: str  # the prefix of its output lines
    process: subprocess.Popen
    command: list
    ready_text: str | None = None
    restart: bool = False  # started again when it dies, instead of stopping the portal
    ready: threading.Event = field(default_factory=threading.Event)
    started_at: float = field(default_factory=time.monotonic)
    crashes: int = 0  # in a row, for the backoff
    restart_at: float | None = None

    def backoff(self):
        return min(RESTART_FIRST_SECONDS * 2 ** (self.crashes - 1), RESTART_MAX_SECONDS)


def exit_text(returncode):
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


def say(message=""):
    print(message, flush=True)


def load_demo_data_args(tenant_url, token_file):
    # The token stays in its file: a command line is readable by every user of the machine (ps).
    return [f"--tenant-url={tenant_url}", f"--token-file={token_file}"]


def port_from_env(variable, default):
    value = os.environ.get(variable, str(default))
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise StartupError(f"{variable}={value!r} is not a port number: use e.g. {variable}={default} make run", code=2)
    return int(value)


def check_port_free(port, variable):
    with socket.socket() as s:
        # The servers set SO_REUSEADDR too, so a port in TIME_WAIT from the last run counts as free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"Port {port} on 127.0.0.1 is already in use (is another `make run` still running?). "
                    f"Stop what uses it, or choose another port: {variable}={port + 1} make run",
                    code=2,
                ) from None
            raise


def wait_for_port(child, port, timeout=START_TIMEOUT_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise StartupError(f"The {child.name} exited ({exit_text(child.process.returncode)}) before listening on port {port}: see its messages above.")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise StartupError(f"The {child.name} did not listen on port {port} within {timeout} s.")


class Supervisor:
    def __init__(self, env):
        self.env = env
        self.children: list[Child] = []
        self.hurry = False

    def manage(self, *args, capture=False):
        """Run one manage.py command to completion; failing stops the start-up."""
        result = subprocess.run([*MANAGE, *args], cwd=ROOT, env=self.env, text=True, stdout=subprocess.PIPE if capture else None)
        if result.returncode != 0:
            if capture and result.stdout:
                say(result.stdout)
            raise StartupError(f"'manage.py {args[0]}' failed (exit code {result.returncode}): see its messages above.")
        return result.stdout

    def _spawn(self, command):
        # A session of its own: the terminal's Ctrl-C reaches only us, and we stop children in order.
        return subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace", bufsize=1, start_new_session=True,
        )

    def start(self, name, label, command, ready_text=None, restart=False):
        child = Child(name, label, self._spawn(command), command, ready_text, restart)
        self.children.append(child)
        threading.Thread(target=self._relay, args=(child, child.process), daemon=True).start()
        return child

    def _relay(self, child, process):
        label = f"{child.label:>6} | "
        for line in process.stdout:
            if child.ready_text and child.ready_text in line:
                child.ready.set()
            sys.stdout.write(label + line)
            sys.stdout.flush()

    def _restart_later(self, child):
        now = time.monotonic()
        if now - child.started_at >= RESTART_RESET_AFTER_SECONDS:
            child.crashes = 0
        child.crashes += 1
        delay = child.backoff()
        child.restart_at = now + delay
        say(f"The {child.name} exited unexpectedly ({exit_text(child.process.returncode)}): starting it again in {delay:g} s "
            f"(crash {child.crashes} in a row). See its messages above.")

    def _restart(self, child):
        # What it left in its process group (a prefork pool's children) goes first, or they would hold its tasks.
        try:
            os.killpg(child.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        child.restart_at = None
        child.ready.clear()
        child.process = self._spawn(child.command)
        child.started_at = time.monotonic()
        threading.Thread(target=self._relay, args=(child, child.process), daemon=True).start()
        say(f"The {child.name} started again (process {child.process.pid}).")

    def watch(self):
        """Block until a child that is not restarted exits; restart the worker and beat when they die."""
        while True:
            for child in self.children:
                if child.restart_at is not None:
                    if time.monotonic() >= child.restart_at:
                        self._restart(child)
                elif child.process.poll() is not None:
                    if not child.restart:
                        return child
                    self._restart_later(child)
            time.sleep(0.2)

    def stop_all(self):
        """Stop the children, newest first (web before worker, the SCIM target last, so it saves last)."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                try:
                    os.killpg(child.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for child in reversed(self.children):
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            while child.process.poll() is None and time.monotonic() < deadline and not self.hurry:
                time.sleep(0.1)
            if child.process.poll() is None:
                say(f"The {child.name} did not stop within {STOP_TIMEOUT_SECONDS} s: killing it.")
                try:
                    os.killpg(child.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.process.wait()
        # Anything left in a child's process group (a worker thread's subprocess, say).
        for child in self.children:
            try:
                os.killpg(child.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def run(self, port, scim_port):
        var_dir = Path(self.env["PORTAL_VAR_DIR"])
        say(f"Provisioning Portal: data in {var_dir}")
        say("== Preparing the database")
        self.manage("migrate", "--noinput")
        logins = self.manage("ensure_admin", "--port", str(port), capture=True)
        self.manage("collectstatic", "--noinput", "-v", "0")

        say(f"== Starting the demo SCIM target on port {scim_port}")
        demo_target.ensure_token(var_dir / "demo_target_token")
        target = self.start(
            "demo SCIM target", "scim",
            [PYTHON, str(ROOT / "scripts" / "demo_target.py"), "--port", str(scim_port), "--data", str(var_dir / "demo-target.json"),
             "--token-file", str(var_dir / "demo_target_token")],
        )
        wait_for_port(target, scim_port)
        tenant_url = demo_target.tenant_url(scim_port)

        say("== Loading the demo directory and app")
        self.manage("load_demo_data", *load_demo_data_args(tenant_url, var_dir / "demo_target_token"))

        say(f"== Starting the web server on port {port}, the Celery worker and beat")
        # One worker: gossip, mingle and heartbeats are for clusters, and would leave messages for workers long gone.
        worker = self.start("Celery worker", "worker", [PYTHON, "-m", "celery", "-A", "portal", "worker", "-l", "INFO",
                                                        "--without-gossip", "--without-mingle", "--without-heartbeat"],
                            ready_text=" ready.", restart=True)
        self.start("Celery beat", "beat", [PYTHON, "-m", "celery", "-A", "portal", "beat", "-l", "INFO"], restart=True)
        web = self.start("web server", "web", [*MANAGE, "runserver", f"127.0.0.1:{port}", "--noreload"])
        wait_for_port(web, port)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not worker.ready.is_set() and worker.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)

        rule = "=" * 78
        say(rule)
        say(f"Provisioning Portal is running: http://127.0.0.1:{port}/")
        for line in logins.splitlines():
            say(line)
        say(f"Demo SCIM target: {tenant_url} (bearer token in {var_dir / 'demo_target_token'})")
        say("The demo app 'Contoso SCIM Demo' is ready: open it and turn Provisioning Status On.")
        say("Press Ctrl-C to stop.")
        say(rule)

        died = self.watch()
        say(f"The {died.name} exited unexpectedly ({exit_text(died.process.returncode)}): stopping the others. See its messages above.")
        return 1


def main():
    env = dict(os.environ)
    env.setdefault("PORTAL_VAR_DIR", str(ROOT / "var"))
    env["PYTHONUNBUFFERED"] = "1"

    def interrupt(signum, frame):
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    supervisor = Supervisor(env)
    code = 0
    try:
        port = port_from_env("PORT", 8000)
        scim_port = port_from_env("DEMO_SCIM_PORT", demo_target.DEFAULT_PORT)
        if port == scim_port:
            raise StartupError(f"PORT and DEMO_SCIM_PORT are both {port}: choose two different ports.", code=2)
        check_port_free(port, "PORT")
        check_port_free(scim_port, "DEMO_SCIM_PORT")
        env["PORT"] = str(port)
        Path(env["PORTAL_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
        code = supervisor.run(port, scim_port)
    except Interrupted as exc:
        say(f"\n{exc} received: stopping…")
    except StartupError as exc:
        say(f"make run: {exc}")
        code = exc.code
    finally:
        # A second Ctrl-C while stopping: do not wait for graceful shutdowns any more.
        def hurry(signum, frame):
            supervisor.hurry = True

        signal.signal(signal.SIGINT, hurry)
        signal.signal(signal.SIGTERM, hurry)
        supervisor.stop_all()
    if supervisor.children and code == 0:
        say("Stopped. Your data is kept in " + env["PORTAL_VAR_DIR"] + "; `make run` starts again where you left off.")
    return code


if __name__ == "__main__":
    sys.exit(main())
