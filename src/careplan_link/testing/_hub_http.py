"""FakeHub's HTTP face: routes, request parsing and answers, free of any transport.

`handle(model, request)` takes a plain `HubRequest` and returns a plain `HubResponse`, so the
same code answers httpx's sync and async transports in-process and, later, a real HTTP
server. The routes are the ones docs/hub-openapi.json lists (a test compares them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..client import _protocol as protocol
from ._hub_model import HubModel, Refusal

__all__ = ["ROUTES", "HubRequest", "HubResponse", "Route", "handle", "route_of"]


@attrs.frozen
class HubRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    """Lower-case names."""
    body: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")


@attrs.frozen
class HubResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")


@attrs.frozen
class Route:
    method: str
    template: str
    """The path as OpenAPI writes it, e.g. /v1/messages/{message_id}."""
    operation: str

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")


V = f"/{protocol.API_VERSION}"
ROUTES = (
    Route("POST", f"{V}/login", "login"),
    Route("POST", f"{V}/token", "refresh"),
    Route("POST", f"{V}/messages", "send"),
    Route("GET", f"{V}/inbox", "inbox"),
    Route("GET", f"{V}/outbox", "outbox"),
    Route("GET", f"{V}/messages/{{message_id}}", "message"),
    Route("GET", f"{V}/messages/{{message_id}}/content", "download"),
    Route("POST", f"{V}/messages/{{message_id}}/receipts", "receipt"),
    Route("POST", f"{V}/messages/{{message_id}}/withdraw", "withdraw"),
    Route("GET", f"{V}/offices/{{office_no}}", "office"),
)
_COMPILED = [(route, route.pattern) for route in ROUTES]


def route_of(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route, pattern in _COMPILED:
        match = pattern.match(path)
        if match and route.method == method:
            return route, match.groupdict()
    return None


_Operation = Callable[[HubModel, HubRequest, dict[str, str]], HubResponse]


def _json(status: int, document: Mapping[str, Any]) -> HubResponse:
    return HubResponse(status, {"content-type": "application/json"}, json.dumps(document).encode())


def _refused(refusal: Refusal) -> HubResponse:
    return HubResponse(
        refusal.status,
        {"content-type": "application/json"},
        protocol.error_body(refusal.code, refusal.message),
    )


def handle(model: HubModel, request: HubRequest) -> HubResponse:
    """Answer one request. Never raises for anything a client sends."""
    found = route_of(request.method, request.path)
    if found is None:
        return _refused(Refusal(404, "NO_SUCH_ENDPOINT", f"{request.method} {request.path}"))
    route, parameters = found
    try:
        with model.lock:
            return _OPERATIONS[route.operation](model, request, parameters)
    except Refusal as refusal:
        return _refused(refusal)


def _body(request: HubRequest) -> dict[str, Any]:
    try:
        document = json.loads(request.body or b"{}")
    except ValueError:
        raise Refusal(400, "BAD_JSON", "the body is not JSON") from None
    if not isinstance(document, dict):
        raise Refusal(400, "BAD_JSON", "the body is not a JSON object")
    return document


def _field(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise Refusal(400, "FIELD_MISSING", f"{name} is missing")
    return value


def _office(model: HubModel, request: HubRequest) -> str:
    return model.authenticate(request.headers.get("authorization"))


def _login(model: HubModel, request: HubRequest, _: dict[str, str]) -> HubResponse:
    body = _body(request)
    tokens = model.login(
        _field(body, "office_no"), _field(body, "user_id"), _field(body, "password")
    )
    return _json(200, tokens.to_json())


def _refresh(model: HubModel, request: HubRequest, _: dict[str, str]) -> HubResponse:
    return _json(200, model.refresh(_field(_body(request), "refresh_token")).to_json())


def _send(model: HubModel, request: HubRequest, _: dict[str, str]) -> HubResponse:
    sender = _office(model, request)
    if request.headers.get("content-type", "") != protocol.ENVELOPE_MEDIA_TYPE:
        raise Refusal(415, "BAD_MEDIA_TYPE", f"an envelope is {protocol.ENVELOPE_MEDIA_TYPE}")
    message, replayed = model.send(
        sender,
        to=_field(request.query, "to"),
        service_type=_field(request.query, "service_type"),
        serial=request.query.get("serial"),
        unit_kind=request.query.get("unit_kind"),
        key=request.headers.get(protocol.IDEMPOTENCY_HEADER.lower()),
        content=request.body,
    )
    answer = _json(200 if replayed else 201, {"message": message.to_json()})
    if replayed:
        return attrs.evolve(answer, headers={**answer.headers, "idempotent-replayed": "true"})
    return answer


def _listing(box: str) -> _Operation:
    def list_box(model: HubModel, request: HubRequest, _: dict[str, str]) -> HubResponse:
        office = _office(model, request)
        query = request.query
        try:
            limit = int(query.get("limit", "100"))
            since = protocol.parse_time(query["since"]) if "since" in query else None
        except ValueError:
            raise Refusal(400, "BAD_QUERY", "limit or since cannot be read") from None
        status = query.get("status")
        messages, cursor, has_more = model.listing(
            office,
            box,
            cursor=query.get("cursor"),
            limit=limit,
            statuses=None if status is None else frozenset(status.split(",")),
            since=since,
            counterpart=query.get("counterpart"),
            key=query.get("idempotency_key"),
        )
        return _json(
            200,
            {
                "messages": [m.to_json() for m in messages],
                "next_cursor": cursor,
                "has_more": has_more,
            },
        )

    return list_box


def _message(model: HubModel, request: HubRequest, path: dict[str, str]) -> HubResponse:
    message = model.message(_office(model, request), path["message_id"])
    return _json(200, {"message": message.to_json()})


def _download(model: HubModel, request: HubRequest, path: dict[str, str]) -> HubResponse:
    message, content = model.content(_office(model, request), path["message_id"])
    headers = {"content-type": protocol.ENVELOPE_MEDIA_TYPE, "x-content-sha256": message.sha256}
    return HubResponse(200, headers, content)


def _receipt(model: HubModel, request: HubRequest, path: dict[str, str]) -> HubResponse:
    office = _office(model, request)
    body = _body(request)
    reasons = body.get("reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise Refusal(400, "BAD_REASONS", "reasons is a list of strings")
    message = model.receipt(office, path["message_id"], _field(body, "receipt"), reasons)
    return _json(200, {"message": message.to_json()})


def _withdraw(model: HubModel, request: HubRequest, path: dict[str, str]) -> HubResponse:
    message = model.withdraw(_office(model, request), path["message_id"])
    return _json(200, {"message": message.to_json()})


def _directory(model: HubModel, request: HubRequest, path: dict[str, str]) -> HubResponse:
    _office(model, request)
    return _json(200, {"office": model.directory(path["office_no"])})


_OPERATIONS: dict[str, _Operation] = {
    "login": _login,
    "refresh": _refresh,
    "send": _send,
    "inbox": _listing("inbox"),
    "outbox": _listing("outbox"),
    "message": _message,
    "download": _download,
    "receipt": _receipt,
    "withdraw": _withdraw,
    "office": _directory,
}
