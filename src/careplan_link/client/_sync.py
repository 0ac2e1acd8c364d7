"""Client: the hub protocol over httpx.Client, for desktop software and scripts."""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator, Sequence
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
from ._tls import TLSIdentity, client_ssl_context

__all__ = ["DEFAULT_TIMEOUT", "Client", "transport_options"]

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
"""Every request has a timeout: 10 s to connect, 30 s for each read, write and pool wait (and
every call an overall deadline, `RetryPolicy.deadline`)."""


def transport_options(
    identity: TLSIdentity | None,
    ssl_context: ssl.SSLContext | None,
    transport: object | None,
) -> dict[str, Any]:
    """httpx options for TLS: the caller's context, else one presenting the identity's
    certificate. Nothing is built for an injected transport (it does its own I/O)."""
    if transport is not None:
        return {"transport": transport}
    if ssl_context is not None:
        return {"verify": ssl_context}
    if identity is not None:
        return {"verify": client_ssl_context(identity)}
    return {}


class Client:
    """A synchronous hub client, used as a context manager.

        with Client(url, login=login, identity=identity) as client:
            message = client.send(envelope, to="1370200022", service_type="15")

    `login` is the office's login; `identity` (an OfficeIdentity, or anything with its
    `private_key_pem` and `certificate_pem`) gives the TLS client certificate. The client only
    moves envelopes: preparing, sealing, opening and validating units is the office layer's
    (`careplan_link.office.Workflow`, which runs over a Client).
    `ssl_context` replaces the TLS set-up built from `identity` (see docs/hub-protocol.md on
    keys and files); `transport` replaces httpx's network transport (FakeHub's
    `hub.transport()`). `timeout` applies to every request; `retry` says how often and how
    long to wait, and the deadline of every call (its clock and sleep can be virtual).
    `max_download` bounds an envelope download in bytes. A plain `http://` URL is refused
    except to this machine, unless `allow_insecure_http=True`.

    A Client may be shared by threads: one token renewal serves every thread that needs it.
    """

    def __init__(
        self,
        base_url: str | httpx.URL,
        *,
        login: Login,
        identity: TLSIdentity | None = None,
        ssl_context: ssl.SSLContext | None = None,
        transport: httpx.BaseTransport | None = None,
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
        self._http = httpx.Client(
            timeout=timeout, **transport_options(identity, ssl_context, transport)
        )
        self._token_lock = threading.Lock()

    # -- life cycle ----------------------------------------------------------------------------

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def session(self) -> HubSession:
        """Token state and counters (logins, refreshes), for diagnostics."""
        return self._session

    # -- operations ----------------------------------------------------------------------------

    def send(
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
        when the hub's answer was lost every time (sending the same bytes again is safe). `key`
        replaces the envelope-derived idempotency key (the office layer keys a unit on its
        files, `protocol.unit_idempotency_key`, so that a unit sealed again is still one)."""
        return self._run(
            self._session.send(
                envelope,
                to=to,
                service_type=service_type,
                serial=serial,
                unit_kind=unit_kind,
                key=key,
            )
        )

    def find_sent(self, idempotency_key: str) -> Message | None:
        """The outbox message the hub stored under this idempotency key, if any."""
        return self._run(self._session.find_sent(idempotency_key))

    def inbox(
        self,
        *,
        status: str | Sequence[str] | None = None,
        since: datetime.datetime | None = None,
        counterpart: str | None = None,
        cursor: str | None = None,
        page_size: int = 100,
    ) -> Iterator[Message]:
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
    ) -> Iterator[Message]:
        """Every sent message (oldest first), page by page, with optional filters."""
        return self._walk("outbox", status, since, counterpart, cursor, page_size)

    def inbox_page(
        self,
        cursor: str | None = None,
        *,
        limit: int = 100,
        status: str | Sequence[str] | None = None,
        since: datetime.datetime | None = None,
        counterpart: str | None = None,
    ) -> Page:
        """One page of the inbox after `cursor`; keep `page.next_cursor` to continue later."""
        return self._run(
            self._session.list_page(
                "inbox",
                cursor=cursor,
                limit=limit,
                status=status,
                since=since,
                counterpart=counterpart,
            )
        )

    def outbox_page(
        self,
        cursor: str | None = None,
        *,
        limit: int = 100,
        status: str | Sequence[str] | None = None,
        since: datetime.datetime | None = None,
        counterpart: str | None = None,
    ) -> Page:
        """One page of the outbox after `cursor`."""
        return self._run(
            self._session.list_page(
                "outbox",
                cursor=cursor,
                limit=limit,
                status=status,
                since=since,
                counterpart=counterpart,
            )
        )

    def message(self, message_id: str) -> Message:
        """A message's metadata, status and history."""
        return self._run(self._session.message(message_id))

    def download(self, message_id: str) -> bytes:
        """The envelope bytes. Downloading changes no status; acknowledge does."""
        return self._run(self._session.download(message_id))

    def acknowledge(self, message_id: str, receipt: str, reasons: Sequence[str] = ()) -> Message:
        """Send a receipt: `downloaded`, `imported` or `rejected` (with reasons). Repeating a
        receipt changes nothing."""
        return self._run(self._session.acknowledge(message_id, receipt, reasons))

    def withdraw(self, message_id: str) -> Message:
        """Withdraw a sent message; possible only before the receiver downloaded it."""
        return self._run(self._session.withdraw(message_id))

    def audit_page(self, cursor: str | None = None, *, limit: int = 100) -> AuditPage:
        """One page of the hub's audit entries about this office (what it did, and what was
        done to its messages: the receiver's downloads and receipts), oldest first; continue
        with `page.next_cursor` while `page.has_more`."""
        return self._run(self._session.audit_page(cursor, limit))

    def office(self, office_no: str) -> DirectoryEntry:
        """The office directory: is the office registered, its service types, and its
        encryption certificates (newest first)."""
        return self._run(self._session.office(office_no))

    # -- the driver ----------------------------------------------------------------------------

    def _walk(
        self,
        box: str,
        status: str | Sequence[str] | None,
        since: datetime.datetime | None,
        counterpart: str | None,
        cursor: str | None,
        page_size: int,
    ) -> Iterator[Message]:
        seen: set[str] = set()
        while True:
            page = self._run(
                self._session.list_page(
                    box,
                    cursor=cursor,
                    limit=page_size,
                    status=status,
                    since=since,
                    counterpart=counterpart,
                )
            )
            yield from page.messages
            following = HubSession.next_cursor(page, cursor, seen, box)
            if following is None:
                return
            cursor = following

    def run(self, flow: Flow[T]) -> T:
        """Carry out a flow of `session` (`HubSession`: send, list_page, download_answer,
        acknowledge, find_sent …) and return its result: how the office layer runs the
        client's hardened calls inside its own workflow."""
        return self._run(flow)

    def _run(self, flow: Flow[T]) -> T:
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
                    reply = self._transmit(instruction)
                except (httpx.RequestError, AnswerTooLarge, AnswerTooSlow) as failure:
                    error = failure
            elif isinstance(instruction, Pause):
                self._session.retry.sleep(instruction.seconds)
            elif isinstance(instruction, Authenticate):
                reply = self._token(instruction.stale)

    def _transmit(self, instruction: Transmit) -> Any:
        collector = instruction.collector(self._session.retry.clock)
        response = self._http.send(instruction.request, stream=True)
        try:
            for chunk in response.iter_bytes():
                collector.feed(chunk)
        finally:
            response.close()
        return collector.answer(response)

    def _token(self, stale: str | None) -> str:
        with self._token_lock:
            token = self._session.token_is_current(stale)
            if token is not None:
                return token  # another thread renewed it while this one waited
            return self._run(self._session.renew())
