"""Our own thin OCPP-J framing over a websockets connection.

Frames are JSON arrays: ``[2, id, action, payload]`` (CALL), ``[3, id, payload]`` (CALLRESULT)
and ``[4, id, code, description, details]`` (CALLERROR). We frame messages ourselves rather
than use the ``ocpp`` package so that later faults (lost answers, malformed frames, slow
answers) can be injected at this one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

log = logging.getLogger("charger_sim.rpc")

CALL, CALLRESULT, CALLERROR = 2, 3, 4

Payload = dict[str, Any]
Handler = Callable[[str, Payload], Awaitable[Payload]]


class CallError(Exception):
    """A CALLERROR frame: from the CSMS as an answer, or raised by a handler to send one."""

    def __init__(self, code: str, description: str = "", details: Payload | None = None) -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description
        self.details = details or {}


class Connection:
    """Sends CALLs and awaits their answers; hands CSMS-initiated CALLs to ``handler``."""

    def __init__(self, ws: ClientConnection, handler: Handler, *, timeout: float = 30.0) -> None:
        self._ws = ws
        self._handler = handler
        self._timeout = timeout
        self._pending: dict[str, asyncio.Future[Payload]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader = asyncio.create_task(self._read())

    async def call(self, action: str, payload: Payload) -> Payload:
        """Send a CALL; return the CALLRESULT payload or raise :class:`CallError`."""
        message_id = str(uuid.uuid4())
        future: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        try:
            await self._ws.send(json.dumps([CALL, message_id, action, payload]))
            async with asyncio.timeout(self._timeout):
                return await future
        finally:
            self._pending.pop(message_id, None)

    async def close(self) -> None:
        self._reader.cancel()
        for task in [self._reader, *self._tasks]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._ws.close()

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                self._dispatch(raw)
        except ConnectionClosed:
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection to the CSMS closed"))

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
            kind, message_id = frame[0], frame[1]
        except (ValueError, TypeError, IndexError, KeyError):
            log.warning("ignoring a malformed frame: %.200r", raw)
            return
        if kind == CALL and len(frame) >= 4:
            task = asyncio.create_task(self._answer(message_id, frame[2], frame[3]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        future = self._pending.get(message_id)
        if future is None or future.done():
            log.warning("ignoring an answer to no pending call: %.200r", raw)
        elif kind == CALLRESULT:
            future.set_result(frame[2])
        elif kind == CALLERROR:
            details = frame[4] if len(frame) > 4 else {}
            future.set_exception(CallError(frame[2], frame[3], details))

    async def _answer(self, message_id: str, action: str, payload: Payload) -> None:
        try:
            result: list[Any] = [CALLRESULT, message_id, await self._handler(action, payload)]
        except CallError as exc:
            result = [CALLERROR, message_id, exc.code, exc.description, exc.details]
        except Exception as exc:  # a bug in a handler must still answer the CSMS
            log.exception("handler for %s failed", action)
            result = [CALLERROR, message_id, "InternalError", str(exc)[:200], {}]
        with contextlib.suppress(ConnectionClosed):
            await self._ws.send(json.dumps(result))
