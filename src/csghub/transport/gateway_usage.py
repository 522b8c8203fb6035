"""What the gateway's requests cost, handed to the compute service in batches.

Each answered request leaves its meter here once its answer has gone out; a task writes what gathered
every few seconds in one hop to a worker thread, instead of one hop (and one write) per request on the
request's own heels. What remains is written when the app stops. A write (a transaction, its commit
and the thread hop) cost the hub some 25 ms of CPU on the project's 2-core machine: once a second it
was about 0.4 ms per request at 65 requests a second (benches/bench_endpoints.py), every five seconds
a fifth of that; the endpoint's metrics lag its requests by as much.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from csghub.services.compute import usage
from csghub.services.context import Hub
from csghub.services.permissions import Actor
from csghub.transport.gateway_relay import Meter

log = logging.getLogger(__name__)
FLUSH_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Spent:
    hub: Hub
    endpoint_id: int
    actor: Actor
    meter: Meter


class UsageBook:
    def __init__(self) -> None:
        self._pending: list[Spent] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, hub: Hub, endpoint_id: int, actor: Actor, meter: Meter) -> None:
        """A request is over (its answer sent, or its client gone): its cost joins the next write."""
        self._pending.append(Spent(hub, endpoint_id, actor, meter))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_soon())

    async def _write_soon(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        await self.flush()

    async def flush(self) -> None:
        taken, self._pending = self._pending, []
        if taken:
            await run_in_threadpool(_write, taken)

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
        await self.flush()


def _write(entries: list[Spent]) -> None:
    spends = [
        usage.Spend(e.endpoint_id, e.actor.user_id or 0, *e.meter.tokens, e.meter.latency_ms, e.meter.ok)
        for e in entries
    ]
    try:
        usage.record_usages(entries[0].hub, spends)
    except Exception:  # the answers went out long ago: a lost count must not stop the gateway
        log.exception("recording the usage of %d requests failed", len(spends))
