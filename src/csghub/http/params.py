"""Numbers in URLs: ids in paths, pages, limits and cursors in query strings.

Python's int() takes more than these strings should give: '²' passes str.isdigit() yet int() refuses it,
and a 30-digit number parses but overflows SQL's integers and islice(). Every number from a URL is plain
ASCII digits, ids at most MAX_ID (the database's INTEGER columns), offsets and pages at most MAX_INDEX.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from csghub.core.errors import InvalidArgument

MAX_ID = 2**31 - 1  # ids are INTEGER columns: PostgreSQL refuses a larger bound value outright
MAX_INDEX = 2**53 - 1  # also exact in JSON numbers, as clients in JavaScript read them

# A row id or number in a route's path: the schema says the bound, FastAPI refuses what is outside it.
RowId = Annotated[int, Path(ge=0, le=MAX_ID)]


def _clamped(raw: str) -> int | None:
    """ASCII digits as a number, at most MAX_INDEX (past the end of anything); None for anything else."""
    if not (raw.isascii() and raw.isdigit()):
        return None
    return MAX_INDEX if len(raw) > len(str(MAX_INDEX)) else min(int(raw), MAX_INDEX)


def whole_number(raw: str | None, key: str, *, maximum: int = MAX_INDEX) -> int | None:
    """A URL parameter that must be a whole number when given; anything else is a 400 naming it."""
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(maximum)) or int(raw) > maximum:
        raise InvalidArgument(f"'{key}' must be a whole number up to {maximum}")
    return int(raw)


def page_number(raw: str | None) -> int:
    """A portal page's ?page=: 1 unless it is a number from 1 up; pages are forgiving, like links are."""
    return max(_clamped(raw or "") or 1, 1)


def lenient_index(raw: str | None) -> int:
    """A cursor or offset that falls back to 0 when it is not a number (as clients resend what they got)."""
    return _clamped(raw or "") or 0
