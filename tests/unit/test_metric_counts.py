"""The single-process recorder renders what prometheus-client's own metrics would: cumulative buckets with
Prometheus's `le` semantics (a value on a bound counts in it), sums, counters and gauges."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from csghub.services.observability.metrics import Metrics


def _samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_durations_fall_in_cumulative_buckets_with_le_semantics() -> None:
    metrics = Metrics()
    for seconds in (0.003, 0.005, 0.007, 0.3, 400.0):
        metrics.record.started()
        metrics.record.observe_request("/api/models", "GET", 200, seconds)
    metrics.record.started()  # one still in flight
    found = _samples(metrics)
    route = {("route", "/api/models"), ("method", "GET")}

    def bucket(le: str) -> float:
        return found[("csghub_http_request_duration_seconds_bucket", frozenset(route | {("le", le)}))]

    assert [bucket("0.005"), bucket("0.01"), bucket("0.25"), bucket("0.5"), bucket("300.0"), bucket("+Inf")] == [
        2,
        3,
        3,
        4,
        4,
        5,
    ]
    assert found[("csghub_http_request_duration_seconds_count", frozenset(route))] == 5
    assert abs(found[("csghub_http_request_duration_seconds_sum", frozenset(route))] - 400.315) < 1e-9
    assert found[("csghub_http_requests_total", frozenset(route | {("status", "200")}))] == 5
    assert found[("csghub_http_requests_in_flight", frozenset())] == 1


def test_bytes_transfers_and_ssh_sessions_add_up() -> None:
    metrics = Metrics()
    metrics.record.count_bytes("git", 10, 0)
    metrics.record.count_bytes("git", 5, 7)
    metrics.record.count_transfer("ssh", "upload-pack")
    metrics.record.ssh_opened()
    metrics.record.ssh_opened()
    metrics.record.ssh_closed()
    found = _samples(metrics)
    assert found[("csghub_transfer_bytes_total", frozenset({("protocol", "git"), ("direction", "in")}))] == 15
    assert found[("csghub_transfer_bytes_total", frozenset({("protocol", "git"), ("direction", "out")}))] == 7
    assert found[("csghub_transfers_total", frozenset({("protocol", "ssh"), ("operation", "upload-pack")}))] == 1
    assert found[("csghub_ssh_sessions_active", frozenset())] == 1
    assert found[("csghub_ssh_sessions_total", frozenset())] == 2
