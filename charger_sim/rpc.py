"""Our own thin OCPP-J framing over a websockets connection.

Frames are JSON arrays: ``[2, id, action, payload]`` (CALL), ``[3, id, payload]`` (CALLRESULT)
and ``[4, id, code, description, details]`` (CALLERROR). We frame messages ourselves rather
than use the ``ocpp`` package so that faults (lost answers, malformed frames, slow answers)
are injected at this one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

log = logging.getLogger("charger_sim.rpc")

CALL, CALLRESULT, CALLERROR = 2, 3, 4

Payload = dict[str, Any]
Handler = Callable[[str, Payload], Awaitable["Payload | Reply"]]


class CallError(Exception):
    """A CALLERROR frame: from the CSMS as an answer, or raised by a handler to send one."""

    def __init__(self, code: str, description: str = "", details: Payload | None = None) -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description
        self.details = details or {}


@dataclass(frozen=True, slots=True)
class Reply:
    """A handler's answer plus what the charger does once the answer is sent.

    TriggerMessage, Reset and the like answer first and act after, as a real charger does.
    """

    payload: Payload
    then: Callable[[], Awaitable[None]] | None = None


class Connection:
    """Sends CALLs and awaits their answers; hands CSMS-initiated CALLs to ``handler``.

    ``answer_delay`` holds every answer to the CSMS back (the slow-charger fault);
    ``lose`` counts answers per action to drop (the lost-response fault; the Link owns it).
    """

    def __init__(
        self,
        ws: ClientConnection,
        handler: Handler,
        *,
        timeout: float = 30.0,
        answer_delay: float = 0.0,
        on_close: Callable[[], None] | None = None,
        lose: Counter[str] | None = None,
        drop_on_loss: Counter[str] | None = None,
    ) -> None:
        self._ws = ws
        self._handler = handler
        self._timeout = timeout
        self._answer_delay = answer_delay
        self._pending: dict[str, tuple[str, asyncio.Future[Payload]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._lose: Counter[str] = lose if lose is not None else Counter()
        self._drop_on_loss: Counter[str] = drop_on_loss if drop_on_loss is not None else Counter()
        self._on_close = on_close
        self._gone = False
        self.stray_errors: asyncio.Queue[CallError] = asyncio.Queue()
        self._timed_out: deque[str] = deque(maxlen=64)  # late answers to these are not stray
        self._reader = asyncio.create_task(self._read())

    @property
    def closed(self) -> bool:
        return self._gone

    async def wait_closed(self) -> None:
        """Return once the connection to the CSMS is gone (closed, dropped or aborted)."""
        await asyncio.wait({self._reader})

    async def call(self, action: str, payload: Payload) -> Payload:
        """Send a CALL; return the CALLRESULT payload or raise :class:`CallError`."""
        if self.closed:
            raise ConnectionError("not connected to the CSMS")
        message_id = str(uuid.uuid4())
        future: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = (action, future)
        try:
            await self._send([CALL, message_id, action, payload])
            async with asyncio.timeout(self._timeout):
                return await future
        except TimeoutError:
            self._timed_out.append(message_id)
            raise
        finally:
            self._pending.pop(message_id, None)

    async def send_raw(self, text: str) -> None:
        """Send ``text`` as it is (the malformed-frame fault)."""
        try:
            await self._ws.send(text)
        except ConnectionClosed as exc:
            raise ConnectionError("connection to the CSMS closed") from exc

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (the dropped-link fault)."""
        self._ws.transport.abort()

    async def close(self) -> None:
        for task in [self._reader, *self._tasks]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._ws.close()

    async def _send(self, frame: list[Any]) -> None:
        try:
            await self._ws.send(json.dumps(frame, separators=(",", ":")))
        except ConnectionClosed as exc:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):  # let the reader see the close too
                    await self.wait_closed()
            raise ConnectionError("connection to the CSMS closed") from exc

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                self._dispatch(raw)
        except ConnectionClosed:
            pass
        finally:
            # Say so before any waiting call hears of it: its retry must find the link down.
            self._gone = True
            if self._on_close is not None:
                self._on_close()
            for _, future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection to the CSMS closed"))

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
            kind, message_id = frame[0], frame[1]
            if not isinstance(message_id, str) or kind not in (CALL, CALLRESULT, CALLERROR):
                raise ValueError("not an OCPP-J frame")
        except (ValueError, TypeError, IndexError, KeyError):
            log.warning("ignoring a malformed frame: %.200r", raw)
            return
        if kind == CALL:
            if len(frame) < 4 or not isinstance(frame[2], str) or not isinstance(frame[3], dict):
                log.warning("ignoring a malformed CALL: %.200r", raw)
                return
            task = asyncio.create_task(self._answer(message_id, frame[2], frame[3]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        pending = self._pending.get(message_id)
        if pending is None or pending[1].done():
            if kind == CALLERROR and len(frame) >= 4 and message_id not in self._timed_out:
                self.stray_errors.put_nowait(CallError(str(frame[2]), str(frame[3])))
            else:
                log.warning("ignoring an answer to no pending call: %.200r", raw)
            return
        action, future = pending
        if self._lose[action] > 0:
            self._lose[action] -= 1
            log.info("fault: losing the answer to %s %s", action, message_id)
            if self._drop_on_loss[action] > 0:
                self._drop_on_loss[action] -= 1
                log.info("fault: and the connection with it")
                self.abort()
        elif kind == CALLRESULT and len(frame) >= 3 and isinstance(frame[2], dict):
            future.set_result(frame[2])
        elif kind == CALLERROR and len(frame) >= 4:
            details = frame[4] if len(frame) > 4 and isinstance(frame[4], dict) else {}
            future.set_exception(CallError(str(frame[2]), str(frame[3]), details))
        else:
            future.set_exception(
                CallError("FormationViolation", f"a malformed answer: {raw!r:.200}")
            )

    async def _answer(self, message_id: str, action: str, payload: Payload) -> None:
        then = None
        try:
            reply = await self._handler(action, payload)
            if isinstance(reply, Reply):
                then = reply.then
                reply = reply.payload
            result: list[Any] = [CALLRESULT, message_id, reply]
        except CallError as exc:
            result = [CALLERROR, message_id, exc.code, exc.description, exc.details]
        except Exception as exc:  # a bug in a handler must still answer the CSMS
            log.exception("handler for %s failed", action)
            result = [CALLERROR, message_id, "InternalError", str(exc)[:200], {}]
        if self._answer_delay:
            await asyncio.sleep(self._answer_delay)
        with contextlib.suppress(ConnectionError):
            await self._send(result)
        if then is not None:
            try:
                await then()
            except Exception:  # what an answer set off must not end the connection's task
                log.exception("what %s set off failed", action)
