"""Receivers that are down (nothing listens: connection refused) miss nothing.

Webhook receivers, the OIOI partner and an OCPI eMSP are real HTTP servers that are stopped
while a session runs. The deliveries wait in the outbox, through a restart of the CSMS on the
same database, and go out once the receiver listens again on its address (ADR 0004, 0005).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from bench.procs import free_port as _free_port
from csms.bootstrap import Csms
from csms.domain.model import Delivery
from csms.domain.operators import ConnectorSpec
from tests.chargers import connected
from tests.conftest import MakeCsms, add_token, http_url, ws_url
from tests.e2e.conftest import api_key
from tests.e2e.test_ocpi import V, _register, rfid
from tests.emsp import Emsp, emsp
from tests.receiver import receiver

# Retried every 0.05-0.2 s, never given up within a test.
PATIENT = {"retry_base": 0.05, "retry_max": 0.2, "max_attempts": 1_000}
OIOI_KEY = "partner-key-0123"


async def _failed_attempts(csms: Csms, more_than: int = 0) -> list[Delivery]:
    """The pending deliveries once one of them failed more than ``more_than`` times.

    A bounded re-read: the worker reports attempts only in the outbox rows.
    """
    later = datetime.now(UTC) + timedelta(days=1)
    async with asyncio.timeout(10):
        while True:
            pending = await csms.services.db.read(lambda uow: uow.deliveries.due(later, 100))
            if any(d.attempts > more_than for d in pending):
                return pending
            await asyncio.sleep(0.05)


async def _station(csms: Csms) -> None:
    await csms.services.operators.add_charger(
        "CP1", generate_password=False, connectors=[ConnectorSpec(1, 1, "NL*CSM*E0001*1")]
    )


async def _charge(csms: Csms, tag: str) -> None:
    """A 1.6 session of 2.5 kWh with tag ``tag``."""
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        tx = (await cp.start_tx(tag, 1_000)).transaction_id
        await cp.meter(tx, 2_000)
        await cp.stop_tx(tx, 3_500)


async def _restart_while_down(make_csms: MakeCsms, csms: Csms, **config: dict[str, str]) -> Csms:
    """Deliveries failed; the CSMS restarts on the same database; they fail there too."""
    attempts = max(d.attempts for d in await _failed_attempts(csms))
    assert all(
        d.last_error and "ConnectError" in d.last_error for d in await _failed_attempts(csms)
    )
    await csms.stop()
    again = await make_csms(**config)
    await _failed_attempts(again, more_than=attempts)
    return again


async def test_webhook_deliveries_wait_for_a_receiver_that_is_down(make_csms: MakeCsms) -> None:
    """A session's webhooks to a dead address arrive, each once, after a restart and its return."""
    port = _free_port()
    csms = await make_csms(webhooks=PATIENT)
    await _station(csms)
    await add_token(csms, "TAG1")
    key = await api_key(csms)
    async with httpx.AsyncClient(base_url=http_url(csms), timeout=10) as c:
        hook = await c.post(
            "/v1/webhooks",
            json={"url": f"http://127.0.0.1:{port}/hooks", "events": ["session.ended"]},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert hook.status_code == 201, hook.text
    await _charge(csms, "TAG1")
    csms = await _restart_while_down(make_csms, csms, webhooks=PATIENT)
    async with receiver(port=port) as rec:
        got = await rec.next_ok()
        await _wait_delivered(csms)
    assert got.path == "/hooks" and got.json["event"] == "session.ended"
    assert got.json["data"]["energy_kwh"] == 2.5
    assert rec.requests.empty()


async def test_oioi_session_post_waits_for_a_partner_that_is_down(make_csms: MakeCsms) -> None:
    """The OIOI session-post CDR to a dead partner arrives after a restart and its return."""
    port = _free_port()
    oioi = {"partner_url": f"http://127.0.0.1:{port}/oioi/v4/request", "api_key": OIOI_KEY}
    csms = await make_csms(webhooks=PATIENT, oioi=oioi)
    await _station(csms)
    await add_token(csms, "0A1B2C3D", group_id="oioi")
    await _charge(csms, "0A1B2C3D")
    csms = await _restart_while_down(make_csms, csms, webhooks=PATIENT, oioi=oioi)
    async with receiver(port=port) as partner:
        async with asyncio.timeout(10):
            while "session-post" not in (got := await partner.next_ok()).json:
                pass
        await _wait_delivered(csms)
    post = got.json["session-post"]
    assert post["energy-consumed"] == 2.5
    assert post["user"] == {"identifier-type": "rfid", "identifier": "0A1B2C3D"}


async def test_ocpi_pushes_wait_for_an_emsp_that_is_down(make_csms: MakeCsms) -> None:
    """Session PUTs and the CDR to a dead eMSP arrive after a restart and its return."""
    csms = await make_csms(webhooks=PATIENT)
    await _station(csms)
    state = Emsp()
    async with emsp(state=state) as remote:  # up for the credentials handshake only
        partner = await _register(csms, remote)
        async with partner.client as c:
            pushed = await c.put(f"{V}/tokens/NL/ABC/04A1B2C3", json=rfid())
            assert pushed.status_code == 201, pushed.text
    await _charge(csms, "04A1B2C3")
    csms = await _restart_while_down(make_csms, csms, webhooks=PATIENT)
    async with emsp(state=state) as remote:
        completed = await remote.session_until("COMPLETED")
        cdr = await remote.next("cdrs")
        await _wait_delivered(csms)
    assert completed.body["kwh"] == 2.5
    assert cdr.body["id"] == completed.body["id"] and cdr.body["total_energy"] == 2.5


async def _wait_delivered(csms: Csms) -> None:
    """Until the outbox holds nothing pending (a bounded re-read)."""
    later = datetime.now(UTC) + timedelta(days=1)
    async with asyncio.timeout(10):
        while True:
            if not await csms.services.db.read(lambda uow: uow.deliveries.due(later, 100)):
                return
            await asyncio.sleep(0.05)
