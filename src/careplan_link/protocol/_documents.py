"""Every document of the protocol, with one decoder each.

Answers (what the client reads) decode with `X.from_json` or a `decode_*` function over an
answer; a document that breaks its schema in any way (a missing field, a wrong type, a number
that is not a finite integer, a time outside 2000–8999, nesting too deep to parse) is a
`HubProtocolError`, never a KeyError, OverflowError or RecursionError. Requests (what the hub
reads) decode with the `*_request` functions; a malformed one is a `BadDocument` carrying the
400 code the hub answers with.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Protocol

import attrs
from cryptography import x509

from ..errors import (
    AuthenticationError,
    BadRequest,
    Conflict,
    Forbidden,
    HubBusinessError,
    HubHTTPError,
    HubProtocolError,
    HubServerError,
    NotFound,
    RequestTimeout,
    ServiceUnavailable,
    TooManyRequests,
)
from ._status import RECEIPTS, MessageStatus
from ._wire import (
    CONTENT_SHA256_HEADER,
    ENVELOPE_MEDIA_TYPE,
    JSON_MEDIA_TYPE,
    format_time,
    parse_json,
    parse_time,
)

__all__ = [
    "AnswerLike",
    "AuditEntry",
    "AuditPage",
    "BadDocument",
    "DirectoryEntry",
    "Health",
    "Login",
    "Message",
    "Page",
    "Receipt",
    "StatusChange",
    "Tokens",
    "check_envelope_answer",
    "decode_audit_page",
    "decode_envelope",
    "decode_health",
    "decode_message",
    "decode_office",
    "decode_page",
    "decode_tokens",
    "directory_document",
    "http_error",
    "listing_params",
    "login_request",
    "messages_of",
    "read_document",
    "receipt_request",
    "refresh_request",
    "request_document",
    "retry_after",
]

_MAX_COUNT = 2**53  # a size or count beyond what JSON numbers carry exactly
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


# -- field readers: each refuses what its schema does not allow ---------------------------------


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} is not a JSON object")
    return value


def _text(document: Mapping[str, Any], key: str) -> str:
    value = document[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


def _optional_text(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{key} is neither a string nor null")
    return value


def _count(document: Mapping[str, Any], key: str) -> int:
    value = document[key]
    # bool is an int in Python; 1e999 arrives as float('inf'): neither is a count.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
        raise TypeError(f"{key} is not a count (a non-negative integer)")
    return value


def _flag(document: Mapping[str, Any], key: str) -> bool:
    value = document[key]
    if not isinstance(value, bool):
        raise TypeError(f"{key} is not true or false")
    return value


def _time(document: Mapping[str, Any], key: str) -> datetime.datetime:
    return parse_time(_text(document, key))


def _list(document: Mapping[str, Any], key: str, *, required: bool = True) -> list[Any]:
    value = document[key] if required else document.get(key, [])
    if not isinstance(value, list):
        raise TypeError(f"{key} is not a list")
    return value


def _texts(document: Mapping[str, Any], key: str, *, required: bool = True) -> tuple[str, ...]:
    values = _list(document, key, required=required)
    if not all(isinstance(v, str) for v in values):
        raise TypeError(f"{key} holds something other than strings")
    return tuple(values)


def _sha256(document: Mapping[str, Any], key: str) -> str:
    value = _text(document, key)
    if not _SHA256_HEX.fullmatch(value):
        raise ValueError(f"{key} is not 64 lower-case hex digits")
    return value


_READ_ERRORS = (KeyError, TypeError, ValueError, OverflowError)


# -- requests: what the hub reads ---------------------------------------------------------------


class BadDocument(ValueError):
    """A request document the hub cannot read: `code` is the 400 code it answers with."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


def request_document(body: bytes) -> Mapping[str, Any]:
    """The JSON object of a request body (an empty body is `{}`)."""
    try:
        document = parse_json(body or b"{}")
    except ValueError:
        raise BadDocument("BAD_JSON", "the body is not JSON") from None
    if not isinstance(document, dict):
        raise BadDocument("BAD_JSON", "the body is not a JSON object")
    return document


def _required(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise BadDocument("FIELD_MISSING", f"{name} is missing")
    return value


@attrs.frozen
class Login:
    """What an office logs in with: 事業所番号, user ID and password."""

    office_no: str
    user_id: str
    password: str = attrs.field(repr=False)

    def to_json(self) -> dict[str, str]:
        return {"office_no": self.office_no, "user_id": self.user_id, "password": self.password}


def login_request(body: bytes) -> Login:
    """`POST /v1/login` body."""
    document = request_document(body)
    return Login(
        _required(document, "office_no"),
        _required(document, "user_id"),
        _required(document, "password"),
    )


def refresh_request(body: bytes) -> str:
    """`POST /v1/token` body: the refresh token."""
    return _required(request_document(body), "refresh_token")


@attrs.frozen
class Receipt:
    """`POST /v1/messages/{id}/receipts` body: `downloaded`, `imported` or `rejected`, and the
    reason codes of a rejection."""

    receipt: str
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"receipt": self.receipt, "reasons": [*self.reasons]}


def receipt_request(body: bytes) -> Receipt:
    """The receipt body; an unknown receipt or reasons that are not strings are BadDocument."""
    document = request_document(body)
    receipt = _required(document, "receipt")
    if receipt not in RECEIPTS:
        raise BadDocument("BAD_RECEIPT", f"unknown receipt {receipt[:50]!r}")
    reasons = document.get("reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise BadDocument("BAD_REASONS", "reasons is a list of strings")
    return Receipt(receipt, tuple(reasons))


# -- answers: what the client reads -------------------------------------------------------------


@attrs.frozen
class Tokens:
    """An access token (60 minutes on the hub) and the refresh token (8 hours) that renews it.
    Each refresh token is single-use: a refresh returns a new one."""

    access_token: str = attrs.field(repr=False)
    access_expires_at: datetime.datetime
    refresh_token: str = attrs.field(repr=False)
    refresh_expires_at: datetime.datetime

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Tokens:
        """Decode a tokens document; HubProtocolError when it breaks the schema."""
        try:
            document = _object(document, "the tokens document")
            return cls(
                access_token=_text(document, "access_token"),
                access_expires_at=_time(document, "access_expires_at"),
                refresh_token=_text(document, "refresh_token"),
                refresh_expires_at=_time(document, "refresh_expires_at"),
            )
        except _READ_ERRORS as error:
            raise HubProtocolError(f"the tokens answer cannot be read: {error!r}") from None

    def to_json(self) -> dict[str, str]:
        return {
            "access_token": self.access_token,
            "access_expires_at": format_time(self.access_expires_at),
            "refresh_token": self.refresh_token,
            "refresh_expires_at": format_time(self.refresh_expires_at),
        }


@attrs.frozen
class StatusChange:
    """One step in a message's history."""

    status: MessageStatus
    at: datetime.datetime
    reasons: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> StatusChange:
        """Decode a history entry; HubProtocolError when it breaks the schema."""
        try:
            document = _object(document, "a history entry")
            return cls(
                status=MessageStatus(_text(document, "status")),
                at=_time(document, "at"),
                reasons=_texts(document, "reasons", required=False),
            )
        except _READ_ERRORS as error:
            raise HubProtocolError(f"a history entry cannot be read: {error!r}") from None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "at": format_time(self.at), "reasons": [*self.reasons]}


@attrs.frozen
class Message:
    """A message's metadata on the hub: routing, size, digest, status and its history."""

    id: str
    sender: str
    """事業所番号 of the sending office."""
    receiver: str
    service_type: str
    """サービス種類コード of the receiving service."""
    serial: str | None
    """ファイル連番 of the unit, when the sender gave it."""
    unit_kind: str | None
    size: int
    sha256: str
    """SHA-256 of the envelope bytes, hex."""
    status: MessageStatus
    history: tuple[StatusChange, ...]
    accepted_at: datetime.datetime

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Message:
        """Decode a message document; HubProtocolError when it breaks the schema."""
        try:
            document = _object(document, "a message")
            return cls(
                id=_text(document, "id"),
                sender=_text(document, "sender"),
                receiver=_text(document, "receiver"),
                service_type=_text(document, "service_type"),
                serial=_optional_text(document, "serial"),
                unit_kind=_optional_text(document, "unit_kind"),
                size=_count(document, "size"),
                sha256=_sha256(document, "sha256"),
                status=MessageStatus(_text(document, "status")),
                history=tuple(StatusChange.from_json(h) for h in _list(document, "history")),
                accepted_at=_time(document, "accepted_at"),
            )
        except _READ_ERRORS as error:
            raise HubProtocolError(f"a message document cannot be read: {error!r}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sender": self.sender,
            "receiver": self.receiver,
            "service_type": self.service_type,
            "serial": self.serial,
            "unit_kind": self.unit_kind,
            "size": self.size,
            "sha256": self.sha256,
            "status": self.status.value,
            "history": [change.to_json() for change in self.history],
            "accepted_at": format_time(self.accepted_at),
        }


@attrs.frozen
class Page:
    """One page of a listing. `next_cursor` continues after its last message (keep it: asking
    again later with it returns only what arrived since); `has_more` says whether more
    messages were already waiting."""

    messages: tuple[Message, ...]
    next_cursor: str | None
    has_more: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": [m.to_json() for m in self.messages],
            "next_cursor": self.next_cursor,
            "has_more": self.has_more,
        }


@attrs.frozen
class DirectoryEntry:
    """What the office directory says about an office."""

    office_no: str
    registered: bool
    service_types: tuple[str, ...]
    certificates: tuple[x509.Certificate, ...]
    """Encryption certificates, newest first (several while a certificate is renewed)."""

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> DirectoryEntry:
        """Decode a directory entry; HubProtocolError when it breaks the schema."""
        try:
            document = _object(document, "the directory entry")
            return cls(
                office_no=_text(document, "office_no"),
                registered=_flag(document, "registered"),
                service_types=_texts(document, "service_types", required=False),
                certificates=tuple(
                    x509.load_pem_x509_certificate(pem.encode())
                    for pem in _texts(document, "certificates", required=False)
                ),
            )
        except _READ_ERRORS as error:
            raise HubProtocolError(f"a directory entry cannot be read: {error!r}") from None


def directory_document(
    office_no: str, *, registered: bool, service_types: Sequence[str], certificates: Sequence[str]
) -> dict[str, Any]:
    """The directory entry the hub answers (certificates as PEM, newest first)."""
    return {
        "office_no": office_no,
        "registered": registered,
        "service_types": [*service_types],
        "certificates": [*certificates],
    }


@attrs.frozen
class AuditEntry:
    """One entry of the hub's audit log: who did what, when, to which message.

    Entries are numbered from 1 without gaps; `hash` is the SHA-256 of the previous entry's
    hash and this entry's fields (`careplan_link.hub` computes and verifies the chain), so a
    removed or altered entry breaks every hash after it."""

    seq: int
    at: datetime.datetime
    office_no: str
    """Who acted: an office number, or `operator` for the hub's administrator."""
    action: str
    """`login`, `send`, `list_inbox`, `download`, `receipt_imported`, `withdraw`, … (the list
    is in docs/hub-protocol.md)."""
    message_id: str | None = None
    counterpart: str | None = None
    """The other office: the receiver of a send, the sender of a downloaded message."""
    envelope_sha256: str | None = None
    detail: str = ""
    previous_hash: str = ""
    hash: str = ""

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> AuditEntry:
        """Decode an audit entry; HubProtocolError when it breaks the schema."""
        try:
            document = _object(document, "an audit entry")
            sha256 = _optional_text(document, "envelope_sha256")
            if sha256 is not None and not _SHA256_HEX.fullmatch(sha256):
                raise ValueError("envelope_sha256 is not 64 lower-case hex digits")
            return cls(
                seq=_count(document, "seq"),
                at=_time(document, "at"),
                office_no=_text(document, "office_no"),
                action=_text(document, "action"),
                message_id=_optional_text(document, "message_id"),
                counterpart=_optional_text(document, "counterpart"),
                envelope_sha256=sha256,
                detail=_text(document, "detail"),
                previous_hash=_text(document, "previous_hash"),
                hash=_sha256(document, "hash"),
            )
        except _READ_ERRORS as error:
            raise HubProtocolError(f"an audit entry cannot be read: {error!r}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": format_time(self.at),
            "office_no": self.office_no,
            "action": self.action,
            "message_id": self.message_id,
            "counterpart": self.counterpart,
            "envelope_sha256": self.envelope_sha256,
            "detail": self.detail,
            "previous_hash": self.previous_hash,
            "hash": self.hash,
        }


@attrs.frozen
class AuditPage:
    """One page of an office's audit entries (`GET /v1/audit`), oldest first."""

    entries: tuple[AuditEntry, ...]
    next_cursor: str | None
    has_more: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "entries": [e.to_json() for e in self.entries],
            "next_cursor": self.next_cursor,
            "has_more": self.has_more,
        }


@attrs.frozen
class Health:
    """`GET /v1/health`: the hub answers and its store is reachable."""

    status: str
    """`ok`."""
    api_version: str

    def to_json(self) -> dict[str, str]:
        return {"status": self.status, "api_version": self.api_version}


class _Headers(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...


class AnswerLike(Protocol):
    """What the decoders read of an answer: an `httpx.Response` read in full, or the client
    core's `Answer`. `headers.get` looks names up case-insensitively."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> _Headers: ...
    @property
    def content(self) -> bytes: ...


_ERRORS: dict[int, type[HubHTTPError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: Forbidden,
    404: NotFound,
    408: RequestTimeout,
    409: Conflict,
    429: TooManyRequests,
    503: ServiceUnavailable,
}


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def retry_after(answer: AnswerLike) -> float | None:
    """The Retry-After header in seconds (a number; HTTP dates are not used by the hub). None
    when absent or not a finite number; the retry policy caps what it honours."""
    value = answer.headers.get("Retry-After")
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def http_error(answer: AnswerLike) -> HubHTTPError:
    """The error an HTTP error status stands for, with the hub's code and message."""
    code, message = "HTTP_ERROR", _reason_phrase(answer.status_code)
    try:
        error = parse_json(answer.content)["error"]
        code, message = str(error["code"])[:200], str(error["message"])[:2000]
    except Exception:  # the body of an error may be anything (a proxy's HTML page)
        pass
    kind = _ERRORS.get(answer.status_code)
    if kind is None:
        kind = HubServerError if answer.status_code >= 500 else HubHTTPError
    error_object = kind(answer.status_code, code, message)
    if isinstance(error_object, TooManyRequests | ServiceUnavailable):
        error_object.retry_after = retry_after(answer)
    return error_object


def read_document(answer: AnswerLike) -> dict[str, Any]:
    """The JSON document of a successful answer; raises the error an answer carries: an
    HTTP error status, or a business error in a 200 body."""
    if answer.status_code >= 400:
        raise http_error(answer)
    try:
        document = parse_json(answer.content)
    except ValueError:  # also UnicodeDecodeError
        raise HubProtocolError(
            f"the hub answered {answer.status_code} without a JSON document"
        ) from None
    if not isinstance(document, dict):
        raise HubProtocolError("the hub's answer is not a JSON object")
    error = document.get("error")
    if error is not None:
        if not isinstance(error, dict) or not all(
            isinstance(error.get(k), str) for k in ("code", "message")
        ):
            raise HubProtocolError(f"an error without code and message: {str(error)[:200]}")
        raise HubBusinessError(error["code"][:200], error["message"][:2000])
    return document


def decode_tokens(answer: AnswerLike) -> Tokens:
    """The answer to login and refresh."""
    return Tokens.from_json(read_document(answer))


def decode_message(answer: AnswerLike) -> Message:
    """An answer `{message}`: send, message, receipt, withdraw."""
    document = read_document(answer)
    if "message" not in document:
        raise HubProtocolError("the answer carries no message")
    return Message.from_json(document["message"])


def decode_office(answer: AnswerLike) -> DirectoryEntry:
    """The answer `{office}` of the office directory."""
    document = read_document(answer)
    if "office" not in document:
        raise HubProtocolError("the directory answer carries no office")
    return DirectoryEntry.from_json(document["office"])


def decode_page(answer: AnswerLike) -> Page:
    """The answer `{messages, next_cursor, has_more}` of inbox and outbox."""
    return messages_of(read_document(answer))


def messages_of(document: Mapping[str, Any]) -> Page:
    try:
        messages = tuple(Message.from_json(m) for m in _list(document, "messages"))
        cursor = _optional_text(document, "next_cursor")
        has_more = _flag(document, "has_more")
    except _READ_ERRORS as error:
        raise HubProtocolError(f"a listing cannot be read: {error!r}") from None
    return Page(messages, cursor, has_more)


def decode_audit_page(answer: AnswerLike) -> AuditPage:
    """The answer `{entries, next_cursor, has_more}` of `GET /v1/audit`."""
    document = read_document(answer)
    try:
        entries = tuple(AuditEntry.from_json(e) for e in _list(document, "entries"))
        cursor = _optional_text(document, "next_cursor")
        has_more = _flag(document, "has_more")
    except _READ_ERRORS as error:
        raise HubProtocolError(f"an audit page cannot be read: {error!r}") from None
    return AuditPage(entries, cursor, has_more)


def decode_health(answer: AnswerLike) -> Health:
    """The answer of `GET /v1/health`."""
    document = read_document(answer)
    try:
        return Health(_text(document, "status"), _text(document, "api_version"))
    except _READ_ERRORS as error:
        raise HubProtocolError(f"the health answer cannot be read: {error!r}") from None


def check_envelope_answer(answer: AnswerLike, sha256: str) -> HubProtocolError | None:
    """Why a 2xx answer to a download is not the hub's envelope answer, or None when it is.

    The hub's answer is exactly: 200, `Content-Type: application/pkcs7-mime`, a non-empty body
    and `X-Content-SHA256` equal to the SHA-256 of the body (`sha256`, computed while the body
    streamed in). Anything else (a proxy's 200 text/html page, 204, an empty 302, a body cut
    short or altered) is not a statement about the envelope, so it is never grounds for
    rejecting the message: the client retries it and, in the end, leaves the message for later.
    """
    status = answer.status_code
    media_type = _media_type(answer)
    if status == 200 and media_type == JSON_MEDIA_TYPE:
        return None  # the hub's business error (withdrawn, expired): `decode_envelope` reads it
    expected = answer.headers.get(CONTENT_SHA256_HEADER)
    if status != 200:
        problem = f"HTTP {status} instead of 200"
    elif media_type != ENVELOPE_MEDIA_TYPE:
        problem = f"content type {media_type or 'none'!r} instead of {ENVELOPE_MEDIA_TYPE}"
    elif not answer.content:
        problem = "an empty body"
    elif expected is None:
        problem = f"no {CONTENT_SHA256_HEADER} header"
    elif str(expected).strip().lower() != sha256:
        problem = "a body whose SHA-256 differs from the hub's: the envelope arrived altered"
    else:
        return None
    return HubProtocolError(f"the download is not an envelope answer of the hub: {problem}")


def decode_envelope(answer: AnswerLike, sha256: str) -> bytes:
    """The envelope of a download answer whose body hashed to `sha256`; raises the hub's error
    (HTTP status, business error) or HubProtocolError for an answer that is not an envelope."""
    if answer.status_code >= 400:
        raise http_error(answer)
    if answer.status_code == 200 and _media_type(answer) == JSON_MEDIA_TYPE:
        read_document(answer)  # raises the business error it carries
        raise HubProtocolError("the hub answered a download with JSON, not an envelope")
    problem = check_envelope_answer(answer, sha256)
    if problem is not None:
        raise problem
    return answer.content


def _media_type(answer: AnswerLike) -> str:
    media_type = str(answer.headers.get("Content-Type", ""))
    return media_type.split(";")[0].strip().lower()


def listing_params(
    *,
    cursor: str | None,
    limit: int,
    status: str | Sequence[str] | None,
    since: datetime.datetime | None,
    counterpart: str | None,
    idempotency: str | None = None,
) -> dict[str, str]:
    """The query of `GET /v1/inbox` and `GET /v1/outbox`."""
    params = {"limit": str(limit)}
    if cursor is not None:
        params["cursor"] = cursor
    if status is not None:
        params["status"] = status if isinstance(status, str) else ",".join(status)
    if since is not None:
        params["since"] = format_time(since)
    if counterpart is not None:
        params["counterpart"] = counterpart
    if idempotency is not None:
        params["idempotency_key"] = idempotency
    return params
