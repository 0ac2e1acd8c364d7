"""One test body for both clients: `connect` gives a Client or an AsyncClient behind the same
blocking interface (the async one runs each call to completion on one event loop)."""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from careplan_link.client import AsyncClient, Client, Login
from careplan_link.testing import FakeHub

sys.path.insert(0, str(Path(__file__).parent.parent / "format"))


class Blocking:
    """A client whose every method returns its result (lists instead of iterators)."""

    def __init__(self, client: Client | AsyncClient, loop: asyncio.AbstractEventLoop | None):
        self.client = client
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if not callable(attribute):
            return attribute

        def call(*arguments: Any, **keywords: Any) -> Any:
            result = attribute(*arguments, **keywords)
            if self._loop is not None and inspect.isawaitable(result):
                return self._loop.run_until_complete(result)
            if self._loop is not None and isinstance(result, AsyncIterator):
                return self._loop.run_until_complete(_collect(result))
            if isinstance(result, Iterator):
                return list(result)
            return result

        return call


async def _collect(messages: AsyncIterator[Any]) -> list[Any]:
    return [message async for message in messages]


Connect = Callable[..., Blocking]


@pytest.fixture(params=["sync", "async"])
def connect(request: pytest.FixtureRequest, fake_hub: FakeHub) -> Iterator[Connect]:
    """`connect(login, **options)`: a client of the parametrized kind on `fake_hub`, retrying
    in its virtual time. A `transport=` option replaces the hub's (an httpx.MockTransport
    serves both kinds)."""
    loop = asyncio.new_event_loop() if request.param == "async" else None
    opened: list[Blocking] = []

    def make(login: Login, **options: Any) -> Blocking:
        options.setdefault("retry", fake_hub.clock.retry_policy())
        if loop is None:
            options.setdefault("transport", fake_hub.transport())
            client: Client | AsyncClient = Client(fake_hub.url, login=login, **options)
        else:
            options.setdefault("transport", fake_hub.async_transport())
            client = AsyncClient(fake_hub.url, login=login, **options)
        blocking = Blocking(client, loop)
        opened.append(blocking)
        return blocking

    yield make
    for blocking in opened:
        if loop is None:
            blocking.client.close()  # type: ignore[union-attr]
        else:
            loop.run_until_complete(blocking.client.aclose())  # type: ignore[union-attr]
    if loop is not None:
        loop.close()
