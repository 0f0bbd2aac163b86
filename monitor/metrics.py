"""Prometheus metrics of the service: polls, errors, items, copies, durations, queue lag."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from monitor.items import PollReport


class Metrics:
    """One registry per service, so tests and several services in one process stay apart."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("monitor_polls", "Polls finished, by status", ["status"], registry=r)
        self.items = Counter("monitor_items", "Items seen in polled documents", registry=r)
        self.new_items = Counter("monitor_new_items", "Items not seen before", registry=r)
        self.articles = Counter("monitor_articles", "New articles stored", registry=r)
        self.copies = Counter("monitor_copies", "Copies recognised as sightings", registry=r)
        self.duration = Histogram(
            "monitor_poll_duration_seconds",
            "Time to poll one source",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.queue_lag = Gauge(
            "monitor_queue_lag_seconds", "How late the most overdue source is", registry=r
        )
        self.inflight = Gauge("monitor_polls_in_flight", "Polls running now", registry=r)
        self.dispatch_errors = Counter(
            "monitor_dispatch_errors", "Dispatcher ticks that failed (database down?)", registry=r
        )
        self.digests = Counter("monitor_digests", "Digests written", registry=r)
        self.digest_errors = Counter("monitor_digest_errors", "Digests that failed", registry=r)

    def observe(self, report: PollReport) -> None:
        self.polls.labels(report.status).inc()
        self.items.inc(report.items_seen)
        self.new_items.inc(report.items_new)
        self.articles.inc(report.articles_new)
        self.copies.inc(report.copies)
        self.duration.observe(report.seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
