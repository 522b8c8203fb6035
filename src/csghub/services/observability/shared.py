"""The recorder of a hub run as several server processes (PROMETHEUS_MULTIPROC_DIR set): prometheus-client's
own metrics, whose values it keeps in files in that folder, one per process, summed by a scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from csghub.services.observability.metrics import DURATION_BUCKETS, HELP


class SharedMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, labels: list[str]) -> Counter:
            return Counter(name, HELP[name], labels, registry=registry)

        def gauge(name: str) -> Gauge:
            return Gauge(name, HELP[name], registry=registry, multiprocess_mode="livesum")

        self.requests = counter("csghub_http_requests", ["route", "method", "status"])
        self.durations = Histogram(
            "csghub_http_request_duration_seconds",
            HELP["csghub_http_request_duration_seconds"],
            ["route", "method"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.in_flight = gauge("csghub_http_requests_in_flight")
        self.bytes = counter("csghub_transfer_bytes", ["protocol", "direction"])
        self.transfers = counter("csghub_transfers", ["protocol", "operation"])
        self.ssh_active = gauge("csghub_ssh_sessions_active")
        self.ssh_total = counter("csghub_ssh_sessions", [])

    def started(self) -> None:
        self.in_flight.inc()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.in_flight.dec()
        self.requests.labels(route, method, str(status)).inc()
        self.durations.labels(route, method).observe(seconds)

    def count_bytes(self, protocol: str, received: int, sent: int) -> None:
        if received:
            self.bytes.labels(protocol, "in").inc(received)
        if sent:
            self.bytes.labels(protocol, "out").inc(sent)

    def count_transfer(self, protocol: str, operation: str) -> None:
        self.transfers.labels(protocol, operation).inc()

    def ssh_opened(self) -> None:
        self.ssh_active.inc()
        self.ssh_total.inc()

    def ssh_closed(self) -> None:
        self.ssh_active.dec()
