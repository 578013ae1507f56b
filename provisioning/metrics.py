"""What /metrics exposes to Prometheus, read from the database at each scrape (so every web process answers
the same, whichever worker did the work), plus the broker's queue depth. No HTTP in here.

A constant number of queries per scrape, and one or two per application for its last cycle's counts.
"""

import bisect
import itertools
import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from provisioning import request_metrics
from provisioning.engine.status import cycle_counts, job_status_code
from provisioning.models import Application, Escrow, PendingRemoval, ProvisioningCycle, ProvisioningLog, Quarantine, RunState

logger = logging.getLogger(__name__)
APP_LABELS = ["app_id", "application"]
JOB_CODES = ("NotConfigured", "NotRun", "Active", "Paused", "Quarantine")
DURATION_BUCKETS = (5, 15, 60, 300, 900, 1800, 3600, 7200, 14400)
RECENT = timedelta(hours=1)


def _labels(app):
    return [str(app.pk), app.name]


class PortalCollector:
    """prometheus_client's custom-collector protocol: collect() yields metric families."""

    def __init__(self, now=None, queue_depth=None):
        self.now = now
        self.queue_depth = queue_depth or broker_queue_depth

    def collect(self):
        now = self.now or timezone.now()
        apps = list(Application.objects.order_by("pk"))
        by_pk = {app.pk: app for app in apps}

        status = GaugeMetricFamily("portal_job_status", "1 for the job's current synchronizationStatus code.",
                                   labels=APP_LABELS + ["code"])
        enabled = GaugeMetricFamily("portal_provisioning_enabled", "Provisioning Status: 1 On, 0 Off.", labels=APP_LABELS)
        for app in apps:
            current = job_status_code(app)
            for code in JOB_CODES:
                status.add_metric(_labels(app) + [code], 1 if code == current else 0)
            enabled.add_metric(_labels(app), 1 if app.provisioning_enabled else 0)
        yield status
        yield enabled

        quarantined = GaugeMetricFamily("portal_quarantined", "1 while the job is in quarantine (reason as Entra's).",
                                        labels=APP_LABELS + ["reason"])
        since = GaugeMetricFamily("portal_quarantine_began_timestamp_seconds", "When the active quarantine began.",
                                  labels=APP_LABELS)
        held = {q.application_id: q for q in Quarantine.objects.filter(lifted_at__isnull=True)}
        for app in apps:
            q = held.get(app.pk)
            quarantined.add_metric(_labels(app) + [q.reason if q else ""], 1 if q else 0)
            if q:
                since.add_metric(_labels(app), q.began_at.timestamp())
        yield quarantined
        yield since

        yield from self._cycles(apps, by_pk, now)
        yield from self._objects(apps, by_pk, now)

        escrowed = GaugeMetricFamily("portal_escrowed_objects", "Failed objects waiting to be retried (escrow); "
                                     "kind=reference: only their manager could not be set.", labels=APP_LABELS + ["kind"])
        counts = {(r["application_id"], r["reference"]): r["n"]
                  for r in Escrow.objects.values("application_id", "reference").annotate(n=Count("id"))}
        for app in apps:
            escrowed.add_metric(_labels(app) + ["object"], counts.get((app.pk, False), 0))
            escrowed.add_metric(_labels(app) + ["reference"], counts.get((app.pk, True), 0))
        yield escrowed

        staged = GaugeMetricFamily("portal_staged_deletes", "Disables and deletes held back by the accidental-deletion "
                                   "threshold, waiting for Allow deletes or Reject.", labels=APP_LABELS)
        counts = dict(PendingRemoval.objects.filter(staged=True).values("cycle__application_id")
                      .annotate(n=Count("id")).values_list("cycle__application_id", "n"))
        for app in apps:
            staged.add_metric(_labels(app), counts.get(app.pk, 0))
        yield staged

        yield from self._target_requests()
        yield from self._queues()

    def _target_requests(self):
        """Requests every process sent to each target (request_metrics.py: written in bulk, summed here)."""
        requests = CounterMetricFamily("portal_target_requests", "SCIM requests sent to the target, by method and "
                                       "status class (error: no answer came).", labels=["target", "method", "status_class"])
        latency = HistogramMetricFamily("portal_target_request_duration_seconds", "How long the target took to answer "
                                        "(or to fail), by method.", labels=["target", "method"])
        by_class, by_bucket = {}, {}
        for (target, method, klass, le), (n, s) in request_metrics.totals().items():
            by_class[(target, method, klass)] = by_class.get((target, method, klass), 0) + n
            # A bound that is no longer in BUCKETS counts in the next larger one (still a correct upper bound).
            index = len(request_metrics.BUCKETS) if le is None else min(
                bisect.bisect_left(request_metrics.BUCKETS, le), len(request_metrics.BUCKETS))
            counts = by_bucket.setdefault((target, method), [[0] * (len(request_metrics.BUCKETS) + 1), 0.0])
            counts[0][index] += n
            counts[1] += s
        for labels, n in sorted(by_class.items()):
            requests.add_metric(list(labels), n)
        for labels, (counts, total) in sorted(by_bucket.items()):
            bounds = [str(b) for b in request_metrics.BUCKETS] + ["+Inf"]
            latency.add_metric(list(labels), list(zip(bounds, itertools.accumulate(counts))), total)
        yield requests
        yield latency

    def _cycles(self, apps, by_pk, now):
        cycles = GaugeMetricFamily("portal_cycles", "Provisioning cycles by kind and state.", labels=APP_LABELS + ["kind", "state"])
        counts = {(r["application_id"], r["kind"], r["state"]): r["n"]
                  for r in ProvisioningCycle.objects.values("application_id", "kind", "state").annotate(n=Count("id"))}
        for app in apps:
            for kind in ProvisioningCycle.Kind.values:
                for state in RunState.values:
                    cycles.add_metric(_labels(app) + [kind, state], counts.get((app.pk, kind, state), 0))
        yield cycles

        running = GaugeMetricFamily("portal_cycle_running_seconds", "How long the running cycle has run.", labels=APP_LABELS)
        for cycle in ProvisioningCycle.objects.filter(state=RunState.RUNNING, started_at__isnull=False).only(
                "application_id", "started_at"):
            running.add_metric(_labels(by_pk[cycle.application_id]), (now - cycle.started_at).total_seconds())
        yield running

        last_done = GaugeMetricFamily("portal_last_cycle_completed_timestamp_seconds",
                                      "When the last completed cycle finished.", labels=APP_LABELS)
        last_took = GaugeMetricFamily("portal_last_cycle_duration_seconds", "How long the last completed cycle took.",
                                      labels=APP_LABELS)
        histogram = {}
        seen = set()
        finished = (ProvisioningCycle.objects.filter(state=RunState.COMPLETED, started_at__isnull=False, finished_at__isnull=False)
                    .order_by("application_id", "-finished_at").values_list("application_id", "started_at", "finished_at"))
        for app_id, started, ended in finished.iterator():
            took = (ended - started).total_seconds()
            if app_id not in seen:
                seen.add(app_id)
                last_done.add_metric(_labels(by_pk[app_id]), ended.timestamp())
                last_took.add_metric(_labels(by_pk[app_id]), took)
            histogram.setdefault(app_id, []).append(took)
        yield last_done
        yield last_took

        durations = HistogramMetricFamily("portal_cycle_duration_seconds", "Durations of the completed cycles.",
                                          labels=APP_LABELS)
        for app in apps:
            values = histogram.get(app.pk, [])
            buckets = [(str(float(b)), sum(1 for v in values if v <= b)) for b in DURATION_BUCKETS] + [("+Inf", len(values))]
            durations.add_metric(_labels(app), buckets, sum(values))
        yield durations

    def _objects(self, apps, by_pk, now):
        last = GaugeMetricFamily("portal_last_cycle_objects", "Objects of the current or last cycle by action and status "
                                 "(unchanged objects: action=unchanged).", labels=APP_LABELS + ["action", "status"])
        for app in apps:
            cycle = app.cycles.exclude(state=RunState.QUEUED).first()
            if cycle is None:
                continue
            rows, unchanged = cycle_counts(cycle)
            for row in rows:
                last.add_metric(_labels(app) + [row.action, row.status], row.n)
            last.add_metric(_labels(app) + ["unchanged", "skipped"], unchanged)
        yield last

        recent = GaugeMetricFamily("portal_log_entries_last_hour", "Provisioning log entries of the last hour by action "
                                   "and status (cycles and on demand).", labels=APP_LABELS + ["action", "status"])
        rows = (ProvisioningLog.objects.filter(created_at__gte=now - RECENT).order_by()
                .values("application_id", "action", "status").annotate(n=Count("id")))
        for row in rows:
            recent.add_metric(_labels(by_pk[row["application_id"]]) + [row["action"], row["status"]], row["n"])
        yield recent

    def _queues(self):
        depth = GaugeMetricFamily("portal_queue_messages", "Tasks waiting in the broker's queue.", labels=["queue"])
        up = GaugeMetricFamily("portal_broker_up", "1 when the broker answered the queue-depth query.")
        try:
            sizes = self.queue_depth()
        except Exception as exc:  # any broker failure: the scrape still answers, saying the broker is down
            logger.warning("metrics: the broker did not answer the queue-depth query: %s", exc)
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            for name, size in sizes.items():
                depth.add_metric([name], size)
        yield depth
        yield up


def broker_queue_depth():
    """{queue: messages waiting}, through kombu (Redis, RabbitMQ and the filesystem broker alike)."""
    from kombu.exceptions import ChannelError

    from portal.celery import app as celery_app

    sizes = {}
    with celery_app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, timeout=3)
        channel = connection.default_channel
        for name in (settings.PROVISIONING_ON_DEMAND_QUEUE, settings.PROVISIONING_CYCLES_QUEUE):
            try:
                sizes[name] = channel.queue_declare(queue=name, passive=True).message_count
            except ChannelError:
                # Redis deletes an empty list: a queue nobody has sent to yet, or that is empty, has no messages.
                sizes[name] = 0
                channel = connection.channel()
    return sizes
