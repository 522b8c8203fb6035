"""The recorder of a single server process: plain numbers in dicts, changed only from the event loop
(requests, SSH sessions), turned into metric families when Prometheus scrapes.

prometheus-client's metrics take a lock for every change; six changes a request cost some 5 µs, a few
per cent of a cached API answer. These cost about 1 µs; a scrape (in a worker thread) copies each dict in
one step, which the interpreter does without letting the event loop change it midway.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from csghub.services.observability.metrics import DURATION_BUCKETS, HELP

_BOUNDS = [*(str(float(bound)) for bound in DURATION_BUCKETS), "+Inf"]


class LoopCounts:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        # (route, method) -> a count per bucket (the last for slower than every bound), then the sum.
        self.durations: dict[tuple[str, str], list[float]] = {}
        self.bytes_in: dict[str, int] = {}  # by protocol
        self.bytes_out: dict[str, int] = {}
        self.transfers: dict[tuple[str, str], int] = {}
        self.in_flight = 0
        self.ssh_active = 0
        self.ssh_total = 0

    def started(self) -> None:
        self.in_flight += 1

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.in_flight -= 1
        key = (route, method, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        slots = self.durations.get((route, method))
        if slots is None:
            slots = self.durations[(route, method)] = [0.0] * (len(DURATION_BUCKETS) + 2)
        slots[bisect_left(DURATION_BUCKETS, seconds)] += 1
        slots[-1] += seconds

    def count_bytes(self, protocol: str, received: int, sent: int) -> None:
        if received:
            self.bytes_in[protocol] = self.bytes_in.get(protocol, 0) + received
        if sent:
            self.bytes_out[protocol] = self.bytes_out.get(protocol, 0) + sent

    def count_transfer(self, protocol: str, operation: str) -> None:
        self.transfers[(protocol, operation)] = self.transfers.get((protocol, operation), 0) + 1

    def ssh_opened(self) -> None:
        self.ssh_active += 1
        self.ssh_total += 1

    def ssh_closed(self) -> None:
        self.ssh_active -= 1

    def collector(self) -> Collector:
        return _CountsCollector(self)


class _CountsCollector(Collector):
    def __init__(self, counts: LoopCounts) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        counts = self.counts
        requests = [((route, method, str(status)), n) for (route, method, status), n in list(counts.requests.items())]
        yield _counter("csghub_http_requests", ["route", "method", "status"], requests)
        durations = HistogramMetricFamily(
            "csghub_http_request_duration_seconds",
            HELP["csghub_http_request_duration_seconds"],
            labels=["route", "method"],
        )
        for route_method, slots in list(counts.durations.items()):
            copied = list(slots)
            cumulative, running = [], 0.0
            for bound, count in zip(_BOUNDS, copied[:-1], strict=True):
                running += count
                cumulative.append((bound, running))
            durations.add_metric(list(route_method), cumulative, copied[-1])
        yield durations
        yield _gauge("csghub_http_requests_in_flight", counts.in_flight)
        moved = [((protocol, "in"), n) for protocol, n in list(counts.bytes_in.items())]
        moved += [((protocol, "out"), n) for protocol, n in list(counts.bytes_out.items())]
        yield _counter("csghub_transfer_bytes", ["protocol", "direction"], moved)
        yield _counter("csghub_transfers", ["protocol", "operation"], list(counts.transfers.items()))
        yield _gauge("csghub_ssh_sessions_active", counts.ssh_active)
        yield _counter("csghub_ssh_sessions", [], [((), counts.ssh_total)])


def _counter(name: str, labels: list[str], values: Sequence[tuple[tuple[str, ...], int]]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, HELP[name], labels=labels)
    for label_values, value in values:
        family.add_metric(list(label_values), value)
    return family


def _gauge(name: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, HELP[name])
    family.add_metric([], value)
    return family
