"""The hub's HTTP face without a transport: `HubRequest` in, `HubResponse` out.

Routes by the protocol's route table, reads each request document with the protocol's decoder,
calls the rules, and writes the answer. `respond` never raises: a refusal is its error answer,
a malformed request is a 400, a body over the limit a 413, and anything unforeseen a 500
(logged, with nothing of the request in the answer).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .. import protocol
from ..protocol import BadDocument, Health, Route, error_body
from ._messages import HubRequest, HubResponse
from ._rules import HubRules, Refusal

__all__ = ["respond"]

log = logging.getLogger("careplan_link.hub")

_JSON = {"content-type": protocol.JSON_MEDIA_TYPE}


def _json(status: int, document: Mapping[str, Any]) -> HubResponse:
    return HubResponse(status, _JSON, json.dumps(document, ensure_ascii=False).encode())


def _refused(code: str, message: str, *, retry_after: float | None = None) -> HubResponse:
    status = protocol.ERROR_CODES[code].status
    headers = dict(_JSON)
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:.0f}"
    return HubResponse(status, headers, error_body(code, message))


def respond(rules: HubRules, request: HubRequest) -> HubResponse:
    """Answer one request. Never raises."""
    try:
        found = protocol.route_of(request.method, request.path)
        if found is None:
            return _refused("NO_SUCH_ENDPOINT", f"{request.method[:16]} {request.path[:200]}")
        route, parameters = found
        if len(request.body) > rules.settings.max_body(route.operation):
            code = "ENVELOPE_TOO_LARGE" if route.operation == "send" else "BODY_TOO_LARGE"
            return _refused(code, "the body is larger than the hub reads")
        office = None
        if route.authenticated:
            office = rules.authenticate(
                request.headers.get("authorization"), request.client_certificate
            )
            rules.check_rate(office)
        return _OPERATIONS[route.operation](rules, request, _Call(route, parameters, office))
    except Refusal as refused:
        return _refused(refused.code, refused.message, retry_after=refused.retry_after)
    except BadDocument as bad:
        return _refused(bad.code, bad.message)
    except Exception:
        log.exception("the hub failed on %s %s", request.method[:16], request.path[:200])
        return _refused("INTERNAL_ERROR", "the hub failed; nothing was changed")


@attrs.frozen
class _Call:
    route: Route
    path: dict[str, str]
    office: str | None

    @property
    def office_no(self) -> str:
        assert self.office is not None  # authenticated routes only
        return self.office


_Operation = Callable[[HubRules, HubRequest, _Call], HubResponse]


def _query(request: HubRequest, name: str) -> str:
    value = request.query.get(name)
    if not value:
        raise BadDocument("FIELD_MISSING", f"{name} is missing")
    return value


def _int_query(request: HubRequest, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    # int() accepts '٣' and '1_000'; the protocol's numbers are ASCII digits.
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise BadDocument("BAD_QUERY", f"{name} is not a number")
    return int(text)


def _login(rules: HubRules, request: HubRequest, _: _Call) -> HubResponse:
    login = protocol.login_request(request.body)
    return _json(200, rules.login(login, request.client_certificate).to_json())


def _refresh(rules: HubRules, request: HubRequest, _: _Call) -> HubResponse:
    token = protocol.refresh_request(request.body)
    return _json(200, rules.refresh(token, request.client_certificate).to_json())


def _send(rules: HubRules, request: HubRequest, call: _Call) -> HubResponse:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != protocol.ENVELOPE_MEDIA_TYPE:
        raise Refusal("BAD_MEDIA_TYPE", f"an envelope is {protocol.ENVELOPE_MEDIA_TYPE}")
    message, replayed = rules.send(
        call.office_no,
        to=_query(request, "to"),
        service_type=_query(request, "service_type"),
        serial=request.query.get("serial"),
        unit_kind=request.query.get("unit_kind"),
        key=request.headers.get(protocol.IDEMPOTENCY_HEADER.lower()),
        content=request.body,
    )
    answer = _json(200 if replayed else 201, {"message": message.to_json()})
    if replayed:
        return attrs.evolve(answer, headers={**answer.headers, "idempotent-replayed": "true"})
    return answer


def _listing(rules: HubRules, request: HubRequest, call: _Call) -> HubResponse:
    query = request.query
    limit = _int_query(request, "limit", 100)
    try:
        since = protocol.parse_time(query["since"]) if "since" in query else None
    except ValueError:
        raise BadDocument("BAD_QUERY", "since is not a protocol time") from None
    status = query.get("status")
    messages, cursor, has_more = rules.listing(
        call.office_no,
        call.route.operation,
        cursor=query.get("cursor"),
        limit=limit,
        statuses=None if status is None else frozenset(status.split(",")),
        since=since,
        counterpart=query.get("counterpart"),
        key=query.get("idempotency_key"),
    )
    page = protocol.Page(tuple(messages), cursor, has_more)
    return _json(200, page.to_json())


def _message(rules: HubRules, request: HubRequest, call: _Call) -> HubResponse:
    message = rules.message(call.office_no, call.path["message_id"])
    return _json(200, {"message": message.to_json()})


def _download(rules: HubRules, request: HubRequest, call: _Call) -> HubResponse:
    message, content = rules.content(call.office_no, call.path["message_id"])
    headers = {
        "content-type": protocol.ENVELOPE_MEDIA_TYPE,
        protocol.CONTENT_SHA256_HEADER.lower(): message.sha256,
    }
    return HubResponse(200, headers, content)


def _receipt(rules: HubRules, request: HubRequest, call: _Call) -> HubResponse:
    receipt = protocol.receipt_request(request.body)
    message = rules.receipt(
        call.office_no, call.path["message_id"], receipt.receipt, receipt.reasons
    )
    return _json(200, {"message": message.to_json()})


def _withdraw(rules: HubRules, request: HubRequest, call: _Call) -> HubResponse:
    message = rules.withdraw(call.office_no, call.path["message_id"])
    return _json(200, {"message": message.to_json()})


def _directory(rules: HubRules, request: HubRequest, call: _Call) -> HubResponse:
    return _json(200, {"office": rules.directory(call.path["office_no"], call.office_no)})


def _audit(rules: HubRules, request: HubRequest, call: _Call) -> HubResponse:
    after = _int_query(request, "cursor", 0)
    limit = _int_query(request, "limit", 100)
    entries, cursor, has_more = rules.audit_page(call.office_no, after=after, limit=limit)
    return _json(200, protocol.AuditPage(tuple(entries), cursor, has_more).to_json())


def _health(rules: HubRules, request: HubRequest, call: _Call) -> HubResponse:
    try:
        rules.store.ping()
    except Exception:
        log.exception("the hub's store cannot be reached")
        return _refused("HUB_UNAVAILABLE", "the hub's store cannot be reached")
    return _json(200, Health("ok", protocol.API_VERSION).to_json())


_OPERATIONS: dict[str, _Operation] = {
    "login": _login,
    "refresh": _refresh,
    "send": _send,
    "inbox": _listing,
    "outbox": _listing,
    "message": _message,
    "download": _download,
    "receipt": _receipt,
    "withdraw": _withdraw,
    "office": _directory,
    "audit": _audit,
    "health": _health,
}
"""The hub's answer to each operation of the route table (a test checks none is missing)."""
