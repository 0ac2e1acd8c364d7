"""When to try again, and how long to wait: one policy object, its clock and sleep replaceable."""

from __future__ import annotations

import asyncio
import datetime
import random
import time
from collections.abc import Awaitable, Callable

import attrs

__all__ = ["RetryPolicy", "utc_now"]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@attrs.frozen
class RetryPolicy:
    """Retries with jittered exponential backoff on connection errors, 408, 429 and 5xx.

    A call is tried at most `attempts` times. Before try n+1 the client waits a random time
    between half and all of `min(max_delay, base_delay * 2**n)` ("equal jitter": clients that
    failed together do not come back together, and never without a pause), or what the hub's
    `Retry-After` asked for when that is longer, up to `max_retry_after` seconds (a hostile or
    broken hub asking for `1e9` or `inf` does not stall the client).

    `deadline` bounds one call as a whole, in seconds: every try, every pause, and the reading
    of every answer (an answer that trickles in a byte a second is cut off). When it has
    passed, the call ends with the last try's error (OutcomeUnknown for a send that may have
    been carried out).

    `clock`, `sleep` and `async_sleep` are replaceable so that tests run in virtual time
    (`careplan_link.testing.VirtualClock` provides all three); `clock` is also what the client
    compares token expiry with.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
    max_retry_after: float = 300.0
    deadline: float = 600.0
    random: Callable[[], float] = attrs.field(default=random.random, eq=False, repr=False)
    sleep: Callable[[float], None] = attrs.field(default=time.sleep, eq=False, repr=False)
    async_sleep: Callable[[float], Awaitable[None]] = attrs.field(
        default=asyncio.sleep, eq=False, repr=False
    )
    clock: Callable[[], datetime.datetime] = attrs.field(default=utc_now, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")
        if not 0 <= self.max_retry_after < float("inf") or not 0 < self.deadline < float("inf"):
            raise ValueError("max_retry_after and deadline are finite numbers of seconds")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry)."""
        ceiling: float = min(self.max_delay, self.base_delay * 2.0**retry)
        jittered: float = ceiling * (0.5 + self.random() / 2)
        if retry_after is None:
            return jittered
        return max(jittered, min(retry_after, self.max_retry_after))

    @classmethod
    def none(cls) -> RetryPolicy:
        """One attempt, no retries."""
        return cls(attempts=1)
