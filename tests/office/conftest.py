"""One test body for both workflows: `connect` gives an office (a Workflow or AsyncWorkflow
over a Client or AsyncClient, and the client's own calls) behind one blocking interface."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from careplan_link import Bundle, OfficeIdentity, TrustSettings, TrustStore
from careplan_link.client import AsyncClient, Client, Login
from careplan_link.office import (
    AsyncWorkflow,
    Handler,
    ImportedUnits,
    Journal,
    MemoryImportedUnits,
    Workflow,
)
from careplan_link.testing import FakeHub
from tests.client.conftest import Blocking

sys.path.insert(0, str(Path(__file__).parent.parent / "format"))


class Office:
    """A client and the office's workflow over it: `send_bundle` and `receive` are the
    workflow's, every other call the client's."""

    def __init__(
        self,
        client: Client | AsyncClient,
        identity: OfficeIdentity | None,
        trust: TrustSettings | TrustStore | None,
        imported: ImportedUnits | None,
        journal: Journal | None = None,
    ) -> None:
        self.client = client
        self.identity = identity
        self.trust = trust
        self.imported = imported if imported is not None else MemoryImportedUnits()
        self.journal = journal if journal is not None else Journal(":memory:")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def workflow(self, imported: ImportedUnits | None = None) -> Workflow | AsyncWorkflow:
        if self.identity is None or self.trust is None:
            raise ValueError("the office's workflow needs its identity and trust settings")
        options: dict[str, Any] = {
            "identity": self.identity,
            "trust": self.trust,
            "journal": self.journal,
            "imported_units": imported if imported is not None else self.imported,
        }
        if isinstance(self.client, Client):
            return Workflow(self.client, **options)
        return AsyncWorkflow(self.client, **options)

    def send_bundle(
        self, bundle: Bundle, *, to: Sequence[Any] | None = None, check: bool = True
    ) -> Any:
        return self.workflow().send_bundle(bundle, to=to, check=check)

    def receive(
        self,
        handler: Handler,
        *,
        check: bool = True,
        imported: ImportedUnits | None = None,
        acknowledge: Any = "imported",
    ) -> Any:
        return self.workflow(imported).receive(handler, check=check, acknowledge=acknowledge)

    def prepare(self, source: Any, **options: Any) -> Any:
        return self.workflow().prepare(source, **options)

    def send_prepared(self, prepared: Any) -> Any:
        return self.workflow().send(prepared)

    def send_folder(self, source: Any, **options: Any) -> Any:
        return self.workflow().send_folder(source, **options)

    def receipt(
        self, message_id: str, status: str, reasons: Sequence[str] = (), detail: str | None = None
    ) -> Any:
        return self.workflow().receipt(message_id, status, reasons, detail)

    def refresh_statuses(self) -> Any:
        return self.workflow().refresh_statuses()


Connect = Callable[..., Blocking]

SERVED_MODULES = frozenset({"test_high_level", "test_workflow"})
"""Modules whose tests also run against `fake_hub.serve()` over loopback."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "connect" in metafunc.fixturenames:
        kinds = ["sync", "async"]
        if metafunc.module.__name__.rsplit(".", 1)[-1] in SERVED_MODULES:
            kinds += ["sync-served", "async-served"]
        metafunc.parametrize("connect", kinds, indirect=True)


@pytest.fixture
def connect(request: pytest.FixtureRequest, fake_hub: FakeHub) -> Iterator[Connect]:
    """`connect(login, identity=, trust=, imported=, journal=, **client_options)`: an office of the
    parametrized kind on `fake_hub`, retrying in its virtual time; `…-served` kinds reach it
    over a loopback socket (`FakeHub.serve()`)."""
    kind: str = request.param
    loop = asyncio.new_event_loop() if kind.startswith("async") else None
    opened: list[Office] = []
    served = contextlib.ExitStack()
    urls: list[str] = []

    def make(
        login: Login,
        *,
        identity: OfficeIdentity | None = None,
        trust: TrustSettings | TrustStore | None = None,
        imported: ImportedUnits | None = None,
        journal: Journal | None = None,
        **options: Any,
    ) -> Blocking:
        options.setdefault("retry", fake_hub.clock.retry_policy())
        url = fake_hub.url
        if "transport" not in options and kind.endswith("served"):
            if not urls:
                urls.append(served.enter_context(fake_hub.serve(timeout=10)))
            url = urls[0]
            options.setdefault("timeout", 10)
        elif "transport" not in options:
            options["transport"] = (
                fake_hub.transport() if loop is None else fake_hub.async_transport()
            )
        if loop is None:
            client: Client | AsyncClient = Client(url, login=login, identity=identity, **options)
        else:
            client = AsyncClient(url, login=login, identity=identity, **options)
        office = Office(client, identity, trust, imported, journal)
        opened.append(office)
        return Blocking(office, loop)  # type: ignore[arg-type]

    yield make
    for office in opened:
        if isinstance(office.client, Client):
            office.client.close()
        else:
            assert loop is not None
            loop.run_until_complete(office.client.aclose())
    if loop is not None:
        loop.close()
    served.close()


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients made without a retry policy wait no real time between tries: for tests of what
    a command says when the hub cannot be reached, where the waits prove nothing."""
    import functools

    from careplan_link.client import RetryPolicy, _async, _sync

    quick = functools.partial(RetryPolicy, sleep=lambda _: None)
    monkeypatch.setattr(_sync, "RetryPolicy", quick)
    monkeypatch.setattr(_async, "RetryPolicy", quick)
