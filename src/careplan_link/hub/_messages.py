"""The hub's transport-neutral request and answer: what any HTTP face hands the core.

A served hub (the ASGI adapter) and FakeHub's httpx transport both turn what they receive into
a `HubRequest` and write the `HubResponse` the core returns; the core never sees a socket.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs

__all__ = ["HubRequest", "HubResponse"]


def _lower_names(headers: Mapping[str, str]) -> Mapping[str, str]:
    return {name.lower(): value for name, value in headers.items()}


@attrs.frozen
class HubRequest:
    """One request, as the hub's core reads it."""

    method: str
    path: str
    """The path without query, e.g. `/v1/messages/msg-000000000001`."""
    query: Mapping[str, str]
    """Query parameters, one value each (the protocol never repeats a name)."""
    headers: Mapping[str, str] = attrs.field(converter=_lower_names)
    """Header names are lower-cased on construction, whatever the transport gave."""
    body: bytes = attrs.field(default=b"", repr=lambda b: f"<{len(b)} bytes>")
    client_certificate: bytes | None = attrs.field(default=None, repr=False)
    """DER of the TLS client certificate the transport verified, or None (no TLS, or no client
    certificate asked for). When present, it must be one of the logged-in office's registered
    certificates: another office's certificate is refused (403 CERTIFICATE_NOT_THE_OFFICES)."""
    remote: str | None = None
    """The peer's address, for logs only."""


@attrs.frozen
class HubResponse:
    """One answer. `delay` and `disconnect` are never set by the hub itself: FakeHub's faults
    set them, and every transport honours them (the in-process one in virtual time)."""

    status: int
    headers: Mapping[str, str]
    """Lower-case names."""
    body: bytes = attrs.field(default=b"", repr=lambda b: f"<{len(b)} bytes>")
    delay: float = 0.0
    """Seconds to wait before answering; `math.inf`: no answer ever comes (the client times
    out)."""
    disconnect: bool = False
    """Close the connection instead of answering."""

    @property
    def answers(self) -> bool:
        """Whether the transport writes this answer at all."""
        return not self.disconnect and math.isfinite(self.delay)
