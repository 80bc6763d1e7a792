"""Webhooks end to end: signed deliveries to a real local receiver, retries, restarts."""

from __future__ import annotations

import time
from typing import Any

import httpx

from api.rest.webhooks import SIGNATURE_HEADER, verify
from csms.bootstrap import Csms
from csms.domain.operators import WEBHOOK_EVENTS
from tests.chargers import connected
from tests.conftest import MakeCsms, add_charger, add_token, http_url, ws_url
from tests.e2e.conftest import api_key
from tests.receiver import Received, receiver

SESSION_EVENTS = [e for e in WEBHOOK_EVENTS if e.startswith("session.")]
FAST_RETRY = {"retry_base": 0.05, "retry_max": 0.2}


async def _client(csms: Csms) -> httpx.AsyncClient:
    key = await api_key(csms)
    return httpx.AsyncClient(
        base_url=http_url(csms), headers={"Authorization": f"Bearer {key}"}, timeout=10
    )


async def _subscribe(c: httpx.AsyncClient, url: str, events: list[str]) -> dict[str, Any]:
    response = await c.post("/v1/webhooks", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def _signed(got: Received, secret: str) -> dict[str, Any]:
    """The body of a delivery whose signature checks out and is fresh."""
    header = got.headers[SIGNATURE_HEADER]
    assert verify(secret, got.body, header), header
    t = int(header.split(",")[0].removeprefix("t="))
    assert abs(time.time() - t) < 60
    body: dict[str, Any] = got.json
    return body


async def test_session_events_arrive_signed_with_the_session(make_csms: MakeCsms) -> None:
    """A REST-started 1.6 session yields signed created/started/updated/ended deliveries
    (update_interval 0: a session.updated for each MeterValues)."""
    csms = await make_csms(sessions={"update_interval": 0.0})
    await add_charger(csms, "CP1")
    await add_token(csms, "APP")
    async with receiver() as rec, await _client(csms) as c:
        hook = await _subscribe(c, f"{rec.url}/hooks", SESSION_EVENTS)
        assert hook["secret"].startswith("whsec_")
        async with connected(ws_url(csms, "CP1"), "CP1") as cp:
            made = await c.post("/v1/sessions", json={"connector": "CP1:1", "user": "APP"})
            session_id = made.json()["result"]["_id"]
            tx = (await cp.start_tx("APP", 1_000)).transaction_id
            await cp.meter(tx, 2_000)
            await cp.stop_tx(tx, 3_500)
            bodies = [_signed(await rec.next(), hook["secret"]) for _ in range(4)]
    assert [b["event"] for b in bodies] == [
        "session.created",
        "session.started",
        "session.updated",
        "session.ended",
    ]
    assert {b["object"] for b in bodies} == {"session"}
    assert [b["data"]["status"] for b in bodies] == ["created", "started", "started", "ended"]
    assert {b["data"]["_id"] for b in bodies} == {session_id}
    assert bodies[-1]["data"]["energy_kwh"] == 2.5 and bodies[-1]["data"]["cost"]["amount"] == 0.75
    assert len({b["_id"] for b in bodies}) == 4


async def test_meter_values_within_the_update_interval_send_no_session_updated(
    make_csms: MakeCsms,
) -> None:
    """Meter values within [sessions] update_interval of session.started are stored and counted
    but journal no session.updated: the receiver gets created, started, then an ended that
    carries the final energy (ADR 0010)."""
    csms = await make_csms(sessions={"update_interval": 3600.0})
    await add_charger(csms, "CP1")
    await add_token(csms, "APP")
    async with receiver() as rec, await _client(csms) as c:
        hook = await _subscribe(c, f"{rec.url}/hooks", SESSION_EVENTS)
        async with connected(ws_url(csms, "CP1"), "CP1") as cp:
            made = await c.post("/v1/sessions", json={"connector": "CP1:1", "user": "APP"})
            session_id = made.json()["result"]["_id"]
            tx = (await cp.start_tx("APP", 1_000)).transaction_id
            await cp.meter(tx, 2_000)
            await cp.meter(tx, 3_000)
            running = await csms.services.sessions.get(session_id)
            await cp.stop_tx(tx, 3_500)
            bodies = [_signed(await rec.next(), hook["secret"]) for _ in range(3)]
        samples = await csms.services.sessions.samples(session_id)
    assert running.energy_wh == 2_000.0  # both MeterValues counted before the stop
    assert [s.value for s in samples] == [2_000.0, 3_000.0]
    assert [b["event"] for b in bodies] == ["session.created", "session.started", "session.ended"]
    assert bodies[-1]["data"]["energy_kwh"] == 2.5
    assert rec.requests.empty()


async def test_only_subscribed_events_are_sent(csms: Csms) -> None:
    """A webhook for charge-station events gets online, connector status and offline only."""
    from ocpp.v16 import call

    await add_charger(csms, "CP1")
    await add_token(csms, "T")
    async with receiver() as rec, await _client(csms) as c:
        events = [
            "chargestation.online",
            "chargestation.offline",
            "chargestation.connector_status.updated",
        ]
        hook = await _subscribe(c, rec.url, events)
        async with connected(ws_url(csms, "CP1"), "CP1") as cp:
            await cp.start_tx("T", 0)
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
            )
        bodies = [_signed(await rec.next(), hook["secret"]) for _ in range(3)]
    assert [b["event"] for b in bodies] == events[:1] + events[2:] + events[1:2]
    assert bodies[1]["object"] == "chargestation" and bodies[1]["data"]["_id"] == "CP1"
    assert rec.requests.empty()


async def test_receiver_down_gets_retries_until_it_answers(make_csms: MakeCsms) -> None:
    """Failed deliveries are retried with backoff; the same delivery arrives once it is up."""
    csms = await make_csms(webhooks=FAST_RETRY)
    await add_charger(csms, "CP1")
    async with receiver(status=503) as rec, await _client(csms) as c:
        hook = await _subscribe(c, rec.url, ["chargestation.online"])
        async with connected(ws_url(csms, "CP1"), "CP1"):
            first = await rec.next()
            second = await rec.next()
            rec.status = 200
            delivered = await rec.next_ok()
        deliveries = (await c.get(f"/v1/webhooks/{hook['_id']}/deliveries")).json()["result"]
    assert first.answered == second.answered == 503
    assert first.json["_id"] == second.json["_id"] == delivered.json["_id"]
    assert [d["_id"] for d in deliveries] == [delivered.json["_id"]]


async def test_pending_deliveries_survive_a_restart(make_csms: MakeCsms) -> None:
    """A delivery still failing when the CSMS stops is sent by the next CSMS on the same DB."""
    csms = await make_csms(webhooks=FAST_RETRY)
    await add_charger(csms, "CP1")
    async with receiver(status=500) as rec:
        async with await _client(csms) as c:
            hook = await _subscribe(c, rec.url, ["chargestation.online"])
        async with connected(ws_url(csms, "CP1"), "CP1"):
            failed = await rec.next()
        await csms.stop()
        rec.status = 200
        again = await make_csms(webhooks=FAST_RETRY)
        delivered = await rec.next_ok()
        assert again is not csms
    assert failed.answered == 500
    assert _signed(delivered, hook["secret"])["_id"] == failed.json["_id"]


async def test_repeated_failure_disables_the_webhook(make_csms: MakeCsms) -> None:
    """When a delivery is given up after max_attempts, its webhook is disabled."""
    csms = await make_csms(webhooks={**FAST_RETRY, "max_attempts": 2})
    await add_charger(csms, "CP1")
    async with receiver(status=500) as rec, await _client(csms) as c:
        hook = await _subscribe(c, rec.url, ["chargestation.online"])
        async with connected(ws_url(csms, "CP1"), "CP1"):
            await rec.next()
            await rec.next()
        listed = await _wait_disabled(c, hook["_id"])
    assert listed["active"] is False and "HTTP 500" in listed["disabled_reason"]


async def _wait_disabled(c: httpx.AsyncClient, hook_id: str) -> dict[str, Any]:
    """The webhook once the worker recorded its last failure (a bounded re-read)."""
    import asyncio

    async with asyncio.timeout(5):
        while True:
            for hook in (await c.get("/v1/webhooks")).json()["result"]:
                if hook["_id"] == hook_id and not hook["active"]:
                    return dict(hook)
            await asyncio.sleep(0.05)


async def test_bad_webhook_requests(csms: Csms) -> None:
    """Unknown event names and bad URLs get 400 naming the field; unknown webhook ids 404."""
    async with await _client(csms) as c:
        bad_event = await c.post(
            "/v1/webhooks", json={"url": "http://x.example/h", "events": ["session.exploded"]}
        )
        assert bad_event.status_code == 400
        assert bad_event.json()["message"].startswith("events.0:")
        bad_url = await c.post("/v1/webhooks", json={"url": "ftp:/x", "events": SESSION_EVENTS})
        assert bad_url.status_code == 400 and bad_url.json()["message"].startswith("url:")
        gone = await c.delete("/v1/webhooks/nope")
        assert gone.status_code == 404 and gone.json()["result"]["code"] == "webhook_not_found"
