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
    `Retry-After` asked for when that is longer.

    `clock`, `sleep` and `async_sleep` are replaceable so that tests run in virtual time
    (`careplan_link.testing.VirtualClock` provides all three); `clock` is also what the client
    compares token expiry with.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
    random: Callable[[], float] = attrs.field(default=random.random, eq=False, repr=False)
    sleep: Callable[[float], None] = attrs.field(default=time.sleep, eq=False, repr=False)
    async_sleep: Callable[[float], Awaitable[None]] = attrs.field(
        default=asyncio.sleep, eq=False, repr=False
    )
    clock: Callable[[], datetime.datetime] = attrs.field(default=utc_now, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry)."""
        ceiling: float = min(self.max_delay, self.base_delay * 2.0**retry)
        jittered: float = ceiling * (0.5 + self.random() / 2)
        return jittered if retry_after is None else max(jittered, retry_after)

    @classmethod
    def none(cls) -> RetryPolicy:
        """One attempt, no retries."""
        return cls(attempts=1)
