"""One test body for both clients: `connect` gives a Client or an AsyncClient behind the same
blocking interface (the async one runs each call to completion on one event loop)."""

from __future__ import annotations

import asyncio
import contextlib
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


SERVED_MODULES = frozenset({"test_operations", "test_high_level", "test_stores"})
"""Modules whose tests also run against `fake_hub.serve()` over loopback (`sync-served`,
`async-served`). The hub object is the same, so these tests still move `fake_hub.clock` and
read its state directly. test_reliability and test_hardening stay in-process: they inject
faults whose served form waits in real time (timeouts, lost answers) or hand the client a
crafted transport."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "connect" in metafunc.fixturenames:
        kinds = ["sync", "async"]
        if metafunc.module.__name__.rsplit(".", 1)[-1] in SERVED_MODULES:
            kinds += ["sync-served", "async-served"]
        metafunc.parametrize("connect", kinds, indirect=True)


@pytest.fixture
def connect(request: pytest.FixtureRequest, fake_hub: FakeHub) -> Iterator[Connect]:
    """`connect(login, **options)`: a client of the parametrized kind on `fake_hub`, retrying
    in its virtual time; `…-served` kinds reach it over a loopback socket (`FakeHub.serve()`).
    A `transport=` option replaces the hub's (an httpx.MockTransport serves both kinds)."""
    kind: str = request.param
    loop = asyncio.new_event_loop() if kind.startswith("async") else None
    opened: list[Blocking] = []
    served = contextlib.ExitStack()
    urls: list[str] = []

    def make(login: Login, **options: Any) -> Blocking:
        options.setdefault("retry", fake_hub.clock.retry_policy())
        url = fake_hub.url
        if "transport" not in options and kind.endswith("served"):
            if not urls:  # the first client starts the server; it stops after the test
                urls.append(served.enter_context(fake_hub.serve(timeout=10)))
            url = urls[0]
            options.setdefault("timeout", 10)
        elif "transport" not in options:
            options["transport"] = fake_hub.transport()
        if loop is None:
            client: Client | AsyncClient = Client(url, login=login, **options)
        else:
            client = AsyncClient(url, login=login, **options)
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
    served.close()
