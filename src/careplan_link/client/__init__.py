"""careplan_link.client: send, list, download and acknowledge envelopes through the hub.

`Client` (httpx.Client) and `AsyncClient` (httpx.AsyncClient) carry out the same flows
(`_core`), built on the protocol package (`careplan_link.protocol`: routes, documents, the
status table and the reason codes; docs/hub-protocol.md).
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
    SerialAlreadyUsed,
    ServiceUnavailable,
    TooManyRequests,
)
from ..protocol import (
    REJECTION_REASONS,
    DirectoryEntry,
    Login,
    Message,
    MessageStatus,
    Page,
    ReasonText,
    StatusChange,
    Tokens,
)
from ._async import AsyncClient
from ._core import DEFAULT_MAX_DOWNLOAD, ImportOrderHeld, Outcome, Received, Sent
from ._imported import ImportedUnit, ImportedUnits, MemoryImportedUnits, SqliteImportedUnits
from ._retry import RetryPolicy
from ._sync import DEFAULT_TIMEOUT, Client
from ._tls import client_ssl_context

__all__ = [
    "DEFAULT_MAX_DOWNLOAD",
    "DEFAULT_TIMEOUT",
    "REJECTION_REASONS",
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
    "ImportOrderHeld",
    "ImportedUnit",
    "ImportedUnits",
    "InvalidBundle",
    "Login",
    "MemoryImportedUnits",
    "Message",
    "MessageStatus",
    "NotFound",
    "Outcome",
    "OutcomeUnknown",
    "Page",
    "ReasonText",
    "Received",
    "RequestTimeout",
    "RetryPolicy",
    "Sent",
    "SerialAlreadyUsed",
    "ServiceUnavailable",
    "SqliteImportedUnits",
    "StatusChange",
    "Tokens",
    "TooManyRequests",
    "client_ssl_context",
]
