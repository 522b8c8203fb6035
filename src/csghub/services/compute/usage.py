"""Usage of instances: requests, errors, tokens and latency per instance, user and day (for quotas and
the resource console), and an endpoint's live metrics from its recent requests."""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from csghub.core.errors import NotFound
from csghub.db.models import ComputeInstance, ComputeUsage
from csghub.services.compute import instances, scaling
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize
from csghub.services.read_cache import keeps_reads

RECENT = 1000  # latencies kept per endpoint for its percentiles


@dataclass(frozen=True, slots=True)
class Spend:
    """One answered request's cost."""

    endpoint_id: int
    user_id: int  # 0 for anonymous callers
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    ok: bool


def record_usage(
    hub: Hub, endpoint_id: int, actor: Actor, *, prompt_tokens: int, completion_tokens: int, latency_ms: float, ok: bool
) -> None:
    spend = Spend(endpoint_id, actor.user_id or 0, prompt_tokens, completion_tokens, latency_ms, ok)
    record_usages(hub, [spend])


def record_usages(hub: Hub, spends: Sequence[Spend]) -> None:
    """Many requests' cost in one transaction, summed per instance, user and day first: a row write per
    request cost the gateway about 1 ms of CPU each (benches/bench_endpoints.py)."""
    state = hub.compute
    with state.guard:
        for spend in spends:
            state.latencies.setdefault(spend.endpoint_id, deque(maxlen=RECENT)).append(float(spend.latency_ms))
    day = datetime.now(UTC).date()
    sums: dict[tuple[int, int], list[float]] = {}
    for spend in spends:
        total = sums.setdefault((spend.endpoint_id, spend.user_id), [0, 0, 0, 0, 0.0])
        total[0] += 1
        total[1] += 0 if spend.ok else 1
        total[2] += max(0, spend.prompt_tokens)
        total[3] += max(0, spend.completion_tokens)
        total[4] += max(0.0, spend.latency_ms)
    for _ in range(2):  # two first requests of the day may race to insert a row
        try:
            with hub.db() as session:
                keeps_reads(session)  # usage rows are in no read cache: keep the hot reads' caches
                for (endpoint_id, user_id), (requests, errors, prompt, completion, latency) in sums.items():
                    key = {"instance_id": endpoint_id, "user_id": user_id, "day": day}
                    row = session.get(ComputeUsage, key)
                    if row is None:
                        if session.get(ComputeInstance, endpoint_id) is None:
                            continue  # deleted while the request ran
                        row = ComputeUsage(
                            **key, requests=0, errors=0, prompt_tokens=0, completion_tokens=0, latency_ms_sum=0.0
                        )
                        session.add(row)
                    row.requests += int(requests)
                    row.errors += int(errors)
                    row.prompt_tokens += int(prompt)
                    row.completion_tokens += int(completion)
                    row.latency_ms_sum += float(latency)
            return
        except IntegrityError:
            continue


def usage_totals(session: Session, instance_id: int) -> tuple[float, float, float, float, float]:
    """An instance's requests, errors, prompt and completion tokens and summed latency (ms), since creation."""
    totals = session.execute(
        select(
            func.coalesce(func.sum(ComputeUsage.requests), 0),
            func.coalesce(func.sum(ComputeUsage.errors), 0),
            func.coalesce(func.sum(ComputeUsage.prompt_tokens), 0),
            func.coalesce(func.sum(ComputeUsage.completion_tokens), 0),
            func.coalesce(func.sum(ComputeUsage.latency_ms_sum), 0.0),
        ).where(ComputeUsage.instance_id == instance_id)
    ).one()
    requests, errors, prompt, completion, latency_sum = (float(v) for v in totals)
    return requests, errors, prompt, completion, latency_sum


def endpoint_metrics(hub: Hub, actor: Actor, endpoint_id: int) -> Mapping[str, float]:
    """Totals since creation, percentiles of the recent requests, and the requests under way now."""
    with hub.db() as session:
        row = session.get(ComputeInstance, endpoint_id)
        if row is None or row.kind != "endpoint":
            raise NotFound(f"Endpoint #{endpoint_id} not found", code="EndpointNotFound")
        authorize(actor, Action.READ, instances.resource_of(row))
        requests, errors, prompt, completion, latency_sum = usage_totals(session, endpoint_id)
    with hub.compute.guard:
        recent = sorted(hub.compute.latencies.get(endpoint_id, ()))
    return {
        "requests": requests,
        "errors": errors,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "latency_ms_p50": _percentile(recent, 0.5),
        "latency_ms_p95": _percentile(recent, 0.95),
        "latency_ms_mean": latency_sum / requests if requests else 0.0,
        "tokens_per_second": completion / (latency_sum / 1000.0) if latency_sum else 0.0,
        "in_flight": scaling.in_flight(hub, endpoint_id),
    }


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[max(0, min(98, round(q * 100) - 1))]
