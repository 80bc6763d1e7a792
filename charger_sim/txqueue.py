"""Transaction messages in order, through outages, retries and restarts of the simulator.

OCPP wants transaction messages (1.6 StartTransaction, transaction MeterValues and
StopTransaction; 2.0.1 TransactionEvent) delivered exactly in the order they happened, with
their original timestamps, even when the charger was offline or the CSMS failed to answer.
Everything submitted goes into one FIFO, optionally mirrored in a small JSON file, and one sender
delivers the head whenever the charger is online:

- no connection (or it dropped mid-call): wait for the next connection, no attempt is counted;
- a CALLERROR or no answer within the call timeout: retry after ``retry_interval`` times the
  attempt number, and give the message up after ``attempts`` tries (1.6
  TransactionMessageAttempts / TransactionMessageRetryInterval, 2.0.1 MessageAttempts /
  MessageAttemptInterval).

A 1.6 transaction started offline has no transaction id until the CSMS answers its
StartTransaction, so it runs under a negative placeholder id; the answer rewrites the
placeholder in every queued message of that transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charger_sim.rpc import CallError, Payload

log = logging.getLogger("charger_sim.queue")

Send = Callable[[str, Payload], Awaitable[Payload]]


@dataclass(slots=True)
class Entry:
    action: str
    payload: Payload
    placeholder: int | None = None  # a 1.6 StartTransaction sent under this local id
    attempts: int = 0
    answer: asyncio.Future[Payload] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "payload": self.payload, "placeholder": self.placeholder}


class GaveUp(Exception):
    """A transaction message got no good answer after every attempt and was dropped."""


class TxQueue:
    def __init__(
        self,
        path: Path | None = None,
        *,
        attempts: int = 3,
        retry_interval: float = 1.0,
    ) -> None:
        self._path = path
        self._attempts = max(1, attempts)
        self._retry_interval = retry_interval
        self._entries: deque[Entry] = deque()
        self._resolved: dict[int, int] = {}  # placeholder -> transaction id from the CSMS
        self._next_placeholder = -1
        self._changed = asyncio.Condition()
        self.given_up: list[Entry] = []
        self.sent = 0
        self.retried = 0  # attempts that got a CALLERROR or no answer
        # What the CSMS acknowledged, in order (placeholder ids resolved): what was delivered.
        self.acknowledged: list[tuple[str, Payload]] = []
        if path is not None and path.exists():
            self._load(path)

    def __len__(self) -> int:
        return len(self._entries)

    def set_retries(self, attempts: int, retry_interval: float) -> None:
        """New TransactionMessageAttempts / RetryInterval (the CSMS changed the device model)."""
        self._attempts, self._retry_interval = max(1, attempts), retry_interval

    def pending(self, transaction_id: str | None = None) -> int:
        """Queued messages, all or for one transaction (2.0.1 GetTransactionStatus)."""
        if transaction_id is None:
            return len(self._entries)
        return sum(1 for e in self._entries if _transaction_of(e.payload) == transaction_id)

    def placeholder(self) -> int:
        """A new negative id for a 1.6 transaction started before the CSMS answered."""
        value = self._next_placeholder
        self._next_placeholder -= 1
        self._save()
        return value

    def resolve(self, transaction_id: str) -> str:
        """The CSMS's id for a placeholder once known, else ``transaction_id`` unchanged."""
        try:
            return str(self._resolved.get(int(transaction_id), transaction_id))
        except ValueError:
            return transaction_id

    def submit(
        self, action: str, payload: Payload, *, placeholder: int | None = None
    ) -> asyncio.Future[Payload]:
        """Queue a message; the future resolves with the CSMS's answer (or :class:`GaveUp`)."""
        answer: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
        answer.add_done_callback(_consume)
        self._entries.append(Entry(action, payload, placeholder, answer=answer))
        self._save()
        self._notify()
        return answer

    async def drained(self) -> None:
        """Return once every queued message was answered or given up."""
        async with self._changed:
            await self._changed.wait_for(lambda: not self._entries)

    async def run(self, send: Send, ready: asyncio.Event) -> None:
        """Deliver the queue head by head for as long as the charger runs.

        ``ready`` is set while the charger may send: connected, and its BootNotification was
        accepted (before that a CSMS answers SecurityError, and the message would be lost).
        """
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: bool(self._entries))
            await ready.wait()
            entry = self._entries[0]
            try:
                answer = await send(entry.action, entry.payload)
            except ConnectionError:
                continue  # the link is down (it says so first); wait for the next one
            except (CallError, TimeoutError) as exc:
                entry.attempts += 1
                self.retried += 1
                if entry.attempts < self._attempts:
                    log.info("%s failed (%s); attempt %d", entry.action, exc, entry.attempts + 1)
                    await asyncio.sleep(self._retry_interval * entry.attempts)
                    continue
                log.warning("giving up %s after %d attempts: %s", entry.action, entry.attempts, exc)
                self.given_up.append(entry)
                self._done(entry, GaveUp(f"{entry.action}: {exc}"))
                if entry.placeholder is not None:
                    self._give_up_transaction(entry.placeholder)
                continue
            self.sent += 1
            self.acknowledged.append((entry.action, entry.payload))
            if entry.placeholder is not None and "transactionId" in answer:
                self._rewrite(entry.placeholder, int(answer["transactionId"]))
            self._done(entry, answer)

    def _done(self, entry: Entry, outcome: Payload | Exception) -> None:
        self._entries.popleft()
        self._save()
        if entry.answer is not None and not entry.answer.done():
            if isinstance(outcome, Exception):
                entry.answer.set_exception(outcome)
            else:
                entry.answer.set_result(outcome)
        self._notify()

    def _give_up_transaction(self, placeholder: int) -> None:
        """A 1.6 start never got its id: its later messages cannot name the transaction."""
        doomed = [e for e in self._entries if e.payload.get("transactionId") == placeholder]
        for entry in doomed:
            self._entries.remove(entry)
            self.given_up.append(entry)
            if entry.answer is not None and not entry.answer.done():
                entry.answer.set_exception(GaveUp(f"{entry.action}: its StartTransaction failed"))
        if doomed:
            log.warning("gave up %d messages of a transaction that never started", len(doomed))
            self._save()
            self._notify()

    def _rewrite(self, placeholder: int, transaction_id: int) -> None:
        self._resolved[placeholder] = transaction_id
        for entry in self._entries:
            if entry.payload.get("transactionId") == placeholder:
                entry.payload["transactionId"] = transaction_id

    def _notify(self) -> None:
        async def wake() -> None:
            async with self._changed:
                self._changed.notify_all()

        task = asyncio.get_running_loop().create_task(wake())
        _background.add(task)
        task.add_done_callback(_background.discard)

    # -- the file ---------------------------------------------------------------------------

    def _save(self) -> None:
        if self._path is None:
            return
        state = {
            "next_placeholder": self._next_placeholder,
            "resolved": {str(k): v for k, v in self._resolved.items()},
            "entries": [e.to_json() for e in self._entries],
        }
        tmp = self._path.with_suffix(self._path.suffix + ".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self._path)

    def _load(self, path: Path) -> None:
        state = json.loads(path.read_text(encoding="utf-8"))
        self._next_placeholder = int(state.get("next_placeholder", -1))
        self._resolved = {int(k): int(v) for k, v in state.get("resolved", {}).items()}
        for raw in state.get("entries", []):
            self._entries.append(Entry(raw["action"], raw["payload"], raw.get("placeholder")))
        if self._entries:
            log.info("loaded %d queued transaction messages from %s", len(self._entries), path)


_background: set[asyncio.Task[None]] = set()


def _transaction_of(payload: Payload) -> str | None:
    if "transactionId" in payload:
        return str(payload["transactionId"])
    info = payload.get("transactionInfo")
    return str(info["transactionId"]) if isinstance(info, dict) else None


def _consume(future: asyncio.Future[Payload]) -> None:
    """Nobody may await a queued message's answer; don't warn about an unread exception."""
    if not future.cancelled():
        future.exception()
