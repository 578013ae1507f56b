"""Tasks for tests/test_broker.py, loaded by its worker processes with `--include tests.broker_tasks`."""

import os
import time

from portal.celery import app


@app.task(name="tests.broker_tasks.record", acks_late=True)
def record(number, path, seconds=0.0):
    """Append "<number> <pid>" to path when done; "started <number> <pid>" first when it takes a while."""
    if seconds:
        with open(path, "a") as file:
            file.write(f"started {number} {os.getpid()}\n")
        time.sleep(seconds)
    # One short write in append mode: lines from several processes never interleave.
    with open(path, "a") as file:
        file.write(f"{number} {os.getpid()}\n")
