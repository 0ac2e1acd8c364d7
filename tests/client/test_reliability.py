"""Retries, backoff, lost answers, token renewal under concurrency, cursor walks, the soak.

Everything runs in the hub's virtual time: nothing here sleeps for real.
"""

from __future__ import annotations

import asyncio
import datetime
import threading

import pytest

from careplan_link.client import (
    AsyncClient,
    Client,
    HubTransportError,
    OutcomeUnknown,
    RetryPolicy,
    ServiceUnavailable,
    TooManyRequests,
)
from careplan_link.testing import FAULT_KINDS, FakeHub
from careplan_link.testing.pytest_plugin import HubOffices

from .conftest import Connect
from .soak import run_soak

PROVIDER = "1370200022"


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    draws = iter([0.0, 1.0, 0.5])
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, random=lambda: next(draws))
    assert [policy.delay(0), policy.delay(1), policy.delay(5)] == [0.5, 2.0, 7.5]
    assert RetryPolicy(random=lambda: 0.0).delay(0, retry_after=12.0) == 12.0
    with pytest.raises(ValueError, match="attempt"):
        RetryPolicy(attempts=0)


def test_server_errors_are_retried_in_virtual_time(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login)
    fake_hub.inject("server_error", operations={"inbox"}, times=3)
    assert care.inbox() == []
    assert fake_hub.requests["inbox"] == 4
    assert 0 < fake_hub.clock.slept <= 0.5 + 1 + 2  # three pauses, each at most its ceiling


def test_retry_after_is_honoured(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login)
    fake_hub.inject("rate_limit", operations={"inbox"}, times=1, retry_after=42)
    assert care.inbox() == []
    assert fake_hub.clock.slept == pytest.approx(42)


def test_retries_end_with_the_hubs_error(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login, retry=fake_hub.clock.retry_policy(attempts=3))
    fake_hub.inject("server_error", operations={"inbox"})
    with pytest.raises(ServiceUnavailable) as failed:
        care.inbox()
    assert failed.value.operation == "inbox" and fake_hub.requests["inbox"] == 3
    fake_hub.clear_faults()
    fake_hub.inject("rate_limit", operations={"inbox"})
    with pytest.raises(TooManyRequests) as limited:
        care.inbox()
    assert limited.value.retry_after == 1.0


@pytest.mark.parametrize("kind", ["timeout", "drop"])
def test_transport_failures_are_retried_then_raised(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices, kind: str
) -> None:
    care = connect(hub_offices.care_login, retry=fake_hub.clock.retry_policy(attempts=2))
    fake_hub.inject(kind, operations={"inbox"}, times=1)  # type: ignore[arg-type]
    assert care.inbox() == []
    fake_hub.inject(kind, operations={"inbox"})  # type: ignore[arg-type]
    with pytest.raises(HubTransportError) as failed:
        care.inbox()
    assert not isinstance(failed.value, OutcomeUnknown)  # reading changes nothing


@pytest.mark.parametrize("kind", ["lost_response", "slow"])
def test_a_lost_answer_to_a_send_is_found_in_the_outbox(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices, kind: str
) -> None:
    care = connect(hub_offices.care_login)
    fake_hub.inject(kind, operations={"send"}, times=1)  # type: ignore[arg-type]
    sent = care.send(b"only once", to=PROVIDER, service_type="11")
    assert [m.id for m in fake_hub.messages()] == [sent.id]
    assert fake_hub.requests["send"] == 1  # found by the outbox check, not sent again
    assert fake_hub.requests["outbox"] == 1


def test_an_answer_lost_every_time_is_an_unknown_outcome_and_resending_is_safe(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login, retry=fake_hub.clock.retry_policy(attempts=2))
    fake_hub.inject("lost_response", operations={"send", "outbox"}, times=3)
    with pytest.raises(OutcomeUnknown) as unknown:
        care.send(b"maybe", to=PROVIDER, service_type="11")
    assert unknown.value.idempotency_key and unknown.value.operation == "send"
    sent = care.send(b"maybe", to=PROVIDER, service_type="11")
    assert [m.id for m in fake_hub.messages()] == [sent.id]


def test_a_slow_answer_within_the_timeout_is_waited_for(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login)
    fake_hub.inject("slow", operations={"inbox"}, times=1, delay=5)
    before = fake_hub.clock.now()
    assert care.inbox() == []
    assert fake_hub.requests["inbox"] == 1  # answered, not retried
    assert fake_hub.clock.now() - before == datetime.timedelta(seconds=5)


def test_a_hundred_tasks_at_token_expiry_cause_one_refresh(
    fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    async def scenario() -> None:
        async with AsyncClient(
            fake_hub.url,
            login=hub_offices.care_login,
            transport=fake_hub.async_transport(),
            retry=fake_hub.clock.retry_policy(),
        ) as client:
            await client.inbox_page()
            fake_hub.clock.advance(datetime.timedelta(minutes=58))
            pages = await asyncio.gather(*(client.inbox_page() for _ in range(100)))
            assert len(pages) == 100

    asyncio.run(scenario())
    assert (fake_hub.counts["login"], fake_hub.counts["refresh"]) == (1, 1)


def test_a_hundred_threads_at_token_expiry_cause_one_refresh(
    fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    with Client(
        fake_hub.url,
        login=hub_offices.care_login,
        transport=fake_hub.transport(),
        retry=fake_hub.clock.retry_policy(),
    ) as client:
        client.inbox_page()
        fake_hub.clock.advance(datetime.timedelta(minutes=58))
        start = threading.Barrier(100)
        failures: list[BaseException] = []

        def call() -> None:
            start.wait()
            try:
                client.inbox_page()
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=call) for _ in range(100)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert failures == []
    assert (fake_hub.counts["login"], fake_hub.counts["refresh"]) == (1, 1)


def test_a_cursor_walk_while_messages_arrive_skips_and_repeats_nothing(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care, provider = connect(hub_offices.care_login), connect(hub_offices.provider_login)
    sent = [care.send(f"first {n}".encode(), to=PROVIDER, service_type="11").id for n in range(5)]
    seen: list[str] = []
    cursor = None
    for round_number in range(12):
        page = provider.inbox_page(cursor, limit=2)
        seen += [m.id for m in page.messages]
        cursor = page.next_cursor
        if round_number < 6:  # arrivals between pages, some in the same clock tick
            sent.append(
                care.send(f"new {round_number}".encode(), to=PROVIDER, service_type="11").id
            )
            if round_number % 2:
                fake_hub.clock.advance(1)
    assert seen == sent


def test_the_fault_soak_delivers_every_envelope_exactly_once(hub_offices: HubOffices) -> None:
    result = run_soak(1_000, pki=hub_offices.pki)
    faulted = sum(result.faults.values())
    assert result.stored == result.distinct == 1_000
    assert set(result.faults) == set(FAULT_KINDS)  # every kind fired
    assert 0.25 < faulted / result.requests < 0.35
