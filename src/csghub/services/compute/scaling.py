"""Autoscaling between an endpoint's min and max replicas. The gateway counts the requests it has in
flight per endpoint (a ticket each, on the Hub); the supervisor asks, once a pass, how many replicas an
endpoint should run: one more while the load per ready replica stays high, back to the minimum after a
quiet period (the setting compute_scale_down_after)."""

from __future__ import annotations

import time

from csghub.services.context import Hub

# Requests in flight per ready replica that make an endpoint busy, and for how long it must stay busy:
# `transformers serve` answers one request at a time, so two waiting per replica is a queue forming.
SCALE_UP_LOAD = 2
SCALE_UP_AFTER = 3.0


def begin_request(hub: Hub, endpoint_id: int) -> int:
    """A request is on its way to a replica; its ticket goes back to end_request when it is answered."""
    compute = hub.compute
    with compute.guard:
        ticket = next(compute.tickets)
        compute.in_flight.setdefault(endpoint_id, {})[ticket] = time.monotonic()
    return ticket


def end_request(hub: Hub, endpoint_id: int, ticket: int) -> None:
    compute = hub.compute
    with compute.guard:
        tickets = compute.in_flight.get(endpoint_id)
        if tickets is not None:
            tickets.pop(ticket, None)
            if not tickets:
                del compute.in_flight[endpoint_id]


def in_flight(hub: Hub, endpoint_id: int, *, now: float | None = None) -> int:
    """Requests under way. The gateway ends every ticket it began, also for a client gone mid-answer; one
    older than the gateway's timeout can only be a leftover (its task killed), so it is dropped, not counted."""
    oldest = (time.monotonic() if now is None else now) - hub.settings.gateway_timeout
    compute = hub.compute
    with compute.guard:
        tickets = compute.in_flight.get(endpoint_id, {})
        for ticket in [t for t, began in tickets.items() if began < oldest]:
            del tickets[ticket]
        return len(tickets)


def forget(hub: Hub, endpoint_id: int) -> None:
    """An endpoint deleted or stopped: nothing of its load stays behind."""
    compute = hub.compute
    with compute.guard:
        compute.in_flight.pop(endpoint_id, None)
        compute.scale_marks.pop(endpoint_id, None)
        compute.sizes.pop(endpoint_id, None)
        compute.plans.pop(endpoint_id, None)


def decide(
    hub: Hub, endpoint_id: int, *, size: int, minimum: int, maximum: int, ready: int, now: float | None = None
) -> tuple[int, str]:
    """How many replicas the endpoint should run now (it runs `size`, `ready` of them healthy), and why
    that changed ("" when it did not)."""
    now = time.monotonic() if now is None else now
    load = in_flight(hub, endpoint_id, now=now)
    busy_since, quiet_since = hub.compute.scale_marks.get(endpoint_id, (None, None))
    busy = ready > 0 and load >= SCALE_UP_LOAD * ready
    busy_since = (now if busy_since is None else busy_since) if busy else None
    quiet_since = (now if quiet_since is None else quiet_since) if load == 0 else None
    wanted, why = size, ""
    # One more replica at a time, and only once the last one added is ready (its start-up is no load).
    if busy_since is not None and now - busy_since >= SCALE_UP_AFTER and ready >= size and size < maximum:
        wanted, why = size + 1, f"scaled to {size + 1} replicas: {load} requests in flight"
        busy_since = None
    elif quiet_since is not None and size > minimum and now - quiet_since >= hub.settings.compute_scale_down_after:
        wanted = minimum
        why = f"scaled to {minimum} replica{'s' if minimum > 1 else ''}: no request for {now - quiet_since:.0f} s"
        quiet_since = None
    hub.compute.scale_marks[endpoint_id] = (busy_since, quiet_since)
    return wanted, why
