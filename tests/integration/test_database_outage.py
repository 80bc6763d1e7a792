"""The database goes away under charging sessions: nothing is acknowledged, nothing is lost.

SQLite: another process holds the write lock (BEGIN EXCLUSIVE). PostgreSQL: the server is
stopped (connections cut) and started again. The simulated chargers keep
charging; their transaction messages get CALLERROR InternalError, not a CALLRESULT, and they
retry (1.6 TransactionMessageAttempts, 2.0.1 MessageAttempts, checklist 2.10) until the
database is back. The CSMS is not restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from charger_sim.runner import ProtocolVersion, RunResult, run
from charger_sim.scenario import parse
from csms.bootstrap import Csms
from csms.domain.model import SessionStatus
from tests.conftest import MakeCsms, add_charger, add_token
from tests.faults import (
    acknowledged_register_samples,
    log_count,
    register_samples,
    short_busy_timeout,
    sqlite_locked,
)
from tests.integration.conftest import PostgresServer
from tests.sim.conftest import sim_url
from tests.sim.csms_driver import FAST

CHARGERS: dict[str, ProtocolVersion] = {"OUT16": "1.6", "OUT201": "2.0.1"}
# Retries 0.05 s, 0.1 s, 0.15 s ... apart: 60 attempts outlast any outage here.
CHARGER = {**FAST, "message_attempts": 60}
STEPS = [
    {"action": "boot"},
    {"action": "plug"},
    {"action": "start"},
    {"action": "charge", "kwh": 0.5, "sample_interval": 60},
    {"action": "charge", "kwh": 1.0, "sample_interval": 60},  # the database goes away here
    {"action": "stop"},
    {"action": "wait_queue", "timeout": 20},
]
DOWN_AT = "steps[4] (charge)"  # logged once the samples of the step before were acknowledged
FAILED_ATTEMPTS = 6  # seen by the chargers' queues while the database is down


@contextlib.asynccontextmanager
async def outage(request: pytest.FixtureRequest, csms: Csms) -> AsyncIterator[None]:
    """The CSMS's database is unavailable for the block."""
    url = make_url(csms.services.config.storage.url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        async with sqlite_locked(Path(url.database)):
            yield
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    await asyncio.to_thread(server.stop)
    try:
        yield
    finally:
        await asyncio.to_thread(server.start)


async def test_transaction_messages_wait_out_a_database_outage(
    request: pytest.FixtureRequest, make_csms: MakeCsms, database_url: str
) -> None:
    """Messages sent while the database is down are retried and stored once when it returns."""
    csms = await make_csms(storage={"url": database_url})
    if database_url.startswith("sqlite"):
        await short_busy_timeout(csms.services.db.engine, 200)  # the loop waits no 5 s
    for charger_id in CHARGERS:
        await add_charger(csms, charger_id)
    await add_token(csms, "SIMTAG01")
    scenario = parse({"charger": CHARGER, "steps": STEPS})
    with (
        log_count("charger_sim", DOWN_AT.__eq__, len(CHARGERS)) as charging,
        log_count("charger_sim.queue", lambda text: " failed (" in text, FAILED_ATTEMPTS) as failed,
    ):
        runs = [
            asyncio.create_task(
                run(scenario, url=sim_url(csms), charger_id=charger_id, protocol=protocol)
            )
            for charger_id, protocol in CHARGERS.items()
        ]
        try:
            async with asyncio.timeout(20):
                await charging.wait()
            async with outage(request, csms), asyncio.timeout(20):
                await failed.wait()
            async with asyncio.timeout(30):
                results: list[RunResult] = await asyncio.gather(*runs)
        finally:
            for task in runs:
                task.cancel()
            await asyncio.gather(*runs, return_exceptions=True)

    for result in results:
        assert result.given_up == 0 and result.retried >= 1, result
        assert result.connects == 1  # the CSMS kept the connection through the outage
        (delivered,) = result.delivered
        (session,) = await csms.services.sessions.list(charger_id=result.charger_id)
        assert session.status is SessionStatus.ENDED
        assert session.transaction_id == delivered.transaction_id
        assert session.energy_wh == delivered.energy_wh == 1_500
        stored = register_samples(await csms.services.sessions.samples(session.id))
        assert stored == acknowledged_register_samples(result), result.charger_id
