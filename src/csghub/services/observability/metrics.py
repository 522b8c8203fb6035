"""The hub's Prometheus metrics: one holder per Hub, owning its registry (never prometheus-client's global
one), with the few calls the request middleware and the SSH server make on their hot paths.

Labels never carry what a request named: routes are templates (`/api/models/{namespace}/{name}`), so
neither private repository names nor arbitrary paths reach the scrape, and the number of series stays
bounded by the routes the hub has.

With PROMETHEUS_MULTIPROC_DIR set (several server processes), prometheus-client keeps every value in
files there and a scrape sums them across processes (docs/operations-metrics.md).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import mark_process_dead
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# From a cached API answer (about 1 ms) to a large clone (minutes).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
PROTOCOLS = ("api", "git", "lfs", "xet", "web", "ssh")


def multiprocess_dir() -> str:
    """Where prometheus-client keeps the values of every process, when it was told to ("" otherwise)."""
    return os.environ.get(MULTIPROC_ENV, "")


class Metrics:
    """The hub's metrics. Counters are updated from the event loop and SSH sessions; the collectors that
    read the database (`add_collector`) run at scrape time only."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.collectors: list[Collector] = []
        self._lock = threading.Lock()
        self.requests = Counter(
            "csghub_http_requests",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "csghub_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template and method.",
            ["route", "method"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "csghub_http_requests_in_flight",
            "HTTP requests being answered now.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.bytes = Counter(
            "csghub_transfer_bytes",
            "Bytes received (direction=in) and sent (out), by protocol: api, git, lfs, xet, web (HTTP), ssh.",
            ["protocol", "direction"],
            registry=self.registry,
        )
        self.transfers = Counter(
            "csghub_transfers",
            "Completed git, LFS and Xet transfers by protocol and operation (upload-pack, receive-pack, "
            "upload, upload_part, download).",
            ["protocol", "operation"],
            registry=self.registry,
        )
        self.ssh_sessions = Gauge(
            "csghub_ssh_sessions_active",
            "SSH sessions (git commands) running now.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.ssh_sessions_total = Counter(
            "csghub_ssh_sessions", "SSH sessions (git commands) started.", registry=self.registry
        )
        # Label children by their values: labels() costs a lock and a tuple build on every call.
        self._request_children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
        self._byte_children: dict[str, tuple[Counter, Counter]] = {}
        self._transfer_children: dict[tuple[str, str], Counter] = {}

    def add_collector(self, collector: Collector) -> None:
        """A collector run at each scrape (the database's figures)."""
        self.collectors.append(collector)
        self.registry.register(collector)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, str(status))
        children = self._request_children.get(key)
        if children is None:
            with self._lock:
                children = (self.requests.labels(*key), self.durations.labels(route, method))
                self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_bytes(self, protocol: str, received: int, sent: int) -> None:
        children = self._byte_children.get(protocol)
        if children is None:
            with self._lock:
                children = (self.bytes.labels(protocol, "in"), self.bytes.labels(protocol, "out"))
                self._byte_children[protocol] = children
        if received:
            children[0].inc(received)
        if sent:
            children[1].inc(sent)

    def count_transfer(self, protocol: str, operation: str) -> None:
        child = self._transfer_children.get((protocol, operation))
        if child is None:
            with self._lock:
                child = self._transfer_children[(protocol, operation)] = self.transfers.labels(protocol, operation)
        child.inc()

    def close(self) -> None:
        """At the server's shutdown: in multi-process mode, this process's live gauges (in flight, SSH
        sessions) stop counting in the sums; its counters stay, as they should."""
        if multiprocess_dir():
            mark_process_dead(os.getpid())

    def collect_from(self) -> Iterable[Collector]:
        """What a scrape reads in multi-process mode besides the files: this process's collectors."""
        return tuple(self.collectors)
