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
    Compute(function)   → the driver runs CPU-bound or blocking local work (seal, open,
                          validate, the record of imported units): Client in line,
                          AsyncClient in a worker thread so that its event loop never blocks;
                          sends back the result or throws the exception into the flow
    Handle(opened, message)
                        → the driver calls the vendor's import handler (AsyncClient awaits
                          a coroutine); sends back None or throws the handler's exception

`Client` and `AsyncClient` are short loops that carry these out (httpx's `Auth.auth_flow` has
the same shape). Retries, backoff, deadlines, token handling, idempotency, the outbox check
after an unknown outcome, and the hardened `send_bundle` and `receive` all live here, so an
office layer can run them unchanged.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import ipaddress
import logging
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar

import attrs
import httpx
from cryptography import x509

from .. import protocol
from ..envelope import (
    OfficeIdentity,
    OpenedEnvelope,
    TrustSettings,
    TrustStore,
    open_envelope,
    seal,
)
from ..errors import (
    AuthenticationError,
    CareplanLinkError,
    Conflict,
    HubError,
    HubProtocolError,
    HubServerError,
    HubTransportError,
    InvalidBundle,
    OutcomeUnknown,
    RequestTimeout,
    SerialAlreadyUsed,
    StaleRevocationList,
    TooManyRequests,
)
from ..format import Bundle, ValidationReport, validate
from ..protocol import (
    ALREADY_IMPORTED,
    NEVER_IMPORTED,
    OLDER_THAN_IMPORTED,
    RECEIPTS,
    SENDER_NOT_SIGNER,
    VALIDATION_FAILED,
    DirectoryEntry,
    Login,
    Message,
    MessageStatus,
    Page,
)
from ._imported import ImportedUnit, ImportedUnits
from ._reasons import reason_for_open_failure
from ._retry import RetryPolicy

__all__ = [
    "DEFAULT_MAX_DOWNLOAD",
    "INBOX_TO_RECEIVE",
    "MAX_DOCUMENT",
    "Answer",
    "AnswerTooLarge",
    "AnswerTooSlow",
    "Authenticate",
    "BodyCollector",
    "Compute",
    "Flow",
    "Handle",
    "HubSession",
    "ImportOrderHeld",
    "Outcome",
    "Pause",
    "Received",
    "Sent",
    "Transmit",
    "check_base_url",
    "trust_settings",
]

T = TypeVar("T")

log = logging.getLogger("careplan_link.client")

DEFAULT_MAX_DOWNLOAD = 256 * 1024 * 1024
"""The largest envelope a client downloads (bytes): twice the payload limit of the envelope's
default `Limits` is far beyond any unit of the standard, and still bounds memory."""
MAX_DOCUMENT = 16 * 1024 * 1024
"""The largest JSON answer a client reads (a listing page of 500 messages is well under 1 MB)."""
INBOX_TO_RECEIVE = ("delivered", "downloaded")
_NO_DEADLINE = datetime.datetime.max.replace(tzinfo=datetime.UTC)

# Errors before the request left: the hub cannot have acted on it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)

# Failures of this machine, not of the message: the message is left for a later run.
_LOCAL_FAILURES = (OSError, MemoryError, StaleRevocationList)

# Failures of the hub as a whole: stop `receive` (the next messages would fail the same way).
_HUB_WIDE = (
    HubTransportError,
    HubServerError,
    AuthenticationError,
    TooManyRequests,
    RequestTimeout,
)


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


@attrs.frozen
class Compute:
    function: Callable[[], Any]


@attrs.frozen
class Handle:
    opened: OpenedEnvelope
    message: Message


Instruction = Transmit | Pause | Authenticate | Compute | Handle
Flow = Generator[Instruction, Any, T]


# -- results -----------------------------------------------------------------------------------


class ImportOrderHeld(CareplanLinkError):
    """Recorded in `Received.error` (never raised): the message was left for a later run
    because an earlier message from the same sender to the same receiver was deferred in this
    run, and units are imported in ascending ファイル連番."""


@attrs.frozen
class Sent:
    """What `send_bundle` did with one unit."""

    message: Message
    """The hub's message that carries the unit."""
    already_sent: bool
    """True when the hub held this unit already from an earlier `send_bundle` (whose answer
    may have been lost): nothing new was stored, and `message` is the earlier one."""
    idempotency_key: str
    """The unit's key (`unit_idempotency_key`): the same for every sealing of the unit."""


class Outcome(enum.StrEnum):
    """What `receive` did with one message."""

    IMPORTED = "imported"
    """The handler imported the files; the hub has the `imported` receipt."""
    REJECTED = "rejected"
    """The message's content was refused; the hub has a `rejected` receipt with reason codes."""
    DEFERRED = "deferred"
    """A local failure (or a download that was not the hub's envelope answer): nothing final
    was sent, and the message is offered again next time."""


@attrs.frozen
class Received:
    """What `receive` did with one message: imported, rejected (with the reason codes sent to
    the hub), or deferred to a later run (with the local error)."""

    message: Message
    """The message after its last receipt."""
    outcome: Outcome
    reasons: tuple[str, ...] = ()
    """The reason codes sent with a rejection (docs/hub-protocol.md)."""
    opened: OpenedEnvelope | None = None
    error: BaseException | None = None
    """The detailed cause of a rejection or deferral: for the receiver's log, never the hub."""
    report: ValidationReport | None = None
    """The validation report, when the files were validated."""

    @property
    def imported(self) -> bool:
        return self.outcome is Outcome.IMPORTED


def trust_settings(trust: TrustStore | TrustSettings | None) -> TrustSettings | None:
    """The client's trust as one TrustSettings (a bare TrustStore with every default)."""
    if trust is None or isinstance(trust, TrustSettings):
        return trust
    return TrustSettings(anchors=trust)


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

    # -- high-level steps ----------------------------------------------------------------------

    def send_bundle(
        self,
        bundle: Bundle,
        *,
        identity: OfficeIdentity | None,
        trust: TrustSettings | None,
        to: Sequence[x509.Certificate] | None,
        check: bool,
    ) -> Flow[Sent]:
        """Validate → seal → send one transmission unit to its receiver, exactly once.

        The idempotency key comes from the unit (`unit_idempotency_key`), so sending the same
        unit again — after OutcomeUnknown, a lost or garbled answer, a crash — finds the
        message the hub already holds (`Sent.already_sent`) instead of storing it twice. When
        that message was withdrawn, expired or rejected, raises `SerialAlreadyUsed`: the unit
        goes again only under a new ファイル連番."""
        return _named("send_bundle", self._send_bundle(bundle, identity, trust, to, check))

    def _send_bundle(
        self,
        bundle: Bundle,
        identity: OfficeIdentity | None,
        trust: TrustSettings | None,
        to: Sequence[x509.Certificate] | None,
        check: bool,
    ) -> Flow[Sent]:
        if identity is None:
            raise ValueError("send_bundle needs the client's identity (its sealing key)")
        if check:
            report: ValidationReport = yield Compute(lambda: validate(bundle))
            if not report.ok:
                raise InvalidBundle(report)
        receiver = bundle.receiver
        if to is None:
            if trust is None:
                # A hostile or compromised hub could hand out a key of its own.
                raise ValueError(
                    "send_bundle needs trust settings to check the office directory's "
                    "certificates (or give the receiver's certificates with to=)"
                )
            entry = yield from self.office(receiver.number)
            if not entry.registered or not entry.certificates:
                raise HubError(
                    f"事業所 {receiver.number} の暗号化証明書が連携基盤にありません / office "
                    f"{receiver.number} has no encryption certificate on the hub"
                )
            to = entry.certificates
        recipients = list(to)
        envelope: bytes = yield Compute(
            lambda: seal(bundle, sender=identity, recipients=recipients, trust=trust)
        )
        key = protocol.unit_idempotency_key(bundle)
        try:
            message = yield from self.send(
                envelope,
                to=receiver.number,
                service_type=receiver.service_type or "",
                serial=bundle.serial,
                unit_kind=bundle.kind.value,
                key=key,
            )
        except Conflict:
            # The key is taken by another envelope: an earlier sealing of this very unit.
            found = yield from self.find_sent(key)
            if found is None:
                raise
            message = found
        already_sent = message.sha256 != hashlib.sha256(envelope).hexdigest()
        if already_sent and message.status in NEVER_IMPORTED:
            raise SerialAlreadyUsed(
                f"この送信単位（ファイル連番 {bundle.serial}）はメッセージ {message.id} で送信済み"
                f"で、{message.status.value} になっています。送り直すには新しいファイル連番を付けて"
                f"ください / this unit (ファイル連番 {bundle.serial}) was sent as message "
                f"{message.id}, which is {message.status.value}: send the files again under a "
                "new ファイル連番",
                message_id=message.id,
                status=message.status.value,
            )
        return Sent(message, already_sent, key)

    def receive(
        self,
        *,
        identity: OfficeIdentity | None,
        trust: TrustSettings | None,
        imported: ImportedUnits,
        check: bool,
    ) -> Flow[list[Received]]:
        """Take in every delivered (or downloaded, not yet imported) message, one at a time;
        see `receive_message`. Stops, raising, only when the hub as a whole fails (no answer,
        5xx, login refused): what was done until then stands on the hub."""
        if identity is None or trust is None:
            raise ValueError("receive needs the client's identity and trust settings")
        return _named("receive", self._receive(identity, trust, imported, check))

    def _receive(
        self,
        identity: OfficeIdentity,
        trust: TrustSettings,
        imported: ImportedUnits,
        check: bool,
    ) -> Flow[list[Received]]:
        done: list[Received] = []
        cursor: str | None = None
        seen: set[str] = set()
        # Units of one sender to one receiver are imported in order: once one is deferred,
        # the ones behind it wait with it (other partners' messages go on).
        held: dict[tuple[str, str, str], str] = {}
        while True:
            page = yield from self.list_page("inbox", cursor=cursor, status=INBOX_TO_RECEIVE)
            for message in page.messages:
                partner = (message.sender, message.receiver, message.service_type)
                if partner in held:
                    waiting = ImportOrderHeld(
                        f"message {message.id} waits for message {held[partner]} of the same "
                        "sender, deferred in this run (units are imported in order)"
                    )
                    done.append(_deferred(message, waiting))
                    continue
                result = yield from self.receive_message(message, identity, trust, imported, check)
                if result.outcome is Outcome.DEFERRED:
                    held[partner] = message.id
                done.append(result)
            following = self.next_cursor(page, cursor, seen, "inbox")
            if following is None:
                return done
            cursor = following

    def receive_message(
        self,
        message: Message,
        identity: OfficeIdentity,
        trust: TrustSettings,
        imported: ImportedUnits,
        check: bool,
    ) -> Flow[Received]:
        """download → `downloaded` receipt → open (signing time judged at the hub's
        accepted_at) → sender is signer → not imported before, not older than the newest
        imported → validate → handler → record → `imported` receipt.

        The message's content failing any check (any exception from opening or validating,
        foreign ones included) is a rejection with one reason code; a local failure (OSError,
        MemoryError, a stale CRL, the handler raising) or a download that is not the hub's
        envelope answer leaves the message for a later run. Either way the next message is
        taken."""
        try:
            return (yield from self._receive_message(message, identity, trust, imported, check))
        except HubError as error:
            if isinstance(error, _HUB_WIDE):
                raise
            return _deferred(message, error)

    def _receive_message(
        self,
        message: Message,
        identity: OfficeIdentity,
        trust: TrustSettings,
        imported: ImportedUnits,
        check: bool,
    ) -> Flow[Received]:
        answer = yield from self.download_answer(message.id)
        if answer.sha256 != message.sha256:
            raise HubProtocolError(
                f"message {message.id}: the downloaded envelope is not the one the hub lists"
            )
        if message.status == MessageStatus.DELIVERED:
            message = yield from self.acknowledge(message.id, "downloaded")
        accepted_at = message.accepted_at
        try:
            opened: OpenedEnvelope = yield Compute(
                lambda: open_envelope(
                    answer.content,
                    identity=identity,
                    trust=trust,
                    at=accepted_at,
                    allow_legacy_cbc=trust.allow_legacy_cbc,
                )
            )
        except _LOCAL_FAILURES as error:
            return _deferred(message, error)
        except Exception as error:
            return (yield from self._reject(message, reason_for_open_failure(error), error))
        if opened.sender_office_no != message.sender:
            mismatch = HubProtocolError(
                f"message {message.id}: the hub names office {message.sender} as the sender, "
                f"but office {opened.sender_office_no} signed it"
            )
            return (yield from self._reject(message, SENDER_NOT_SIGNER, mismatch, opened))
        unit = ImportedUnit.of(opened.manifest)
        try:
            earlier, newest = yield Compute(
                lambda: (imported.imported_by(unit), imported.newest_serial(unit))
            )
        except Exception as error:
            return _deferred(message, error, opened)
        if earlier == message.id:
            # Imported in an earlier run whose `imported` receipt never reached the hub.
            final = yield from self.acknowledge(message.id, "imported")
            return Received(final, Outcome.IMPORTED, opened=opened)
        if earlier is not None:
            replay = ValueError(f"unit {unit} was imported from message {earlier}")
            return (yield from self._reject(message, ALREADY_IMPORTED, replay, opened))
        if newest is not None and unit.serial < newest:
            older = ValueError(f"unit {unit} is older than the imported ファイル連番 {newest}")
            return (yield from self._reject(message, OLDER_THAN_IMPORTED, older, opened))
        report: ValidationReport | None = None
        if check:
            try:
                report = yield Compute(lambda: validate(opened.files))
            except _LOCAL_FAILURES as error:
                return _deferred(message, error, opened)
            except Exception as error:
                return (yield from self._reject(message, VALIDATION_FAILED, error, opened))
            assert report is not None
            if not report.ok:
                invalid = InvalidBundle(report)
                return (
                    yield from self._reject(message, VALIDATION_FAILED, invalid, opened, report)
                )
        try:
            yield Handle(opened, message)
            yield Compute(lambda: imported.add(unit, message.id))
        except Exception as error:
            return _deferred(message, error, opened, report)
        final = yield from self.acknowledge(message.id, "imported")
        return Received(final, Outcome.IMPORTED, opened=opened, report=report)

    def _reject(
        self,
        message: Message,
        reason: str,
        error: BaseException,
        opened: OpenedEnvelope | None = None,
        report: ValidationReport | None = None,
    ) -> Flow[Received]:
        # The hub (and the sender) get the code; the cause stays here.
        log.warning("message %s rejected (%s): %r", message.id, reason, error)
        final = yield from self.acknowledge(message.id, "rejected", (reason,))
        return Received(final, Outcome.REJECTED, (reason,), opened, error, report)


def _deferred(
    message: Message,
    error: BaseException,
    opened: OpenedEnvelope | None = None,
    report: ValidationReport | None = None,
) -> Received:
    log.warning("message %s left for a later run: %r", message.id, error)
    return Received(message, Outcome.DEFERRED, (), opened, error, report)


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
