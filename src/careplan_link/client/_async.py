"""AsyncClient: the hub protocol over httpx.AsyncClient, for services built on asyncio.

The same flows as Client (see _core); only the loop that carries them out differs."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from ..protocol import AuditPage, DirectoryEntry, Login, Message, Page
from ._core import (
    DEFAULT_MAX_DOWNLOAD,
    AnswerTooLarge,
    AnswerTooSlow,
    Authenticate,
    Flow,
    HubSession,
    Pause,
    Transmit,
)
from ._retry import RetryPolicy
from ._sync import DEFAULT_TIMEOUT, transport_options
from ._tls import TLSIdentity

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """An asynchronous hub client, used as an async context manager.

        async with AsyncClient(url, login=login, identity=identity) as client:
            async for message in client.inbox():
                ...

    The arguments are Client's (`identity` for TLS, `max_download`, `allow_insecure_http` …);
    `transport` is an `httpx.AsyncBaseTransport` (FakeHub's `hub.async_transport()`).

    Any number of tasks may share an AsyncClient: one token renewal serves every task that
    needs it.
    """

    def __init__(
        self,
        base_url: str | httpx.URL,
        *,
        login: Login,
        identity: TLSIdentity | None = None,
        ssl_context: ssl.SSLContext | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_download: int = DEFAULT_MAX_DOWNLOAD,
        allow_insecure_http: bool = False,
    ) -> None:
        self._session = HubSession(
            base_url,
            login,
            retry or RetryPolicy(),
            max_download=max_download,
            allow_insecure_http=allow_insecure_http,
        )
        self.identity = identity
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
        key: str | None = None,
    ) -> Message:
        """Send one envelope to one office. Retried safely: the same envelope to the same
        office carries the same idempotency key, so it is stored once. Raises OutcomeUnknown
        when the hub's answer was lost every time (sending again is safe). `key`: see
        `Client.send`."""
        return await self._run(
            self._session.send(
                envelope,
                to=to,
                service_type=service_type,
                serial=serial,
                unit_kind=unit_kind,
                key=key,
            )
        )

    async def find_sent(self, idempotency_key: str) -> Message | None:
        """The outbox message the hub stored under this idempotency key, if any."""
        return await self._run(self._session.find_sent(idempotency_key))

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

    async def audit_page(self, cursor: str | None = None, *, limit: int = 100) -> AuditPage:
        """One page of the hub's audit entries about this office (what it did, and what was
        done to its messages: the receiver's downloads and receipts), oldest first; continue
        with `page.next_cursor` while `page.has_more`."""
        return await self._run(self._session.audit_page(cursor, limit))

    async def office(self, office_no: str) -> DirectoryEntry:
        """The office directory: is the office registered, its service types, and its
        encryption certificates (newest first)."""
        return await self._run(self._session.office(office_no))

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
        seen: set[str] = set()
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
            following = HubSession.next_cursor(page, cursor, seen, box)
            if following is None:
                return
            cursor = following

    async def run(self, flow: Flow[T]) -> T:
        """Carry out a flow of `session` and return its result (see `Client.run`)."""
        return await self._run(flow)

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
                    reply = await self._transmit(instruction)
                except (httpx.RequestError, AnswerTooLarge, AnswerTooSlow) as failure:
                    error = failure
            elif isinstance(instruction, Pause):
                await self._session.retry.async_sleep(instruction.seconds)
            elif isinstance(instruction, Authenticate):
                reply = await self._token(instruction.stale)

    async def _transmit(self, instruction: Transmit) -> Any:
        collector = instruction.collector(self._session.retry.clock)
        response = await self._http.send(instruction.request, stream=True)
        try:
            async for chunk in response.aiter_bytes():
                collector.feed(chunk)
        finally:
            await response.aclose()
        return collector.answer(response)

    async def _token(self, stale: str | None) -> str:
        async with self._token_lock:
            token = self._session.token_is_current(stale)
            if token is not None:
                return token  # another task renewed it while this one waited
            return await self._run(self._session.renew())
