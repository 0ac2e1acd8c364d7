"""FakeHub: the whole hub protocol in-process, for vendors' test suites.

    hub = FakeHub()
    login = hub.register_office(identity)
    with Client(hub.url, login=login, transport=hub.transport()) as client: ...

State lives in a store (`MemoryStore`, or `SqliteStore`), rules in `_hub_model`, HTTP in
`_hub_http`; this module adds the httpx transports (no socket: `hub.transport()` for Client,
`hub.async_transport()` for AsyncClient), the controllable clock, and fault injection.
"""

from __future__ import annotations

import datetime
import random
import secrets
from collections import Counter
from collections.abc import Collection, Sequence
from typing import Literal

import attrs
import httpx
from cryptography.hazmat.primitives.serialization import Encoding

from ..client._protocol import Login, Message, error_body
from ..envelope import OfficeIdentity
from ._clock import VirtualClock
from ._hub_http import HubRequest, HubResponse, handle, route_of
from ._hub_model import HubModel
from ._hub_store import HubStore, MemoryStore

__all__ = ["FAULT_KINDS", "FakeHub", "Fault"]

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


@attrs.frozen
class Fault:
    """A rule that makes some requests fail.

    kinds: `server_error` (HTTP `status`, 503 by default, nothing done), `rate_limit` (429 with
    `Retry-After: retry_after`, nothing done), `timeout` (httpx.ReadTimeout, nothing done),
    `drop` (the connection closes: httpx.RemoteProtocolError, nothing done), `slow` (the answer
    takes `delay` seconds of the hub's clock; longer than the client's read timeout, the request
    is carried out and the client gets httpx.ReadTimeout), `business_error` (HTTP 200 with an
    error body, nothing done), `lost_response` (the request is carried out, then the answer is
    lost: httpx.ReadTimeout), `garbled_response` (the request is carried out, then the answer
    arrives cut in half: unreadable JSON, or an envelope whose hash does not match).

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


class FakeHub:
    """An in-process hub with real state, a virtual clock and fault injection.

    `store`: a `MemoryStore` (default) or `SqliteStore`. `clock`: a `VirtualClock` (default:
    one starting now); advance it to expire tokens (60 min access, 8 h refresh) and messages
    (`retention`). `seed` makes fault injection repeatable.
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
    ) -> None:
        self.url = url
        self.clock = clock or VirtualClock(
            datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        )
        self.store: HubStore = store if store is not None else MemoryStore()
        self.model = HubModel(
            self.store,
            self.clock.now,
            access_ttl=access_ttl,
            refresh_ttl=refresh_ttl,
            retention=retention,
        )
        self._faults: list[_ActiveFault] = []
        self._random = random.Random(seed)
        self.faults_fired: Counter[str] = Counter()
        """How often each fault kind fired."""
        self.requests: Counter[str] = Counter()
        """Requests received, by operation (faulted ones included)."""
        self.protocol_errors: list[str] = []
        """Requests the hub could not understand (unknown endpoint, HTTP 400/415): each is a
        bug in the client that sent it. The pytest plugin fails a test that leaves any."""

    # -- set-up --------------------------------------------------------------------------------

    def register_office(
        self,
        identity: OfficeIdentity,
        *,
        service_types: Sequence[str] = (),
        user_id: str | None = None,
        password: str | None = None,
    ) -> Login:
        """Register an office (again, to add a renewed certificate: newest first) and return
        its login. `service_types` empty: the office accepts any service type."""
        login = Login(
            office_no=identity.office_no,
            user_id=user_id or f"user-{identity.office_no}",
            password=password or secrets.token_urlsafe(12),
        )
        pem = identity.certificate.public_bytes(Encoding.PEM).decode()
        self.model.register(
            identity.office_no,
            pem,
            service_types=service_types,
            user_id=login.user_id,
            password=login.password,
        )
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
        self._faults.clear()

    # -- state, for assertions -----------------------------------------------------------------

    def message(self, message_id: str) -> Message:
        """A message as the hub holds it (status, history)."""
        self.model.sweep()
        message = self.store.message(message_id)
        if message is None:
            raise KeyError(message_id)
        return message

    def messages(self) -> list[Message]:
        """Every message, oldest first."""
        self.model.sweep()
        return self.store.all_messages()

    def content(self, message_id: str) -> bytes | None:
        """The stored envelope (None once withdrawn or past retention)."""
        return self.store.content(message_id)

    @property
    def counts(self) -> Counter[str]:
        """Operations carried out, by name: login, refresh, send, send_replayed, download,
        receipt_downloaded / _imported / _rejected, withdraw."""
        return self.model.counts

    # -- transports ----------------------------------------------------------------------------

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport for `Client(..., transport=hub.transport())`."""
        return _SyncTransport(self)

    def async_transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport for `AsyncClient(..., transport=hub.async_transport())`."""
        return _AsyncTransport(self)

    def handle(self, request: HubRequest) -> HubResponse:
        """Answer one request, faults aside (what any server in front of the hub calls)."""
        response = handle(self.model, request)
        if response.status in (400, 404, 415) and route_of(request.method, request.path) is None:
            self.protocol_errors.append(f"{request.method} {request.path}: unknown endpoint")
        elif response.status in (400, 415):
            self.protocol_errors.append(
                f"{request.method} {request.path}: {response.status} {response.body.decode()}"
            )
        return response

    def _fault_for(self, request: httpx.Request) -> Fault | None:
        found = route_of(request.method, request.url.path)
        operation = found[0].operation if found else "unknown"
        self.requests[operation] += 1
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

    def _before(self, request: httpx.Request, fault: Fault | None) -> httpx.Response | None:
        """The answer a fault gives instead of the hub's, or None to carry on."""
        if fault is None or fault.kind in ("slow", "lost_response", "garbled_response"):
            return None
        if fault.kind == "server_error":
            return _response(fault.status, error_body("HUB_FAILURE", "injected failure"), {})
        if fault.kind == "rate_limit":
            body = error_body("TOO_MANY_REQUESTS", "slow down")
            return _response(429, body, {"retry-after": f"{fault.retry_after:g}"})
        if fault.kind == "business_error":
            return _response(200, error_body("HUB_BUSY", "the hub cannot take this now"), {})
        if fault.kind == "timeout":
            raise httpx.ReadTimeout("injected: no answer in time", request=request)
        raise httpx.RemoteProtocolError("injected: server disconnected", request=request)

    def _after(
        self, request: httpx.Request, fault: Fault | None, answer: HubResponse
    ) -> httpx.Response:
        if fault is not None and fault.kind == "lost_response":
            raise httpx.ReadTimeout("injected: the answer was lost", request=request)
        if fault is not None and fault.kind == "slow" and fault.delay > _read_timeout(request):
            raise httpx.ReadTimeout("injected: the answer came too late", request=request)
        if fault is not None and fault.kind == "garbled_response":
            return _response(
                answer.status, answer.body[: len(answer.body) // 2], dict(answer.headers)
            )
        return _response(answer.status, answer.body, dict(answer.headers))


def _hub_request(request: httpx.Request) -> HubRequest:
    return HubRequest(
        method=request.method,
        path=request.url.path,
        query=dict(request.url.params),
        headers={name.lower(): value for name, value in request.headers.items()},
        body=request.content,
    )


def _response(status: int, body: bytes, headers: dict[str, str]) -> httpx.Response:
    headers.setdefault("content-type", "application/json")
    return httpx.Response(status, headers=headers, content=body)


def _read_timeout(request: httpx.Request) -> float:
    timeout = request.extensions.get("timeout", {}).get("read")
    return float("inf") if timeout is None else float(timeout)


class _SyncTransport(httpx.BaseTransport):
    def __init__(self, hub: FakeHub) -> None:
        self._hub = hub

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        hub = self._hub
        fault = hub._fault_for(request)
        early = hub._before(request, fault)
        if early is not None:
            return early
        if fault is not None and fault.kind == "slow":
            hub.clock.sleep(min(fault.delay, _read_timeout(request)))
        return hub._after(request, fault, hub.handle(_hub_request(request)))


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, hub: FakeHub) -> None:
        self._hub = hub

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        hub = self._hub
        fault = hub._fault_for(request)
        early = hub._before(request, fault)
        if early is not None:
            return early
        if fault is not None and fault.kind == "slow":
            await hub.clock.async_sleep(min(fault.delay, _read_timeout(request)))
        return hub._after(request, fault, hub.handle(_hub_request(request)))
