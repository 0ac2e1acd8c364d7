"""A clock that moves only when told: tests of expiry, backoff and retention never sleep."""

from __future__ import annotations

import asyncio
import datetime
import threading

from ..client import RetryPolicy

__all__ = ["VirtualClock"]


class VirtualClock:
    """Virtual time for FakeHub and clients: `now()`, `advance()`, and `sleep()` /
    `async_sleep()` that move the clock forward instead of waiting.

    Share one clock between the hub and the clients' `RetryPolicy` (see `retry_policy()`), so
    that tokens, retention and backoff all run on the same time.
    """

    def __init__(self, start: datetime.datetime | None = None) -> None:
        self._now = start or datetime.datetime(2025, 3, 25, 9, 0, tzinfo=datetime.UTC)
        self._lock = threading.Lock()
        self.slept = 0.0
        """Total seconds slept, for assertions on backoff."""

    def now(self) -> datetime.datetime:
        return self._now

    def advance(self, delta: datetime.timedelta | float) -> None:
        seconds = delta.total_seconds() if isinstance(delta, datetime.timedelta) else delta
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += datetime.timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        self.slept += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)  # still let other tasks run, as a real sleep would

    def retry_policy(self, **options: object) -> RetryPolicy:
        """A RetryPolicy whose clock and sleeps are this clock's (other fields as given)."""
        return RetryPolicy(
            clock=self.now,
            sleep=self.sleep,
            async_sleep=self.async_sleep,
            **options,  # type: ignore[arg-type]
        )
