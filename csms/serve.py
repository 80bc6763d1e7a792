"""``csms serve``: the OCPP gateway and the HTTP API in one process and one event loop."""

from __future__ import annotations

import asyncio
import gc

from csms.bootstrap import start_csms
from csms.config import Config

# Tens of thousands of connections keep hundreds of thousands of long-lived objects; with the
# default thresholds the cyclic collector rescanned them so often during a reconnect storm that
# it took most of the CPU (py-spy: gc_collect_main ~60 % at 19,000 chargers with deflate).
GC_THRESHOLDS = (50_000, 20, 100)


async def run(config: Config, stop: asyncio.Event) -> None:
    csms = await start_csms(config)
    gc.freeze()  # what start-up made lives as long as the process: never scan it again
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        await stop.wait()
    finally:
        await csms.stop()
