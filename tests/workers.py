"""Real Celery worker and beat processes for the tests that kill them.

They run `celery -A portal worker|beat` against the test database and this run's queues (the same
broker), with short leases so that a takeover happens within seconds. Each is started with a parent-death
signal, so it stops by itself if the test run dies; the fixtures stop them by their PID.
"""

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1

# Seconds: a dead worker's chunk is taken over after the lease; beat looks for such cycles this often.
FAST = {"PROVISIONING_LEASE_SECONDS": "3", "PROVISIONING_BEAT_SECONDS": "1"}


def _die_with_parent():
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def database_url():
    """The URL of the database the tests use (pytest-django's test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@dataclass
class Process:
    name: str
    process: subprocess.Popen
    log_path: Path
    killed: bool = field(default=False)

    @property
    def pid(self):
        return self.process.pid

    def kill(self):
        """SIGKILL: no clean-up, no acknowledgement, exactly what a crash or the OOM killer does."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.killed = True

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _env(extra):
    env = {**os.environ, "DATABASE_URL": database_url(), "PORTAL_QUEUE_PREFIX": settings.PORTAL_QUEUE_PREFIX,
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "PYTHONUNBUFFERED": "1", **FAST}
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


def _start(name, args, extra):
    log_path = Path(tempfile.mkdtemp(prefix="portal-worker-")) / f"{name}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", *args], cwd=ROOT, env=_env(extra),
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )
    return Process(name, process, log_path)


def start_worker(name, *, env=None, concurrency=1, pool=None, args=()):
    """One worker process (solo pool: the task runs in it, so SIGKILL kills the task with it)."""
    pool = ["-P", pool, "-c", str(concurrency)] if pool else ["-P", "solo"] if concurrency == 1 else ["-P", "threads", "-c", str(concurrency)]
    worker = _start(name, ["worker", *pool, "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "-l", "info", *args], env)
    _wait_ready(worker)
    return worker


def start_beat(*, env=None):
    schedule = Path(tempfile.mkdtemp(prefix="portal-beat-")) / "schedule"
    return _start("beat", ["beat", "-l", "info", "-s", str(schedule)], env)


def _wait_ready(worker, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(f"worker {worker.name} exited with {worker.process.returncode}:\n{worker.log()[-3000:]}")
        if "ready." in worker.log():
            return
        time.sleep(0.1)
    raise RuntimeError(f"worker {worker.name} was not ready within {timeout}s:\n{worker.log()[-3000:]}")
