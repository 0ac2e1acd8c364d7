"""The client's behaviour, written once and free of I/O.

Every operation is a generator (a *flow*) that yields instructions and is sent their results:

    Transmit(request)   → the driver sends the httpx.Request; sends back the httpx.Response,
                          or throws the httpx.TransportError into the flow
    Pause(seconds)      → the driver sleeps (the retry policy's sleep or async_sleep)
    Authenticate(stale) → the driver makes sure a fresh access token exists, renewing it at
                          most once however many calls ask at the same time (its lock), and
                          sends back the token

`Client` and `AsyncClient` are short loops that carry these out (httpx's `Auth.auth_flow` has
the same shape). Retries, backoff, token handling, idempotency, the outbox check after an unknown
outcome, and the high-level steps of send_bundle and receive all live here.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar

import attrs
import httpx
from cryptography import x509

from ..envelope import OfficeIdentity, OpenedEnvelope, TrustStore, open_envelope, seal
from ..errors import (
    AuthenticationError,
    EnvelopeError,
    HubError,
    HubProtocolError,
    HubTransportError,
    InvalidBundle,
    OutcomeUnknown,
)
from ..format import Bundle, validate
from . import _protocol as protocol
from ._protocol import DirectoryEntry, Login, Message, Page, Tokens
from ._retry import RetryPolicy

__all__ = ["Authenticate", "Flow", "HubSession", "Pause", "Prepared", "Transmit"]

T = TypeVar("T")


@attrs.frozen
class Transmit:
    request: httpx.Request


@attrs.frozen
class Pause:
    seconds: float


@attrs.frozen
class Authenticate:
    stale: str | None
    """The token the flow found unusable (None: it had none)."""


Instruction = Transmit | Pause | Authenticate
Flow = Generator[Instruction, Any, T]

# Errors before the request left: the hub cannot have acted on it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


@attrs.frozen
class Prepared:
    """A downloaded envelope, opened and validated, before the caller imports it."""

    message: Message
    opened: OpenedEnvelope | None
    reasons: tuple[str, ...]
    """Why the files are refused (empty when they may be imported)."""


class HubSession:
    """What a client's calls share: the hub's address, the login, the tokens, the policy."""

    def __init__(
        self,
        base_url: str | httpx.URL,
        login: Login,
        retry: RetryPolicy,
        *,
        refresh_margin: datetime.timedelta = datetime.timedelta(minutes=5),
    ) -> None:
        self.base_url = str(base_url).rstrip("/")
        self.login = login
        self.retry = retry
        self.refresh_margin = refresh_margin
        self.tokens: Tokens | None = None
        self.logins = 0
        self.refreshes = 0

    def url(self, path: str) -> str:
        return f"{self.base_url}/{protocol.API_VERSION}{path}"

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
        tokens = self.tokens
        if tokens is not None and tokens.refresh_expires_at > self.retry.clock():
            body = {"refresh_token": tokens.refresh_token}
            try:
                response = yield from self._attempts(
                    lambda _: self._json_request("POST", "/token", body),
                    operation="refresh",
                    authenticated=False,
                )
                self.tokens = Tokens.from_json(protocol.read_document(response))
                self.refreshes += 1
                return self.tokens.access_token
            except AuthenticationError:
                pass  # refresh token expired, used or revoked: log in again
        self.tokens = None
        response = yield from self._attempts(
            lambda _: self._json_request("POST", "/login", self.login.to_json()),
            operation="login",
            authenticated=False,
        )
        try:
            self.tokens = Tokens.from_json(protocol.read_document(response))
        except (KeyError, TypeError, ValueError) as error:
            raise HubProtocolError(f"the login answer cannot be read: {error!r}") from None
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
    ) -> Flow[Any]:
        """Send `build(token)` until an answer that is not worth retrying, as the policy says.

        Returns the httpx.Response (error statuses included: the caller reads them), or what
        `recover` found. `changes_state`: a lost answer leaves the outcome unknown; before the
        next try `recover` (when given) looks for the result on the hub.
        """
        policy = self.retry
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
                failure, wait, unknown, response = yield from self._attempt(
                    build,
                    authenticated=authenticated,
                    changes_state=changes_state,
                    known=unknown,
                    operation=operation,
                )
                if response is not None:
                    if response.status_code == 401 and authenticated and not renewed:
                        renewed = True  # the hub dropped the token early: renew once, at once
                        yield Authenticate(_token_of(response.request))
                        continue
                    return response
            assert failure is not None
            if retries + 1 >= policy.attempts:
                raise _final(failure, operation, unknown)
            yield Pause(policy.delay(retries, wait))
            retries += 1

    def _attempt(
        self,
        build: Callable[[str | None], httpx.Request],
        *,
        authenticated: bool,
        changes_state: bool,
        known: bool,
        operation: str,
    ) -> Flow[tuple[HubError | None, float | None, bool, httpx.Response | None]]:
        """One try: (failure, wait, unknown, response); response None when it failed."""
        token = None
        if authenticated:
            token = self.usable_token()
            if token is None:
                token = yield Authenticate(None)
        try:
            response = yield Transmit(build(token))
        except httpx.TransportError as error:
            lost = changes_state and not isinstance(error, _NOT_SENT)
            kind = OutcomeUnknown if lost else HubTransportError
            failure: HubError = kind(f"{operation}: no answer from the hub ({error!r})")
            failure.__cause__ = error
            return failure, None, known or lost, None
        status = response.status_code
        if status == 401 or status not in self.retry.retry_statuses:
            return None, None, known, response
        unknown = known or (changes_state and status >= 500)
        return protocol.http_error(response), protocol.retry_after(response), unknown, None

    # -- operations ----------------------------------------------------------------------------

    def send(
        self,
        envelope: bytes,
        *,
        to: str,
        service_type: str,
        serial: str | None = None,
        unit_kind: str | None = None,
    ) -> Flow[Message]:
        key = protocol.idempotency_key(envelope, to, service_type)
        params = {"to": to, "service_type": service_type}
        if serial is not None:
            params["serial"] = serial
        if unit_kind is not None:
            params["unit_kind"] = unit_kind

        def build(token: str | None) -> httpx.Request:
            return httpx.Request(
                "POST",
                self.url("/messages"),
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
        return _message(protocol.read_document(answer))

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
        response = yield from self._get(f"/{box}", box, params=params)
        return protocol.messages_of(protocol.read_document(response))

    def message(self, message_id: str) -> Flow[Message]:
        response = yield from self._get(f"/messages/{message_id}", "message")
        return _message(protocol.read_document(response))

    def download(self, message_id: str) -> Flow[bytes]:
        response = yield from self._get(f"/messages/{message_id}/content", "download")
        if response.status_code >= 400:
            raise protocol.http_error(response)
        if response.headers.get("Content-Type", "").startswith("application/json"):
            protocol.read_document(response)  # a business error in a 200 body
            raise HubProtocolError("the hub answered a download with JSON, not an envelope")
        content = response.content
        expected = response.headers.get("X-Content-SHA256")
        if expected is not None and hashlib.sha256(content).hexdigest() != expected:
            raise HubProtocolError(f"message {message_id}: the envelope arrived altered")
        return content

    def acknowledge(
        self, message_id: str, receipt: str, reasons: Sequence[str] = ()
    ) -> Flow[Message]:
        if receipt not in ("downloaded", "imported", "rejected"):
            raise ValueError(f"a receipt is downloaded, imported or rejected, not {receipt!r}")
        body = {"receipt": receipt, "reasons": [*reasons]}
        # Receipts are idempotent on the hub: retrying after a lost answer is harmless.
        response = yield from self._attempts(
            lambda token: self._json_request(
                "POST", f"/messages/{message_id}/receipts", body, token
            ),
            operation="acknowledge",
        )
        return _message(protocol.read_document(response))

    def withdraw(self, message_id: str) -> Flow[Message]:
        response = yield from self._attempts(
            lambda token: self._json_request("POST", f"/messages/{message_id}/withdraw", {}, token),
            operation="withdraw",
        )
        return _message(protocol.read_document(response))

    def office(self, office_no: str) -> Flow[DirectoryEntry]:
        response = yield from self._get(f"/offices/{office_no}", "office")
        return DirectoryEntry.from_json(protocol.read_document(response)["office"])

    def _get(
        self, path: str, operation: str, *, params: dict[str, str] | None = None
    ) -> Flow[httpx.Response]:
        def build(token: str | None) -> httpx.Request:
            headers = {"Authorization": f"Bearer {token}"}
            return httpx.Request("GET", self.url(path), params=params, headers=headers)

        response: httpx.Response = yield from self._attempts(build, operation=operation)
        return response

    # -- high-level steps ----------------------------------------------------------------------

    def send_bundle(
        self,
        bundle: Bundle,
        *,
        identity: OfficeIdentity | None,
        to: Sequence[x509.Certificate] | None,
        check: bool,
    ) -> Flow[Message]:
        """Validate → seal → send one transmission unit to its receiver."""
        if identity is None:
            raise ValueError("send_bundle needs the client's identity (its sealing key)")
        if check:
            report = validate(bundle)
            if not report.ok:
                raise InvalidBundle(report)
        receiver = bundle.receiver
        if to is None:
            entry = yield from self.office(receiver.number)
            if not entry.registered or not entry.certificates:
                raise HubError(f"office {receiver.number} has no encryption certificate on the hub")
            to = entry.certificates
        envelope = seal(bundle, sender=identity, recipients=list(to))
        message = yield from self.send(
            envelope,
            to=receiver.number,
            service_type=receiver.service_type or "",
            serial=bundle.serial,
            unit_kind=bundle.kind.value,
        )
        return message

    def prepare(
        self,
        message: Message,
        *,
        identity: OfficeIdentity | None,
        trust: TrustStore | None,
        check: bool,
    ) -> Flow[Prepared]:
        """Download → `downloaded` receipt → open → validate, for `receive`."""
        if identity is None or trust is None:
            raise ValueError("receive needs the client's identity and trust store")
        envelope = yield from self.download(message.id)
        if message.status == "delivered":
            message = yield from self.acknowledge(message.id, "downloaded")
        try:
            opened = open_envelope(envelope, identity=identity, trust=trust)
        except EnvelopeError as error:
            return Prepared(message, None, (f"{type(error).__name__}: {error}",))
        if check:
            report = validate(opened.files)
            if not report.ok:
                return Prepared(message, opened, tuple(str(i) for i in report.errors[:20]))
        return Prepared(message, opened, ())


def _token_of(request: httpx.Request) -> str | None:
    authorization = request.headers.get("Authorization", "")
    return authorization.removeprefix("Bearer ") or None


def _message(document: dict[str, Any]) -> Message:
    try:
        return Message.from_json(document["message"])
    except (KeyError, TypeError):
        raise HubProtocolError("the answer carries no message") from None


def _final(failure: HubError, operation: str, unknown: bool) -> HubError:
    """The error that ends a call: an unknown outcome wins over the last try's error, since an
    earlier try may have been carried out."""
    if unknown and not isinstance(failure, OutcomeUnknown):
        final: HubError = OutcomeUnknown(f"{operation}: outcome unknown after retries ({failure})")
        final.__cause__ = failure
        failure = final
    failure.operation = operation
    return failure
