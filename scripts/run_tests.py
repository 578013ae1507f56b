"""`make test`: runs the whole suite against real services.

PostgreSQL and Redis are used when DATABASE_URL / CELERY_BROKER_URL say so (CI sets them) or, when
unset, if they answer on 127.0.0.1; otherwise SQLite and the embedded broker. The browser test
needs Debian's chromium, installed here when missing (Playwright's own download cannot work offline);
the real SCIM servers of tests/targets/ that are not the portal's own packages (django-scim2 in a
virtualenv of its own, SCIMMY from npm) are installed into var/targets/ when missing.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def reachable(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def ensure_chromium():
    if shutil.which("chromium"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("Chromium is missing and cannot be installed here: the browser test will fail. "
              "Install Debian's 'chromium' package.", file=sys.stderr)
        return
    print("Installing Debian's chromium for the browser test…", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def ensure_target_servers():
    sys.path.insert(0, str(ROOT))
    from tests.targets.installs import ensure_django_scim2, ensure_scimmy

    for name, ensure in (("django-scim2", ensure_django_scim2), ("SCIMMY", ensure_scimmy)):
        try:
            ensure()
        except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"{name} could not be installed ({exc}): its tests in tests/targets/ will fail.", file=sys.stderr)


def main():
    env = dict(os.environ)
    if "DATABASE_URL" not in env and reachable(5432):
        env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/portal"
    if "CELERY_BROKER_URL" not in env and reachable(6379):
        env["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/15"
    # Test runs keep their files (embedded broker, secret key) apart from `make run`'s var/.
    env.setdefault("PORTAL_VAR_DIR", tempfile.mkdtemp(prefix="portal-test-"))
    # Queues of this run's own: another run (or `make run`) on the same broker must not take its tasks.
    env.setdefault("PORTAL_QUEUE_PREFIX", f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}-")
    print(f"database: {env.get('DATABASE_URL', 'sqlite (embedded)')}; broker: {env.get('CELERY_BROKER_URL', 'embedded://')}", flush=True)
    ensure_chromium()
    ensure_target_servers()
    result = subprocess.run([sys.executable, "-m", "pytest", *sys.argv[1:]], cwd=ROOT, env=env)
    # pytest's 5 means no test ran: a failure for us.
    sys.exit(1 if result.returncode == 5 else result.returncode)


if __name__ == "__main__":
    main()
