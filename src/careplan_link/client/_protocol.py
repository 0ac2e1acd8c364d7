"""The hub protocol, version 1: paths, JSON documents, and what each answer means.

The one module that knows the wire format. The client core builds its requests and reads its
answers here; FakeHub routes and answers with the same names and codecs. An adapter for the
official 2027 API would replace this module (docs/hub-protocol.md, docs/hub-openapi.json).

Conventions: JSON bodies in UTF-8; times as ISO 8601 UTC (`2025-03-25T09:30:00Z`); envelope
bytes as `application/pkcs7-mime` bodies; errors as `{"error": {"code", "message"}}`, with an
HTTP error status for system errors and HTTP 200 for business errors.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

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
from ._status import MessageStatus

__all__ = [
    "API_VERSION",
    "ENVELOPE_MEDIA_TYPE",
    "IDEMPOTENCY_HEADER",
    "DirectoryEntry",
    "Login",
    "Message",
    "Page",
    "StatusChange",
    "Tokens",
    "error_body",
    "format_time",
    "http_error",
    "idempotency_key",
    "listing_params",
    "messages_of",
    "parse_time",
    "read_document",
    "retry_after",
]

API_VERSION = "v1"
ENVELOPE_MEDIA_TYPE = "application/pkcs7-mime"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(datetime.UTC)


def idempotency_key(envelope: bytes, to: str, service_type: str) -> str:
    """The key of one send: the same envelope to the same office always gets the same key, so a
    retried or re-driven send is recognised by the hub and never delivered twice."""
    digest = hashlib.sha256()
    digest.update(f"careplan-link send v1\0{to}\0{service_type}\0".encode())
    digest.update(envelope)
    return digest.hexdigest()


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
        return cls(
            access_token=_text(document, "access_token"),
            access_expires_at=parse_time(_text(document, "access_expires_at")),
            refresh_token=_text(document, "refresh_token"),
            refresh_expires_at=parse_time(_text(document, "refresh_expires_at")),
        )

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
        return cls(
            status=MessageStatus(_text(document, "status")),
            at=parse_time(_text(document, "at")),
            reasons=tuple(str(r) for r in document.get("reasons", ())),
        )

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
        try:
            return cls(
                id=_text(document, "id"),
                sender=_text(document, "sender"),
                receiver=_text(document, "receiver"),
                service_type=_text(document, "service_type"),
                serial=document.get("serial"),
                unit_kind=document.get("unit_kind"),
                size=int(document["size"]),
                sha256=_text(document, "sha256"),
                status=MessageStatus(_text(document, "status")),
                history=tuple(StatusChange.from_json(h) for h in document["history"]),
                accepted_at=parse_time(_text(document, "accepted_at")),
            )
        except (KeyError, TypeError, ValueError) as error:
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
        try:
            return cls(
                office_no=_text(document, "office_no"),
                registered=bool(document["registered"]),
                service_types=tuple(document.get("service_types", ())),
                certificates=tuple(
                    x509.load_pem_x509_certificate(pem.encode())
                    for pem in document.get("certificates", ())
                ),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise HubProtocolError(f"a directory entry cannot be read: {error!r}") from None


def _text(document: Mapping[str, Any], key: str) -> str:
    value = document[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


# -- answers -----------------------------------------------------------------------------------

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


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (a number; HTTP dates are not used by the hub)."""
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def http_error(response: httpx.Response) -> HubHTTPError:
    """The error an HTTP error status stands for, with the hub's code and message."""
    code, message = "HTTP_ERROR", response.reason_phrase
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except Exception:  # the body of an error may be anything (a proxy's HTML page)
        pass
    kind = _ERRORS.get(response.status_code)
    if kind is None:
        kind = HubServerError if response.status_code >= 500 else HubHTTPError
    error_object = kind(response.status_code, code, message)
    if isinstance(error_object, TooManyRequests | ServiceUnavailable):
        error_object.retry_after = retry_after(response)
    return error_object


def read_document(response: httpx.Response) -> dict[str, Any]:
    """The JSON document of a successful answer; raises the error an answer carries: an
    HTTP error status, or a business error in a 200 body."""
    if response.status_code >= 400:
        raise http_error(response)
    try:
        document = response.json()
    except ValueError:
        raise HubProtocolError(
            f"the hub answered {response.status_code} without a JSON document"
        ) from None
    if not isinstance(document, dict):
        raise HubProtocolError("the hub's answer is not a JSON object")
    error = document.get("error")
    if error is not None:
        try:
            raise HubBusinessError(str(error["code"]), str(error["message"]))
        except (KeyError, TypeError):
            raise HubProtocolError(f"an error without code and message: {error!r}") from None
    return document


def messages_of(document: Mapping[str, Any]) -> Page:
    try:
        messages = tuple(Message.from_json(m) for m in document["messages"])
        cursor = document.get("next_cursor")
        has_more = bool(document["has_more"])
    except (KeyError, TypeError) as error:
        raise HubProtocolError(f"a listing cannot be read: {error!r}") from None
    return Page(messages, cursor if isinstance(cursor, str) else None, has_more)


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
