"""``csms serve``: the OCPP gateway and the HTTP API in one process and one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn

from api.app import create_app
from csms.bootstrap import start_csms
from csms.config import Config

log = logging.getLogger("csms")


async def run(config: Config, stop: asyncio.Event) -> None:
    csms = await start_csms(config)
    app = create_app(csms.services)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.api.host,
            port=config.api.port,
            log_level=config.logging.level.lower(),
            lifespan="off",
        )
    )
    # Our event loop owns SIGINT/SIGTERM (see __main__); uvicorn must not take them over.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    api_task = asyncio.create_task(server.serve(), name="http-api")
    log.info("HTTP API listening on %s:%s", config.api.host, config.api.port)
    stop_task = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({api_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        await asyncio.gather(api_task, return_exceptions=True)
        stop_task.cancel()
        await csms.stop()
