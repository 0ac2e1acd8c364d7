"""careplan_link.client: send, list, download and acknowledge envelopes through the hub.

`Client` (httpx.Client) and `AsyncClient` (httpx.AsyncClient) carry out the same flows
(`_core`), built on one protocol module (`_protocol`, docs/hub-protocol.md) and one status
table (`_status`).
"""

from __future__ import annotations

from ..errors import (
    AuthenticationError,
    BadRequest,
    Conflict,
    Forbidden,
    HubBusinessError,
    HubError,
    HubHTTPError,
    HubProtocolError,
    HubServerError,
    HubTransportError,
    InvalidBundle,
    NotFound,
    OutcomeUnknown,
    RequestTimeout,
    ServiceUnavailable,
    TooManyRequests,
)
from ._async import AsyncClient
from ._protocol import DirectoryEntry, Login, Message, Page, StatusChange, Tokens
from ._retry import RetryPolicy
from ._status import MessageStatus
from ._sync import DEFAULT_TIMEOUT, Client, Received
from ._tls import client_ssl_context

__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncClient",
    "AuthenticationError",
    "BadRequest",
    "Client",
    "Conflict",
    "DirectoryEntry",
    "Forbidden",
    "HubBusinessError",
    "HubError",
    "HubHTTPError",
    "HubProtocolError",
    "HubServerError",
    "HubTransportError",
    "InvalidBundle",
    "Login",
    "Message",
    "MessageStatus",
    "NotFound",
    "OutcomeUnknown",
    "Page",
    "Received",
    "RequestTimeout",
    "RetryPolicy",
    "ServiceUnavailable",
    "StatusChange",
    "Tokens",
    "TooManyRequests",
    "client_ssl_context",
]
