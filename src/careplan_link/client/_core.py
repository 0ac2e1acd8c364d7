"""The client's behaviour, written once and free of I/O.

Every operation is a generator (a *flow*) that yields instructions and is sent their results:

    Transmit(request, limit, deadline)
                        → the driver sends the httpx.Request, streams the answer into the
                          instruction's `BodyCollector` (at most `limit` bytes, until
                          `deadline`) and sends back the `Answer`; or throws the
                          httpx.RequestError / `AnswerTooLarge` / `AnswerTooSlow` into the flow
    Pause(seconds)      → the driver sleeps (the retry policy's sleep or async_sleep)
    Authenticate(stale) → the driver makes sure a fresh access token exists, renewing it at
                          most once however many calls ask at the same time (its lock), and
                          sends back the token
`Client` and `AsyncClient` are short loops that carry these out (httpx's `Auth.auth_flow` has
the same shape). Retries, backoff, deadlines, token handling, idempotency, the outbox check
after an unknown outcome all live here. The office layer (`careplan_link.office`) runs these
flows through `Client.run` / `AsyncClient.run` inside its own workflow; the client itself knows
neither CSV files nor keys.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import logging
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar

import attrs
import httpx

from .. import protocol
from ..errors import (
    AuthenticationError,
    HubError,
    HubProtocolError,
    HubTransportError,
    OutcomeUnknown,
)
from ..protocol import RECEIPTS, DirectoryEntry, Login, Message, Page
from ._retry import RetryPolicy

__all__ = [
    "DEFAULT_MAX_DOWNLOAD",
    "MAX_DOCUMENT",
    "Answer",
    "AnswerTooLarge",
    "AnswerTooSlow",
    "Authenticate",
    "BodyCollector",
    "Flow",
    "HubSession",
    "Pause",
    "Transmit",
    "check_base_url",
]

T = TypeVar("T")

log = logging.getLogger("careplan_link.client")

DEFAULT_MAX_DOWNLOAD = 256 * 1024 * 1024
"""The largest envelope a client downloads (bytes): twice the payload limit of the envelope's
default `Limits` is far beyond any unit of the standard, and still bounds memory."""
MAX_DOCUMENT = 16 * 1024 * 1024
"""The largest JSON answer a client reads (a listing page of 500 messages is well under 1 MB)."""
_NO_DEADLINE = datetime.datetime.max.replace(tzinfo=datetime.UTC)

# Errors before the request left: the hub cannot have acted on it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)

# -- instructions ------------------------------------------------------------------------------


class AnswerTooLarge(Exception):
    """Thrown into a flow: the answer exceeded the instruction's limit (never retried)."""


class AnswerTooSlow(Exception):
    """Thrown into a flow: the call's deadline passed while the answer was still arriving."""


@attrs.frozen
class Answer:
    """An HTTP answer read in full, within its limit and deadline, and its body's SHA-256."""

    status_code: int
    headers: httpx.Headers
    content: bytes = attrs.field(repr=lambda c: f"<{len(c)} bytes>")
    sha256: str
    request: httpx.Request


class BodyCollector:
    """Reads an answer's body chunk by chunk into memory and a hash: refuses more than `limit`
    bytes (without reading the rest) and a body still arriving after `deadline`."""

    def __init__(
        self, limit: int, deadline: datetime.datetime, clock: Callable[[], datetime.datetime]
    ) -> None:
        self._limit = limit
        self._deadline = deadline
        self._clock = clock
        self._parts: list[bytes] = []
        self._size = 0
        self._hash = hashlib.sha256()

    def feed(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._limit:
            raise AnswerTooLarge(f"the answer is larger than the limit of {self._limit} bytes")
        self._check_deadline()
        self._hash.update(chunk)
        self._parts.append(chunk)

    def answer(self, response: httpx.Response) -> Answer:
        self._check_deadline()
        return Answer(
            response.status_code,
            response.headers,
            b"".join(self._parts),
            self._hash.hexdigest(),
            response.request,
        )

    def _check_deadline(self) -> None:
        if self._clock() > self._deadline:
            raise AnswerTooSlow("the call's deadline passed while its answer was arriving")


@attrs.frozen
class Transmit:
    request: httpx.Request
    limit: int = MAX_DOCUMENT
    deadline: datetime.datetime = _NO_DEADLINE

    def collector(self, clock: Callable[[], datetime.datetime]) -> BodyCollector:
        return BodyCollector(self.limit, self.deadline, clock)


@attrs.frozen
class Pause:
    seconds: float


@attrs.frozen
class Authenticate:
    stale: str | None
    """The token the flow found unusable (None: it had none)."""


Instruction = Transmit | Pause | Authenticate
Flow = Generator[Instruction, Any, T]


def check_base_url(base_url: str | httpx.URL, *, allow_insecure_http: bool) -> None:
    """Refuse a hub address a login and a password must not go to: anything but https, and
    plain http except to this machine (a served FakeHub) unless the caller insists."""
    url = httpx.URL(str(base_url))
    if url.scheme == "https":
        return
    if url.scheme != "http":
        raise ValueError(
            f"連携基盤のURLは https:// で始まります / the hub's URL must start with https://, "
            f"not {url.scheme or 'nothing'}://"
        )
    if allow_insecure_http or _is_loopback(url.host):
        return
    raise ValueError(
        f"暗号化されない http:// でログイン情報を送ることはできません ({url.host}) / refusing "
        f"to send a login over plain http:// to {url.host}; use https://, or pass "
        "allow_insecure_http=True if this network is protected otherwise"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _named(operation: str, flow: Flow[T]) -> Flow[T]:
    """Run `flow`, naming `operation` on any HubError that does not name one yet."""
    try:
        return (yield from flow)
    except HubError as error:
        if error.operation is None:
            error.operation = operation
        raise


class HubSession:
    """What a client's calls share: the hub's address, the login, the tokens, the policy."""

    def __init__(
        self,
        base_url: str | httpx.URL,
        login: Login,
        retry: RetryPolicy,
        *,
        refresh_margin: datetime.timedelta = datetime.timedelta(minutes=5),
        max_download: int = DEFAULT_MAX_DOWNLOAD,
        allow_insecure_http: bool = False,
    ) -> None:
        check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        if max_download < 1:
            raise ValueError("max_download is a positive number of bytes")
        self.base_url = str(base_url).rstrip("/")
        self.login = login
        self.retry = retry
        self.refresh_margin = refresh_margin
        self.max_download = max_download
        self.tokens: protocol.Tokens | None = None
        self.logins = 0
        self.refreshes = 0

    def url(self, path: str) -> str:
        """The URL of a path of the route table (`protocol.path`)."""
        return f"{self.base_url}{path}"

    # -- tokens --------------------------------------------------------------------------------

    def usable_token(self) -> str | None:
        """The access token, unless it expires within the refresh margin (proactive refresh)."""
        tokens = self.tokens
        if tokens is None or tokens.access_expires_at - self.refresh_margin <= self.retry.clock():
            return None
        return tokens.access_token

    def token_is_current(self, stale: str | None) -> str | None:
        """The token to use after an Authenticate(stale), if no renewal is needed."""
        token = self.usable_token()
        return token if token is not None and token != stale else None

    def renew(self) -> Flow[str]:
        """Refresh the tokens (the refresh token is single-use), or log in afresh when there is
        no usable refresh token or the hub refuses it. Run by the driver under its lock."""
        return _named("login", self._renew())

    def _renew(self) -> Flow[str]:
        tokens = self.tokens
        if tokens is not None and tokens.refresh_expires_at > self.retry.clock():
            body = {"refresh_token": tokens.refresh_token}
            try:
                answer = yield from self._attempts(
                    lambda _: self._json_request("POST", protocol.path("refresh"), body),
                    operation="refresh",
                    authenticated=False,
                )
                self.tokens = protocol.decode_tokens(answer)
                self.refreshes += 1
                return self.tokens.access_token
            except (AuthenticationError, HubProtocolError):
                pass  # refused, used, or an unreadable answer: log in again
        self.tokens = None
        answer = yield from self._attempts(
            lambda _: self._json_request("POST", protocol.path("login"), self.login.to_json()),
            operation="login",
            authenticated=False,
        )
        self.tokens = protocol.decode_tokens(answer)
        self.logins += 1
        return self.tokens.access_token

    # -- one call, with retries ----------------------------------------------------------------

    def _json_request(
        self, method: str, path: str, body: object, token: str | None = None
    ) -> httpx.Request:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.Request(method, self.url(path), json=body, headers=headers)

    def _attempts(
        self,
        build: Callable[[str | None], httpx.Request],
        *,
        operation: str,
        authenticated: bool = True,
        changes_state: bool = False,
        recover: Callable[[], Flow[Message | None]] | None = None,
        limit: int = MAX_DOCUMENT,
        accept: Callable[[Answer], HubError | None] | None = None,
    ) -> Flow[Any]:
        """Send `build(token)` until an answer that is not worth retrying, as the policy says,
        within the policy's deadline for the whole call.

        Returns the Answer (error statuses included: the caller reads them), or what `recover`
        found. `changes_state`: a lost answer leaves the outcome unknown; before the next try
        `recover` (when given) looks for the result on the hub. `accept` judges a 1xx–3xx
        answer: an error it returns is retried like a 503.
        """
        policy = self.retry
        deadline = policy.clock() + datetime.timedelta(seconds=policy.deadline)
        unknown = False
        renewed = False
        retries = 0
        while True:
            wait: float | None = None
            failure: HubError | None = None
            if unknown and recover is not None:
                try:
                    found = yield from recover()
                except HubError as error:
                    failure = error  # the check failed too: still unknown, try again later
                else:
                    if found is not None:
                        return found
            if failure is None:
                failure, wait, unknown, answer = yield from self._attempt(
                    build,
                    authenticated=authenticated,
                    changes_state=changes_state,
                    known=unknown,
                    operation=operation,
                    limit=limit,
                    deadline=deadline,
                    accept=accept,
                )
                if answer is not None:
                    if answer.status_code == 401 and authenticated and not renewed:
                        renewed = True  # the hub dropped the token early: renew once, at once
                        yield Authenticate(_token_of(answer.request))
                        continue
                    return answer
            assert failure is not None
            if retries + 1 >= policy.attempts:
                raise _final(failure, operation, unknown)
            pause = policy.delay(retries, wait)
            if policy.clock() + datetime.timedelta(seconds=pause) >= deadline:
                raise _final(failure, operation, unknown, f"deadline of {policy.deadline:g} s")
            yield Pause(pause)
            retries += 1

    def _attempt(
        self,
        build: Callable[[str | None], httpx.Request],
        *,
        authenticated: bool,
        changes_state: bool,
        known: bool,
        operation: str,
        limit: int,
        deadline: datetime.datetime,
        accept: Callable[[Answer], HubError | None] | None,
    ) -> Flow[tuple[HubError | None, float | None, bool, Answer | None]]:
        """One try: (failure, wait, unknown, answer); answer None when it failed."""
        token = None
        if authenticated:
            token = self.usable_token()
            if token is None:
                token = yield Authenticate(None)
        try:
            answer: Answer = yield Transmit(build(token), limit, deadline)
        except AnswerTooLarge as error:
            raise HubProtocolError(f"{operation}: {error}") from None
        except (httpx.RequestError, AnswerTooSlow) as error:
            lost = changes_state and not isinstance(error, _NOT_SENT)
            kind = OutcomeUnknown if lost else HubTransportError
            failure: HubError = kind(f"{operation}: no answer from the hub ({error!r})")
            failure.__cause__ = error
            return failure, None, known or lost, None
        status = answer.status_code
        if status == 401:
            return None, None, known, answer
        if status in self.retry.retry_statuses:
            unknown = known or (changes_state and status >= 500)
            return protocol.http_error(answer), protocol.retry_after(answer), unknown, None
        if accept is not None and status < 400:
            problem = accept(answer)
            if problem is not None:
                return problem, None, known, None
        return None, None, known, answer

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
    ) -> Flow[Message]:
        """Send one envelope; `key` defaults to `idempotency_key(envelope, to, service_type)`."""
        return _named("send", self._send(envelope, to, service_type, serial, unit_kind, key))

    def _send(
        self,
        envelope: bytes,
        to: str,
        service_type: str,
        serial: str | None,
        unit_kind: str | None,
        key: str | None,
    ) -> Flow[Message]:
        key = key or protocol.idempotency_key(envelope, to, service_type)
        params = {"to": to, "service_type": service_type}
        if serial is not None:
            params["serial"] = serial
        if unit_kind is not None:
            params["unit_kind"] = unit_kind

        def build(token: str | None) -> httpx.Request:
            return httpx.Request(
                "POST",
                self.url(protocol.path("send")),
                params=params,
                content=envelope,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": protocol.ENVELOPE_MEDIA_TYPE,
                    protocol.IDEMPOTENCY_HEADER: key,
                },
            )

        try:
            answer = yield from self._attempts(
                build,
                operation="send",
                changes_state=True,
                recover=lambda: self.find_sent(key),
            )
        except OutcomeUnknown as unknown:
            unknown.idempotency_key = key
            raise
        if isinstance(answer, Message):
            return answer
        return protocol.decode_message(answer)

    def find_sent(self, idempotency_key: str) -> Flow[Message | None]:
        """The message the hub stored for this idempotency key, if any (the outbox check)."""
        page = yield from self.list_page(
            "outbox", cursor=None, limit=1, idempotency_key=idempotency_key
        )
        return page.messages[0] if page.messages else None

    def list_page(
        self,
        box: str,
        *,
        cursor: str | None,
        limit: int = 100,
        status: str | Sequence[str] | None = None,
        since: datetime.datetime | None = None,
        counterpart: str | None = None,
        idempotency_key: str | None = None,
    ) -> Flow[Page]:
        params = protocol.listing_params(
            cursor=cursor,
            limit=limit,
            status=status,
            since=since,
            counterpart=counterpart,
            idempotency=idempotency_key,
        )
        return _named(box, self._decoded(protocol.path(box), box, protocol.decode_page, params))

    def message(self, message_id: str) -> Flow[Message]:
        return _named(
            "message",
            self._decoded(
                protocol.path("message", message_id=message_id), "message", protocol.decode_message
            ),
        )

    def download(self, message_id: str) -> Flow[bytes]:
        return _named("download", self._download(message_id))

    def _download(self, message_id: str) -> Flow[bytes]:
        answer = yield from self.download_answer(message_id)
        return answer.content

    def download_answer(self, message_id: str) -> Flow[Answer]:
        """The envelope answer, checked to be the hub's (status, type, hash header): anything
        else is retried and ends as HubProtocolError, never as content."""

        def build(token: str | None) -> httpx.Request:
            headers = {"Authorization": f"Bearer {token}"}
            return httpx.Request(
                "GET", self.url(protocol.path("download", message_id=message_id)), headers=headers
            )

        answer: Answer = yield from self._attempts(
            build,
            operation="download",
            limit=self.max_download,
            accept=lambda a: protocol.check_envelope_answer(a, a.sha256),
        )
        protocol.decode_envelope(answer, answer.sha256)
        return answer

    def acknowledge(
        self, message_id: str, receipt: str, reasons: Sequence[str] = ()
    ) -> Flow[Message]:
        if receipt not in RECEIPTS:
            raise ValueError(f"a receipt is downloaded, imported or rejected, not {receipt!r}")
        body = {"receipt": receipt, "reasons": [*reasons]}
        # Receipts are idempotent on the hub: retrying after a lost answer is harmless.
        return _named(
            "acknowledge",
            self._posted(protocol.path("receipt", message_id=message_id), body, "acknowledge"),
        )

    def withdraw(self, message_id: str) -> Flow[Message]:
        return _named(
            "withdraw",
            self._posted(protocol.path("withdraw", message_id=message_id), {}, "withdraw"),
        )

    def office(self, office_no: str) -> Flow[DirectoryEntry]:
        return _named(
            "office",
            self._decoded(
                protocol.path("office", office_no=office_no), "office", protocol.decode_office
            ),
        )

    def audit_page(self, cursor: str | None, limit: int = 100) -> Flow[protocol.AuditPage]:
        """One page of the office's own audit entries after `cursor` (GET /v1/audit)."""
        params = {"limit": str(limit)}
        if cursor is not None:
            params["cursor"] = cursor
        return _named(
            "audit",
            self._decoded(protocol.path("audit"), "audit", protocol.decode_audit_page, params),
        )

    def _posted(self, path: str, body: object, operation: str) -> Flow[Message]:
        answer = yield from self._attempts(
            lambda token: self._json_request("POST", path, body, token), operation=operation
        )
        return protocol.decode_message(answer)

    def _decoded(
        self,
        path: str,
        operation: str,
        decode: Callable[[Answer], T],
        params: dict[str, str] | None = None,
    ) -> Flow[T]:
        def build(token: str | None) -> httpx.Request:
            headers = {"Authorization": f"Bearer {token}"}
            return httpx.Request("GET", self.url(path), params=params, headers=headers)

        answer: Answer = yield from self._attempts(build, operation=operation)
        return decode(answer)

    # -- paging --------------------------------------------------------------------------------

    @staticmethod
    def next_cursor(page: Page, cursor: str | None, seen: set[str], box: str) -> str | None:
        """Where a walk of `box` goes on after `page` (None: it is over). A hub that says more
        messages follow but gives no new cursor, or one already seen, or an empty page, would
        loop a walk for ever: that is a HubProtocolError."""
        if not page.has_more:
            return None
        following = page.next_cursor
        problem = None
        if following is None or following == cursor or following in seen:
            problem = "gives no new cursor (missing or repeated)"
        elif not page.messages:
            problem = "sent an empty page"
        if problem is not None or following is None:
            error = HubProtocolError(f"the hub says more messages follow but {problem}")
            error.operation = box
            raise error
        seen.add(following)
        return following


def _token_of(request: httpx.Request) -> str | None:
    authorization = request.headers.get("Authorization", "")
    return authorization.removeprefix("Bearer ") or None


def _final(failure: HubError, operation: str, unknown: bool, why: str = "retries") -> HubError:
    """The error that ends a call: an unknown outcome wins over the last try's error, since an
    earlier try may have been carried out."""
    if unknown and not isinstance(failure, OutcomeUnknown):
        final: HubError = OutcomeUnknown(f"{operation}: outcome unknown after {why} ({failure})")
        final.__cause__ = failure
        failure = final
    failure.operation = operation
    return failure
