"""`careplan-link hub …`: the operator's commands on a SQLite store, and what `serve` refuses.

The administration commands run in-process (`careplan_link.cli.main`); `serve` itself runs as a
subprocess in test_curl.py. Each failure must be one bilingual line and no traceback."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from careplan_link.cli import main
from careplan_link.hub import Hub, HubRequest, open_store
from careplan_link.testing import FakePKI

OFFICE = "1370100016"


@pytest.fixture(scope="module")
def pki() -> FakePKI:
    return FakePKI()


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.sqlite'}"


@pytest.fixture
def certificate(pki: FakePKI, tmp_path: Path) -> Path:
    path = tmp_path / "office.pem"
    path.write_bytes(pki.office(OFFICE).certificate_pem())
    return path


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    status = main(["hub", *arguments])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def login_status(store: str, user_id: str, password: str) -> int:
    hub = Hub(open_store(store))
    try:
        body = json.dumps({"office_no": OFFICE, "user_id": user_id, "password": password})
        return hub.handle(HubRequest("POST", "/v1/login", {}, {}, body.encode())).status
    finally:
        hub.close()


def test_office_add_prints_the_password_once_and_it_logs_in(
    capsys: pytest.CaptureFixture[str], store: str, certificate: Path
) -> None:
    status, out, err = run(
        capsys, "office", "add", OFFICE, "--store", store, "--certificate", str(certificate),
        "--service-type", "43",
    )  # fmt: skip
    assert status == 0
    added = json.loads(out)
    assert added["office_no"] == OFFICE and added["user_id"] == f"user-{OFFICE}"
    assert "この一度だけ" in err and "shown this once" in err
    assert login_status(store, added["user_id"], added["password"]) == 200
    assert login_status(store, added["user_id"], added["password"] + "x") == 401

    status, out, _ = run(capsys, "office", "list", "--store", store, "--json")
    (listed,) = [json.loads(line) for line in out.splitlines()]
    assert listed["service_types"] == ["43"] and listed["disabled"] is False
    assert added["password"] not in out


def test_a_password_from_stdin_is_not_printed(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    store: str,
    certificate: Path,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
    status, out, _ = run(
        capsys, "office", "add", OFFICE, "--store", store, "--certificate", str(certificate),
        "--password-stdin", "--user-id", "care-1",
    )  # fmt: skip
    assert status == 0 and "password" not in json.loads(out)
    assert login_status(store, "care-1", "a long enough password") == 200


def test_reset_password_and_disable(
    capsys: pytest.CaptureFixture[str], store: str, certificate: Path
) -> None:
    _, out, _ = run(capsys, "office", "add", OFFICE, "--store", store,
                    "--certificate", str(certificate))  # fmt: skip
    first = json.loads(out)["password"]
    status, out, _ = run(capsys, "office", "reset-password", OFFICE, "--store", store)
    second = json.loads(out)["password"]
    assert status == 0 and second != first
    assert login_status(store, f"user-{OFFICE}", first) == 401
    assert login_status(store, f"user-{OFFICE}", second) == 200

    status, out, _ = run(capsys, "office", "disable", OFFICE, "--store", store)
    assert status == 0 and json.loads(out)["disabled"] is True
    assert login_status(store, f"user-{OFFICE}", second) == 401


def test_certificate_rotation_keeps_both_until_the_old_one_is_removed(
    capsys: pytest.CaptureFixture[str],
    pki: FakePKI,
    store: str,
    certificate: Path,
    tmp_path: Path,
) -> None:
    run(capsys, "office", "add", OFFICE, "--store", store, "--certificate", str(certificate))
    renewed = tmp_path / "renewed.pem"
    renewed_identity = pki.office(OFFICE)
    renewed.write_bytes(renewed_identity.certificate_pem())
    status, _, _ = run(capsys, "office", "add-certificate", OFFICE, str(renewed), "--store", store)
    assert status == 0
    _, out, _ = run(capsys, "office", "list", "--store", store, "--json")
    new_print = renewed_identity.certificate.fingerprint(hashes.SHA256()).hex()
    assert json.loads(out)["certificates"][0] == new_print
    assert len(json.loads(out)["certificates"]) == 2

    status, _, _ = run(
        capsys, "office", "remove-certificate", OFFICE, str(certificate), "--store", store
    )
    assert status == 0
    _, out, _ = run(capsys, "office", "list", "--store", store, "--json")
    assert json.loads(out)["certificates"] == [new_print]
    # The last certificate stays (the core refuses), by fingerprint this time.
    status, _, err = run(
        capsys, "office", "remove-certificate", OFFICE, new_print, "--store", store
    )
    assert status == 1 and " / " in err
    status, _, err = run(capsys, "office", "remove-certificate", OFFICE, "ab" * 32,
                         "--store", store)  # fmt: skip
    assert status == 1 and "にその証明書" in err


def test_purge_and_audit_export(
    capsys: pytest.CaptureFixture[str], store: str, certificate: Path
) -> None:
    run(capsys, "office", "add", OFFICE, "--store", store, "--certificate", str(certificate))
    status, out, _ = run(capsys, "purge", "--store", store)
    assert status == 0 and isinstance(json.loads(out), dict)

    status, out, _ = run(capsys, "audit", "export", "--store", store, "--format", "json")
    assert status == 0
    exported = json.loads(out)
    entries = exported["entries"] if isinstance(exported, dict) else exported
    assert [e["action"] for e in entries] == ["office_added", "purge"]

    status, out, _ = run(capsys, "audit", "export", "--store", store, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and [r["action"] for r in rows] == ["office_added", "purge"]


def test_operator_mistakes_are_one_bilingual_line(
    capsys: pytest.CaptureFixture[str], store: str, certificate: Path, tmp_path: Path
) -> None:
    status, _, err = run(capsys, "office", "disable", "9999999999", "--store", store)
    assert status == 1 and "登録されていません" in err and "not registered" in err
    not_a_certificate = tmp_path / "junk.pem"
    not_a_certificate.write_text("junk")
    status, _, err = run(capsys, "office", "add", OFFICE, "--store", store,
                         "--certificate", str(not_a_certificate))  # fmt: skip
    assert status == 2 and "証明書" in err and "not a certificate" in err
    status, _, err = run(capsys, "office", "list", "--store", "mysql://hub")
    assert status == 1 and "memory:" in err
    run(capsys, "office", "add", OFFICE, "--store", store, "--certificate", str(certificate))
    status, _, err = run(capsys, "office", "add", OFFICE, "--store", store,
                         "--certificate", str(certificate))  # fmt: skip
    assert status == 1 and "already registered" in err


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--host", "0.0.0.0"], "refusing plain HTTP"),
        (["--host", "192.0.2.10", "--port", "0"], "平文 HTTP"),
        (["--host", "0.0.0.0", "--insecure-http", "--test-controls"], "loopback"),
        (["--tls-cert", "server.pem"], "both --tls-cert and --tls-key"),
        (["--seed-tls"], "--seed-tls needs --seed"),
    ],
)
def test_serve_refuses_what_would_be_unsafe(
    capsys: pytest.CaptureFixture[str], arguments: list[str], words: str
) -> None:
    status, out, err = run(capsys, "serve", "--store", "memory:", *arguments)
    assert status == 2 and words in err and out == ""


def test_serve_without_the_hub_extra_says_which_extra(tmp_path: Path) -> None:
    # A child interpreter where starlette cannot be imported.
    code = (
        "import sys; sys.modules['starlette'] = None\n"
        "from careplan_link.cli import main\n"
        "sys.exit(main(['hub', 'serve', '--store', 'memory:']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "[hub]" in result.stderr and "Traceback" not in result.stderr
