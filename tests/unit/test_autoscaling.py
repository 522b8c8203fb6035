"""Autoscaling's rule (services/compute/scaling.py) on the counter the gateway keeps: one replica more
once the load per ready replica has stayed high, never past max nor while the last one added is not
ready, back to min after the quiet period; tickets whose end was never heard stop counting."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import cast

from csghub.config import Settings
from csghub.services.compute import scaling
from csghub.services.context import ComputeRuntime, Hub

QUIET = 30


def hub() -> Hub:
    settings = Settings(compute_scale_down_after=QUIET, gateway_timeout=600)
    return cast(Hub, SimpleNamespace(compute=ComputeRuntime(), settings=settings))


def load(h: Hub, endpoint_id: int, requests: int) -> list[int]:
    return [scaling.begin_request(h, endpoint_id) for _ in range(requests)]


def test_sustained_load_adds_one_replica_at_a_time_up_to_max() -> None:
    h, start = hub(), time.monotonic()

    def decide(size: int, ready: int, after: float) -> tuple[int, str]:
        return scaling.decide(h, 7, size=size, minimum=1, maximum=2, ready=ready, now=start + after)

    load(h, 7, 3)
    assert decide(1, 1, 0.0) == (1, "")  # busy, not yet for long
    assert decide(1, 1, 2.0) == (1, "")
    assert decide(1, 1, 3.5) == (2, "scaled to 2 replicas: 3 requests in flight")
    load(h, 7, 3)
    assert decide(2, 1, 10.0) == (2, "")  # the new one is still starting: its start-up is no load
    assert decide(2, 2, 20.0) == (2, "")  # 6 in flight on 2 ready: busy, but at max already
    assert scaling.in_flight(h, 7) == 6 and scaling.in_flight(h, 8) == 0


def test_a_short_burst_or_light_load_scales_nothing() -> None:
    h, start = hub(), time.monotonic()
    tickets = load(h, 1, 4)
    assert scaling.decide(h, 1, size=1, minimum=1, maximum=3, ready=1, now=start) == (1, "")
    for ticket in tickets[1:]:
        scaling.end_request(h, 1, ticket)
    # One request per replica is no queue: the busy spell ended, the clock starts again.
    assert scaling.decide(h, 1, size=1, minimum=1, maximum=3, ready=1, now=start + 5) == (1, "")
    load(h, 1, 1)
    assert scaling.decide(h, 1, size=1, minimum=1, maximum=3, ready=1, now=start + 6) == (1, "")
    assert scaling.decide(h, 1, size=1, minimum=1, maximum=3, ready=1, now=start + 8) == (1, "")


def test_quiet_period_brings_it_back_to_min() -> None:
    h, start = hub(), time.monotonic()
    tickets = load(h, 3, 1)
    assert scaling.decide(h, 3, size=3, minimum=1, maximum=3, ready=3, now=start) == (3, "")
    scaling.end_request(h, 3, tickets[0])
    assert scaling.decide(h, 3, size=3, minimum=1, maximum=3, ready=3, now=start + 1) == (3, "")
    assert scaling.decide(h, 3, size=3, minimum=1, maximum=3, ready=3, now=start + QUIET) == (3, "")
    size, why = scaling.decide(h, 3, size=3, minimum=1, maximum=3, ready=3, now=start + QUIET + 2)
    assert size == 1 and why == f"scaled to 1 replica: no request for {QUIET + 1} s"
    assert scaling.decide(h, 3, size=1, minimum=1, maximum=3, ready=1, now=start + QUIET + 3) == (1, "")


def test_a_ticket_never_ended_stops_counting_after_the_gateway_timeout() -> None:
    h = hub()
    load(h, 5, 2)
    assert scaling.in_flight(h, 5) == 2
    assert scaling.in_flight(h, 5, now=time.monotonic() + 601) == 0
    scaling.forget(h, 5)
    assert h.compute.in_flight == {} and h.compute.scale_marks == {}
