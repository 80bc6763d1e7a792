"""In-process event bus: the domain publishes after commit, façades and tests subscribe."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from csms.domain.events import DomainEvent

log = logging.getLogger("csms.events")

Subscriber = Callable[[DomainEvent], None]


class InMemoryEventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def queue(self) -> asyncio.Queue[DomainEvent]:
        """A queue that receives every event from now on (handy for waiting on one)."""
        q: asyncio.Queue[DomainEvent] = asyncio.Queue()
        self.subscribe(q.put_nowait)
        return q

    def publish(self, event: DomainEvent) -> None:
        log.debug("event %s %s", event.name, event.subject)
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber failed on %s", event.name)
