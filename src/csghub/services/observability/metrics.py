"""The hub's Prometheus metrics: one holder per Hub, owning its registry (never prometheus-client's global
one), and the recorder that the request middleware and the SSH server call on their hot paths.

Labels never carry what a request named: routes are templates (`/api/models/{namespace}/{name}`), so
neither private repository names nor arbitrary paths reach the scrape, and the number of series stays
bounded by the routes the hub has.

Two recorders, one interface: in a single server process, plain counters touched only by the event loop
and read at scrape time (counts.py: about 1 µs a request); with PROMETHEUS_MULTIPROC_DIR set (several
server processes), prometheus-client's own metrics, whose values live in files there so that a scrape of
any process sums them all (shared.py; several µs a request, for its locks and files).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import mark_process_dead
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# From a cached API answer (about 1 ms) to a large clone (minutes).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
HELP = {
    "csghub_http_requests": "HTTP requests answered, by route template, method and status code.",
    "csghub_http_request_duration_seconds": "From a request's arrival to the end of its answer, by route template "
    "and method.",
    "csghub_http_requests_in_flight": "HTTP requests being answered now.",
    "csghub_transfer_bytes": "Bytes received (direction=in) and sent (out), by protocol: api, git, lfs, xet, web "
    "(HTTP), ssh.",
    "csghub_transfers": "Completed git, LFS and Xet transfers by protocol and operation.",
    "csghub_ssh_sessions_active": "SSH sessions (git commands) running now.",
    "csghub_ssh_sessions": "SSH sessions (git commands) started.",
}


def multiprocess_dir() -> str:
    """Where prometheus-client keeps the values of every process, when it was told to ("" otherwise)."""
    return os.environ.get(MULTIPROC_ENV, "")


class Recorder(Protocol):
    def started(self) -> None:
        """A request arrived (in flight until `observe_request`)."""

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """A request was answered (no longer in flight)."""

    def count_bytes(self, protocol: str, received: int, sent: int) -> None: ...

    def count_transfer(self, protocol: str, operation: str) -> None: ...

    def ssh_opened(self) -> None: ...

    def ssh_closed(self) -> None: ...


class Metrics:
    """The hub's registry and recorder; collectors that read the database (`add_collector`) run at scrape
    time only."""

    def __init__(self) -> None:
        from csghub.services.observability.counts import LoopCounts
        from csghub.services.observability.shared import SharedMetrics

        self.registry = CollectorRegistry()
        self.collectors: list[Collector] = []
        self.record: Recorder
        if multiprocess_dir():
            self.record = SharedMetrics(self.registry)
        else:
            counts = LoopCounts()
            self.registry.register(counts.collector())
            self.record = counts

    def add_collector(self, collector: Collector) -> None:
        """A collector run at each scrape (the database's figures)."""
        self.collectors.append(collector)
        self.registry.register(collector)

    def close(self) -> None:
        """At the server's shutdown: in multi-process mode, this process's live gauges (in flight, SSH
        sessions) stop counting in the sums; its counters stay, as they should."""
        if multiprocess_dir():
            mark_process_dead(os.getpid())

    def collect_from(self) -> Iterable[Collector]:
        """What a scrape reads in multi-process mode besides the files: this process's collectors."""
        return tuple(self.collectors)
