"""AsyncClient: the hub protocol over httpx.AsyncClient, for services built on asyncio.

The same flows as Client (see _core); only the loop that carries them out differs."""

from __future__ import annotations

import asyncio
import datetime
import inspect
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx
from cryptography import x509

from ..envelope import OfficeIdentity, OpenedEnvelope, TrustStore
from ..format import Bundle
from ._core import Authenticate, Flow, HubSession, Pause, Transmit
from ._protocol import DirectoryEntry, Login, Message, Page
from ._retry import RetryPolicy
from ._sync import DEFAULT_TIMEOUT, INBOX_TO_RECEIVE, Received, transport_options

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """An asynchronous hub client, used as an async context manager.

        async with AsyncClient(url, login=login, identity=identity, trust=trust) as client:
            sent = await client.send_bundle(bundle)
            async for message in client.inbox():
                ...

    `login` is the office's login; `identity` (an OfficeIdentity) gives the TLS client
    certificate and the key `send_bundle` seals with and `receive` opens with; `trust` the CA
    certificates envelopes are checked against. `ssl_context` replaces the TLS set-up built
    from `identity` (see docs/hub-protocol.md on keys and files); `transport` replaces httpx's
    network transport (FakeHub's `hub.transport()`). `timeout` applies to every request;
    `retry` says how often and how long to wait (its clock and sleep can be virtual).

    Any number of tasks may share an AsyncClient: one token renewal serves every task that
    needs it. The arguments are Client's.
    """

    def __init__(
        self,
        base_url: str | httpx.URL,
        *,
        login: Login,
        identity: OfficeIdentity | None = None,
        trust: TrustStore | None = None,
        ssl_context: ssl.SSLContext | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._session = HubSession(base_url, login, retry or RetryPolicy())
        self.identity = identity
        self.trust = trust
        self._http = httpx.AsyncClient(
            timeout=timeout, **transport_options(identity, ssl_context, transport)
        )
        self._token_lock = asyncio.Lock()

    # -- life cycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def session(self) -> HubSession:
        """Token state and counters (logins, refreshes), for diagnostics."""
        return self._session

    # -- operations ----------------------------------------------------------------------------

    async def send(
        self,
        envelope: bytes,
        *,
        to: str,
        service_type: str,
        serial: str | None = None,
        unit_kind: str | None = None,
    ) -> Message:
        """Send one envelope to one office. Retried safely: the same envelope to the same
        office carries the same idempotency key, so it is stored once. Raises OutcomeUnknown
        when the hub's answer was lost every time (sending again is safe)."""
        return await self._run(
            self._session.send(
                envelope, to=to, service_type=service_type, serial=serial, unit_kind=unit_kind
            )
        )

    def inbox(
        self,
        *,
        status: str | Sequence[str] | None = None,
        since: datetime.datetime | None = None,
        counterpart: str | None = None,
        cursor: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Message]:
        """Every received message (oldest first), page by page, with optional filters."""
        return self._walk("inbox", status, since, counterpart, cursor, page_size)

    def outbox(
        self,
        *,
        status: str | Sequence[str] | None = None,
        since: datetime.datetime | None = None,
        counterpart: str | None = None,
        cursor: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Message]:
        """Every sent message (oldest first), page by page, with optional filters."""
        return self._walk("outbox", status, since, counterpart, cursor, page_size)

    async def inbox_page(
        self,
        cursor: str | None = None,
        *,
        limit: int = 100,
        status: str | Sequence[str] | None = None,
        since: datetime.datetime | None = None,
        counterpart: str | None = None,
    ) -> Page:
        """One page of the inbox after `cursor`; keep `page.next_cursor` to continue later."""
        return await self._run(
            self._session.list_page(
                "inbox",
                cursor=cursor,
                limit=limit,
                status=status,
                since=since,
                counterpart=counterpart,
            )
        )

    async def outbox_page(
        self,
        cursor: str | None = None,
        *,
        limit: int = 100,
        status: str | Sequence[str] | None = None,
        since: datetime.datetime | None = None,
        counterpart: str | None = None,
    ) -> Page:
        """One page of the outbox after `cursor`."""
        return await self._run(
            self._session.list_page(
                "outbox",
                cursor=cursor,
                limit=limit,
                status=status,
                since=since,
                counterpart=counterpart,
            )
        )

    async def message(self, message_id: str) -> Message:
        """A message's metadata, status and history."""
        return await self._run(self._session.message(message_id))

    async def download(self, message_id: str) -> bytes:
        """The envelope bytes. Downloading changes no status; acknowledge does."""
        return await self._run(self._session.download(message_id))

    async def acknowledge(
        self, message_id: str, receipt: str, reasons: Sequence[str] = ()
    ) -> Message:
        """Send a receipt: `downloaded`, `imported` or `rejected` (with reasons). Repeating a
        receipt changes nothing."""
        return await self._run(self._session.acknowledge(message_id, receipt, reasons))

    async def withdraw(self, message_id: str) -> Message:
        """Withdraw a sent message; possible only before the receiver downloaded it."""
        return await self._run(self._session.withdraw(message_id))

    async def office(self, office_no: str) -> DirectoryEntry:
        """The office directory: is the office registered, its service types, and its
        encryption certificates (newest first)."""
        return await self._run(self._session.office(office_no))

    async def send_bundle(
        self,
        bundle: Bundle,
        *,
        to: Sequence[x509.Certificate] | None = None,
        check: bool = True,
    ) -> Message:
        """Validate → seal → send one transmission unit to its receiver office.

        Raises InvalidBundle (with the validation report) when the files do not validate.
        `to` overrides the receiver's certificates, which are otherwise taken from the office
        directory (all of them during a renewal)."""
        return await self._run(
            self._session.send_bundle(bundle, identity=self.identity, to=to, check=check)
        )

    async def receive(
        self,
        handler: Callable[[OpenedEnvelope, Message], object],
        *,
        check: bool = True,
    ) -> list[Received]:
        """Take in every delivered message: download → `downloaded` receipt → open → validate →
        `handler(opened, message)` with the files in import order → `imported` receipt.

        An envelope that does not open or whose files do not validate is acknowledged
        `rejected` with the reasons, and the handler is not called. The handler may be a
        coroutine function. When the handler raises,
        the message stays `downloaded` (it is offered again next time) and the error
        propagates.
        """
        done = []
        async for message in self.inbox(status=INBOX_TO_RECEIVE):
            prepared = await self._run(
                self._session.prepare(
                    message, identity=self.identity, trust=self.trust, check=check
                )
            )
            if prepared.reasons:
                final = await self.acknowledge(message.id, "rejected", prepared.reasons)
            else:
                assert prepared.opened is not None
                result = handler(prepared.opened, prepared.message)
                if inspect.isawaitable(result):
                    await result
                final = await self.acknowledge(message.id, "imported")
            done.append(Received(final, prepared.opened, prepared.reasons))
        return done

    # -- the driver ----------------------------------------------------------------------------

    async def _walk(
        self,
        box: str,
        status: str | Sequence[str] | None,
        since: datetime.datetime | None,
        counterpart: str | None,
        cursor: str | None,
        page_size: int,
    ) -> AsyncIterator[Message]:
        while True:
            page = await self._run(
                self._session.list_page(
                    box,
                    cursor=cursor,
                    limit=page_size,
                    status=status,
                    since=since,
                    counterpart=counterpart,
                )
            )
            for message in page.messages:
                yield message
            if not page.has_more:
                return
            cursor = page.next_cursor

    async def _run(self, flow: Flow[T]) -> T:
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                instruction = flow.send(reply) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            reply, error = None, None
            if isinstance(instruction, Transmit):
                try:
                    reply = await self._http.send(instruction.request)
                except httpx.TransportError as failure:
                    error = failure
            elif isinstance(instruction, Pause):
                await self._session.retry.async_sleep(instruction.seconds)
            elif isinstance(instruction, Authenticate):
                reply = await self._token(instruction.stale)

    async def _token(self, stale: str | None) -> str:
        async with self._token_lock:
            token = self._session.token_is_current(stale)
            if token is not None:
                return token  # another task renewed it while this one waited
            return await self._run(self._session.renew())
