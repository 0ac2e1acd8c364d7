"""docs/hub-openapi.json and docs/hub-protocol.md against the implementation."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import httpx

from careplan_link.client import Login, Message, MessageStatus, RetryPolicy, StatusChange
from careplan_link.client._core import HubSession, Transmit
from careplan_link.protocol import ROUTES, TRANSITIONS, route_of

DOCS = Path(__file__).resolve().parents[2] / "docs"
SPEC = json.loads((DOCS / "hub-openapi.json").read_text(encoding="utf-8"))


def documented_operations() -> dict[tuple[str, str], str]:
    return {
        (method.upper(), path): operation["operationId"]
        for path, methods in SPEC["paths"].items()
        for method, operation in methods.items()
    }


def test_every_route_is_documented_and_every_documented_path_is_served() -> None:
    served = {(r.method, r.template): r.operation for r in ROUTES}
    assert served == documented_operations()


def test_every_request_the_client_builds_goes_to_a_documented_route() -> None:
    session = HubSession("https://hub.test", Login("1370100016", "u", "p"), RetryPolicy())
    flows = [
        session.send(b"e", to="1370200022", service_type="11", serial="1", unit_kind="plan"),
        session.list_page("inbox", cursor=None),
        session.list_page("outbox", cursor="c", idempotency_key="k"),
        session.message("m"),
        session.download("m"),
        session.acknowledge("m", "imported"),
        session.withdraw("m"),
        session.office("1370200022"),
        session.audit_page("5"),
        session.renew(),
    ]
    seen = set()
    session.tokens = None
    for flow in flows:
        instruction = next(flow)
        while not isinstance(instruction, Transmit):
            instruction = flow.send("token")  # an Authenticate: hand it a token
        request: httpx.Request = instruction.request
        found = route_of(request.method, request.url.path)
        assert found is not None, f"{request.method} {request.url.path}"
        route, _ = found
        seen.add(route.operation)
        documented = SPEC["paths"][route.template][request.method.lower()]
        names = {p["name"] for p in documented.get("parameters", []) if p["in"] == "query"}
        assert set(request.url.params) <= names, (route.operation, set(request.url.params))
    # renew without tokens logs in; health is for operators' probes, not for clients.
    assert seen == {r.operation for r in ROUTES} - {"refresh", "health"}


def test_message_and_status_schemas_match_the_code() -> None:
    schemas = SPEC["components"]["schemas"]
    now = datetime.datetime(2025, 3, 25, tzinfo=datetime.UTC)
    message = Message(
        "m", "1", "2", "11", None, None, 1, "00", MessageStatus.ACCEPTED,
        (StatusChange(MessageStatus.ACCEPTED, now),), now,
    )  # fmt: skip
    assert set(message.to_json()) == set(schemas["Message"]["properties"])
    assert set(message.to_json()) == set(schemas["Message"]["required"])
    assert set(message.history[0].to_json()) == set(schemas["StatusChange"]["properties"])
    assert schemas["Status"]["enum"] == [status.value for status in MessageStatus]


def test_the_status_table_in_the_docs_is_the_code_table() -> None:
    text = (DOCS / "hub-protocol.md").read_text(encoding="utf-8")
    section = text.split("## Message status", 1)[1].split("\n## ", 1)[0]
    documented = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("From", "---"):
            continue
        sources, event, target = cells
        event = event.split(" ")[0]
        if sources.startswith("every state but"):
            excluded = set(re.findall(r"[a-z_]+", sources.removeprefix("every state but")))
            statuses = {s.value for s in MessageStatus} - excluded - {"expired"}
        else:
            statuses = {s.strip() for s in sources.split(",")}
        documented |= {(status, event, target) for status in statuses}
    actual = {
        (status.value, event, target.value) for (status, event), target in TRANSITIONS.items()
    }
    assert documented == actual
