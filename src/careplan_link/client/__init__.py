"""careplan_link.client: send, list, download and acknowledge envelopes through the hub.

`Client` (httpx.Client) and `AsyncClient` (httpx.AsyncClient) carry out the same flows
(`_core`), built on the protocol package (`careplan_link.protocol`: routes, documents, the
status table and the reason codes; docs/hub-protocol.md). The client moves envelopes and knows
neither CSV files nor keys (it imports neither `format` nor `envelope`); the workflow that
validates, seals, opens and journals units is `careplan_link.office`.
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
    NotFound,
    OutcomeUnknown,
    RequestTimeout,
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
from ._core import DEFAULT_MAX_DOWNLOAD
from ._retry import RetryPolicy
from ._sync import DEFAULT_TIMEOUT, Client
from ._tls import TLSIdentity, client_ssl_context

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
    "Login",
    "Message",
    "MessageStatus",
    "NotFound",
    "OutcomeUnknown",
    "Page",
    "ReasonText",
    "RequestTimeout",
    "RetryPolicy",
    "ServiceUnavailable",
    "StatusChange",
    "TLSIdentity",
    "Tokens",
    "TooManyRequests",
    "client_ssl_context",
]
