"""The hub protocol, version 1: paths, JSON documents, and what each answer means.

The one module that knows the wire format. The client core builds its requests and reads its
answers here; FakeHub routes and answers with the same names and codecs. An adapter for the
official 2027 API would replace this module (docs/hub-protocol.md, docs/hub-openapi.json).

Conventions: JSON bodies in UTF-8; times as ISO 8601 UTC (`2025-03-25T09:30:00Z`); envelope
bytes as `application/pkcs7-mime` bodies; errors as `{"error": {"code", "message"}}`, with an
HTTP error status for system errors and HTTP 200 for business errors.

Every answer the client reads is decoded here, against its document's schema, by one decoder
per document (`decode_tokens`, `decode_message`, `decode_page`, `decode_office`,
`check_envelope_answer`). A document that breaks its schema in any way (a missing field, a
wrong type, a number that is not a finite integer, a time outside 2000–8999, nesting too
deep to parse) is a `HubProtocolError`, never a KeyError, OverflowError or RecursionError.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs
import httpx
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
from ..format import Bundle
from ._status import MessageStatus

__all__ = [
    "API_VERSION",
    "CONTENT_SHA256_HEADER",
    "ENVELOPE_MEDIA_TYPE",
    "IDEMPOTENCY_HEADER",
    "AnswerLike",
    "DirectoryEntry",
    "Login",
    "Message",
    "Page",
    "StatusChange",
    "Tokens",
    "check_envelope_answer",
    "decode_envelope",
    "decode_message",
    "decode_office",
    "decode_page",
    "decode_tokens",
    "error_body",
    "format_time",
    "http_error",
    "idempotency_key",
    "listing_params",
    "messages_of",
    "parse_time",
    "read_document",
    "retry_after",
    "unit_idempotency_key",
]

API_VERSION = "v1"
ENVELOPE_MEDIA_TYPE = "application/pkcs7-mime"
IDEMPOTENCY_HEADER = "Idempotency-Key"
CONTENT_SHA256_HEADER = "X-Content-SHA256"

# Times the protocol can carry. Outside this range a time is a hub fault, and arithmetic on it
# (expiry minus a margin, accepted_at minus 7 days) could overflow.
_EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
_LATEST = datetime.datetime(9000, 1, 1, tzinfo=datetime.UTC)
_MAX_COUNT = 2**53  # a size or count beyond what JSON numbers carry exactly
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime.datetime:
    """A protocol time; ValueError for anything else (no zone, out of 2000–8999)."""
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"the time {text!r} has no time zone")
    moment = moment.astimezone(datetime.UTC)
    if not _EARLIEST <= moment < _LATEST:
        raise ValueError(f"the time {text!r} lies outside 2000–8999")
    return moment


def idempotency_key(envelope: bytes, to: str, service_type: str) -> str:
    """The key of one `send` of raw envelope bytes: the same envelope to the same office always
    gets the same key, so a retried or re-driven send is recognised by the hub and never
    delivered twice."""
    digest = hashlib.sha256()
    digest.update(f"careplan-link send v1\0{to}\0{service_type}\0".encode())
    digest.update(envelope)
    return digest.hexdigest()


def unit_idempotency_key(bundle: Bundle) -> str:
    """The key of a `send_bundle`: derived from the transmission unit, not from its envelope
    (sealing is randomised). Sender and receiver (office and service type), ファイル連番 and
    each file's name and SHA-256: the same unit sealed twice has the same key, so the hub
    stores it once."""
    digest = hashlib.sha256(b"careplan-link unit v1\0")
    for part in (
        bundle.sender.number,
        bundle.sender.service_type or "",
        bundle.receiver.number,
        bundle.receiver.service_type or "",
        bundle.serial,
    ):
        digest.update(part.encode() + b"\0")
    for name in sorted(bundle.files):
        digest.update(f"{name}\0{hashlib.sha256(bundle.files[name]).hexdigest()}\0".encode())
    return digest.hexdigest()


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


_READ_ERRORS = (KeyError, TypeError, ValueError, OverflowError)


@attrs.frozen
class Login:
    """What an office logs in with: 事業所番号, user ID and password."""

    office_no: str
    user_id: str
    password: str = attrs.field(repr=False)

    def to_json(self) -> dict[str, str]:
        return {"office_no": self.office_no, "user_id": self.user_id, "password": self.password}


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
            sha256 = _text(document, "sha256")
            if not _SHA256_HEX.fullmatch(sha256):
                raise ValueError("sha256 is not 64 lower-case hex digits")
            return cls(
                id=_text(document, "id"),
                sender=_text(document, "sender"),
                receiver=_text(document, "receiver"),
                service_type=_text(document, "service_type"),
                serial=_optional_text(document, "serial"),
                unit_kind=_optional_text(document, "unit_kind"),
                size=_count(document, "size"),
                sha256=sha256,
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


# -- answers -----------------------------------------------------------------------------------


class AnswerLike(Protocol):
    """What the decoders read of an answer: an `httpx.Response` read in full, or the core's
    `Answer` (read within its size limit and deadline)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> httpx.Headers: ...
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


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


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
    code, message = "HTTP_ERROR", httpx.codes.get_reason_phrase(answer.status_code)
    try:
        error = _parse_json(answer.content)["error"]
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


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _parse_json(content: bytes) -> Any:
    # NaN and Infinity are not JSON; a nesting too deep for the parser is a hostile answer.
    try:
        return json.loads(content, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("the JSON document is nested too deeply") from None


def read_document(answer: AnswerLike) -> dict[str, Any]:
    """The JSON document of a successful answer; raises the error an answer carries: an
    HTTP error status, or a business error in a 200 body."""
    if answer.status_code >= 400:
        raise http_error(answer)
    try:
        document = _parse_json(answer.content)
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
    if status == 200 and media_type == "application/json":
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
    elif expected.strip().lower() != sha256:
        problem = "a body whose SHA-256 differs from the hub's: the envelope arrived altered"
    else:
        return None
    return HubProtocolError(f"the download is not an envelope answer of the hub: {problem}")


def decode_envelope(answer: AnswerLike, sha256: str) -> bytes:
    """The envelope of a download answer whose body hashed to `sha256`; raises the hub's error
    (HTTP status, business error) or HubProtocolError for an answer that is not an envelope."""
    if answer.status_code >= 400:
        raise http_error(answer)
    if answer.status_code == 200 and _media_type(answer) == "application/json":
        read_document(answer)  # raises the business error it carries
        raise HubProtocolError("the hub answered a download with JSON, not an envelope")
    problem = check_envelope_answer(answer, sha256)
    if problem is not None:
        raise problem
    return answer.content


def _media_type(answer: AnswerLike) -> str:
    media_type: str = answer.headers.get("Content-Type", "")
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
