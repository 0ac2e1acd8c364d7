"""Issue 12, the client's side: hostile hub answers, deadlines, limits, operation names — each
through both clients (`connect`), in the hub's virtual time. (The workflow's hardening —
receive and send exactly once, receipts that are no oracle — is tests/office/test_hardening.py.)"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from careplan_link import Bundle, OpenedEnvelope, seal
from careplan_link.client import (
    AsyncClient,
    Client,
    HubBusinessError,
    HubError,
    HubProtocolError,
    HubTransportError,
    Message,
)
from careplan_link.testing import FakeHub
from careplan_link.testing.pytest_plugin import HubOffices

from .conftest import Blocking, Connect

PROVIDER = "1370200022"
OTHER = "1370300038"
NoneType = type(None)
DOCS = Path(__file__).resolve().parents[2] / "docs"


def sender(connect: Connect, offices: HubOffices, **options: Any) -> Blocking:
    return connect(
        offices.care_login, identity=offices.care, trust=offices.pki.trust_store, **options
    )


def receiver(connect: Connect, offices: HubOffices, **options: Any) -> Blocking:
    options.setdefault("trust", offices.pki.trust_store)
    return connect(offices.provider_login, identity=offices.provider, **options)


def sealed(offices: HubOffices, bundle: Bundle, **options: Any) -> bytes:
    options.setdefault("sender", offices.care)
    options.setdefault("trust", offices.pki.trust_store)
    return seal(bundle, recipients=[offices.provider.certificate], **options)


def post(care: Blocking, envelope: bytes, bundle: Bundle | None = None) -> Message:
    serial = bundle.serial if bundle is not None else None
    message: Message = care.send(envelope, to=PROVIDER, service_type="11", serial=serial)
    return message


def accept_all(opened: OpenedEnvelope, message: Message) -> None:
    pass


def reasons_of(hub: FakeHub, message_id: str) -> tuple[str, ...]:
    return hub.message(message_id).history[-1].reasons


def through(fake_hub: FakeHub, craft: Callable[[httpx.Request], httpx.Response | None]) -> Any:
    """A transport that answers what `craft` answers, and passes the rest to the hub."""
    hub = fake_hub.transport()

    def handle(request: httpx.Request) -> httpx.Response:
        crafted = craft(request)
        return crafted if crafted is not None else hub.handle_request(request)

    return httpx.MockTransport(handle)


def content_only(
    answer: Callable[[], httpx.Response],
) -> Callable[[httpx.Request], httpx.Response | None]:
    """Craft every download's answer anew (a response's body can be read once)."""
    return lambda request: answer() if request.url.path.endswith("/content") else None


# -- 8. hostile or broken hub answers ----------------------------------------------------------


def answer_for(operation_path: str, response: Callable[[], httpx.Response]) -> Any:
    def craft(request: httpx.Request) -> httpx.Response | None:
        return response() if request.url.path.endswith(operation_path) else None

    return craft


def message_json(**changes: Any) -> dict[str, Any]:
    document = {
        "id": "msg-1",
        "sender": "1370100016",
        "receiver": PROVIDER,
        "service_type": "11",
        "serial": None,
        "unit_kind": None,
        "size": 10,
        "sha256": "0" * 64,
        "status": "delivered",
        "history": [],
        "accepted_at": "2025-03-25T09:00:00Z",
    }
    return {**document, **changes}


HOSTILE_LISTINGS: dict[str, Callable[[], httpx.Response]] = {
    "nested JSON": lambda: httpx.Response(200, content=b"[" * 200_000 + b"]" * 200_000),
    "size 1e999": lambda: httpx.Response(
        200,
        content=json.dumps(
            {"messages": [message_json(size=0)], "next_cursor": None, "has_more": False}
        )
        .replace('"size": 0', '"size": 1e999')
        .encode(),
    ),
    "year 1": lambda: httpx.Response(
        200,
        json={
            "messages": [message_json(accepted_at="0001-01-01T00:00:00Z")],
            "next_cursor": None,
            "has_more": False,
        },
    ),
    "NaN": lambda: httpx.Response(
        200, content=b'{"messages": [], "next_cursor": NaN, "has_more": 0}'
    ),
    "a list": lambda: httpx.Response(200, json=[1, 2]),
}


@pytest.mark.parametrize("answer", list(HOSTILE_LISTINGS))
def test_a_hostile_listing_is_a_protocol_error(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices, answer: str
) -> None:
    transport = through(fake_hub, answer_for("/inbox", HOSTILE_LISTINGS[answer]))
    provider = connect(hub_offices.provider_login, transport=transport)
    with pytest.raises(HubProtocolError) as failed:
        provider.inbox()
    assert failed.value.operation == "inbox"


def test_an_unreadable_token_answer_is_a_protocol_error_or_a_fresh_login(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    transport = through(fake_hub, answer_for("/token", lambda: httpx.Response(200, json={})))
    care = connect(hub_offices.care_login, transport=transport)
    care.inbox()
    fake_hub.clock.advance(datetime.timedelta(minutes=58))  # time to refresh
    assert care.inbox() == []  # the unreadable refresh answer is given up for a login
    assert fake_hub.counts["login"] == 2
    broken = through(fake_hub, answer_for("/login", lambda: httpx.Response(200, json={"x": 1})))
    with pytest.raises(HubProtocolError) as failed:
        connect(hub_offices.care_login, transport=broken).inbox()
    assert failed.value.operation == "login"


@pytest.mark.parametrize("wait", [1e9, float("inf")])
def test_retry_after_is_capped(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices, wait: float
) -> None:
    care = connect(hub_offices.care_login)
    care.inbox()
    fake_hub.inject("rate_limit", operations={"inbox"}, times=1, retry_after=wait)
    assert care.inbox() == []
    assert fake_hub.clock.slept <= 300


@pytest.mark.parametrize("cursor", [None, "same"])
def test_paging_stops_on_a_missing_or_repeated_cursor(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices, cursor: str | None
) -> None:
    page = {"messages": [message_json()], "next_cursor": cursor, "has_more": True}
    asked: list[str] = []

    def craft(request: httpx.Request) -> httpx.Response | None:
        if not request.url.path.endswith("/inbox"):
            return None
        asked.append(request.url.params.get("cursor", ""))
        return httpx.Response(200, json=page)

    provider = connect(hub_offices.provider_login, transport=through(fake_hub, craft))
    with pytest.raises(HubProtocolError, match="cursor") as failed:
        provider.inbox()
    assert failed.value.operation == "inbox" and len(asked) <= 2


class Trickle(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that arrives chunk by chunk, advancing the hub's clock by `seconds` per chunk."""

    def __init__(self, hub: FakeHub, chunk: bytes, count: int, seconds: float) -> None:
        self.hub, self.chunk, self.count, self.seconds = hub, chunk, count, seconds
        self.sent = 0

    def _chunks(self) -> Iterator[bytes]:
        for _ in range(self.count):
            self.hub.clock.advance(self.seconds)
            self.sent += 1
            yield self.chunk

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks()

    async def __aiter__(self) -> Any:
        for chunk in self._chunks():
            yield chunk


def test_an_answer_a_byte_a_second_is_cut_off_by_the_calls_deadline(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    streams: list[Trickle] = []

    def craft(request: httpx.Request) -> httpx.Response | None:
        if not request.url.path.endswith("/inbox"):
            return None
        streams.append(Trickle(fake_hub, b" ", 100_000, 1.0))
        return httpx.Response(200, stream=streams[-1])

    policy = fake_hub.clock.retry_policy(deadline=120)
    provider = connect(hub_offices.provider_login, transport=through(fake_hub, craft), retry=policy)
    started = fake_hub.clock.now()
    with pytest.raises(HubTransportError) as failed:
        provider.inbox()
    assert failed.value.operation == "inbox"
    assert fake_hub.clock.now() - started <= datetime.timedelta(seconds=125)
    assert sum(s.sent for s in streams) <= 125


def test_a_download_beyond_the_maximum_is_never_read_whole(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    endless = Trickle(fake_hub, bytes(1024 * 1024), 400, 0.0)  # 400 MB, were it read

    def answer() -> httpx.Response:
        return httpx.Response(
            200, stream=endless, headers={"Content-Type": "application/pkcs7-mime"}
        )

    provider = connect(
        hub_offices.provider_login,
        transport=through(fake_hub, content_only(answer)),
        max_download=4 * 1024 * 1024,
    )
    with pytest.raises(HubProtocolError, match="larger than the limit"):
        provider.download("msg-000000000001")
    assert endless.sent <= 5


# -- 9. client defects -------------------------------------------------------------------------


def test_every_hub_error_names_its_operation(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login, retry=fake_hub.clock.retry_policy(attempts=1))
    provider = connect(hub_offices.provider_login)
    sent = post(care, b"envelope")
    provider.acknowledge(sent.id, "downloaded")
    failures: dict[str, Callable[[], object]] = {
        "send": lambda: care.send(b"x", to="1370999999", service_type="11"),
        "withdraw": lambda: care.withdraw(sent.id),
        "acknowledge": lambda: care.acknowledge(sent.id, "imported"),
        "message": lambda: care.message("msg-999999999999"),
    }
    for operation, call in failures.items():
        with pytest.raises(HubError) as failed:
            call()
        assert failed.value.operation == operation, operation
    fake_hub.inject("business_error", operations={"outbox"}, times=1)
    with pytest.raises(HubBusinessError) as busy:
        care.outbox()
    assert busy.value.operation == "outbox"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://hub.example.jp", False),
        ("ftp://hub.example.jp", False),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://[::1]:8080", True),
        ("https://hub.example.jp", True),
    ],
)
def test_plain_http_is_refused_except_to_this_machine(
    hub_offices: HubOffices, url: str, allowed: bool
) -> None:
    if allowed:
        Client(url, login=hub_offices.care_login).close()
        asyncio.run(AsyncClient(url, login=hub_offices.care_login).aclose())
    else:
        with pytest.raises(ValueError, match="https"):
            Client(url, login=hub_offices.care_login)
        with pytest.raises(ValueError, match="https"):
            AsyncClient(url, login=hub_offices.care_login)
    if url.startswith("http:"):  # the caller may insist
        Client(url, login=hub_offices.care_login, allow_insecure_http=True).close()
