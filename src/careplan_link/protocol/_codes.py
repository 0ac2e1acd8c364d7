"""Every error code the hub answers with, and the HTTP status it comes with.

A system error is an HTTP error status with `{"error": {"code", "message"}}`; a business error
is HTTP 200 with the same body (the operation was understood and refused for a business
reason). The hub refuses only with these codes; the client maps the status to its `HubError`
class and keeps the code (`.code`). docs/hub-protocol.md lists the same table (a test compares).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType

import attrs

__all__ = ["ERROR_CODES", "ErrorCode", "error_body"]


@attrs.frozen
class ErrorCode:
    """One error code of the hub: its HTTP status (200: a business error) and what it means."""

    code: str
    status: int
    meaning: str

    @property
    def business(self) -> bool:
        """Whether the hub answers it as HTTP 200 with an error body."""
        return self.status == 200


def error_body(code: str, message: str) -> bytes:
    """The body of every error answer."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()


_TABLE = (
    # 400: the request itself is wrong (a bug in the client that sent it)
    ErrorCode("BAD_JSON", 400, "the body is not a JSON object (or is nested too deeply)"),
    ErrorCode("FIELD_MISSING", 400, "a required field or query parameter is missing or empty"),
    ErrorCode("BAD_QUERY", 400, "a query parameter cannot be read (limit, since, after)"),
    ErrorCode("BAD_LIMIT", 400, "limit is outside 1–500"),
    ErrorCode("BAD_STATUS", 400, "an unknown status in the status filter"),
    ErrorCode("BAD_CURSOR", 400, "the cursor was not made by this hub"),
    ErrorCode("BAD_RECEIPT", 400, "the receipt is not downloaded, imported or rejected"),
    ErrorCode("BAD_REASONS", 400, "reasons is not a list of strings"),
    ErrorCode("EMPTY_ENVELOPE", 400, "a send without a body"),
    ErrorCode("IDEMPOTENCY_KEY_MISSING", 400, "a send without an Idempotency-Key header"),
    # 401: who is calling is not established
    ErrorCode("LOGIN_FAILED", 401, "office number, user ID or password is wrong"),
    ErrorCode("REFRESH_TOKEN_INVALID", 401, "the refresh token is unknown, used or expired"),
    ErrorCode("TOKEN_MISSING", 401, "no `Authorization: Bearer` header"),
    ErrorCode("TOKEN_INVALID", 401, "the access token is unknown or was revoked"),
    ErrorCode("TOKEN_EXPIRED", 401, "the access token has expired"),
    # 403, 404, 409: the office may not do this, or it does not exist
    ErrorCode("NOT_YOUR_MESSAGE", 403, "the message is between two other offices"),
    ErrorCode("NOT_THE_RECEIVER", 403, "only the receiver sends receipts"),
    ErrorCode("NOT_THE_SENDER", 403, "only the sender withdraws a message"),
    ErrorCode(
        "CERTIFICATE_NOT_THE_OFFICES",
        403,
        "the TLS client certificate is not one registered for the logged-in office",
    ),
    ErrorCode("NO_SUCH_ENDPOINT", 404, "no route for this method and path"),
    ErrorCode("MESSAGE_NOT_FOUND", 404, "no message with this id"),
    ErrorCode("IDEMPOTENCY_KEY_REUSED", 409, "the key was used for another envelope"),
    # 413, 415, 429: limits
    ErrorCode("BODY_TOO_LARGE", 413, "a JSON body larger than the hub reads"),
    ErrorCode("ENVELOPE_TOO_LARGE", 413, "an envelope larger than the hub takes"),
    ErrorCode("BAD_MEDIA_TYPE", 415, "a send whose Content-Type is not application/pkcs7-mime"),
    ErrorCode("TOO_MANY_REQUESTS", 429, "the office's request rate is over its limit"),
    # 5xx: the hub failed
    ErrorCode("INTERNAL_ERROR", 500, "the hub failed; nothing was changed"),
    ErrorCode("HUB_UNAVAILABLE", 503, "the hub is down or overloaded"),
    # 200: business errors
    ErrorCode("RECIPIENT_NOT_REGISTERED", 200, "the recipient office is not registered"),
    ErrorCode("SERVICE_TYPE_NOT_OFFERED", 200, "the recipient does not offer this service type"),
    ErrorCode("MESSAGE_WITHDRAWN", 200, "the sender withdrew the message"),
    ErrorCode("MESSAGE_EXPIRED", 200, "the message is past its retention; its content is gone"),
    ErrorCode("REASONS_REQUIRED", 200, "a rejection needs at least one reason"),
    ErrorCode("INVALID_TRANSITION", 200, "the message's status does not allow this receipt"),
    ErrorCode("ALREADY_DOWNLOADED", 200, "too late to withdraw: the receiver downloaded it"),
    ErrorCode("HUB_BUSY", 200, "the hub cannot take this now; nothing was done, try later"),
)

ERROR_CODES: Mapping[str, ErrorCode] = MappingProxyType({e.code: e for e in _TABLE})
"""Every code the hub answers with, by code."""
