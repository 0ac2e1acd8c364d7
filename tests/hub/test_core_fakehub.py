"""FakeHub as the same core in-process: one transport, neutral faults, reset, markers."""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest

from careplan_link.client import AsyncClient, Client
from careplan_link.hub import HubRequest
from careplan_link.testing import FakeHub, FakeHubTransport
from careplan_link.testing.pytest_plugin import HubOffices

pytest_plugins = ["pytester"]

PROVIDER = "1370200022"


def test_one_transport_class_serves_client_and_async_client(
    fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    transport = fake_hub.transport()
    assert isinstance(transport, httpx.BaseTransport)
    assert isinstance(transport, httpx.AsyncBaseTransport)
    with Client(fake_hub.url, login=hub_offices.care_login, transport=transport) as client:
        first = client.send(b"sync", to=PROVIDER, service_type="11")

    async def run() -> str:
        async with AsyncClient(
            fake_hub.url, login=hub_offices.care_login, transport=fake_hub.transport()
        ) as client:
            return (await client.send(b"async", to=PROVIDER, service_type="11")).id

    second = asyncio.run(run())
    assert [m.id for m in fake_hub.messages()] == [first.id, second]


def test_faults_are_decided_on_the_neutral_request_and_told_in_the_response(
    fake_hub: FakeHub,
) -> None:
    health = HubRequest("GET", "/v1/health", {}, {})
    fake_hub.inject("drop", operations={"health"}, times=1)
    fake_hub.inject("timeout", operations={"health"}, times=1)
    fake_hub.inject("slow", operations={"health"}, times=1, delay=3)
    fake_hub.inject("rate_limit", operations={"health"}, times=1, retry_after=7)
    dropped = fake_hub.handle(health)
    assert dropped.disconnect and not dropped.answers
    timed_out = fake_hub.handle(health)
    assert timed_out.delay == math.inf and not timed_out.answers
    slow = fake_hub.handle(health)
    assert (slow.status, slow.delay, slow.answers) == (200, 3, True)
    limited = fake_hub.handle(health)
    assert (limited.status, limited.headers["retry-after"]) == (429, "7")
    assert fake_hub.handle(health).status == 200
    assert fake_hub.requests["health"] == 5


def test_requests_are_counted_for_every_path(fake_hub: FakeHub) -> None:
    fake_hub.handle(HubRequest("GET", "/v1/nowhere", {}, {}))
    with httpx.Client(transport=fake_hub.transport()) as raw:
        raw.get(f"{fake_hub.url}/v1/health")
        raw.get(f"{fake_hub.url}/v1/inbox")
    assert fake_hub.requests == {"unknown": 1, "health": 1, "inbox": 1}
    fake_hub.protocol_errors.clear()  # the unknown path was on purpose


def test_reset_forgets_state_faults_and_counters(
    fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    with Client(fake_hub.url, login=hub_offices.care_login, transport=fake_hub.transport()) as c:
        c.send(b"x", to=PROVIDER, service_type="11")
    fake_hub.inject("server_error")
    started = fake_hub.clock.now()
    fake_hub.reset()
    assert fake_hub.messages() == [] and fake_hub.store.office(PROVIDER) is None
    assert not fake_hub.requests and not fake_hub.counts and not fake_hub.faults_fired
    assert fake_hub.store.audit_entries() == []
    assert fake_hub.clock.now() == started
    assert fake_hub.handle(HubRequest("GET", "/v1/health", {}, {})).status == 200  # no fault


@pytest.mark.fake_hub(store="sqlite")
def test_reset_works_on_sqlite_too(fake_hub: FakeHub, hub_offices: HubOffices) -> None:
    fake_hub.reset()
    assert fake_hub.store.offices() == []


def test_the_transport_is_exported(fake_hub: FakeHub) -> None:
    assert isinstance(fake_hub.async_transport(), FakeHubTransport)


def test_module_and_test_markers_merge_the_closest_winning(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.fake_hub(store="sqlite", retention_days=3, seed=1)

        def test_module_marker(fake_hub):
            from careplan_link.testing import SqliteStore
            assert isinstance(fake_hub.store, SqliteStore)
            assert fake_hub.settings.retention.days == 3

        @pytest.mark.fake_hub(retention_days=9)
        def test_both(fake_hub):
            from careplan_link.testing import SqliteStore
            assert isinstance(fake_hub.store, SqliteStore)  # from the module
            assert fake_hub.settings.retention.days == 9  # the test's own wins

        class TestClass:
            pytestmark = pytest.mark.fake_hub(store="memory")

            @pytest.mark.fake_hub(rate_limit=5)
            def test_three_levels(self, fake_hub):
                from careplan_link.testing import MemoryStore
                assert isinstance(fake_hub.store, MemoryStore)  # the class wins over the module
                assert fake_hub.settings.retention.days == 3  # the module still applies
                assert fake_hub.settings.rate_limit == 5
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_every_fixture_of_the_plugin_has_a_docstring(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
    text = result.stdout.str()
    for fixture in ("fake_hub", "hub_offices", "hub_client", "async_hub_client"):
        assert fixture in text
    section = text.split("careplan_link.testing.pytest_plugin", 1)[-1]
    assert "no docstring available" not in section.split("====", 1)[0]
