"""One app's traffic to its target: how long every request waits after the target asked us to slow down.

A 429 or 503 (with its Retry-After, or a backoff when it gives none) holds every request to that target,
in every thread of this process at once and, through `Application.throttled_until`, in every worker: the
driver's tick writes a new pause and reads the others' (`sync`). Plain Python apart from `sync`.
"""

import random
import threading
import time
from datetime import UTC, datetime

# Without Retry-After: 1 s, 2 s, 4 s … up to this, with jitter so that workers do not retry in step.
MAX_BACKOFF_SECONDS = 30.0


class Pacer:
    def __init__(self, application_id=None):
        self.application_id = application_id
        self._lock = threading.Lock()
        self._until = 0.0  # wall-clock time.time(), comparable across processes through the database
        self._published = 0.0
        self.throttled = 0  # 429/503 answers seen

    @property
    def until(self):
        return self._until

    def wait(self, stop=None):
        """Sleep until the target may be called again (returns early when stop() says so)."""
        while True:
            delay = self._until - time.time()
            if delay <= 0 or (stop is not None and stop()):
                return
            time.sleep(min(delay, 0.5))

    def throttle(self, retry_after, attempt):
        """The target answered 429/503: hold all traffic for Retry-After seconds, or a growing backoff."""
        if retry_after is None:
            retry_after = min(MAX_BACKOFF_SECONDS, 2 ** max(0, attempt - 1)) * (0.5 + random.random() / 2)
        with self._lock:
            self.throttled += 1
            self._until = max(self._until, time.time() + retry_after)

    def sync(self):
        """Share this process's pause with the other workers and adopt theirs (called from the DB thread)."""
        if self.application_id is None:
            return
        from provisioning.models import Application

        mine = self._until
        if mine > self._published:
            moment = datetime.fromtimestamp(mine, UTC)
            Application.objects.filter(pk=self.application_id).exclude(throttled_until__gte=moment).update(throttled_until=moment)
            self._published = mine
        theirs = Application.objects.filter(pk=self.application_id).values_list("throttled_until", flat=True).first()
        if theirs is not None:
            with self._lock:
                self._until = max(self._until, theirs.timestamp())
