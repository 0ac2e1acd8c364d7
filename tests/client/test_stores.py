"""The hub on both stores: the same operations on SQLite, and state that survives a restart."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from careplan_link.client import Client, HubBusinessError
from careplan_link.testing import FakeHub, MemoryStore, SqliteStore, VirtualClock
from careplan_link.testing.pytest_plugin import HubOffices

from . import test_operations, test_reliability
from .conftest import Connect

PROVIDER = "1370200022"

# Scenarios of the other modules that exercise every store method, re-run on SQLite.
SCENARIOS = [
    test_operations.test_send_list_download_acknowledge,
    test_operations.test_listing_filters_and_cursor,
    test_operations.test_withdraw_before_download_only,
    test_operations.test_idempotent_send_and_conflict,
    test_operations.test_retention_expires_messages_and_drops_content,
    test_operations.test_office_directory,
    test_reliability.test_a_cursor_walk_while_messages_arrive_skips_and_repeats_nothing,
]


@pytest.mark.fake_hub(store="sqlite")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_scenarios_on_sqlite(
    scenario: object, connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    assert isinstance(fake_hub.store, SqliteStore)
    scenario(connect, fake_hub, hub_offices)  # type: ignore[operator]


def test_a_sqlite_file_keeps_the_hub_across_restarts(
    tmp_path: Path, hub_offices: HubOffices
) -> None:
    path = str(tmp_path / "hub.db")
    clock = VirtualClock()
    first = FakeHub(store=SqliteStore(path), clock=clock)
    care = first.register_office(hub_offices.care)
    provider = first.register_office(hub_offices.provider)
    with Client(first.url, login=care, transport=first.transport()) as client:
        sent = client.send(b"kept", to=PROVIDER, service_type="11")
    first.store.close()

    second = FakeHub(store=SqliteStore(path), clock=clock)
    with Client(second.url, login=provider, transport=second.transport()) as client:
        assert [m.id for m in client.inbox()] == [sent.id]
        assert client.download(sent.id) == b"kept"
        # Numbering continues: a new message does not reuse an id.
        with pytest.raises(HubBusinessError):
            client.send(b"x", to="1370999999", service_type="11")
        second_sent = client.send(b"back", to=hub_offices.care.office_no, service_type="11")
    assert second_sent.id != sent.id and second_sent.id > sent.id


@pytest.mark.parametrize("make", [MemoryStore, SqliteStore], ids=["memory", "sqlite"])
def test_stores_list_in_accepted_order_and_sweep_forward(
    make: type, hub_offices: HubOffices
) -> None:
    clock = VirtualClock()
    hub = FakeHub(store=make(), clock=clock, retention=datetime.timedelta(hours=1))
    care = hub.register_office(hub_offices.care)
    hub.register_office(hub_offices.provider)
    with Client(hub.url, login=care, transport=hub.transport()) as client:
        ids = []
        for number in range(4):
            ids.append(client.send(f"m{number}".encode(), to=PROVIDER, service_type="11").id)
            clock.advance(datetime.timedelta(minutes=20))
    assert [m.id for m in hub.messages()] == ids
    # Now 80 minutes after the first: only the first is past its hour of retention.
    statuses = [m.status.value for m in hub.messages()]
    assert statuses == ["expired", "delivered", "delivered", "delivered"]
    clock.advance(1)  # the sweep goes on from where it stopped
    statuses = [m.status.value for m in hub.messages()]
    assert statuses == ["expired", "expired", "delivered", "delivered"]
