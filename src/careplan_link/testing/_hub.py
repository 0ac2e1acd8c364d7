"""FakeHub: the hub in-process, for vendors' test suites.

    hub = FakeHub()
    login = hub.register_office(identity)
    with Client(hub.url, login=login, transport=hub.transport()) as client: ...

The same core a served hub runs (`careplan_link.hub.Hub`), over a `MemoryStore` (or any store),
plus what tests need: a `VirtualClock`, fault injection decided on the transport-neutral
`HubRequest` and expressed in the `HubResponse` (so a served FakeHub runs the same faults),
one httpx transport class for `Client` and `AsyncClient`, counters, and `reset()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import math
import random
import secrets
from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any, Literal

import attrs
import httpx
from cryptography.hazmat.primitives.serialization import Encoding

from ..envelope import OfficeIdentity
from ..hub import (
    OPERATOR,
    Hub,
    HubRequest,
    HubResponse,
    HubSettings,
    HubStore,
    MemoryStore,
    hash_password,
)
from ..hub._rules import HubRules
from ..hub._store import AuditDraft, OfficeRecord
from ..protocol import Login, Message, error_body, route_of
from ._clock import VirtualClock

__all__ = ["FAULT_KINDS", "FakeHub", "FakeHubTransport", "Fault"]

FaultKind = Literal[
    "server_error",
    "rate_limit",
    "timeout",
    "drop",
    "slow",
    "business_error",
    "lost_response",
    "garbled_response",
]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "server_error",
    "rate_limit",
    "timeout",
    "drop",
    "slow",
    "business_error",
    "lost_response",
    "garbled_response",
)

# Cheap on purpose: a test suite logs in thousands of times. The hub's default is 2**14.
_TEST_PASSWORD_COST = 2**4


@attrs.frozen
class Fault:
    """A rule that makes some requests fail.

    kinds: `server_error` (HTTP `status`, 503 by default, nothing done), `rate_limit` (429 with
    `Retry-After: retry_after`, nothing done), `timeout` (no answer ever comes: the client
    times out; nothing done), `drop` (the connection closes without an answer, nothing done),
    `slow` (the request is carried out and answered after `delay` seconds; longer than the
    client's read timeout, the client times out), `business_error` (HTTP 200 with an error
    body, nothing done), `lost_response` (the request is carried out, then no answer comes),
    `garbled_response` (the request is carried out, then the answer arrives cut in half:
    unreadable JSON, or an envelope whose hash does not match).

    `rate` is the share of matching requests that fail, `operations` limits the rule to some
    operations (`send`, `inbox`, `login`… as in docs/hub-openapi.json), `times` to a number
    of failures.
    """

    kind: FaultKind
    rate: float = 1.0
    operations: frozenset[str] | None = None
    times: int | None = None
    status: int = 503
    retry_after: float = 1.0
    delay: float = 60.0


@attrs.define
class _ActiveFault:
    fault: Fault
    fired: int = 0


def _json_answer(status: int, body: bytes, **headers: str) -> HubResponse:
    return HubResponse(status, {"content-type": "application/json", **headers}, body)


class FakeHub:
    """The hub in-process, with real state, a virtual clock and fault injection.

    `store`: any `HubStore` (default: a fresh `MemoryStore`). `clock`: a `VirtualClock`
    (default: one starting now); advance it to expire tokens (60 min access, 8 h refresh) and
    messages (`retention`). `seed` makes fault injection repeatable. `rate_limit`: requests per
    office per minute (None: no limit, the default in tests).
    """

    def __init__(
        self,
        *,
        store: HubStore | None = None,
        clock: VirtualClock | None = None,
        url: str = "https://hub.careplan-link.test",
        retention: datetime.timedelta = datetime.timedelta(days=30),
        access_ttl: datetime.timedelta = datetime.timedelta(minutes=60),
        refresh_ttl: datetime.timedelta = datetime.timedelta(hours=8),
        seed: int | None = None,
        rate_limit: int | None = None,
    ) -> None:
        self.url = url
        self.clock = clock or VirtualClock(
            datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        )
        self.store: HubStore = store if store is not None else MemoryStore()
        self.hub = Hub(
            self.store,
            self.clock.now,
            settings=HubSettings(
                access_ttl=access_ttl,
                refresh_ttl=refresh_ttl,
                retention=retention,
                rate_limit=rate_limit,
                password_cost=_TEST_PASSWORD_COST,
            ),
        )
        self._seed = seed
        self._faults: list[_ActiveFault] = []
        self._random = random.Random(seed)
        self.faults_fired: Counter[str] = Counter()
        """How often each fault kind fired."""
        self.requests: Counter[str] = Counter()
        """Requests received, by operation (`unknown` for no route), faulted ones included,
        whichever way they came (in-process transport, or served)."""
        self.protocol_errors: list[str] = []
        """Requests the hub could not understand (unknown endpoint, HTTP 400/413/415): each is
        a bug in the client that sent it. The pytest plugin fails a test that leaves any."""

    @property
    def rules(self) -> HubRules:
        """The hub's rules (the same core a served hub runs)."""
        return self.hub.rules

    @property
    def settings(self) -> HubSettings:
        return self.hub.settings

    # -- set-up --------------------------------------------------------------------------------

    def register_office(
        self,
        identity: OfficeIdentity,
        *,
        service_types: Sequence[str] = (),
        user_id: str | None = None,
        password: str | None = None,
    ) -> Login:
        """Register an office and return its login. Registering it again adds a renewed
        certificate (newest first) and sets the login given now. `service_types` empty: the
        office accepts any service type."""
        login = Login(
            office_no=identity.office_no,
            user_id=user_id or f"user-{identity.office_no}",
            password=password or secrets.token_urlsafe(12),
        )
        pem = identity.certificate.public_bytes(Encoding.PEM).decode()
        known = self.store.office(identity.office_no)
        certificates: tuple[str, ...] = (pem,)
        if known is not None:
            certificates += tuple(c for c in known.certificates if c != pem)
        record = OfficeRecord(
            office_no=identity.office_no,
            user_id=login.user_id,
            password_hash=hash_password(login.password, cost=_TEST_PASSWORD_COST),
            service_types=tuple(service_types),
            certificates=certificates,
        )
        audit = AuditDraft(self.clock.now(), OPERATOR, "office_added",
                           counterpart=identity.office_no)  # fmt: skip
        if known is None:
            self.store.add_office(record, audit)
        else:
            self.store.save_office(record, attrs.evolve(audit, action="certificate_added"))
        return login

    def inject(
        self,
        kind: FaultKind,
        *,
        rate: float = 1.0,
        operations: Collection[str] | None = None,
        times: int | None = None,
        **options: float,
    ) -> Fault:
        """Add a fault rule (see `Fault`); rules are tried in the order they were added."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        fault = Fault(
            kind,
            rate=rate,
            operations=None if operations is None else frozenset(operations),
            times=times,
            **options,  # type: ignore[arg-type]
        )
        self._faults.append(_ActiveFault(fault))
        return fault

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._faults.clear()

    def reset(self) -> None:
        """Forget everything: offices, tokens, messages, audit log, faults, counters (the
        clock keeps its time). For a hub shared by several tests."""
        clear = getattr(self.store, "clear", None)
        if clear is None:
            raise TypeError(f"{type(self.store).__name__} cannot be cleared")
        clear()
        self._faults.clear()
        self._random = random.Random(self._seed)
        self.faults_fired.clear()
        self.requests.clear()
        self.protocol_errors.clear()
        self.rules.counts.clear()

    # -- state, for assertions -----------------------------------------------------------------

    def message(self, message_id: str) -> Message:
        """A message as the hub holds it (status, history)."""
        self.rules.sweep()
        message = self.store.message(message_id)
        if message is None:
            raise KeyError(message_id)
        return message

    def messages(self) -> list[Message]:
        """Every message, oldest first."""
        self.rules.sweep()
        return self.store.all_messages()

    def content(self, message_id: str) -> bytes | None:
        """The stored envelope (None once withdrawn or past retention)."""
        return self.store.content(message_id)

    @property
    def counts(self) -> Counter[str]:
        """Operations carried out, by name: login, refresh, send, send_replayed, download,
        receipt_downloaded / _imported / _rejected, withdraw."""
        return self.rules.counts

    # -- answering -----------------------------------------------------------------------------

    def handle(self, request: HubRequest) -> HubResponse:
        """Answer one request, faults included: what the in-process transport and a served
        FakeHub call. Never raises; a fault that withholds the answer says so in the
        response (`delay`, `disconnect`), and each transport carries that out."""
        found = route_of(request.method, request.path)
        operation = found[0].operation if found else "unknown"
        self.requests[operation] += 1
        fault = self._fault_for(operation)
        if fault is not None and fault.kind not in ("slow", "lost_response", "garbled_response"):
            return _fault_answer(fault)
        answer = self.hub.handle(request)
        self._note_protocol_error(request, answer, known=found is not None)
        if fault is None:
            return answer
        if fault.kind == "lost_response":
            return attrs.evolve(answer, delay=math.inf)
        if fault.kind == "slow":
            return attrs.evolve(answer, delay=fault.delay)
        return attrs.evolve(answer, body=answer.body[: len(answer.body) // 2])  # garbled

    def _note_protocol_error(self, request: HubRequest, answer: HubResponse, known: bool) -> None:
        where = f"{request.method} {request.path}"
        if not known:
            self.protocol_errors.append(f"{where}: unknown endpoint")
        elif answer.status in (400, 413, 415):
            self.protocol_errors.append(f"{where}: {answer.status} {answer.body.decode()}")

    def _fault_for(self, operation: str) -> Fault | None:
        for active in self._faults:
            fault = active.fault
            if fault.operations is not None and operation not in fault.operations:
                continue
            if fault.times is not None and active.fired >= fault.times:
                continue
            if self._random.random() < fault.rate:
                active.fired += 1
                self.faults_fired[fault.kind] += 1
                return fault
        return None

    # -- transports ----------------------------------------------------------------------------

    def transport(self) -> FakeHubTransport:
        """An httpx transport for `Client(..., transport=hub.transport())` and
        `AsyncClient(..., transport=hub.transport())` alike."""
        return FakeHubTransport(self)

    def serve(self, **options: Any) -> contextlib.AbstractContextManager[str]:
        """Serve this hub on a loopback port (uvicorn in a thread) and yield its base URL; see
        `careplan_link.testing._served.serve` for the options. Needs the `hub` extra."""
        from ._served import serve

        return serve(self, **options)

    def async_transport(self) -> FakeHubTransport:
        """The same transport as `transport()` (kept for suites written before it served
        both kinds of client)."""
        return FakeHubTransport(self)


def _fault_answer(fault: Fault) -> HubResponse:
    """The answer of a fault that stops the request before the hub carries it out."""
    if fault.kind == "server_error":
        code = "HUB_UNAVAILABLE" if fault.status == 503 else "INTERNAL_ERROR"
        return _json_answer(fault.status, error_body(code, "injected failure"))
    if fault.kind == "rate_limit":
        body = error_body("TOO_MANY_REQUESTS", "slow down")
        return _json_answer(429, body, **{"retry-after": f"{fault.retry_after:g}"})
    if fault.kind == "business_error":
        return _json_answer(200, error_body("HUB_BUSY", "the hub cannot take this now"))
    if fault.kind == "timeout":
        return HubResponse(503, {}, b"", delay=math.inf)
    return HubResponse(503, {}, b"", disconnect=True)  # drop


class FakeHubTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """FakeHub as an httpx transport, for `Client` and `AsyncClient` alike (like
    `httpx.MockTransport`). Waits run on the hub's virtual clock: a `slow` answer moves it
    forward; an answer that never comes raises `httpx.ReadTimeout` at once."""

    def __init__(self, hub: FakeHub) -> None:
        self.hub = hub

    def _answer(self, request: httpx.Request) -> tuple[HubResponse, float, bool]:
        """The hub's answer, how long to wait for it, and whether it comes at all."""
        answer = self.hub.handle(_hub_request(request))
        timeout = _read_timeout(request)
        wait = min(answer.delay, timeout) if math.isfinite(answer.delay) else 0.0
        arrives = answer.answers and answer.delay <= timeout
        return answer, wait, arrives

    def _response(
        self, request: httpx.Request, answer: HubResponse, arrives: bool
    ) -> httpx.Response:
        if answer.disconnect:
            raise httpx.RemoteProtocolError("injected: server disconnected", request=request)
        if not arrives:
            raise httpx.ReadTimeout("injected: no answer in time", request=request)
        headers = dict(answer.headers)
        headers.setdefault("content-type", "application/json")
        return httpx.Response(answer.status, headers=headers, content=answer.body)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        answer, wait, arrives = self._answer(request)
        if wait > 0:
            self.hub.clock.advance(wait)
        return self._response(request, answer, arrives)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        answer, wait, arrives = self._answer(request)
        if wait > 0:
            self.hub.clock.advance(wait)
            await asyncio.sleep(0)  # let other tasks run, as a real wait would
        return self._response(request, answer, arrives)


def _hub_request(request: httpx.Request) -> HubRequest:
    return HubRequest(
        method=request.method,
        path=request.url.raw_path.split(b"?", 1)[0].decode("ascii"),
        query=dict(request.url.params),
        headers=dict(request.headers),
        body=request.content,
    )


def _read_timeout(request: httpx.Request) -> float:
    timeout = request.extensions.get("timeout", {}).get("read")
    return math.inf if timeout is None else float(timeout)
