"""FakeHub.serve() and the ASGI face: the hub over a real loopback socket.

Every server here binds 127.0.0.1 on a free port and stops when its block ends (the fixtures'
and `ServerThread`'s timeouts bound both)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from careplan_link.client import Client
from careplan_link.errors import HubServerError
from careplan_link.hub import HubRequest, HubResponse
from careplan_link.hub._asgi import build_app
from careplan_link.hub._server import ServerThread, every, json_log_handler
from careplan_link.testing import FakeHub
from careplan_link.testing.pytest_plugin import HubOffices

pytest_plugins = ["pytester"]

CARE, PROVIDER = "1370100016", "1370200022"


def login(url: str, offices: HubOffices, *, provider: bool = False) -> dict[str, str]:
    who = offices.provider_login if provider else offices.care_login
    answer = httpx.post(
        f"{url}/v1/login",
        json={"office_no": who.office_no, "user_id": who.user_id, "password": who.password},
    )
    assert answer.status_code == 200, answer.text
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


def send(
    url: str, headers: dict[str, str], content: bytes, key: str = "k1", timeout: float = 5
) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/messages",
        params={"to": PROVIDER, "service_type": "11"},
        headers={**headers, "content-type": "application/pkcs7-mime", "idempotency-key": key},
        content=content,
        timeout=timeout,
    )


# -- the protocol over the socket --------------------------------------------------------------


def test_a_client_sends_and_the_receiver_downloads_through_the_served_hub(
    fake_hub: FakeHub, hub_offices: HubOffices, served_hub: str
) -> None:
    assert served_hub.startswith("http://127.0.0.1:")
    with Client(served_hub, login=hub_offices.care_login) as care:
        sent = care.send(b"sealed bytes", to=PROVIDER, service_type="11")
    with Client(served_hub, login=hub_offices.provider_login) as provider:
        (listed,) = list(provider.inbox())
        assert listed.id == sent.id
        assert provider.download(sent.id) == b"sealed bytes"
        provider.acknowledge(sent.id, "downloaded")
    # The state is the in-process hub's: the served one is the same object.
    assert fake_hub.message(sent.id).status == "downloaded"
    assert fake_hub.requests["send"] == 1


def test_health_is_answered_without_a_login(served_hub: str) -> None:
    answer = httpx.get(f"{served_hub}/v1/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


@pytest.mark.fake_hub(allow_protocol_errors=True)
def test_an_unknown_path_gets_the_protocols_404_document(
    fake_hub: FakeHub, served_hub: str
) -> None:
    for method, path in (("GET", "/v1/nothing"), ("GET", "/v1/login"), ("DELETE", "/v1/inbox")):
        answer = httpx.request(method, served_hub + path)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "NO_SUCH_ENDPOINT"
    assert len(fake_hub.protocol_errors) == 3


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(
    fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    with fake_hub.serve(max_body=1000) as url:
        headers = login(url, hub_offices)
        answer = send(url, headers, b"x" * 1001)
        assert answer.status_code == 413
        assert answer.json()["error"]["code"] == "ENVELOPE_TOO_LARGE"
        assert send(url, headers, b"x" * 1000).status_code == 201
    assert fake_hub.counts["send"] == 1


def test_a_streamed_body_over_the_limit_is_cut_off(
    fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for _ in range(50):
            yield b"y" * 100

    with fake_hub.serve(max_body=1000) as url:
        headers = login(url, hub_offices)
        answer = httpx.post(
            f"{url}/v1/login", content=chunks(), headers={"content-type": "application/json"}
        )
        assert answer.status_code == 413
        assert answer.json()["error"]["code"] == "BODY_TOO_LARGE"
        assert httpx.get(f"{url}/v1/inbox", headers=headers).status_code == 200
    assert fake_hub.counts["send"] == 0


def test_the_request_log_is_structured_and_carries_no_secret(
    fake_hub: FakeHub, hub_offices: HubOffices, served_hub: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="careplan_link.hub")
    headers = login(served_hub, hub_offices)
    token = headers["authorization"].removeprefix("Bearer ")
    assert send(served_hub, headers, b"secret envelope", key="secret-key").status_code == 201
    lines = [json_log_handler().format(r) for r in caplog.records if r.name == "careplan_link.hub"]
    records = [json.loads(line) for line in lines]
    assert [(r["operation"], r["status"]) for r in records] == [("login", 200), ("send", 201)]
    assert records[1]["route"] == "/v1/messages" and records[1]["bytes_in"] == 15
    text = "\n".join(lines)
    for secret in (hub_offices.care_login.password, token, "secret envelope", "secret-key"):
        assert secret not in text


# -- faults over a socket ----------------------------------------------------------------------


def test_a_server_error_fault_reaches_the_client_as_http(
    fake_hub: FakeHub, hub_offices: HubOffices, served_hub: str
) -> None:
    fake_hub.inject("server_error", operations={"inbox"})
    retry = fake_hub.clock.retry_policy()
    with (
        Client(served_hub, login=hub_offices.care_login, retry=retry) as care,
        pytest.raises(HubServerError),
    ):
        list(care.inbox())


def test_drop_closes_the_connection_without_an_answer(
    fake_hub: FakeHub, hub_offices: HubOffices, served_hub: str
) -> None:
    headers = login(served_hub, hub_offices)
    fake_hub.inject("drop", operations={"send"}, times=1)
    with pytest.raises(httpx.TransportError):
        send(served_hub, headers, b"dropped")
    assert fake_hub.counts["send"] == 0
    assert send(served_hub, headers, b"dropped").status_code == 201


def test_lost_response_carries_the_request_out_and_never_answers(
    fake_hub: FakeHub, hub_offices: HubOffices, served_hub: str
) -> None:
    headers = login(served_hub, hub_offices)
    fake_hub.inject("lost_response", operations={"send"}, times=1)
    with pytest.raises(httpx.ReadTimeout):
        send(served_hub, headers, b"lost", timeout=0.5)
    assert fake_hub.counts["send"] == 1
    replay = send(served_hub, headers, b"lost")
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"


def test_timeout_holds_the_connection_until_the_client_gives_up(
    fake_hub: FakeHub, hub_offices: HubOffices, served_hub: str
) -> None:
    headers = login(served_hub, hub_offices)
    fake_hub.inject("timeout", operations={"inbox"}, times=1)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{served_hub}/v1/inbox", headers=headers, timeout=0.5)
    assert 0.4 < time.monotonic() - started < 5
    assert httpx.get(f"{served_hub}/v1/inbox", headers=headers).status_code == 200


# -- the test-control endpoint -----------------------------------------------------------------


def test_test_controls_inject_faults_and_move_the_clock(
    fake_hub: FakeHub, hub_offices: HubOffices, served_hub: str
) -> None:
    headers = login(served_hub, hub_offices)
    fault = {"kind": "rate_limit", "operations": ["inbox"], "times": 1, "retry_after": 7}
    assert httpx.post(f"{served_hub}/_test/faults", json=fault).status_code == 201
    limited = httpx.get(f"{served_hub}/v1/inbox", headers=headers)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert httpx.get(f"{served_hub}/v1/inbox", headers=headers).status_code == 200

    before = fake_hub.clock.now()
    moved = httpx.post(f"{served_hub}/_test/clock", json={"advance": 61 * 60})
    assert moved.status_code == 200
    assert (fake_hub.clock.now() - before).total_seconds() == 61 * 60
    expired = httpx.get(f"{served_hub}/v1/inbox", headers=headers)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "TOKEN_EXPIRED"

    fake_hub.inject("server_error")
    assert httpx.delete(f"{served_hub}/_test/faults").status_code == 204
    assert httpx.get(f"{served_hub}/v1/health").status_code == 200


def test_test_controls_refuse_what_they_cannot_read(served_hub: str) -> None:
    for body in ({"kind": "no-such-fault"}, {"kind": "drop", "rate": "often"}):
        answer = httpx.post(f"{served_hub}/_test/faults", json=body)
        assert answer.status_code == 400
    assert httpx.post(f"{served_hub}/_test/clock", json={"advance": -5}).status_code == 400
    assert httpx.post(f"{served_hub}/_test/clock", content=b"[").status_code == 400


def test_reset_through_the_controls_forgets_every_message(
    fake_hub: FakeHub, hub_offices: HubOffices, served_hub: str
) -> None:
    assert send(served_hub, login(served_hub, hub_offices), b"x").status_code == 201
    assert httpx.post(f"{served_hub}/_test/reset").status_code == 204
    assert fake_hub.messages() == []


@pytest.mark.fake_hub(allow_protocol_errors=True)
def test_without_test_controls_the_endpoint_does_not_exist(fake_hub: FakeHub) -> None:
    with fake_hub.serve(test_controls=False) as url:
        answer = httpx.post(f"{url}/_test/clock", json={"advance": 60})
        assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "NO_SUCH_ENDPOINT"


def asgi_call(
    app: object, method: str, path: str, client: str = "127.0.0.1", **options: object
) -> httpx.Response:
    """One request to an ASGI app in-process, as if from address `client`."""

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app, client=(client, 40000))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            return await http.request(method, path, **options)  # type: ignore[arg-type]

    return asyncio.run(call())


def test_test_controls_answer_loopback_clients_only(fake_hub: FakeHub) -> None:
    app = build_app(fake_hub.handle, controls=fake_hub)
    before = fake_hub.clock.now()
    remote = "203.0.113.7"
    assert asgi_call(app, "POST", "/_test/clock", remote, json={"advance": 60}).status_code == 404
    assert asgi_call(app, "POST", "/_test/reset", remote).status_code == 404
    assert asgi_call(app, "POST", "/_test/clock", json={"advance": 60}).status_code == 200
    assert (fake_hub.clock.now() - before).total_seconds() == 60


# -- serving itself ----------------------------------------------------------------------------


def test_serve_refuses_an_address_other_than_loopback(fake_hub: FakeHub) -> None:
    for host in ("0.0.0.0", "192.0.2.1", "hub.example.jp"):
        with pytest.raises(ValueError, match="loopback"), fake_hub.serve(host=host):
            pass


def test_the_port_is_closed_once_the_block_ends(fake_hub: FakeHub) -> None:
    with fake_hub.serve() as url:
        port = int(url.rsplit(":", 1)[1])
        assert httpx.get(f"{url}/v1/health").status_code == 200
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_a_handler_that_raises_gives_the_protocols_500_not_a_traceback() -> None:
    def broken(request: HubRequest) -> HubResponse:
        raise RuntimeError("bug")

    answer = asgi_call(build_app(broken), "GET", "/v1/inbox")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "INTERNAL_ERROR"


def test_background_jobs_run_periodically_and_survive_a_failure() -> None:
    calls: list[float] = []
    twice = threading.Event()

    def job() -> int:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("the first purge fails")
        twice.set()
        return len(calls)

    def answer(request: HubRequest) -> HubResponse:
        return HubResponse(200, {"content-type": "application/json"}, b"{}")

    app = build_app(answer, background=[every(0.05, job, "purge")])
    with ServerThread(app, timeout=5):
        assert twice.wait(5)
    assert len(calls) >= 2


# -- the pytest plugin's fixtures ----------------------------------------------------------------


def test_provider_client_receives_what_hub_client_sent(
    hub_client: Client, provider_client: Client
) -> None:
    sent = hub_client.send(b"plan", to=PROVIDER, service_type="11")
    assert [message.id for message in provider_client.inbox()] == [sent.id]
    assert provider_client.download(sent.id) == b"plan"


def test_pytest_fixtures_shows_the_new_fixtures_with_their_docstrings(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
    assert result.ret == 0
    shown = " ".join(result.stdout.str().split())
    assert "served_hub -- " in shown and "served by uvicorn in a thread" in shown
    assert "provider_client -- " in shown and "the receiving side" in shown
