"""The route table: every operation of the protocol, its method and path, as data.

The client builds its requests from it (`path("download", message_id=...)`), the hub routes by
it (`route_of`), and a test checks docs/hub-openapi.json against it. Adding an operation adds
a row here, the hub's rule for it, and the clients' public method.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from ._wire import API_VERSION

__all__ = ["ROUTES", "Route", "path", "route", "route_of"]


@attrs.frozen
class Route:
    """One operation: `method` and `template` (the path as OpenAPI writes it, e.g.
    `/v1/messages/{message_id}`), its `operation` name (the OpenAPI operationId), and whether
    it needs an access token."""

    method: str
    template: str
    operation: str
    authenticated: bool = True
    _pattern: re.Pattern[str] = attrs.field(init=False, repr=False, eq=False)

    @_pattern.default
    def _compile(self) -> re.Pattern[str]:
        parts = re.split(r"\{(\w+)\}", self.template)
        # Literal pieces at even positions, parameter names at odd positions.
        regex = "".join(
            re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
            for index, part in enumerate(parts)
        )
        return re.compile(f"^{regex}$")

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the path's parameters, in order."""
        return tuple(re.findall(r"\{(\w+)\}", self.template))

    def path(self, **parameters: str) -> str:
        """The path with its parameters filled in (percent-encoded)."""
        if set(parameters) != set(self.parameters):
            raise TypeError(f"{self.operation} takes the path parameters {self.parameters}")
        return re.sub(
            r"\{(\w+)\}",
            lambda match: urllib.parse.quote(parameters[match.group(1)], safe=""),
            self.template,
        )

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters (decoded) when this route serves `method path`, else None."""
        if method != self.method:
            return None
        found = self._pattern.match(path)
        if found is None:
            return None
        return {name: urllib.parse.unquote(value) for name, value in found.groupdict().items()}


V = f"/{API_VERSION}"
ROUTES: tuple[Route, ...] = (
    Route("POST", f"{V}/login", "login", authenticated=False),
    Route("POST", f"{V}/token", "refresh", authenticated=False),
    Route("POST", f"{V}/messages", "send"),
    Route("GET", f"{V}/inbox", "inbox"),
    Route("GET", f"{V}/outbox", "outbox"),
    Route("GET", f"{V}/messages/{{message_id}}", "message"),
    Route("GET", f"{V}/messages/{{message_id}}/content", "download"),
    Route("POST", f"{V}/messages/{{message_id}}/receipts", "receipt"),
    Route("POST", f"{V}/messages/{{message_id}}/withdraw", "withdraw"),
    Route("GET", f"{V}/offices/{{office_no}}", "office"),
    Route("GET", f"{V}/audit", "audit"),
    Route("GET", f"{V}/health", "health", authenticated=False),
)
"""Every route of the protocol, version 1."""

_BY_OPERATION: Mapping[str, Route] = MappingProxyType({r.operation: r for r in ROUTES})


def route(operation: str) -> Route:
    """The route of an operation (KeyError for an unknown name)."""
    return _BY_OPERATION[operation]


def path(operation: str, **parameters: str) -> str:
    """The path of an operation with its parameters, e.g. `path("message", message_id="m")`."""
    return _BY_OPERATION[operation].path(**parameters)


def route_of(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route that serves `method path` and its path parameters, or None."""
    for candidate in ROUTES:
        parameters = candidate.match(method, path)
        if parameters is not None:
            return candidate, parameters
    return None
