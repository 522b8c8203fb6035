"""A bandwidth limit shared by every transfer from one source: a token bucket in bytes per second."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Callers `consume(n)` after moving n bytes and are held back to `bytes_per_s` on average, across
    threads. The bucket starts empty and holds at most a quarter second of bytes, so a limit holds from the
    first byte and a pause never buys a long burst afterwards. 0 means unlimited."""

    BURST_SECONDS = 0.25

    def __init__(self, bytes_per_s: int) -> None:
        if bytes_per_s < 0:
            raise ValueError("bytes_per_s must be 0 (unlimited) or more")
        self.bytes_per_s = bytes_per_s
        self._tokens = 0.0
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def consume(self, count: int) -> None:
        if self.bytes_per_s == 0 or count <= 0:
            return
        with self._lock:
            now = time.monotonic()
            capacity = self.bytes_per_s * self.BURST_SECONDS
            self._tokens = min(capacity, self._tokens + (now - self._last) * self.bytes_per_s)
            self._last = now
            # Taken now, paid for by waiting: concurrent callers queue up behind each other's debt.
            self._tokens -= count
            wait = -self._tokens / self.bytes_per_s if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)  # the throttle itself, not a synchronisation
