"""Request ids: the one a client sent (X-Request-ID, when it is safe to echo) or a new one, kept in a context
variable for the request's task so that log records, error bodies and the jobs it starts can name it."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"
ENV_VAR = "CSGHUB_REQUEST_ID"
MAX_LENGTH = 128
# Letters, digits and a few separators: echoed into a header and log lines, so nothing that could split
# them (spaces, quotes, control characters) gets through.
_SAFE = re.compile(rf"[A-Za-z0-9._:@+=/-]{{1,{MAX_LENGTH}}}")

# The request this task serves; "" outside any request (background loops, the CLI).
current: ContextVar[str] = ContextVar("csghub_request_id", default="")


def accept(sent: str | None) -> str:
    """The client's id when it is one we may echo, else a fresh one."""
    if sent and _SAFE.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


def current_id() -> str:
    return current.get()


class RequestIdFilter(logging.Filter):
    """Adds `request_id` ("-" outside a request) to every record, for formats that name it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current.get() or "-"
        return True
