"""SCIM requests to each target, counted for /metrics across processes (provisioning/request_metrics.py)."""

from django.db import models


class TargetRequestCount(models.Model):
    """Requests to one target in one minute by method, status class and latency bucket, as one process sent them.

    Rows are only ever inserted (one per key per flush, so processes never contend for a row) and summed at
    scrape time; rows older than an hour are merged into one per key, which keeps the table small and every
    total unchanged.
    """

    minute = models.DateTimeField(db_index=True)  # the start of the minute (the newest minute merged into the row)
    target = models.CharField(max_length=300)  # host:port of the Tenant URL
    method = models.CharField(max_length=8)
    status_class = models.CharField(max_length=8)  # 2xx, 3xx, 4xx, 5xx, or "error" when no answer came
    # The latency bucket's upper bound in seconds; null for slower than the largest bound (+Inf).
    le = models.FloatField(null=True, blank=True)
    requests = models.PositiveBigIntegerField()
    seconds = models.FloatField()  # their latencies summed

    def __str__(self):
        return f"{self.requests} × {self.method} {self.target} {self.status_class} at {self.minute:%Y-%m-%d %H:%M}"
