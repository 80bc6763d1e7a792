"""``csms serve``: the OCPP gateway and the HTTP API in one process and one event loop."""

from __future__ import annotations

import asyncio

from csms.bootstrap import start_csms
from csms.config import Config


async def run(config: Config, stop: asyncio.Event) -> None:
    csms = await start_csms(config)
    try:
        await stop.wait()
    finally:
        await csms.stop()
