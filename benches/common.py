"""Shared bits of the benchmarks: a live hub in a temp dir and a peak-RSS sampler for its process."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from tests.support.live import LiveHub, server_env


@contextmanager
def live_hub(extra_env: dict[str, str] | None = None) -> Iterator[LiveHub]:
    with tempfile.TemporaryDirectory(prefix="csghub-bench-", dir="/tmp") as tmp:
        hub = LiveHub(Path(tmp) / "data", server_env(extra_env)).start()
        try:
            yield hub
        finally:
            hub.stop()


class PeakRss:
    """Samples the resident set size of a process and its children every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._sample())
            except psutil.Error:
                return
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / 1e6
