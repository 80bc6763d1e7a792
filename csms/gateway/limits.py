"""How fast one charger may send CALLs: a token bucket per connection.

``[ocpp] max_messages_per_second`` tokens a second, at most ``message_burst`` saved up; each
CALL takes one. A CALL that finds no token is answered at once with a CALLERROR GenericError
(the same code in 1.6 and 2.0.1: neither version has a "busy" code, and the others mean a bad
frame, a missing feature or our own failure) and is not handled: it costs a JSON parse and a
short answer, not schema validation, a handler and a database write. A charger retries
transaction messages after a CALLERROR (1.6 TransactionMessageRetryInterval, 2.0.1
MessageAttemptInterval), by which time the bucket has refilled; nothing is dropped silently.
Answers to our own calls (CALLRESULT, CALLERROR) are never limited.

One log line per burst: when a charger first runs out, not for every refused frame. Off (no
bucket object at all) unless configured: the benchmarks flood hundreds of CALLs a second from
one charger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from csms.gateway.rpc import Err, RpcError

log = logging.getLogger("csms.gateway")


class MessageRate:
    """One connection's bucket. :meth:`admit` is on the hot path: a clock read, a few float
    operations on slots, no objects built."""

    __slots__ = ("_burst", "_clock", "_rate", "_stamp", "_tokens", "refusing")

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._clock = clock
        self._stamp = clock()
        self.refusing = False  # inside a burst of refusals (it was logged)

    def admit(self) -> bool:
        """Take a token if there is one."""
        now = self._clock()
        tokens = self._tokens + (now - self._stamp) * self._rate
        self._stamp = now
        if tokens >= 1.0:
            self._tokens = (tokens if tokens < self._burst else self._burst) - 1.0
            self.refusing = False
            return True
        self._tokens = tokens
        return False

    def refusal(self, charger_id: str) -> RpcError:
        """The CALLERROR for a CALL over the rate; logs the first of a burst."""
        if not self.refusing:
            self.refusing = True
            log.warning(
                "charger %s sends more than %g CALLs/s (burst %g): answering GenericError "
                "until it slows down",
                charger_id,
                self._rate,
                self._burst,
            )
        return RpcError(Err.GENERIC, f"rate limit: at most {self._rate:g} messages per second")


def message_rate(per_second: float, burst: int) -> MessageRate | None:
    """A bucket for a new connection, or None when there is no limit."""
    if per_second <= 0:
        return None
    return MessageRate(per_second, float(burst) if burst > 0 else max(per_second, 1.0))
