"""The webhook delivery queue on both databases, in process and without the hub's loop: two hubs on one
database never claim the same delivery; a claim whose sender died is taken again after its lease; a
failed attempt waits each of the retry delays in turn, then the delivery is marked failed."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from csghub.config import load_settings
from csghub.db.models import User, Webhook, WebhookDelivery, utcnow
from csghub.services.context import Hub
from csghub.services.identity import accounts
from csghub.services.webhooks import deliveries
from csghub.wiring import build_hub
from tests.conftest import fresh_database_url


def _settings(tmp_path: Path) -> Any:
    overrides: dict[str, Any] = {"data_dir": tmp_path / "data", "webhook_retry_delays": ["5", "60"]}
    database_url = fresh_database_url()
    if database_url:
        overrides["database_url"] = database_url
    return load_settings({}, None, overrides)


def _queue(hub: Hub, count: int) -> list[int]:
    accounts.create_user(hub, "owner", email="owner@example.com")
    with hub.db() as session:
        user_id = session.scalar(select(User.id))
        hook = Webhook(owner_id=user_id, url="http://127.0.0.1:9/hook")
        session.add(hook)
        session.flush()
        rows = [
            WebhookDelivery(
                webhook_id=hook.id,
                repo_id=1,
                repo_namespace="owner",
                repo_visibility="public",
                scope="repo",
                action="create",
                payload="{}",
                next_attempt_at=utcnow() - timedelta(seconds=1),
            )
            for _ in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def _state(hub: Hub, delivery_id: int) -> WebhookDelivery:
    with hub.db() as session:
        row = session.get(WebhookDelivery, delivery_id)
        assert row is not None
        return row


def test_two_hubs_on_one_database_never_claim_the_same_delivery(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = build_hub(settings)
    second = build_hub(settings, run_migrations=False)
    queued = _queue(first, 60)
    claims: dict[str, list[int]] = {"first": [], "second": []}
    start = threading.Barrier(2, timeout=30)

    def claim(name: str, hub: Hub) -> None:
        start.wait()
        while taken := deliveries._claim_due(hub):
            claims[name] += taken

    threads = [threading.Thread(target=claim, args=item) for item in (("first", first), ("second", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not set(claims["first"]) & set(claims["second"])
    assert sorted(claims["first"] + claims["second"]) == queued
    assert {_state(first, d).state for d in queued} == {deliveries.SENDING}
    assert deliveries._claim_due(first) == []  # leased: nobody takes them while their sender may be alive


def test_a_claim_whose_lease_ran_out_is_taken_again(tmp_path: Path) -> None:
    hub = build_hub(_settings(tmp_path))
    [delivery_id] = _queue(hub, 1)
    assert deliveries._claim_due(hub) == [delivery_id]
    with hub.db() as session:  # its sender died: the lease runs out
        stale = utcnow() - timedelta(seconds=1)
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(next_attempt_at=stale))
    assert deliveries._claim_due(hub) == [delivery_id]


def test_failed_attempts_wait_each_retry_delay_then_fail(tmp_path: Path) -> None:
    hub = build_hub(_settings(tmp_path))
    [delivery_id] = _queue(hub, 1)
    waits = []
    for _attempt in range(2):
        before = utcnow()
        deliveries._record(hub, delivery_id, False, 500, "no", "The receiver answered 500", 3, {})
        row = _state(hub, delivery_id)
        assert row.state == deliveries.PENDING and row.next_attempt_at is not None
        waits.append(round((row.next_attempt_at - before).total_seconds()))
    assert waits == [5, 60]
    deliveries._record(hub, delivery_id, False, 500, "no", "The receiver answered 500", 3, {})
    row = _state(hub, delivery_id)
    assert (row.state, row.attempts, row.next_attempt_at, row.error) == (
        deliveries.FAILED,
        3,
        None,
        "The receiver answered 500",
    )
