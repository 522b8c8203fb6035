"""The server's logging: one stderr handler whose lines name the request (core/request_ids.py), libraries'
chatter kept at WARNING, and the access log's sink (one line per request, already formatted)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import sys
from typing import TextIO

from csghub.core.request_ids import RequestIdFilter

# How long an access log line may wait in the buffer.
FLUSH_SECONDS = 0.05
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
# Libraries that say a great deal at INFO (each SSH channel, each outbound request, each migration step,
# uvicorn's start-up lines): WARNING unless the log level is "debug" or `log_libraries` names them.
NOISY_LIBRARIES = (
    "asyncssh",
    "httpx",
    "httpcore",
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "alembic",
    "uvicorn.error",
    "uvicorn.asgi",
)


def library_levels(level: str, wanted: tuple[str, ...]) -> dict[str, int]:
    """The level each noisy library logs at: the hub's level when asked for (or when it is "debug"),
    else at least WARNING."""
    base = logging.getLevelName(level.upper())
    if not isinstance(base, int):
        base = logging.INFO
    quiet = max(base, logging.WARNING) if base > logging.DEBUG else base
    return {name: base if name in wanted else quiet for name in NOISY_LIBRARIES}


def configure(level: str, libraries: tuple[str, ...] = ()) -> None:
    """Called once by `csghub serve` (after uvicorn's own set-up, which would otherwise reset levels)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    for name, value in library_levels(level, libraries).items():
        logging.getLogger(name).setLevel(value)
    for name in libraries:  # libraries outside the list above that the operator wants to hear at the hub's level
        logging.getLogger(name).setLevel(level.upper())


class AccessSink:
    """Where access log lines go: standard error, through a buffer of its own written out every
    FLUSH_SECONDS (a line reaches the file at most that late; a crash loses at most that much). Through
    `logging` (a record, a lock, a formatter) and a write per line, a line cost about 15 µs, 4% of a cached
    API answer (benches/bench_metrics_overhead.py); this costs about 1 µs."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or io.TextIOWrapper(
            io.FileIO(sys.stderr.fileno(), "w", closefd=False), encoding="utf-8", errors="replace", write_through=False
        )
        self._pending = False

    def write(self, line: str) -> None:
        self.stream.write(line + "\n")
        if not self._pending:
            self._pending = True
            try:
                asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
            except RuntimeError:  # no loop (a test calling it directly): at once
                self.flush()

    def flush(self) -> None:
        self._pending = False
        # Standard error closed or its disk full: the hub serves on without its access log.
        with contextlib.suppress(OSError, ValueError):
            self.stream.flush()
