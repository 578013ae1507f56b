"""Request counts and latency per SCIM target, for /metrics, across processes and machines.

Celery workers send the requests; a web process answers /metrics. The SCIM client's send path calls
`record()` for every answer (or the lack of one), which only adds to a dictionary in this process's
memory under a lock (about a microsecond: a cycle of 10,000 users makes no database write per request).
`flush()` writes what accumulated as a handful of rows per target and minute in one bulk insert; it runs
when a Celery task or a web request ends (signals below), so a cycle writes once per chunk. /metrics sums
the rows in one aggregate query. Why a table and not prometheus_client's multiprocess mode: workers may
run on other machines than the web process, and a table in the shared database is seen by all of them.
"""

import bisect
import functools
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
from django.db import transaction
from django.db.models import Sum

logger = logging.getLogger(__name__)

# Latency bucket bounds in seconds: loopback targets answer in milliseconds, SaaS targets in hundreds of them.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A process that never flushes (a shell session) keeps at most this many keys; beyond, minutes are merged.
MAX_PENDING_KEYS = 5000
COMPACT_AFTER = timedelta(hours=1)
COMPACT_EVERY_SECONDS = 600
COMPACT_AT_MOST = 5000  # rows per merge, so one statement never carries an unbounded id list

_lock = threading.Lock()
_pending = {}  # (minute epoch, target, method, status class, le) -> [requests, seconds]
_last_compaction = 0.0


@functools.lru_cache(maxsize=256)
def target_of(base_url):
    """host:port of a Tenant URL: the label of every metric about it (no path, query or user info)."""
    url = httpx.URL(base_url)
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{host}:{url.port or (443 if url.scheme == 'https' else 80)}"


def status_class(status):
    return f"{status // 100}xx" if status else "error"


def record(base_url, method, status, seconds):
    """One request's outcome (status None: no answer came). In memory only: the hot path stays cheap."""
    index = bisect.bisect_left(BUCKETS, seconds)
    key = (int(time.time()) // 60, target_of(base_url), method, status_class(status), BUCKETS[index] if index < len(BUCKETS) else None)
    with _lock:
        entry = _pending.get(key)
        if entry is None:
            if len(_pending) >= MAX_PENDING_KEYS:
                _merge_minutes(key[0])
            _pending[key] = [1, seconds]
        else:
            entry[0] += 1
            entry[1] += seconds


def _merge_minutes(minute):
    # Called with the lock held: fold every pending minute into the current one; the totals stay exact.
    merged = {}
    for (_, *rest), (n, s) in _pending.items():
        entry = merged.setdefault((minute, *rest), [0, 0.0])
        entry[0] += n
        entry[1] += s
    _pending.clear()
    _pending.update(merged)


def discard():
    """Forget what this process has not written yet (tests start from nothing)."""
    with _lock:
        _pending.clear()


def flush():
    """Write what this process counted since the last flush, in one bulk insert; returns the rows written.
    A database that cannot take them keeps them for the next flush (metrics never fail a request or task)."""
    global _pending
    from provisioning.models import TargetRequestCount

    with _lock:
        taken, _pending = _pending, {}
    if not taken:
        return 0
    rows = [
        TargetRequestCount(minute=datetime.fromtimestamp(minute * 60, UTC), target=target, method=method,
                           status_class=klass, le=le, requests=n, seconds=s)
        for (minute, target, method, klass, le), (n, s) in taken.items()
    ]
    try:
        TargetRequestCount.objects.bulk_create(rows)
    except Exception as exc:  # any database failure: keep the counts, say so, let the caller carry on
        logger.warning("metrics: could not write %d request counts yet (kept for the next flush): %s", len(rows), exc)
        with _lock:
            for key, (n, s) in taken.items():
                entry = _pending.setdefault(key, [0, 0.0])
                entry[0] += n
                entry[1] += s
        return 0
    _maybe_compact()
    return len(rows)


def _maybe_compact():
    global _last_compaction
    if time.monotonic() - _last_compaction < COMPACT_EVERY_SECONDS:
        return
    _last_compaction = time.monotonic()
    try:
        compact()
    except Exception as exc:  # a failed merge changes nothing (one transaction); the next one tries again
        logger.warning("metrics: could not merge old request counts: %s", exc)


class _Raced(Exception):
    """Another process merged some of the same rows first."""


def compact(now=None):
    """Merge rows older than COMPACT_AFTER into one per (target, method, status class, bucket), totals unchanged.
    Two processes merging at once: the second one's delete finds rows gone and it rolls back."""
    from provisioning.models import TargetRequestCount

    cutoff = (now or datetime.now(UTC)) - COMPACT_AFTER
    try:
        with transaction.atomic():
            old = list(TargetRequestCount.objects.filter(minute__lt=cutoff).order_by("id")
                       .values_list("id", "target", "method", "status_class", "le", "requests", "seconds", "minute")[:COMPACT_AT_MOST])
            groups = {}
            for row in old:
                groups.setdefault(row[1:5], []).append(row)
            merged = [rows for rows in groups.values() if len(rows) > 1]
            ids = [row[0] for rows in merged for row in rows]
            if not ids:
                return 0
            deleted, _ = TargetRequestCount.objects.filter(id__in=ids).delete()
            if deleted != len(ids):
                raise _Raced
            TargetRequestCount.objects.bulk_create(
                TargetRequestCount(target=target, method=method, status_class=klass, le=le,
                                   requests=sum(r[5] for r in rows), seconds=sum(r[6] for r in rows), minute=max(r[7] for r in rows))
                for (target, method, klass, le), rows in ((rows[0][1:5], rows) for rows in merged)
            )
            return len(ids)
    except _Raced:
        return 0


def totals():
    """{(target, method, status class, le): (requests, seconds)} summed over every process: one query."""
    from provisioning.models import TargetRequestCount

    rows = (TargetRequestCount.objects.order_by().values("target", "method", "status_class", "le")
            .annotate(n=Sum("requests"), s=Sum("seconds")))
    return {(r["target"], r["method"], r["status_class"], r["le"]): (r["n"], r["s"]) for r in rows}


def _flush_after(**kwargs):
    flush()


def connect():
    """Flush when a web request or a Celery task ends: the process that sent the requests writes them."""
    from celery.signals import task_postrun, worker_process_shutdown
    from django.core.signals import request_finished

    request_finished.connect(_flush_after, dispatch_uid="request_metrics_flush")
    task_postrun.connect(_flush_after, dispatch_uid="request_metrics_flush", weak=False)
    worker_process_shutdown.connect(_flush_after, dispatch_uid="request_metrics_flush", weak=False)
