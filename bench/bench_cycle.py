"""Provisioning cycles at scale, through real Celery workers, against the physical limit in the same run.

    .venv/bin/python bench/bench_cycle.py                      # 10,000 users + 500 groups, PostgreSQL + Redis
    .venv/bin/python bench/bench_cycle.py --embedded           # the same on SQLite + the embedded broker
    .venv/bin/python bench/bench_cycle.py --users 100000 --cases rss
    .venv/bin/python bench/bench_cycle.py --cases initial --profile

Each run gets a fresh scim2-server (scripts/scim_target.py: HTTP/1.1 keep-alive) and a fresh database.
The initial cycle is measured as limit → engine → limit: the bare httpx client of bench/cycle_fixture.py
sends the fewest requests that give the same end state, at the same concurrency; the engine runs through
`celery -A portal worker` processes. A run whose target does not hold exactly the directory afterwards is
reported as WRONG and does not count. Cases:

    initial      the initial cycle, ratio engine / limit (target ≤ 1.3)
    unchanged    an incremental cycle with nothing changed (target < 2 s, 0 requests)
    changes      an incremental cycle after 100 user changes and 10 membership changes (target < 5 s)
    workers      the initial cycle with 2 worker processes against 1 (correct with both; the ratio)
    bulk         the initial cycle with /Bulk on, against both limits (one request per object, and /Bulk)
    rss          the peak resident memory of the worker processes during an initial cycle (< 500 MB)

--profile samples the worker processes with py-spy during the engine's initial cycle and says where the
engine's CPU time goes (HTTP client, mapping, database, …), beside the target's own CPU time.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import cycle_fixture as fixture  # noqa: E402  (bench/cycle_fixture.py)

CASES = ["initial", "unchanged", "changes", "workers", "bulk", "rss"]
PG_DATABASE = "portal_bench_cycle"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int)
    parser.add_argument("--memberships", type=int)
    parser.add_argument("--embedded", action="store_true", help="SQLite and the filesystem broker instead of PostgreSQL and Redis")
    parser.add_argument("--cases", default=",".join(CASES[:-1]), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight, for the engine and the bare client")
    parser.add_argument("--profile", action="store_true", help="sample the workers with py-spy during the initial cycle")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a cycle may take before the run fails")
    args = parser.parse_args()
    args.groups = args.groups if args.groups is not None else max(1, args.users // 20)
    args.memberships = args.memberships if args.memberships is not None else int(args.users * 2.8)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {', '.join(sorted(unknown))}: choose from {', '.join(CASES)}")
    return args


# --------------------------------------------------------------------------------------------- environment


def configure(args):
    """Environment for this process and the workers: a fresh database, a broker, queues of this run's own."""
    var = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    env = {"PORTAL_VAR_DIR": str(var), "PORTAL_QUEUE_PREFIX": f"bench-{uuid.uuid4().hex[:8]}-", "LOG_LEVEL": "WARNING"}
    if args.embedded:
        env["DATABASE_URL"] = f"sqlite:///{var / 'bench.sqlite3'}"
        env["CELERY_BROKER_URL"] = "embedded://"
    else:
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {PG_DATABASE}"], check=True)
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {PG_DATABASE}"], check=True)
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{PG_DATABASE}"
        env["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/14"
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


class Workers:
    """`celery -A portal worker` processes (each with its default pool), stopped by their PID at the end."""

    def __init__(self, count, env):
        self.processes = []
        log_dir = Path(tempfile.mkdtemp(prefix="portal-bench-workers-"))
        for n in range(count):
            log = open(log_dir / f"worker{n}.log", "w")
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "portal", "worker", "-l", "info", "-n", f"bench{n}@%h",
                 "--without-gossip", "--without-mingle"],
                cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT))
        self.log_dir = log_dir
        print(f"  (worker logs in {log_dir})")
        time.sleep(3)  # the prefork children start and connect to the broker

    def pids(self):
        pids = []
        for process in self.processes:
            try:
                parent = psutil.Process(process.pid)
                pids += [parent.pid, *(c.pid for c in parent.children(recursive=True))]
            except psutil.NoSuchProcess:
                continue
        return pids

    def rss(self):
        """(largest single process, all together) in MB."""
        sizes = []
        for pid in self.pids():
            try:
                sizes.append(psutil.Process(pid).memory_info().rss / 2**20)
            except psutil.NoSuchProcess:
                continue
        return (max(sizes) if sizes else 0.0), sum(sizes)

    def cpu_seconds(self):
        total = 0.0
        for pid in self.pids():
            try:
                times = psutil.Process(pid).cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return total

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


class Sampler(threading.Thread):
    """Peak RSS of the workers, every quarter second."""

    def __init__(self, workers):
        super().__init__(daemon=True)
        self.workers, self.peak_one, self.peak_all = workers, 0.0, 0.0
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.25):
            one, total = self.workers.rss()
            self.peak_one, self.peak_all = max(self.peak_one, one), max(self.peak_all, total)


# --------------------------------------------------------------------------------------------- the engine


def load_directory(args):
    from provisioning.directory_import import import_directory

    directory = fixture.generate_directory(users=args.users, groups=args.groups, memberships=args.memberships)
    started = time.perf_counter()
    result = import_directory(json.dumps(directory))
    assert result.ok, result
    print(f"directory: {len(directory['users'])} users, {len(directory['groups'])} groups, "
          f"{sum(len(g['members']) for g in directory['groups'])} memberships, "
          f"imported in {time.perf_counter() - started:.1f} s")
    return directory


def new_app(target, tenant, *, bulk=False, concurrency=8):
    from provisioning.app_setup import create_application

    app, _ = create_application(f"Bench {uuid.uuid4().hex[:6]}", tenant_url=target.base_url(tenant), token=target.token, scope="all")
    app.use_bulk = bulk
    app.max_concurrent_requests = concurrency
    # The cases measure scheduled cycles: the benchmark's own directory edits must not start change cycles
    # (engine/changes.py) that the measured cycle would then wait for.
    app.sync_changes_immediately = False
    app.save()
    return app


def run_engine_cycle(app, timeout):
    """Start a cycle as Start provisioning does, through the workers; returns (cycle, seconds)."""
    from provisioning import tasks
    from provisioning.engine.cycle import start_provisioning

    cycle = start_provisioning(app)
    started = time.perf_counter()
    tasks.run_cycle.delay(cycle.pk)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cycle.refresh_from_db()
        if not cycle.is_active:
            return cycle, time.perf_counter() - started
        time.sleep(0.05)
    raise SystemExit(f"the cycle did not finish within {timeout} s (state {cycle.state}, phase {cycle.phase})")


def counts(cycle):
    from provisioning.engine.status import cycle_counts

    rows, unchanged = cycle_counts(cycle)
    text = ", ".join(f"{c.action_label} {c.status_label} {c.n}" for c in rows)
    return text + (f", unchanged {unchanged}" if unchanged else "")


def bare(directory, *, bulk=False, concurrency=8):
    target = fixture.start_target()
    try:
        tenant = fixture.new_tenant()
        report = fixture.bare_client(directory, target.base_url(tenant), target.token, concurrency=concurrency, bulk=bulk)
        problems = fixture.verify_target(directory, target.base_url(tenant), target.token)
        return report, problems
    finally:
        target.stop()


def show_limit(label, report, problems):
    verdict = "correct" if not problems else f"WRONG: {problems[:3]}"
    print(f"  {label}: {report.seconds:.2f} s, {report.requests} requests, {report.requests_per_second:.0f} req/s — {verdict}")


def engine(directory, env, args, *, workers=1, bulk=False, profile=False, sample_rss=False):
    """One initial cycle through `workers` worker processes on a fresh target; returns a dict of figures."""
    target = fixture.start_target()
    tenant = fixture.new_tenant()
    app = new_app(target, tenant, bulk=bulk, concurrency=args.concurrency)
    pool = Workers(workers, env)
    sampler = Sampler(pool)
    sampler.start()
    spy = start_profile(pool) if profile else None
    cpu_before = pool.cpu_seconds()
    target_cpu_before = sum(psutil.Process(target.process.pid).cpu_times()[:2])
    try:
        cycle, seconds = run_engine_cycle(app, args.timeout)
        stats = target.stats(tenant)
        target_cpu = sum(psutil.Process(target.process.pid).cpu_times()[:2]) - target_cpu_before
        engine_cpu = pool.cpu_seconds() - cpu_before
        problems = fixture.verify_target(directory, target.base_url(tenant), target.token)
        result = {
            "app": app, "target": target, "tenant": tenant, "workers": pool, "cycle": cycle, "seconds": seconds,
            "requests": stats["requests"], "by": stats["by"], "problems": problems, "target_cpu": target_cpu,
            "engine_cpu": engine_cpu, "profile": stop_profile(spy) if spy else None,
        }
    finally:
        sampler.done.set()
        sampler.join()
    result["rss"] = (sampler.peak_one, sampler.peak_all)
    return result


def show_engine(label, result):
    cycle = result["cycle"]
    state = cycle.state if cycle.state == "completed" else f"{cycle.state}: {cycle.error[:200]}"
    verdict = "correct" if not result["problems"] else f"WRONG ({len(result['problems'])}): {result['problems'][:3]}"
    rate = result["requests"] / result["seconds"] if result["seconds"] else 0
    print(f"  {label}: {result['seconds']:.2f} s, {result['requests']} requests, {rate:.0f} req/s — {state}, {verdict}")
    print(f"    counts: {counts(cycle)}")
    print(f"    requests: {dict(sorted(result['by'].items()))}")
    print(f"    CPU: engine workers {result['engine_cpu']:.1f} s, target {result['target_cpu']:.1f} s; "
          f"worker RSS peak {result['rss'][0]:.0f} MB (all worker processes {result['rss'][1]:.0f} MB)")


def finish(result):
    result["workers"].stop()
    result["target"].stop()


def ratio(engine_seconds, limits):
    best, mean = min(limits), statistics.mean(limits)
    return f"ratio engine / limit: {engine_seconds / mean:.2f} (to the mean of the limits), {engine_seconds / best:.2f} (to the best)"


# --------------------------------------------------------------------------------------------- profile


CATEGORIES = [
    ("HTTP client (httpx, httpcore, h11, ssl)", ("httpx/", "httpcore/", "h11/", "ssl.py", "socket.py")),
    ("database (Django ORM, psycopg, sqlite3)", ("django/db/", "psycopg/", "sqlite3/")),
    ("mapping (expressions, payload)", ("provisioning/expressions/", "provisioning/engine/mapping.py", "provisioning.scim.payload.py")),
    ("pipeline, log entries, scope (engine)", ("provisioning/engine/", "provisioning/scoping.py")),
    ("JSON", ("json/",)),
    ("Celery, kombu, broker", ("celery/", "kombu/", "billiard/", "redis/")),
]


def start_profile(pool):
    out = Path(tempfile.mkdtemp(prefix="portal-bench-profile-")) / "raw.txt"
    spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pool.processes[0].pid),
                            "--subprocesses", "--gil", "--format", "raw", "--rate", "200", "--output", str(out), "--nonblocking"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return spy, out


def stop_profile(spy):
    process, out = spy
    process.send_signal(2)  # SIGINT: py-spy writes what it sampled
    process.wait(60)
    samples = Counter()
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        category = "other"
        for frame in reversed(frames):  # the innermost frame that belongs to a known part decides
            found = next((name for name, paths in CATEGORIES if any(p in frame for p in paths)), None)
            if found:
                category = found
                break
        samples[category] += int(count)
    return samples


def show_profile(samples, rate=200):
    total = sum(samples.values())
    if not total:
        print("    profile: no samples (py-spy could not attach)")
        return
    print(f"    where the engine's CPU goes (py-spy, samples holding the GIL: {total / rate:.1f} s in the worker processes):")
    for name, n in samples.most_common():
        print(f"      {100 * n / total:5.1f} %  {name}")


# --------------------------------------------------------------------------------------------- cases


def change_100_users_and_10_memberships():
    from provisioning.models import DirectoryGroup, DirectoryUser

    users = list(DirectoryUser.objects.order_by("pk")[:100])
    for user in users:
        user.job_title = f"{user.job_title} (changed)"[:128]
        user.save(update_fields=["job_title", "updated_at"])
    groups = list(DirectoryGroup.objects.order_by("pk")[:10])
    outsiders = list(DirectoryUser.objects.order_by("-pk")[:10])
    for group, user in zip(groups, outsiders):
        if group.members.filter(pk=user.pk).exists():
            group.members.remove(user)
        else:
            group.members.add(user)


def incremental(result, label, timeout, expect_zero=False):
    target, tenant, app = result["target"], result["tenant"], result["app"]
    target.reset_stats(tenant)
    app.refresh_from_db()
    cycle, seconds = run_engine_cycle(app, timeout)
    stats = target.stats(tenant)
    from provisioning.engine.status import overview

    print(f"  {label}: {seconds:.3f} s, {stats['requests']} requests {dict(sorted(stats['by'].items()))} — {cycle.kind}, {cycle.state}")
    print(f"    Overview: {overview(app).cycle_status_text}")
    if expect_zero and stats["requests"]:
        print("    NOT ZERO: an unchanged directory cost requests")
    return cycle, seconds, stats


def main():
    args = parse_args()
    env = configure(args)
    mode = "SQLite + the embedded broker (embedded defaults)" if args.embedded else "PostgreSQL + Redis"
    print(f"bench_cycle: {mode}; {os.cpu_count()} cores; concurrency {args.concurrency}; cases {', '.join(args.cases)}")
    directory = load_directory(args)

    if "initial" in args.cases or "unchanged" in args.cases or "changes" in args.cases:
        print("initial cycle, limit → engine → limit:")
        first, first_problems = bare(directory, concurrency=args.concurrency)
        show_limit("limit (bare httpx)", first, first_problems)
        result = engine(directory, env, args, profile=args.profile)
        show_engine("engine (1 worker)", result)
        if result["profile"]:
            show_profile(result["profile"])
        second, second_problems = bare(directory, concurrency=args.concurrency)
        show_limit("limit (bare httpx)", second, second_problems)
        print(f"  {ratio(result['seconds'], [first.seconds, second.seconds])}"
              + ("" if not result["problems"] else " — does not count: the target state is wrong"))
        if "unchanged" in args.cases:
            incremental(result, "incremental, nothing changed", args.timeout, expect_zero=True)
        if "changes" in args.cases:
            change_100_users_and_10_memberships()
            incremental(result, "incremental, 100 users changed + 10 memberships", args.timeout)
            directory_now = export_directory()
            problems = fixture.verify_target(directory_now, result["target"].base_url(result["tenant"]), result["target"].token)
            print(f"    target after the changes: {'correct' if not problems else f'WRONG: {problems[:3]}'}")
        finish(result)

    if "workers" in args.cases:
        print("initial cycle, 1 worker process vs 2:")
        one = engine(directory, env, args, workers=1)
        show_engine("engine, 1 worker", one)
        finish(one)
        two = engine(directory, env, args, workers=2)
        show_engine("engine, 2 workers", two)
        finish(two)
        print(f"  2 workers / 1 worker: {two['seconds'] / one['seconds']:.2f}")

    if "bulk" in args.cases:
        print("initial cycle with /Bulk, limit → engine → limit:")
        single, _ = bare(directory, concurrency=args.concurrency)
        bulk_first, problems = bare(directory, bulk=True, concurrency=args.concurrency)
        show_limit("limit, one request per object", single, [])
        show_limit("limit, /Bulk", bulk_first, problems)
        result = engine(directory, env, args, bulk=True)
        show_engine("engine with /Bulk", result)
        bulk_second, problems = bare(directory, bulk=True, concurrency=args.concurrency)
        show_limit("limit, /Bulk", bulk_second, problems)
        finish(result)
        print(f"  engine with /Bulk / limit with one request per object: {result['seconds'] / single.seconds:.2f}")
        print(f"  engine with /Bulk / limit with /Bulk: {ratio(result['seconds'], [bulk_first.seconds, bulk_second.seconds])}")

    if "rss" in args.cases:
        print(f"worker memory, initial cycle of {args.users} users:")
        result = engine(directory, env, args)
        show_engine("engine", result)
        finish(result)
        print(f"  worker RSS peak: {result['rss'][0]:.0f} MB in the largest worker process (target < 500 MB), "
              f"{result['rss'][1]:.0f} MB across all worker processes")


def export_directory():
    """The directory as it is now, in the generator's JSON shape (for the verifier after changes)."""
    from provisioning.models import DirectoryGroup, DirectoryUser

    managers = dict(DirectoryUser.objects.values_list("pk", "object_id"))
    users = []
    for row in DirectoryUser.objects.values():
        user = {"objectId": str(row["object_id"]), "userPrincipalName": row["user_principal_name"], "displayName": row["display_name"],
                "givenName": row["given_name"], "surname": row["surname"], "mail": row["mail"], "mailNickname": row["mail_nickname"],
                "jobTitle": row["job_title"], "department": row["department"], "employeeId": row["employee_id"],
                "accountEnabled": row["account_enabled"]}
        if row["manager_id"]:
            user["manager"] = str(managers[row["manager_id"]])
        users.append({k: v for k, v in user.items() if v not in ("", None)})
    groups = [{"objectId": str(g.object_id), "displayName": g.display_name, "description": g.description,
               "mailNickname": g.mail_nickname, "members": [str(m) for m in g.members.values_list("object_id", flat=True)]}
              for g in DirectoryGroup.objects.all()]
    return {"users": users, "groups": groups}


if __name__ == "__main__":
    main()
