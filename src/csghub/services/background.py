"""The loop every background task of the hub runs (app.py's lifespan starts them and cancels them on
shutdown): one pass at a time in a worker thread, so the event loop never waits on the database or a
runner, then a pause the pass chose, cut short when its doorbell rings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from csghub.services.context import Doorbell

log = logging.getLogger(__name__)


async def run_passes(
    what: str, one_pass: Callable[[], float], *, after_failure: float, doorbell: Doorbell | None = None
) -> None:
    """Run `one_pass` for ever, waiting the seconds it returns before the next (`after_failure` after one
    that raised). A failure is logged once while it lasts, not at every pass, and never stops the loop."""
    failing = ""
    while True:
        wait = after_failure
        try:
            wait = await asyncio.to_thread(one_pass)
            failing = ""
        except Exception as exc:  # a background loop: log, never stop
            said = f"{type(exc).__name__}: {exc}"
            if said != failing:
                log.exception("%s pass failed", what)
                failing = said
        if doorbell is None:
            await asyncio.sleep(wait)
        else:
            await doorbell.wait(wait)
