"""A vendor with no Python client at all: curl against `careplan-link hub serve`.

The hub runs as a subprocess (`hub serve --seed --port 0` on 127.0.0.1 with a SQLite store);
its stdout gives the seeded logins, one JSON line per office, then the URL it listens on. Every
request below is a curl command line written from docs/hub-protocol.md (paths, header names as
the document spells them, JSON bodies); Python only reads curl's output. The server is stopped
with SIGTERM and must exit 0 within seconds (graceful shutdown), and the store must hold what
was done.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed (CI installs it)")

CARE, PROVIDER = "1370100016", "1370200022"
TIMEOUT = 30


class Served:
    def __init__(self, process: subprocess.Popen[str], url: str, offices: dict[str, Any]):
        self.process = process
        self.url = url
        self.offices = offices


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str | None]:
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def start_hub(tmp_path: Path, *extra: str) -> Served:
    command = [
        sys.executable, "-m", "careplan_link", "hub", "serve",
        "--port", "0", "--store", f"sqlite:///{tmp_path / 'hub.sqlite'}",
        "--seed", "--seed-dir", str(tmp_path / "seed"), *extra,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    lines = _lines(process)
    offices: dict[str, Any] = {}
    while True:
        try:
            line = lines.get(timeout=TIMEOUT)
        except queue.Empty:
            process.kill()
            raise AssertionError("the hub did not start in time") from None
        if line is None:
            _, errors = process.communicate(timeout=TIMEOUT)
            raise AssertionError(f"the hub exited: {errors}")
        document = json.loads(line)
        if document.get("event") == "listening":
            return Served(process, document["url"], offices)
        offices[document["office_no"]] = document


def stop_hub(served: Served, how: signal.Signals = signal.SIGTERM) -> str:
    served.process.send_signal(how)
    try:
        _, errors = served.process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        served.process.kill()
        raise
    assert served.process.returncode == 0, errors
    return errors


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Served]:
    served = start_hub(tmp_path)
    try:
        yield served
    finally:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait(TIMEOUT)


def curl(*arguments: str, tls: list[str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Run curl; the status, the answer's headers (lower-case names) and its body."""
    assert CURL is not None
    result = subprocess.run(
        [CURL, "--silent", "--show-error", "--include", "--max-time", "10", *(tls or []),
         *arguments],
        capture_output=True, timeout=TIMEOUT, check=True,
    )  # fmt: skip
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def login(url: str, office: dict[str, Any], tls: list[str] | None = None) -> str:
    body = json.dumps(
        {"office_no": office["office_no"], "user_id": office["user_id"],
         "password": office["password"]}
    )  # fmt: skip
    status, _, answer = curl(
        "-X", "POST", f"{url}/v1/login", "-H", "Content-Type: application/json",
        "--data-binary", body, tls=tls,
    )  # fmt: skip
    assert status == 200, answer
    token: str = json.loads(answer)["access_token"]
    return f"Authorization: Bearer {token}"


def exchange(url: str, offices: dict[str, Any], envelope: Path, tls: Any = None) -> str:
    """The whole exchange as docs/hub-protocol.md describes it; returns the message id."""
    care_tls = tls(CARE) if tls else None
    provider_tls = tls(PROVIDER) if tls else None
    care = login(url, offices[CARE], care_tls)
    status, _, answer = curl(
        "-X", "POST", f"{url}/v1/messages?to={PROVIDER}&service_type=11",
        "-H", care, "-H", "Content-Type: application/pkcs7-mime",
        "-H", "Idempotency-Key: curl-unit-1", "--data-binary", f"@{envelope}", tls=care_tls,
    )  # fmt: skip
    assert status == 201, answer
    message = json.loads(answer)["message"]
    assert message["sender"] == CARE and message["receiver"] == PROVIDER

    status, _, answer = curl(f"{url}/v1/outbox?limit=10", "-H", care, tls=care_tls)
    assert status == 200
    assert [m["id"] for m in json.loads(answer)["messages"]] == [message["id"]]

    provider = login(url, offices[PROVIDER], provider_tls)
    status, _, answer = curl(f"{url}/v1/inbox?status=delivered", "-H", provider, tls=provider_tls)
    assert status == 200
    (listed,) = json.loads(answer)["messages"]
    assert listed["id"] == message["id"]

    status, headers, content = curl(
        f"{url}/v1/messages/{message['id']}/content", "-H", provider, tls=provider_tls
    )
    assert status == 200 and headers["content-type"] == "application/pkcs7-mime"
    assert content == envelope.read_bytes()
    assert headers["x-content-sha256"] == hashlib.sha256(content).hexdigest()

    status, _, answer = curl(
        "-X", "POST", f"{url}/v1/messages/{message['id']}/receipts", "-H", provider,
        "-H", "Content-Type: application/json", "--data-binary", '{"receipt": "downloaded"}',
        tls=provider_tls,
    )  # fmt: skip
    assert status == 200 and json.loads(answer)["message"]["status"] == "downloaded"

    status, _, answer = curl(f"{url}/v1/audit", "-H", provider, tls=provider_tls)
    assert status == 200
    entries = json.loads(answer)["entries"]
    actions = [(e["action"], e.get("message_id")) for e in entries]
    assert ("download", message["id"]) in actions
    assert all(e["office_no"] in (PROVIDER,) or e.get("counterpart") == PROVIDER for e in entries)
    downloaded = next(e for e in entries if e["action"] == "download")
    assert downloaded["envelope_sha256"] == hashlib.sha256(content).hexdigest()
    return str(message["id"])


def test_curl_logs_in_sends_lists_downloads_and_reads_its_audit(
    hub: Served, tmp_path: Path
) -> None:
    assert hub.url.startswith("http://127.0.0.1:")
    assert set(hub.offices) == {CARE, PROVIDER}
    envelope = tmp_path / "unit.p7m"
    envelope.write_bytes(os.urandom(3000))
    message_id = exchange(hub.url, hub.offices, envelope)

    status, _, answer = curl(f"{hub.url}/v1/health")
    assert status == 200 and json.loads(answer)["status"] == "ok"
    status, _, answer = curl(f"{hub.url}/v1/inbox")
    assert status == 401 and json.loads(answer)["error"]["code"] == "TOKEN_MISSING"

    log = stop_hub(hub)
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(r.get("operation") == "send" and r.get("status") == 201 for r in records)
    for office in hub.offices.values():
        assert office["password"] not in log

    # Everything survived the shutdown: the same store, served again.
    again = start_hub(tmp_path)
    try:
        provider = login(again.url, again.offices[PROVIDER])
        status, _, answer = curl(f"{again.url}/v1/messages/{message_id}", "-H", provider)
        assert status == 200 and json.loads(answer)["message"]["status"] == "downloaded"
    finally:
        stop_hub(again, signal.SIGINT)


def test_curl_over_tls_with_the_seeded_client_certificates(tmp_path: Path) -> None:
    served = start_hub(tmp_path, "--seed-tls")
    try:
        assert served.url.startswith("https://127.0.0.1:")
        offices = served.offices

        def tls(office_no: str) -> list[str]:
            files = offices[office_no]["files"]
            return ["--cacert", files["ca"], "--cert", files["certificate"], "--key", files["key"]]

        envelope = tmp_path / "unit.p7m"
        envelope.write_bytes(os.urandom(500))
        exchange(served.url, offices, envelope, tls)

        # No client certificate: the server closes the connection after the handshake with no
        # HTTP answer (curl: 35 TLS error, 52 empty reply or 56 receive failure).
        ca = ["--cacert", offices[CARE]["files"]["ca"]]
        with pytest.raises(subprocess.CalledProcessError) as refused:
            curl(f"{served.url}/v1/health", tls=ca)
        assert refused.value.returncode in (35, 52, 56)
        # The provider's certificate with the care office's login: refused by the hub.
        body = json.dumps(
            {"office_no": CARE, "user_id": offices[CARE]["user_id"],
             "password": offices[CARE]["password"]}
        )  # fmt: skip
        status, _, answer = curl(
            "-X", "POST", f"{served.url}/v1/login", "-H", "Content-Type: application/json",
            "--data-binary", body, tls=tls(PROVIDER),
        )  # fmt: skip
        assert status == 403
        assert json.loads(answer)["error"]["code"] == "CERTIFICATE_NOT_THE_OFFICES"
    finally:
        stop_hub(served)


def test_a_signal_lets_the_request_in_progress_finish(tmp_path: Path) -> None:
    served = start_hub(tmp_path, "--test-controls")
    try:
        care = login(served.url, served.offices[CARE])
        fault = '{"kind": "slow", "operations": ["inbox"], "times": 1, "delay": 3}'
        status, _, _ = curl("-X", "POST", f"{served.url}/_test/faults", "--data-binary", fault)
        assert status == 201
        assert CURL is not None
        slow = subprocess.Popen(
            [CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
             "-H", care, f"{served.url}/v1/inbox"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1)  # the request is in the hub, waiting out its 3 s
    finally:
        log = stop_hub(served)
    answered, _ = slow.communicate(timeout=TIMEOUT)
    assert answered == "200"
    assert '"event": "shutdown"' in log
