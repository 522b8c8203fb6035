"""The hub's background loop: a failing pass is logged once while it keeps failing and never ends the
loop; the pause a pass asks for is cut short by its doorbell."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from csghub.services.background import run_passes
from csghub.services.context import Doorbell


def test_a_failing_pass_is_logged_once_while_it_lasts_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    outcomes = ["boom", "boom", "boom", "ok", "bang", "ok", "ok"]
    done = asyncio.Event()

    def one_pass() -> float:
        outcome = outcomes.pop(0)
        if not outcomes:
            done.set()
        if outcome != "ok":
            raise RuntimeError(outcome)
        return 0.0

    async def main() -> None:
        loop = asyncio.create_task(run_passes("test", one_pass, after_failure=0.0))
        await asyncio.wait_for(done.wait(), timeout=10)
        loop.cancel()

    with caplog.at_level(logging.ERROR, logger="csghub.services.background"):
        asyncio.run(main())
    assert [r.exc_info[1].args[0] for r in caplog.records if r.exc_info and r.exc_info[1]] == ["boom", "bang"]
    assert outcomes == []


def test_a_rung_doorbell_starts_the_next_pass_before_its_pause_ends() -> None:
    doorbell = Doorbell()
    passes: list[float] = []

    def one_pass() -> float:
        passes.append(time.monotonic())
        return 30.0  # a long pause: only the doorbell can end it within the test's bound

    async def main() -> None:
        loop = asyncio.create_task(run_passes("test", one_pass, after_failure=30.0, doorbell=doorbell))
        while not passes:
            await asyncio.sleep(0.01)
        began = time.monotonic()
        while len(passes) < 2 and time.monotonic() - began < 10:
            doorbell.ring()  # again until heard: the loop may not be waiting yet
            await asyncio.sleep(0.05)
        loop.cancel()

    asyncio.run(main())
    assert len(passes) == 2 and passes[1] - passes[0] < 10
