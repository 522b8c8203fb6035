"""Failed sign-in throttling, per account and per address, kept in the database.

The counters live in the database so every server process and a restart see the same lockouts. A
locked key is refused before any credential is checked: otherwise an attacker would still learn
which guess was right.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from csghub.core.errors import RateLimited
from csghub.db.models import LoginFailure, utcnow
from csghub.services.context import Hub


def account_key(name: str) -> str:
    return f"user:{name.lower()}"


def address_key(address: str) -> str:
    return f"addr:{address}"


def _limit(hub: Hub, key: str) -> int:
    if key.startswith("user:"):
        return hub.settings.login_max_failures_per_account
    return hub.settings.login_max_failures_per_address


def check_not_locked(hub: Hub, keys: list[str]) -> None:
    now = utcnow()
    with hub.db() as session:
        for key in keys:
            row = session.get(LoginFailure, key)
            if row is not None and row.locked_until is not None and row.locked_until > now:
                wait = int((row.locked_until - now).total_seconds()) + 1
                what = "this account" if key.startswith("user:") else "your address"
                raise RateLimited(
                    f"Too many failed sign-in attempts for {what}; try again in {wait} seconds", retry_after=wait
                )


def record_failure(hub: Hub, keys: list[str]) -> None:
    for attempt in range(3):
        try:
            _count_failure(hub, keys)
            return
        except IntegrityError:
            # Another request inserted the same key first; count again on top of its row.
            if attempt == 2:
                raise


def _count_failure(hub: Hub, keys: list[str]) -> None:
    now = utcnow()
    window = timedelta(seconds=hub.settings.login_lockout)
    with hub.db() as session:
        for key in keys:
            row = session.get(LoginFailure, key)
            if row is None:
                row = LoginFailure(key=key, count=0, window_start=now)
                session.add(row)
            elif now - row.window_start > window:
                row.count, row.window_start, row.locked_until = 0, now, None
            row.count += 1
            if row.count >= _limit(hub, key):
                row.locked_until = now + window


def record_success(hub: Hub, account: str) -> None:
    """A right password clears the account's count; the address keeps its own."""
    with hub.db() as session:
        session.execute(delete(LoginFailure).where(LoginFailure.key == account_key(account)))
