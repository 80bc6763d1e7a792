"""A charger's socket: websockets' server connection with a shorter path for messages.

Every message a charger sends takes websockets' general path twice: in, through its message
queue (``Assembler``: a queue, a decoder, a get-in-progress guard, a future) to a task blocked
in ``recv()``; out, through ``send()``'s ``send_context`` (an async context manager, a state
check, a drain). At thousands of messages a second that machinery is about a tenth of the
server's CPU. :class:`GatewaySocket` keeps websockets' protocol, handshake, keepalive and
closing handshake as they are and shortens only the two data paths:

- in: each complete message goes into a plain list that :meth:`next_message` reads (a
  fragmented one is joined first); reading pauses while more than :data:`INBOX_HIGH` messages
  wait, as websockets' own queue does, so a charger that sends without waiting for answers
  cannot fill memory. websockets' queue is not made at all: at 19,000 idle chargers its
  1.3 KiB per connection counts (a list is 64 bytes; a deque would be 770);
- out: :meth:`send_text` writes a text frame at once, and waits only when the socket's write
  buffer is over its limit. Without an extension (permessage-deflate) it builds the frame's
  header itself (:func:`text_frame`) and queues it where websockets' protocol would; with
  one, websockets' protocol builds it.

What websockets does on bad input stays: a text message that is not UTF-8 closes the socket
with 1007, one over ``max_size`` (in total, fragments included: the protocol counts) with 1009.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any, NoReturn

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import OPEN, Event

INBOX_HIGH = 16  # messages waiting before reading pauses (websockets' max_queue default)
INBOX_LOW = 4  # ... and resumes
MAX_FRAGMENTS = 4096  # frames in one fragmented message (websockets' own limit since 15)


class GatewaySocket(ServerConnection):
    """A server connection whose messages are read with :meth:`next_message` and written with
    :meth:`send_text`; ``recv()`` and ``send()`` are not used on it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inbox: list[str | bytes] = []  # at most INBOX_HIGH + 1 long: pop(0) is cheap
        self._waiter: asyncio.Future[None] | None = None
        self._fragments: list[bytes] | None = None  # a fragmented message being received
        self._fragmented_text = False
        self._reading_paused = False

    # -- in ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.recv_messages = _NO_QUEUE  # type: ignore[assignment]

    def process_event(self, event: Event) -> None:
        if not isinstance(event, Frame):  # the handshake's request
            super().process_event(event)
            return
        opcode = event.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if event.fin:
                self._deliver(bytes(event.data), opcode is Opcode.TEXT)
            else:
                self._fragments = [bytes(event.data)]
                self._fragmented_text = opcode is Opcode.TEXT
        elif opcode is Opcode.CONT:
            fragments = self._fragments
            assert fragments is not None  # the protocol refuses a CONT frame out of place
            fragments.append(bytes(event.data))
            if event.fin:
                self._fragments = None
                self._deliver(b"".join(fragments), self._fragmented_text)
            elif len(fragments) >= MAX_FRAGMENTS:
                self._fail(CloseCode.MESSAGE_TOO_BIG, "too many fragments")
        else:  # control frames: pongs answer our pings
            super().process_event(event)

    def _deliver(self, data: bytes, text: bool) -> None:
        message: str | bytes = data
        if text:
            try:
                message = data.decode()
            except UnicodeDecodeError as exc:
                self._fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
                return
        inbox = self._inbox
        inbox.append(message)
        self._wake_reader()
        if len(inbox) > INBOX_HIGH and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def _fail(self, code: CloseCode, reason: str) -> None:
        """Close the socket for a protocol violation, as websockets' ``recv()`` would: send the
        close frame, and cut the TCP connection if the charger has not closed its side within
        the close timeout."""
        self._fragments = None
        if self.protocol.state is OPEN:
            self.protocol.fail(code, reason)
            self._write_out()
            if self.close_timeout is not None:
                self.loop.call_later(self.close_timeout, self._abort_if_open)

    def _abort_if_open(self) -> None:
        if not self.connection_lost_waiter.done():
            self.transport.abort()

    async def next_message(self) -> str | bytes:
        """The next message, in order; raises ConnectionClosed once none is left and the
        connection is closed."""
        inbox = self._inbox
        while not inbox:
            if self.connection_lost_waiter.done():
                raise self.close_exc
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        message = inbox.pop(0)
        if self._reading_paused and len(inbox) <= INBOX_LOW:
            self._reading_paused = False
            self.transport.resume_reading()
        return message

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._wake_reader()

    def _wake_reader(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- out --------------------------------------------------------------------------------

    async def send_text(self, text: str) -> None:
        """Send ``text`` as one text message; raises ConnectionClosed if the socket is not open."""
        protocol = self.protocol
        if protocol.state is not OPEN:
            raise ConnectionClosed(
                protocol.close_rcvd, protocol.close_sent, protocol.close_rcvd_then_sent
            )
        data = text.encode()
        if protocol.extensions or protocol.debug:
            protocol.send_text(data)  # compressed or logged: websockets builds the frame
        else:
            protocol.writes.append(text_frame(data))  # in order after anything queued
        self._write_out()
        if self.paused:  # the peer is not reading: wait until the buffer drains
            await self.drain()

    def _write_out(self) -> None:
        try:
            self.send_data()
        except Exception as exc:  # the transport is gone: as websockets' send_context does
            self.set_connection_exc(exc)
            self.transport.abort()


def text_frame(data: bytes) -> bytes:
    """``data`` as one unmasked text frame with no extension bits: what websockets' protocol
    writes for a server's ``send_text`` when no extension was negotiated (RFC 6455 5.2), built
    without its frame objects and write queue."""
    size = len(data)
    if size < 126:
        return bytes((0x81, size)) + data
    if size < 0x10000:
        return struct.pack("!BBH", 0x81, 126, size) + data
    return struct.pack("!BBQ", 0x81, 127, size) + data


class _NoQueue:
    """Stands in for websockets' message queue (``recv_messages``), which a GatewaySocket
    never fills: closing it does nothing, reading it is a mistake."""

    def close(self) -> None:
        pass

    def put(self, frame: Frame) -> NoReturn:
        raise RuntimeError("a GatewaySocket hands messages to next_message(), not recv()")

    async def get(self, decode: bool | None = None) -> NoReturn:
        raise RuntimeError("read a GatewaySocket with next_message(), not recv()")

    def get_iter(self, decode: bool | None = None) -> NoReturn:
        raise RuntimeError("read a GatewaySocket with next_message(), not recv_streaming()")


_NO_QUEUE = _NoQueue()
