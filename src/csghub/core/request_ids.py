"""Request ids: the one a client sent (X-Request-ID, when it is safe to echo) or a new one, kept in a context
variable for the request's task so that log records, error bodies and the jobs it starts can name it."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
from contextvars import ContextVar

HEADER = "X-Request-ID"
ENV_VAR = "CSGHUB_REQUEST_ID"
MAX_LENGTH = 128
# Letters, digits and a few separators: echoed into a header and log lines, so nothing that could split
# them (spaces, quotes, control characters) gets through.
_SAFE = re.compile(rf"[A-Za-z0-9._:@+=/-]{{1,{MAX_LENGTH}}}")

# The request this task serves; "" outside any request (background loops, the CLI).
current: ContextVar[str] = ContextVar("csghub_request_id", default="")


class IdMaker:
    """New ids: a random prefix per maker (per server process) and a counter, unique across processes and
    restarts without a call for random bytes per request."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._numbers = itertools.count(1)

    def make(self) -> str:
        return f"{self._prefix}{next(self._numbers):08x}"


def accept(sent: str | None, maker: IdMaker) -> str:
    """The client's id when it is one we may echo, else a fresh one."""
    if sent and _SAFE.fullmatch(sent):
        return sent
    return maker.make()


def current_id() -> str:
    return current.get()


class RequestIdFilter(logging.Filter):
    """Adds `request_id` ("-" outside a request) to every record, for formats that name it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current.get() or "-"
        return True
