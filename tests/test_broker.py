"""portal/broker.py, the embedded broker: real worker and beat processes, SIGKILLed, lose and repeat nothing.

These run on the embedded broker whatever CELERY_BROKER_URL the suite uses (a file in tmp_path).
"""

import collections
import os
import signal
import sqlite3
import time

import pytest
from django.conf import settings
from kombu import Connection
from kombu.pidbox import Mailbox

from portal.celery import app
from tests import workers

pytestmark = pytest.mark.django_db(transaction=True)
TASK = "tests.broker_tasks.record"


@pytest.fixture
def broker(tmp_path):
    database = tmp_path / "broker.sqlite3"
    env = {"CELERY_BROKER_URL": "embedded://", "PORTAL_VAR_DIR": str(tmp_path)}
    started = []

    def worker(name, **kwargs):
        process = workers.start_worker(name, env=env, args=["--include", "tests.broker_tasks"], **kwargs)
        started.append(process)
        return process

    def beat():
        process = workers.start_beat(env=env)
        started.append(process)
        return process

    connection = Connection("embedded://", transport_options={"database": str(database), "polling_interval": 0.1})
    yield collections.namedtuple("Broker", "database connection worker beat started")(database, connection, worker, beat, started)
    connection.release()
    for process in started:
        process.stop()


def send(broker, number, path, seconds=0.0):
    app.send_task(TASK, args=[number, str(path), seconds], connection=broker.connection)


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


def finished(path):
    return [line for line in lines(path) if not line.startswith("started")]


def wait_for(condition, timeout, what, processes=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    logs = "\n".join(f"--- {p.name}\n{p.log()[-2000:]}" for p in processes)
    raise AssertionError(f"{what} within {timeout} s\n{logs}")


def waiting_messages(broker):
    with sqlite3.connect(broker.database) as db:
        return db.execute("SELECT count(*) FROM message WHERE queue IN (?, ?)",
                          (settings.PROVISIONING_CYCLES_QUEUE, settings.PROVISIONING_ON_DEMAND_QUEUE)).fetchone()[0]


def test_hundreds_of_tasks_with_beat_and_workers_killed_none_lost_none_twice(broker, tmp_path):
    done = tmp_path / "done.txt"
    beat = broker.beat()
    first, second = broker.worker("first"), broker.worker("second")
    total = 300
    for number in range(total):
        send(broker, number, done, seconds=0.02)

    killed = []
    for worker, replacement, after in ((first, "third", 80), (second, "fourth", 180)):
        wait_for(lambda: len(finished(done)) >= after, 60, f"{after} tasks done", broker.started)
        worker.kill()
        killed.append(worker.pid)
        broker.worker(replacement)
    wait_for(lambda: len({line.split()[0] for line in finished(done)}) >= total, 120, "every task done", broker.started)
    time.sleep(1)  # anything delivered twice would arrive now

    runs = collections.defaultdict(list)
    for line in finished(done):
        number, pid = line.split()
        runs[int(number)].append(int(pid))
    assert sorted(runs) == list(range(total))
    # A task runs again only when its worker died after finishing it and before acknowledging it.
    repeated = {number: pids for number, pids in runs.items() if len(pids) > 1}
    assert len(repeated) <= len(killed), repeated
    assert all(pids[0] in killed and len(pids) == 2 for pids in repeated.values()), repeated
    assert waiting_messages(broker) == 0

    # Beat's ticks travelled through the same broker all along, and nobody choked on a message.
    logs = "".join(process.log() for process in broker.started)
    assert logs.count("provisioning.tasks.start_due_cycles") >= 3, beat.log()
    assert "Traceback" not in logs and "JSONDecodeError" not in logs


def test_a_task_whose_worker_is_killed_is_delivered_again(broker, tmp_path):
    done = tmp_path / "done.txt"
    doomed = broker.worker("doomed")
    send(broker, 1, done, seconds=3)
    wait_for(lambda: any(line.startswith("started") for line in lines(done)), 30, "the task started", broker.started)
    doomed.kill()  # mid-task, before the late acknowledgement
    heir = broker.worker("heir")
    wait_for(lambda: "1 %d" % heir.pid in lines(done), 30, "the task ran again on the other worker", broker.started)
    assert lines(done) == [f"started 1 {doomed.pid}", f"started 1 {heir.pid}", f"1 {heir.pid}"]
    assert waiting_messages(broker) == 0
    # The dead worker's lock file went with its messages; the living one's stays.
    owners = broker.database.with_name("broker.sqlite3.owners")
    assert len(list(owners.glob("*.lock"))) == 1


def test_a_pool_process_killed_mid_task_gives_the_task_back(broker, tmp_path):
    """Prefork, as `make run` runs it: the worker sees its child die and requeues (task_reject_on_worker_lost)."""
    done = tmp_path / "done.txt"
    worker = broker.worker("prefork", pool="prefork", concurrency=1)
    send(broker, 7, done, seconds=3)
    wait_for(lambda: any(line.startswith("started") for line in lines(done)), 30, "the task started", broker.started)
    child = int(lines(done)[0].split()[2])
    assert child != worker.pid
    os.kill(child, signal.SIGKILL)
    wait_for(lambda: any(line.startswith("7 ") for line in lines(done)), 30, "the task ran again", broker.started)
    assert [line.split()[0] for line in lines(done)] == ["started", "started", "7"]
    assert waiting_messages(broker) == 0


def test_remote_control_reaches_every_worker(broker):
    """Fanout (Celery's pidbox) goes through the binding rows, so it reaches other processes; replies are
    taken away (no acknowledgement) instead of piling up."""
    broker.worker("one")
    broker.worker("two")
    # kombu's mailbox as Celery's control uses it, on this connection (Celery's own would publish through the
    # suite's configured broker).
    mailbox = Mailbox("celery", type="fanout", accept=["json"])(broker.connection)
    replies = {}
    for reply in mailbox._broadcast("ping", reply=True, timeout=3, limit=2):
        replies.update(reply)
    assert sorted(name.split("@")[0] for name in replies) == ["one", "two"]
    with sqlite3.connect(broker.database) as db:
        assert db.execute("SELECT count(*) FROM message").fetchone()[0] == 0
