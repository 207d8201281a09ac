"""Prometheus counters (multi-process safe across `serve` workers via PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REPORTS = Counter("hostpatrol_reports_total", "Reports received, by outcome", ["outcome"])
ENROLLMENTS = Counter("hostpatrol_enrollments_total", "Enrollment attempts, by outcome",
                      ["outcome"])
BUSY = Counter("hostpatrol_reports_busy_total",
               "Report deliveries refused with 429 because the worker was busy")
INGEST_SECONDS = Histogram("hostpatrol_ingest_seconds", "Time to verify and store one request")


def render() -> tuple[bytes, str]:
    """The exposition text for /metrics and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
