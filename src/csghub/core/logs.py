"""The server's logging: one stderr handler whose lines name the request (core/request_ids.py), the access
log's own logger (one line per request, already formatted), and libraries' chatter kept at WARNING."""

from __future__ import annotations

import logging
import sys

from csghub.core.request_ids import RequestIdFilter

ACCESS_LOGGER = "csghub.access"
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
    access = logging.getLogger(ACCESS_LOGGER)
    access.setLevel(logging.INFO)  # its own setting (`access_log`), whatever the hub's log level
    access.propagate = False
    access.handlers.clear()
    plain = logging.StreamHandler(sys.stderr)
    plain.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(plain)
