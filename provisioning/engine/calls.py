"""How the pipeline's SCIM requests travel: the pipeline yields Calls, a driver sends them.

The per-object pipeline is a generator: `created = yield calls.create("Users", body)`. It never holds a
client. A driver sends each Call and sends the answer (or throws the typed ScimError) back in:

* `run_now` — one object, one request at a time (Provision on demand);
* `Driver` — a cycle's chunk: many objects at once, up to the app's concurrency limit of requests in flight
  on one keep-alive client, creates/updates/deletes combined into POST /Bulk when the target offers it.

Both send a transient failure (429, 5xx, no answer) again, at most PROVISIONING_RETRY_TRIES times and
within PROVISIONING_RETRY_SECONDS of its first try, after an exponential backoff with jitter — or, for a
429/503, exactly the Retry-After the target asked for, which pauses every request to it (pacing.Pacer).
A create whose answer was lost is not sent again here: the pipeline looks the object up first, so a retry
never makes a duplicate. What still fails goes back to the pipeline as the object's failure (then escrow).

The Driver asks the Pacer's gate before each request: once the target refused the credentials (401/403)
or stopped answering as SCIM, no new request goes out; requests in flight finish, objects still waiting
are left for a later cycle (not logged, not done), and `run` returns the Halt.

Generators advance in the driver's thread (which also owns the database connection); only the HTTP
requests run in the pool's threads.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from django.conf import settings

from provisioning.engine.pacing import Pacer, backoff
from provisioning.scim.errors import ScimRateLimited, answer_lost, is_transient

logger = logging.getLogger(__name__)


@dataclass
class Call:
    """One SCIM request: a ScimClient method and its arguments."""

    method: str  # "get" | "query" | "list_page" | "create" | "patch" | "delete"
    args: tuple
    kwargs: dict = field(default_factory=dict)
    tries: int = 0
    first_try: float | None = None  # time.monotonic() of its first send
    traffic: object = None  # the scim.traffic.Traffic of the object that asked for it (see `traced`)

    def send(self, client):
        if self.traffic is None:
            return getattr(client, self.method)(*self.args, **self.kwargs)
        with client.recording(self.traffic):
            return getattr(client, self.method)(*self.args, **self.kwargs)

    @property
    def writes(self):
        return self.method in ("create", "patch", "delete")

    def retryable(self, exc):
        """Transient, within the tries and the time budget, and sending it again cannot apply it twice."""
        if not is_transient(exc) or self.tries >= settings.PROVISIONING_RETRY_TRIES:
            return False
        if self.first_try is not None and time.monotonic() - self.first_try > settings.PROVISIONING_RETRY_SECONDS:
            return False
        return not (self.method == "create" and answer_lost(exc))

    def delay(self, exc):
        """Seconds before the next try: none after a 429 (the pause holds every request), else a backoff."""
        return 0.0 if isinstance(exc, ScimRateLimited) else backoff(self.tries)

    def bulk_operation(self):
        resource = self.args[0]
        if self.method == "create":
            return {"method": "POST", "path": f"/{resource}", "bulkId": uuid.uuid4().hex, "data": self.args[1]}
        path = f"/{resource}/{self.args[1]}"
        if self.method == "patch":
            from provisioning.scim.client import PATCH_OP

            return {"method": "PATCH", "path": path, "data": {"schemas": [PATCH_OP], "Operations": list(self.args[2])}}
        return {"method": "DELETE", "path": path}


def get(resource, resource_id, excluded=None):
    return Call("get", (resource, resource_id), {"excluded_attributes": excluded} if excluded else {})


def query(resource, filter_text, excluded=None):
    return Call("query", (resource, filter_text), {"excluded_attributes": excluded} if excluded else {})


def create(resource, body):
    return Call("create", (resource, body))


def patch(resource, resource_id, operations):
    return Call("patch", (resource, resource_id, operations))


def delete(resource, resource_id):
    return Call("delete", (resource, resource_id))


def traced(generator, traffic):
    """The pipeline generator with every Call it yields tagged with the object's Traffic, so that whichever
    driver sends it records the requests in that object's log entry; `yield from traced(...)`."""
    value, error = None, None
    try:
        while True:
            try:
                call = generator.throw(error) if error is not None else generator.send(value)
            except StopIteration as done:
                return done.value
            call.traffic = traffic
            value, error = None, None
            try:
                value = yield call
            except GeneratorExit:
                raise
            except BaseException as exc:  # noqa: BLE001 - the answer's error goes on into the pipeline
                error = exc
    finally:
        generator.close()


def _send(client, pacer, call, stop=None):
    call.tries += 1
    call.first_try = call.first_try or time.monotonic()
    pacer.wait(stop)
    return call.send(client)


def _settled(pacer, call, exc=None):
    """Tell the pacer how the request ended; the error learns how many tries it took (for its message)."""
    if exc is not None:
        exc.tries = call.tries
    pacer.answered(exc)


def run_now(generator, client, pacer=None):
    """Drive one pipeline generator to its end, one request at a time; returns its result.

    client: a ScimClient, or a function that returns one on the first request (so that an object that
    fails before any request never builds a client)."""
    pacer = pacer or Pacer()
    get_client = client if callable(client) else (lambda: client)
    value, error = None, None
    while True:
        try:
            call = generator.throw(error) if error is not None else generator.send(value)
        except StopIteration as done:
            return done.value
        value, error = None, None
        try:
            client = get_client()
        except Exception as exc:  # noqa: BLE001 - e.g. an unusable Tenant URL: the pipeline reports it
            error = exc
            continue
        while True:
            try:
                value = _send(client, pacer, call)
                _settled(pacer, call)
                break
            except Exception as exc:  # noqa: BLE001 - typed ScimErrors and bugs alike go back into the pipeline
                _settled(pacer, call, exc)
                if not call.retryable(exc):
                    error = exc
                    break
                time.sleep(call.delay(exc))


@dataclass
class BulkPolicy:
    """The target's /Bulk limits (ServiceProviderConfig)."""

    max_operations: int
    max_payload_size: int | None = None
    in_flight: int = 2  # bulk requests at once; a target applies one bulk at a time anyway


class Driver:
    """Runs many objects' pipelines at once against one target, within its concurrency limit."""

    def __init__(self, client, *, concurrency, pacer=None, bulk=None, tick=None, tick_seconds=0.5, on_halt=None):
        """bulk: a BulkPolicy, or a function returning one (or None) asked when the first write is sent,
        so that a chunk with nothing to write never reads the target's ServiceProviderConfig.
        on_halt(halt): called at once, in the driver's thread, when the target refuses the credentials or stops
        answering (the chunk quarantines the job then, so that the other workers stop too)."""
        self.on_halt = on_halt
        self.client = client
        self.concurrency = max(1, concurrency)
        self.pacer = pacer or Pacer()
        self._bulk = bulk
        self.tick = tick
        self.tick_seconds = tick_seconds
        self.requests = 0

    @property
    def bulk(self):
        if callable(self._bulk):
            self._bulk = self._bulk()
        return self._bulk

    def run(self, subjects, start, finish, should_stop=lambda: False):
        """start(subject) → pipeline generator; finish(subject, result) once it returns.

        New objects start while fewer than `room` are active, so a request is ready whenever a thread is
        free; requests go out only to a free thread, after the gate (so a pause or a halt holds them all).
        should_stop() is asked between objects (Stop provisioning, a lost lease). Returns the pacer's Halt,
        or None."""
        backlog = iter(subjects)
        exhausted = stopped = False
        ready = deque()  # (subject, generator, value, error): answers to send into generators
        waiting = deque()  # single requests waiting for a free thread (and the gate)
        for_bulk = []  # writes waiting to be combined into one POST /Bulk
        retries = []  # (not before, (subject, generator, call))
        inflight = {}  # future → [(subject, generator, call)]
        active = 0
        halted = False
        bulk_known = not callable(self._bulk)
        next_tick = time.monotonic() + self.tick_seconds

        def sizes():
            # (operations per bulk, objects active at once): many in bulk mode, to fill the batches.
            if not bulk_known or not self.bulk:
                return 1, self.concurrency * 2
            return self.bulk.max_operations, self.bulk.max_operations * (self.bulk.in_flight + 1)

        batch, room = sizes()

        def queue(entry):
            nonlocal bulk_known, batch, room
            if entry[2].writes and not bulk_known:
                bulk_known = True
                try:
                    self.bulk  # noqa: B018 - decided now, on the first write
                except Exception:  # noqa: BLE001 - no ServiceProviderConfig: one request per write
                    logger.info("no bulk for this chunk: the target's ServiceProviderConfig could not be read", exc_info=True)
                    self._bulk = None
                batch, room = sizes()
            if entry[2].writes and self.bulk:
                for_bulk.append(entry)
            else:
                waiting.append(entry)

        def pump():
            """Send what may go now: single requests to free threads, full (or final) bulks."""
            bulks = sum(1 for future in inflight if getattr(future, "bulk", False))
            singles = len(inflight) - bulks
            while waiting and singles < self.concurrency and self.pacer.gate():
                entry = waiting.popleft()
                inflight[pool.submit(self._send_one, entry[2], should_stop)] = [entry]
                self.requests += 1
                singles += 1
            final = exhausted or stopped or active >= room
            while for_bulk and (len(for_bulk) >= batch or final) and bulks < self.bulk.in_flight and self.pacer.gate():
                entries = self._bulk_batch(for_bulk, batch)
                future = pool.submit(self._send_bulk, [c for _, _, c in entries], should_stop)
                future.bulk = True
                inflight[future] = entries
                self.requests += 1
                bulks += 1

        def settle(future):
            for entry, result in zip(inflight.pop(future), future.result(), strict=True):
                subject, generator, call = entry
                if isinstance(result, Exception):
                    _settled(self.pacer, call, result)
                    if call.retryable(result) and self.pacer.halt is None:
                        retries.append((time.monotonic() + call.delay(result), entry))
                    else:
                        ready.append((subject, generator, None, result))
                else:
                    _settled(self.pacer, call)
                    ready.append((subject, generator, result, None))

        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="scim") as pool:
            while True:
                stopped = stopped or should_stop() or self.pacer.halt is not None
                while not stopped and not exhausted and active < room:
                    try:
                        subject = next(backlog)
                    except StopIteration:
                        exhausted = True
                        break
                    active += 1
                    ready.append((subject, start(subject), None, None))
                now = time.monotonic()
                for due in [r for r in retries if r[0] <= now]:
                    retries.remove(due)
                    queue(due[1])
                while ready:
                    subject, generator, value, error = ready.popleft()
                    try:
                        call = generator.throw(error) if error is not None else generator.send(value)
                    except StopIteration as done:
                        active -= 1
                        finish(subject, done.value)
                        continue
                    queue((subject, generator, call))
                if self.pacer.halt is not None and not halted:
                    halted = True
                    if self.on_halt:
                        self.on_halt(self.pacer.halt)
                if self.pacer.halt is not None:
                    # Nothing more goes out: what waits is left for a later cycle, unlogged and not done.
                    for _, generator, _ in [*waiting, *for_bulk, *(entry for _, entry in retries)]:
                        generator.close()
                        active -= 1
                    waiting.clear()
                    for_bulk.clear()
                    retries.clear()
                pump()
                if time.monotonic() >= next_tick:
                    if self.tick:
                        self.tick()
                    next_tick = time.monotonic() + self.tick_seconds
                if active == 0 and (exhausted or stopped):
                    break
                if ready or (not stopped and not exhausted and active < room):
                    continue  # objects can start (or go on) now: wait only when everything waits on the target
                timeout = max(0.0, next_tick - time.monotonic())
                if retries:
                    timeout = min(timeout, max(0.0, min(r[0] for r in retries) - time.monotonic()))
                if (waiting or for_bulk) and not self.pacer.gate():
                    timeout = min(timeout, max(0.01, self.pacer.until - time.time()), 0.05)  # paused: look again soon
                if inflight:
                    done, _ = wait(list(inflight), timeout=timeout, return_when=FIRST_COMPLETED)
                    for future in done:
                        settle(future)
                else:
                    time.sleep(timeout)
        if self.tick:
            self.tick()
        return self.pacer.halt

    def _bulk_batch(self, waiting, batch):
        """Take up to `batch` waiting writes whose operations fit the target's maxPayloadSize."""
        limit = self.bulk.max_payload_size
        entries, size = [], 100
        while waiting and len(entries) < batch:
            operation = waiting[0][2].bulk_operation()
            grows = len(json.dumps(operation)) + 1 if limit else 0
            if limit and entries and size + grows > limit * 0.9:
                break
            entries.append(waiting.pop(0))
            size += grows
        return entries

    def _send_one(self, call, should_stop):
        try:
            return [_send(self.client, self.pacer, call, should_stop)]
        except Exception as exc:  # noqa: BLE001 - returned to the pipeline as the answer
            return [exc]

    def _send_bulk(self, batch_calls, should_stop):
        """One POST /Bulk for these calls; each call's result or typed error, in order."""
        operations = [call.bulk_operation() for call in batch_calls]
        for call in batch_calls:
            call.tries += 1
            call.first_try = call.first_try or time.monotonic()
        self.pacer.wait(should_stop)
        try:
            answers = self.client.bulk(operations)
        except Exception as exc:  # noqa: BLE001 - the whole bulk failed: each operation gets its error
            for call, operation in zip(batch_calls, operations, strict=True):
                if call.traffic is not None:
                    self.client.record_operation(call.traffic, operation, None, error=str(exc))
            return [exc] * len(batch_calls)
        results = []
        for call, operation, answer in zip(batch_calls, operations, answers, strict=True):
            if call.traffic is not None:
                self.client.record_operation(call.traffic, operation, answer)
            try:
                results.append(self.client.bulk_result(operation, answer))
            except Exception as exc:  # noqa: BLE001
                results.append(exc)
        return results
