"""`careplan-link hub serve --workers N` and `hub migrate` (PostgreSQL tests need
CAREPLAN_LINK_TEST_POSTGRES; see tests/stores.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from careplan_link.cli import main
from careplan_link.hub import Admin
from careplan_link.hub._postgres import POSTGRES_SCHEMA_VERSION, PostgresStore
from careplan_link.testing import FakePKI

from ..stores import NO_POSTGRES, postgres_url

needs_postgres = pytest.mark.skipif(postgres_url() is None, reason=NO_POSTGRES)
CARE, PROVIDER = "1370100016", "1370200022"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_several_workers_need_a_shared_store(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hub", "serve", "--workers", "2", "--store", "memory:", "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert "shared store" in error and "共有ストア" in error and "Traceback" not in error
    assert main(["hub", "serve", "--workers", "0", "--port", "0"]) == 2


@needs_postgres
def test_migrate_prints_the_schema_version(capsys: pytest.CaptureFixture[str]) -> None:
    url = postgres_url()
    assert url is not None
    assert main(["hub", "migrate", "--store", url]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"store": "postgresql:…", "schema_version": POSTGRES_SCHEMA_VERSION}


@needs_postgres
def test_two_workers_serve_one_database_and_stop_on_sigterm(tmp_path: Path) -> None:
    url = postgres_url()
    assert url is not None
    store = PostgresStore(url)
    store.clear()
    pki = FakePKI()
    admin = Admin(store, password_cost=2**4)
    for office in (CARE, PROVIDER):
        admin.add_office(office, ["11"], f"user-{office}", [pki.office(office).certificate_pem()],
                         password="worker test password")  # fmt: skip
    command = [sys.executable, "-m", "careplan_link", "hub", "serve", "--store", url,
               "--port", "0", "--workers", "2", "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        listening = json.loads(server.stdout.readline())
        base = listening["url"]
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(200):  # the workers import and open their pools
                try:
                    if client.get("/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            login = {"office_no": CARE, "user_id": f"user-{CARE}",
                     "password": "worker test password"}  # fmt: skip
            token = client.post("/v1/login", json=login).json()["access_token"]
            headers = {"authorization": f"Bearer {token}",
                       "content-type": "application/pkcs7-mime"}  # fmt: skip
            ids = set()
            for number in range(20):  # new connections: the kernel spreads them over workers
                with httpx.Client(base_url=base, timeout=30) as fresh:
                    answer = fresh.post(
                        "/v1/messages",
                        params={"to": PROVIDER, "service_type": "11"},
                        headers={**headers, "idempotency-key": f"k-{number % 10}"},
                        content=f"e{number % 10}".encode(),
                    )
                assert answer.status_code == (201 if number < 10 else 200), answer.text
                ids.add(answer.json()["message"]["id"])
        assert len(ids) == 10 and len(store.all_messages()) == 10
        assert len(_children(server.pid)) >= 2  # the workers (and spawn's resource tracker)
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=60)
        store.close()
    assert server.returncode == 0, errors
    assert "Traceback" not in errors
