"""Usage of instances: requests, errors, tokens and latency per instance, user and day (for quotas and
the resource console), and an endpoint's live metrics from its recent requests."""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from csghub.core.errors import NotFound
from csghub.db.models import ComputeInstance, ComputeUsage
from csghub.services.compute import instances
from csghub.services.context import Hub
from csghub.services.permissions import Action, Actor, authorize

RECENT = 1000  # latencies kept per endpoint for its percentiles


def record_usage(
    hub: Hub, endpoint_id: int, actor: Actor, *, prompt_tokens: int, completion_tokens: int, latency_ms: float, ok: bool
) -> None:
    state = hub.compute
    with state.guard:
        state.latencies.setdefault(endpoint_id, deque(maxlen=RECENT)).append(float(latency_ms))
    key = {"instance_id": endpoint_id, "user_id": actor.user_id or 0, "day": datetime.now(UTC).date()}
    for _ in range(2):  # two first requests of the day may race to insert the row
        try:
            with hub.db() as session:
                row = session.get(ComputeUsage, key)
                if row is None:
                    if session.get(ComputeInstance, endpoint_id) is None:
                        return  # deleted while the request ran
                    row = ComputeUsage(
                        **key, requests=0, errors=0, prompt_tokens=0, completion_tokens=0, latency_ms_sum=0.0
                    )
                    session.add(row)
                row.requests += 1
                row.errors += 0 if ok else 1
                row.prompt_tokens += max(0, prompt_tokens)
                row.completion_tokens += max(0, completion_tokens)
                row.latency_ms_sum += max(0.0, latency_ms)
            return
        except IntegrityError:
            continue


def endpoint_metrics(hub: Hub, actor: Actor, endpoint_id: int) -> Mapping[str, float]:
    """Totals since creation and percentiles of the recent requests."""
    with hub.db() as session:
        row = session.get(ComputeInstance, endpoint_id)
        if row is None or row.kind != "endpoint":
            raise NotFound(f"Endpoint #{endpoint_id} not found", code="EndpointNotFound")
        authorize(actor, Action.READ, instances.resource_of(row))
        totals = session.execute(
            select(
                func.coalesce(func.sum(ComputeUsage.requests), 0),
                func.coalesce(func.sum(ComputeUsage.errors), 0),
                func.coalesce(func.sum(ComputeUsage.prompt_tokens), 0),
                func.coalesce(func.sum(ComputeUsage.completion_tokens), 0),
                func.coalesce(func.sum(ComputeUsage.latency_ms_sum), 0.0),
            ).where(ComputeUsage.instance_id == endpoint_id)
        ).one()
    requests, errors, prompt, completion, latency_sum = (float(v) for v in totals)
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
    }


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[max(0, min(98, round(q * 100) - 1))]
