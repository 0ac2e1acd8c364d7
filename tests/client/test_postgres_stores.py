"""The client's store scenarios (test_stores.SCENARIOS) on a hub whose store is PostgreSQL,
and its state surviving a restart of the hub. Skipped, saying why, unless
CAREPLAN_LINK_TEST_POSTGRES names a server (tests/stores.py)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest

from careplan_link.client import Client
from careplan_link.hub._postgres import PostgresStore
from careplan_link.testing import FakeHub, VirtualClock
from careplan_link.testing.pytest_plugin import HubOffices

from ..stores import open_test_store, postgres_url
from .conftest import Connect
from .test_stores import SCENARIOS

PROVIDER = "1370200022"


@pytest.fixture
def fake_hub(tmp_path: Path) -> Iterator[FakeHub]:
    """The plugin's `fake_hub` (same defaults), on an emptied PostgreSQL database."""
    hub = FakeHub(store=open_test_store("postgresql", tmp_path))
    yield hub
    hub.store.close()
    assert hub.protocol_errors == []


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_scenarios_on_postgresql(
    scenario: object, connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    assert isinstance(fake_hub.store, PostgresStore)
    scenario(connect, fake_hub, hub_offices)  # type: ignore[operator]


def test_the_database_keeps_the_hub_across_restarts(
    tmp_path: Path, hub_offices: HubOffices
) -> None:
    clock = VirtualClock()
    first = FakeHub(store=open_test_store("postgresql", tmp_path), clock=clock)
    care = first.register_office(hub_offices.care)
    provider = first.register_office(hub_offices.provider)
    with Client(first.url, login=care, transport=first.transport()) as client:
        sent = client.send(b"kept", to=PROVIDER, service_type="11")
    first.store.close()

    url = postgres_url()
    assert url is not None
    second = FakeHub(store=PostgresStore(url), clock=clock)
    try:
        with Client(second.url, login=provider, transport=second.transport()) as client:
            assert [m.id for m in client.inbox()] == [sent.id]
            assert client.download(sent.id) == b"kept"
            again = client.send(b"back", to=hub_offices.care.office_no, service_type="11")
        assert again.id > sent.id  # numbering continues
    finally:
        second.store.close()


def test_retention_sweeps_forward_on_postgresql(tmp_path: Path, hub_offices: HubOffices) -> None:
    clock = VirtualClock()
    hub = FakeHub(store=open_test_store("postgresql", tmp_path), clock=clock,
                  retention=datetime.timedelta(hours=1))  # fmt: skip
    try:
        care = hub.register_office(hub_offices.care)
        hub.register_office(hub_offices.provider)
        with Client(hub.url, login=care, transport=hub.transport()) as client:
            ids = []
            for number in range(4):
                ids.append(client.send(f"m{number}".encode(), to=PROVIDER, service_type="11").id)
                clock.advance(datetime.timedelta(minutes=20))
        assert [m.id for m in hub.messages()] == ids
        statuses = [m.status.value for m in hub.messages()]
        assert statuses == ["expired", "delivered", "delivered", "delivered"]
    finally:
        hub.store.close()
