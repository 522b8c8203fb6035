"""Sending queued webhook deliveries, off the request path, and their log.

Owns the `webhook_deliveries` table. One background loop (app.py's lifespan starts `supervise`) claims
due deliveries, at most `webhook_concurrency` at a time, and POSTs each payload to its webhook's URL
through the outbound rules (net/client.py: checked again at every connection, DNS may have changed),
with its secret in `X-Webhook-Secret`, within `webhook_timeout` seconds, keeping at most
`webhook_response_excerpt` bytes of the answer. A 2xx answer delivers it; anything else is tried again
after each of `webhook_retry_delays` in turn, then marked failed. Before sending, the webhook's owner
must still be able to read the repository: a repository made private later is not delivered to those
who lost access (the delivery is skipped and its payload dropped). A claim is a conditional update, so
several hub processes on one database never send a delivery twice at once. The log that owners read, and
redelivery, are services/webhooks/delivery_log.py.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from sqlalchemy import delete, select, update

from csghub.config import retry_delays
from csghub.core import sealing
from csghub.core.errors import HubError
from csghub.db.models import Repo, Webhook, WebhookDelivery, utcnow
from csghub.net.client import upstream_client
from csghub.services.background import run_passes
from csghub.services.context import Hub
from csghub.services.identity.accounts import user_may_read
from csghub.services.permissions import RepoResource
from csghub.services.repositories.repos import row_resource
from csghub.services.webhooks import hooks

log = logging.getLogger(__name__)
IDLE_SECONDS = 1.0
BATCH = 32
LEASE_GRACE_S = 30  # a claimed delivery whose sender died is taken again this long after its timeout
USER_AGENT = "csghub-webhooks/1"
PENDING, SENDING, DELIVERED, FAILED, SKIPPED = "pending", "sending", "delivered", "failed", "skipped"


async def supervise(hub: Hub) -> None:
    """The deliveries' background task."""
    await run_passes("webhook delivery", lambda: tick(hub), after_failure=IDLE_SECONDS, doorbell=hub.webhook_doorbell)


def tick(hub: Hub) -> float:
    """Send what is due; returns the seconds until the next delivery is due (at most IDLE_SECONDS)."""
    claimed = _claim_due(hub)
    if claimed:
        workers = min(len(claimed), hub.settings.webhook_concurrency)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook") as pool:
            list(pool.map(lambda delivery_id: send(hub, delivery_id), claimed))
        return 0.0 if len(claimed) == BATCH else _until_next(hub)
    return _until_next(hub)


def _until_next(hub: Hub) -> float:
    with hub.db() as session:
        due = session.scalar(
            select(WebhookDelivery.next_attempt_at)
            .where(WebhookDelivery.state.in_((PENDING, SENDING)), WebhookDelivery.next_attempt_at.is_not(None))
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(1)
        )
    if due is None:
        return IDLE_SECONDS
    return min(IDLE_SECONDS, max(0.0, (due - utcnow()).total_seconds()))


def _claim_due(hub: Hub) -> list[int]:
    now = utcnow()
    lease = now + timedelta(seconds=hub.settings.webhook_timeout + LEASE_GRACE_S)
    with hub.db() as session:
        due = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.state, WebhookDelivery.next_attempt_at)
            .where(WebhookDelivery.state.in_((PENDING, SENDING)), WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(BATCH)
        ).all()
    claimed: list[int] = []
    for delivery_id, state, due_at in due:
        with hub.db() as session:
            # Only if no other process took it meanwhile (its state or due time would have changed).
            taken = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.state == state,
                    WebhookDelivery.next_attempt_at == due_at,
                )
                .values(state=SENDING, next_attempt_at=lease)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(delivery_id)
    return claimed


def _still_readable(hub: Hub, delivery: WebhookDelivery, owner_id: int) -> bool:
    with hub.db() as session:
        row = session.get(Repo, delivery.repo_id)
        if row is not None:
            resource = row_resource(row, row.namespace.name)
        else:  # deleted since: who could read it then
            label = f"repository {delivery.repo_namespace}"
            resource = RepoResource(delivery.repo_id, delivery.repo_namespace, delivery.repo_visibility, label)
        return user_may_read(session, owner_id, resource)


def send(hub: Hub, delivery_id: int) -> None:
    """One attempt at one claimed delivery; its outcome is recorded whatever happens."""
    with hub.db() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        webhook = session.get(Webhook, delivery.webhook_id) if delivery is not None else None
        if delivery is None or webhook is None:
            return
        session.expunge(delivery)
        hook_id, url, disabled = webhook.id, webhook.url, webhook.disabled
        owner_id, sealed = webhook.owner_id, webhook.secret_sealed
    if disabled:
        return _finish(hub, delivery_id, SKIPPED, error="The webhook is disabled")
    if not _still_readable(hub, delivery, owner_id):
        # Its owner may not read the repository any more: nothing of it is sent, or kept for them to see.
        return _finish(hub, delivery_id, SKIPPED, error="The webhook's owner cannot read this repository", drop=True)
    secret = sealing.unseal(hooks.secret_key(hub), sealed, hooks.secret_context(hook_id)) if sealed else None
    if sealed and secret is None:
        log.warning("webhook %s: its secret does not decrypt (was secret_key changed?); sent without it", hook_id)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Webhook-Delivery": str(delivery_id)}
    shown = dict(headers)
    if secret:
        headers["X-Webhook-Secret"] = secret
        shown["X-Webhook-Secret"] = "(hidden)"
    status, excerpt, error = None, "", ""
    started = time.monotonic()
    try:
        status, excerpt = _post(hub, url, delivery.payload.encode(), headers)
    except HubError as exc:  # the outbound rules refused the address (OutboundRefused)
        error = exc.message
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    except Exception as exc:  # a delivery thread's boundary: the attempt fails, the loop goes on
        log.exception("webhook %s: delivery %s failed", hook_id, delivery_id)
        error = f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = status is not None and 200 <= status < 300
    if not ok and not error:
        error = f"The receiver answered {status}"
    _record(hub, delivery_id, ok, status, excerpt, error, duration_ms, shown)


def _post(hub: Hub, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST `body`; the status and the first bytes of the answer, read within the timeout as a whole."""
    timeout = float(hub.settings.webhook_timeout)
    limit = hub.settings.webhook_response_excerpt
    deadline = time.monotonic() + timeout
    client = upstream_client(hooks.outbound_rules(hub), timeout=timeout, follow_redirects=False)
    with client, client.stream("POST", url, content=body, headers=headers) as response:
        kept = bytearray()
        for chunk in response.iter_raw():
            kept += chunk[: limit - len(kept)]
            if len(kept) >= limit or time.monotonic() > deadline:
                break  # enough for the log; the rest is never read
        return response.status_code, kept.decode("utf-8", errors="replace")


def _record(
    hub: Hub, delivery_id: int, ok: bool, status: int | None, excerpt: str, error: str, ms: int, headers: dict[str, str]
) -> None:
    delays = retry_delays(hub.settings)
    with hub.db() as session:
        row = session.get(WebhookDelivery, delivery_id)
        if row is None:
            return
        row.attempts += 1
        row.response_status, row.response_excerpt, row.duration_ms = status, excerpt, ms
        row.error = "" if ok else error
        row.request_headers = json.dumps(headers)
        if ok:
            row.state, row.delivered_at, row.next_attempt_at = DELIVERED, utcnow(), None
        elif row.attempts <= len(delays):
            row.state, row.next_attempt_at = PENDING, utcnow() + timedelta(seconds=delays[row.attempts - 1])
        else:
            row.state, row.next_attempt_at = FAILED, None
        webhook_id = row.webhook_id
    _prune(hub, webhook_id)


def _finish(hub: Hub, delivery_id: int, state: str, *, error: str, drop: bool = False) -> None:
    with hub.db() as session:
        values: dict[str, object] = {"state": state, "error": error, "next_attempt_at": None}
        if drop:
            values["payload"] = ""
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values))


def _prune(hub: Hub, webhook_id: int) -> None:
    """Keep a webhook's last `webhook_keep_deliveries` deliveries (the unfinished ones always stay)."""
    keep = hub.settings.webhook_keep_deliveries
    with hub.db() as session:
        cutoff = session.scalar(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.id.desc())
            .offset(keep)
            .limit(1)
        )
        if cutoff is not None:
            session.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.webhook_id == webhook_id,
                    WebhookDelivery.id <= cutoff,
                    WebhookDelivery.state.not_in((PENDING, SENDING)),
                )
            )
