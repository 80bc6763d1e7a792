"""Outbound HTTP: journal relays queue deliveries; the worker sends them, retries, gives up.

Deliveries are rows (``UnitOfWork.deliveries``) written in the same transaction that decided to
send them, so they survive a crash or restart: at-least-once. A :class:`JournalRelay` turns the
event journal into deliveries for one consumer (webhooks, the OIOI partner, OCPI eMSPs), through
that consumer's :class:`Router`; the consumer's :class:`Sender` adds its headers (signature,
credentials) to each attempt and hears when one is given up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

import httpx

from csms.domain.events import DomainEvent
from csms.domain.model import Delivery, DeliveryStatus
from csms.domain.ports import Clock, Database, UnitOfWork

log = logging.getLogger("csms.outbox")

IDLE_WAIT = 60.0  # longest sleep without a wake-up; bounds the wait for a due retry
GATHER = 0.05  # rounds start at most this often (seconds): a burst of events shares a round
QUIET_GATHER = 1.0  # the same for a relay that found nobody listening: it only keeps its place


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 12
    base: float = 2.0
    cap: float = 900.0
    timeout: float = 10.0

    def delay(self, attempts: int) -> float:
        """Seconds before the next attempt after ``attempts`` failures (with ±20 % jitter)."""
        wait: float = min(self.cap, self.base * 2.0 ** max(0, attempts - 1))
        return wait * random.uniform(0.8, 1.2)


class Sender(Protocol):
    async def headers(self, uow: UnitOfWork, delivery: Delivery) -> dict[str, str] | None:
        """Headers (signature included) for one attempt; None when the target is gone."""
        ...

    async def gave_up(self, uow: UnitOfWork, delivery: Delivery) -> None:
        """Called in the transaction that marks ``delivery`` dead."""
        ...


class Router(Protocol):
    """Decides which deliveries a consumer owes for journaled events."""

    @property
    def cursor(self) -> str:
        """The consumer's name in the journal (its read position is kept under it)."""
        ...

    async def listening(self, uow: UnitOfWork) -> bool:
        """False when nobody is there to tell: events are then skipped without being loaded."""
        ...

    async def route(
        self, uow: UnitOfWork, events: Sequence[DomainEvent], now: datetime
    ) -> list[Delivery]:
        """The deliveries to queue for ``events`` (written in the same transaction)."""
        ...


class JournalRelay:
    """Turns journaled events into outbox deliveries for one consumer.

    The bus only wakes it up; what it sends comes from the journal, read from its cursor in the
    same transaction that adds the deliveries, so nothing is lost or queued twice by a crash.

    A wake-up first *looks* (a read: is anybody listening, where is the cursor, where is the
    journal) and writes only when there is something to route. Events journaled while nobody
    listens are skipped as before, but the skip is kept in memory and written with the next
    write of the relay: once ``batch`` events are skipped, when the bus has been quiet for
    ``IDLE_WAIT``, or in the round that routes the first events after a listener appears. So a
    consumer nobody listens to costs a read per round instead of a write that queues behind
    (and in front of) the use cases' own writes. After a crash the journal may hold up to
    ``batch`` skipped events more, which a listener registered since then would get; and a
    relay that found nobody listening starts rounds at most every ``QUIET_GATHER`` seconds, so
    it may notice a new listener that much later. Routers therefore route only what happened
    after their receiver was registered (a webhook's ``created_at``), whatever the cursor says.

    Under load events come far faster than rounds are worth: rounds start at most every
    ``GATHER`` seconds, so thousands of meter values a second cost about 20 rounds, not one
    round each, while the first event after a quiet spell is routed at once.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        router: Router,
        on_queued: Callable[[], None],
        batch: int = 500,
    ) -> None:
        self._db = db
        self._clock = clock
        self._router = router
        self._on_queued = on_queued
        self._batch = batch
        self._wake = asyncio.Event()
        self._skip_to = 0  # journal seq seen while nobody listened; not yet written as the cursor
        self._listening = True  # what the last round found

    def wake(self, _event: DomainEvent | None = None) -> None:
        self._wake.set()

    async def register(self) -> None:
        """Pin the cursor, so events from now on wait for the relay even across a crash."""
        name = self._router.cursor

        async def _pin(uow: UnitOfWork) -> None:
            await uow.journal.set_cursor(name, await uow.journal.cursor(name))

        await self._db.write(_pin)

    async def run(self) -> None:
        woken = True
        while True:
            started = asyncio.get_running_loop().time()
            self._wake.clear()
            try:
                read, queued = await self.round(look_first=woken)
            except Exception:
                log.exception(
                    "the %s relay failed a round; trying again shortly", self._router.cursor
                )
                await asyncio.sleep(1.0)
                continue
            if queued:
                self._on_queued()
            woken = True
            if read < self._batch:
                try:
                    async with asyncio.timeout(IDLE_WAIT):
                        await self._wake.wait()
                except TimeoutError:
                    woken = False  # quiet: write down what was skipped, prune the journal
                else:
                    # One round for a burst of events rather than one each: relays are
                    # background work sharing the loop and the writer with the use cases.
                    gather = GATHER if self._listening else QUIET_GATHER
                    since = asyncio.get_running_loop().time() - started
                    if since < gather:
                        await asyncio.sleep(gather - since)

    async def round(self, *, look_first: bool = True) -> tuple[int, int]:
        """One round: look (a read), then pump (a write) only if it is worth it.

        Returns (events read, deliveries queued); ``look_first=False`` always pumps.
        """
        if look_first:
            listening, cursor, last = await self._db.read(self._look)
            self._listening = listening
            if not listening:
                self._skip_to = max(self._skip_to, last)
                if last - cursor < self._batch:
                    return 0, 0
            elif last <= max(cursor, self._skip_to):
                return 0, 0
        skip_to = self._skip_to
        return await self._db.write(lambda uow: self.pump(uow, skip_to))

    async def _look(self, uow: UnitOfWork) -> tuple[bool, int, int]:
        """(anybody listening, the cursor, the newest journal seq), read in one snapshot."""
        listening = await self._router.listening(uow)
        return listening, await uow.journal.cursor(self._router.cursor), await uow.journal.last()

    async def pump(self, uow: UnitOfWork, skip_to: int = 0) -> tuple[int, int]:
        """Queue deliveries for the next events; returns (events read, deliveries queued).

        Events up to ``skip_to`` were journaled while nobody listened: they are skipped.
        """
        name = self._router.cursor
        cursor = await uow.journal.cursor(name)
        self._listening = await self._router.listening(uow)
        if not self._listening:
            last = await uow.journal.last()
            if last > cursor:
                await uow.journal.set_cursor(name, last)
                await uow.journal.prune()
            return 0, 0
        skipped = skip_to > cursor
        if skipped:
            cursor = skip_to
            await uow.journal.set_cursor(name, cursor)
        events = await uow.journal.after(cursor, self._batch)
        if not events:
            if skipped:
                await uow.journal.prune()
            return 0, 0
        deliveries = await self._router.route(uow, [e for _, e in events], self._clock.now())
        for n, delivery in enumerate(deliveries):
            # Deliveries are sent oldest first: keep the journal's order within one batch.
            delivery.created_at += timedelta(microseconds=n)
            await uow.deliveries.add(delivery)
        await uow.journal.set_cursor(name, events[-1][0])
        await uow.journal.prune()
        return len(events), len(deliveries)


@dataclass(frozen=True, slots=True)
class _Attempt:
    delivery: Delivery
    error: str | None  # None = delivered
    gone: bool = False


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        policy: RetryPolicy,
        senders: Mapping[str, Sender],
        *,
        batch: int = 50,
    ) -> None:
        self._db = db
        self._clock = clock
        self._policy = policy
        self._senders = senders
        self._batch = batch
        self._wake = asyncio.Event()
        self._client: httpx.AsyncClient | None = None

    def wake(self) -> None:
        """Something new is in the outbox: look now rather than at the next due time."""
        self._wake.set()

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=self._policy.timeout) as client:
            self._client = client
            while True:
                try:
                    worked = await self.run_once()
                except Exception:
                    log.exception("the delivery worker failed a round; trying again shortly")
                    worked = False
                    await asyncio.sleep(1.0)
                if not worked:
                    await self._idle()

    async def run_once(self) -> bool:
        """Attempt every due delivery once; False when nothing was due."""
        self._wake.clear()
        now = self._clock.now()
        due = await self._db.read(lambda uow: uow.deliveries.due(now, self._batch))
        if not due:
            return False
        # One receiver's deliveries go one after another, in the order they were queued (an OCPI
        # Session PUT must not overtake the one before it), and stop at the first failure: the
        # rest wait behind it (see DeliveryRepository.due). Receivers are served side by side.
        queues: dict[tuple[str, str], list[Delivery]] = {}
        for delivery in sorted(due, key=lambda d: (d.created_at, d.id)):
            queues.setdefault((delivery.consumer, delivery.target_id), []).append(delivery)
        rounds = await asyncio.gather(*(self._in_order(q) for q in queues.values()))
        attempts = [attempt for done in rounds for attempt in done]
        await self._db.write(lambda uow: self._record(uow, attempts))
        return True

    async def _in_order(self, deliveries: list[Delivery]) -> list[_Attempt]:
        done: list[_Attempt] = []
        for delivery in deliveries:
            done.append(await self._attempt(delivery))
            if done[-1].error is not None:
                break
        return done

    async def _idle(self) -> None:
        next_due = await self._db.read(lambda uow: uow.deliveries.next_due())
        wait = IDLE_WAIT
        if next_due is not None:
            wait = min(wait, max(0.0, (next_due - self._clock.now()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._wake.wait()

    async def _attempt(self, delivery: Delivery) -> _Attempt:
        sender = self._senders.get(delivery.consumer)
        if sender is None:
            return _Attempt(delivery, f"no sender for {delivery.consumer!r}", gone=True)
        headers = await self._db.read(lambda uow: sender.headers(uow, delivery))
        if headers is None:
            return _Attempt(delivery, "target no longer exists", gone=True)
        assert self._client is not None
        try:
            response = await self._client.request(
                delivery.method, delivery.url, content=delivery.body.encode(), headers=headers
            )
        except httpx.HTTPError as exc:
            return _Attempt(delivery, f"{type(exc).__name__}: {exc}"[:300])
        if 200 <= response.status_code < 300:
            return _Attempt(delivery, None)
        return _Attempt(delivery, f"HTTP {response.status_code}")

    async def _record(self, uow: UnitOfWork, attempts: list[_Attempt]) -> None:
        now = self._clock.now()
        for attempt in attempts:
            delivery = _copy(attempt.delivery)
            delivery.attempts += 1
            delivery.last_error = attempt.error
            if attempt.error is None:
                delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
            elif attempt.gone or delivery.attempts >= self._policy.max_attempts:
                delivery.status = DeliveryStatus.DEAD
                log.warning(
                    "giving up %s delivery %s to %s after %d attempts: %s",
                    delivery.consumer,
                    delivery.id,
                    delivery.url,
                    delivery.attempts,
                    attempt.error,
                )
            else:
                wait = self._policy.delay(delivery.attempts)
                delivery.next_attempt_at = now + timedelta(seconds=wait)
            await uow.deliveries.save(delivery)
            sender = self._senders.get(delivery.consumer)
            if delivery.status is DeliveryStatus.DEAD and sender is not None:
                await sender.gave_up(uow, delivery)


def _copy(delivery: Delivery) -> Delivery:
    """A fresh copy: the write may run twice (group commit), each run starts from the read."""
    return replace(delivery)
