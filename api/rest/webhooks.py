"""Webhooks: ``/v1/webhooks``, the relay from the event journal to the outbox, and signing.

A delivery's body is ``{"_id", "event", "object", "data", "created_at"}`` where ``data`` is the
affected object in its REST shape (a session as ``GET /v1/sessions/{id}`` shows it at the time
of the event; a charge station as ``GET /v1/chargers/{id}``). The header

    edrv-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

lets the receiver check the body and reject replays (compare ``t`` with its clock).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from api.rest.framework import Call, Endpoint, Reply, endpoint
from api.rest.schemas import (
    DeliveryListEnvelope,
    DeliveryOut,
    Empty,
    WebhookCreate,
    WebhookEnvelope,
    WebhookListEnvelope,
    WebhookOut,
)
from api.rest.views import charger_out, session_out
from csms.domain.events import DomainEvent
from csms.domain.model import ApiScope, Delivery, DeliveryStatus, Webhook
from csms.domain.ports import Clock, UnitOfWork
from csms.domain.sessions import session_from_event

log = logging.getLogger("csms.webhooks")

CONSUMER = "webhook"
JOURNAL_CURSOR = "webhooks"
SIGNATURE_HEADER = "edrv-signature"
TAG = "Webhooks"
OPERATOR = ApiScope.OPERATOR


def sign(secret: str, body: str, timestamp: int) -> str:
    """The ``edrv-signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: str, header: str) -> bool:
    """Check a signature header as a receiver would (used by our tests and documented)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
        return False
    expected = sign(secret, body, int(parts["t"])).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts["v1"])


class WebhookSender:
    """Signs webhook deliveries; disables a webhook whose delivery was given up."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def headers(self, uow: UnitOfWork, delivery: Delivery) -> dict[str, str] | None:
        webhook = await uow.webhooks.get(delivery.target_id)
        if webhook is None or not webhook.active:
            return None
        t = int(self._clock.now().timestamp())
        return {
            "Content-Type": "application/json",
            "User-Agent": "csms-webhooks/1",
            SIGNATURE_HEADER: sign(webhook.secret, delivery.body, t),
        }

    async def gave_up(self, uow: UnitOfWork, delivery: Delivery) -> None:
        webhook = await uow.webhooks.get(delivery.target_id)
        if webhook is None or not webhook.active:
            return
        webhook.active = False
        webhook.disabled_reason = f"delivery {delivery.id} failed: {delivery.last_error}"
        await uow.webhooks.save(webhook)
        for other in await uow.deliveries.for_target(webhook.id):
            if other.status is DeliveryStatus.PENDING and other.id != delivery.id:
                other.status, other.last_error = DeliveryStatus.DEAD, "webhook disabled"
                await uow.deliveries.save(other)
        log.warning("webhook %s disabled: %s", webhook.id, webhook.disabled_reason)


class WebhookRouter:
    """Every journaled event becomes one delivery per active webhook subscribed to it."""

    cursor = JOURNAL_CURSOR

    async def listening(self, uow: UnitOfWork) -> bool:
        return any(h.active for h in await uow.webhooks.list())

    async def route(
        self, uow: UnitOfWork, events: Sequence[DomainEvent], now: datetime
    ) -> list[Delivery]:
        hooks = [h for h in await uow.webhooks.list() if h.active]
        deliveries: list[Delivery] = []
        for event in events:
            # Only what happened after the webhook was added, however late the relay noticed it.
            wanted = [h for h in hooks if event.name in h.events and event.at >= h.created_at]
            if not wanted:
                continue
            obj, data = await _payload(uow, event)
            deliveries.extend(_delivery(hook, event, obj, data, now) for hook in wanted)
        return deliveries


async def _payload(uow: UnitOfWork, event: DomainEvent) -> tuple[str, dict[str, Any]]:
    if event.name.startswith("session."):
        session = session_from_event(event.data)
        return "session", session_out(session).model_dump(mode="json", by_alias=True)
    charger = await uow.chargers.get(event.subject)
    if charger is None:
        return "chargestation", {"_id": event.subject}
    connectors = await uow.chargers.connectors(event.subject)
    return "chargestation", charger_out(charger, connectors).model_dump(mode="json", by_alias=True)


def _delivery(
    hook: Webhook, event: DomainEvent, obj: str, data: dict[str, Any], now: datetime
) -> Delivery:
    delivery_id = secrets.token_hex(12)
    body = {
        "_id": delivery_id,
        "event": event.name,
        "object": obj,
        "data": data,
        "created_at": event.at.isoformat().replace("+00:00", "Z"),
    }
    return Delivery(
        id=delivery_id,
        consumer=CONSUMER,
        target_id=hook.id,
        url=hook.url,
        event=event.name,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        created_at=now,
        next_attempt_at=now - timedelta(microseconds=1),
    )


# -- endpoints ----------------------------------------------------------------------------------


def _out(hook: Webhook, *, with_secret: bool = False) -> WebhookOut:
    return WebhookOut(
        id=hook.id,
        url=hook.url,
        events=hook.events,
        active=hook.active,
        disabled_reason=hook.disabled_reason,
        createdAt=hook.created_at,
        secret=hook.secret if with_secret else None,
    )


@endpoint(
    "GET", "/v1/webhooks", "List webhooks", tag=TAG, response=WebhookListEnvelope, scope=OPERATOR
)
async def list_webhooks(call: Call) -> Reply:
    hooks = [_out(h) for h in await call.services.webhooks.list()]
    return Reply(WebhookListEnvelope(message=f"{len(hooks)} webhooks", result=hooks))


@endpoint(
    "POST",
    "/v1/webhooks",
    "Subscribe a URL to events",
    tag=TAG,
    body=WebhookCreate,
    response=WebhookEnvelope,
    status=201,
    scope=OPERATOR,
    description="Deliveries are POSTed with the `edrv-signature: t=<unix>,v1=<hex>` header, "
    'where v1 = HMAC-SHA256(secret, "<t>.<raw body>"). Without `secret` one is generated; '
    "it is returned here only. Failed deliveries are retried with exponential backoff; when "
    "one is given up (after `[webhooks] max_attempts`) the webhook is disabled.",
)
async def create_webhook(call: Call) -> Reply:
    body: WebhookCreate = call.body
    hook = await call.services.webhooks.add(body.url, body.events, body.secret)
    return Reply(WebhookEnvelope(message="webhook added", result=_out(hook, with_secret=True)), 201)


@endpoint(
    "DELETE",
    "/v1/webhooks/{webhook_id}",
    "Remove a webhook (its pending deliveries are dropped)",
    tag=TAG,
    query=Empty,
    response=WebhookEnvelope,
    scope=OPERATOR,
    errors={404: "Unknown webhook"},
)
async def delete_webhook(call: Call) -> Reply:
    hook = await call.services.webhooks.get(call.path("webhook_id"))
    await call.services.webhooks.delete(hook.id)
    return Reply(WebhookEnvelope(message="webhook removed", result=_out(hook)))


@endpoint(
    "GET",
    "/v1/webhooks/{webhook_id}/deliveries",
    "What was sent to a webhook: attempts, status and last error of each delivery",
    tag=TAG,
    response=DeliveryListEnvelope,
    scope=OPERATOR,
    errors={404: "Unknown webhook"},
)
async def list_deliveries(call: Call) -> Reply:
    found = await call.services.webhooks.deliveries(call.path("webhook_id"))
    result = [
        DeliveryOut(
            id=d.id,
            event=d.event,
            status=d.status.value,
            attempts=d.attempts,
            last_error=d.last_error,
            createdAt=d.created_at,
            next_attempt_at=d.next_attempt_at,
            delivered_at=d.delivered_at,
        )
        for d in found
    ]
    return Reply(DeliveryListEnvelope(message=f"{len(result)} deliveries", result=result))


ENDPOINTS: list[Endpoint] = [list_webhooks, create_webhook, delete_webhook, list_deliveries]
