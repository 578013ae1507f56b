"""On-demand provisioning, one user, loopback SCIM target: time from "Provision" to the result.

Measures what the admin waits for: the request is validated and queued exactly as the view does it,
a real Celery worker process picks it up from the broker, runs the five steps against a real
scim2-server, and the run is complete in the database (what the page's next poll shows).
Uses the embedded defaults (SQLite + the embedded broker in a temp dir) unless DATABASE_URL /
CELERY_BROKER_URL are set. Target (DESIGN.md): < 1 s. Entra: "typically less than 30 seconds".

    .venv/bin/python bench/bench_on_demand.py [runs]
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PORTAL_VAR_DIR", tempfile.mkdtemp(prefix="portal-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from provisioning import tasks  # noqa: E402
from provisioning.defaults import install_default_mappings  # noqa: E402
from provisioning.engine.on_demand import provision_on_demand, request_on_demand  # noqa: E402
from provisioning.models import Application, Assignment, DirectoryUser, OnDemandRun  # noqa: E402
from tests.servers import start_scim_server  # noqa: E402


def wait_done(run, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = OnDemandRun.objects.filter(pk=run.pk).values_list("state", flat=True).first()
        if state in (OnDemandRun.State.COMPLETED, OnDemandRun.State.FAILED):
            return state
        time.sleep(0.005)
    raise SystemExit("the worker did not finish the run within 30 s")


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    call_command("migrate", verbosity=0)
    server = start_scim_server(token="bench-token")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "threads", "--concurrency", "2", "-l", "WARNING"],
        cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        app = Application.objects.create(
            name=f"Bench {time.time()}", provisioning_mode="automatic", tenant_url=server.tenant_url(),
        )
        app.set_secret_token("bench-token")
        app.save()
        install_default_mappings(app)
        users = [
            DirectoryUser.objects.create(
                user_principal_name=f"bench{i}.{time.time_ns()}@contoso.example", display_name=f"Bench User {i}",
                given_name="Bench", surname=f"User {i}", mail=f"bench{i}@contoso.example", department="Engineering",
            )
            for i in range(runs * 2)
        ]
        Assignment.objects.bulk_create(Assignment(application=app, user=u) for u in users)

        # Warm-up: the worker's first task imports and connects.
        run = request_on_demand(app, user_ids=[users[-1].pk])
        tasks.run_on_demand.delay(run.pk)
        wait_done(run)

        def measure(subjects, through_worker):
            timings = []
            for user in subjects:
                started = time.perf_counter()
                run = request_on_demand(app, user_ids=[user.pk])
                if through_worker:
                    tasks.run_on_demand.delay(run.pk)
                    state = wait_done(run)
                else:
                    provision_on_demand(run)
                    state = OnDemandRun.objects.get(pk=run.pk).state
                timings.append((time.perf_counter() - started) * 1000)
                assert state == OnDemandRun.State.COMPLETED
            return timings

        broker = os.environ.get("CELERY_BROKER_URL", "embedded://")
        database = django.db.connection.vendor
        created = measure(users[:runs], through_worker=True)
        unchanged = measure(users[:runs], through_worker=True)
        pipeline_only = measure(users[runs:2 * runs - 1], through_worker=False)

        def line(label, values):
            values = sorted(values)
            p95 = values[max(0, int(round(0.95 * len(values))) - 1)]
            return f"  {label:<48} median {statistics.median(values):7.1f} ms   p95 {p95:7.1f} ms   max {values[-1]:7.1f} ms"

        print(f"on-demand provisioning, one user, loopback scim2-server ({database}, broker {broker}), {runs} runs each:")
        print(line("create, click → result via Celery worker", created))
        print(line("unchanged (skip), click → result via worker", unchanged))
        print(line("create, pipeline alone (no broker)", pipeline_only))
        print("target: < 1000 ms click to result")
    finally:
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
        server.stop()


if __name__ == "__main__":
    main()
