"""The hub benchmark's load generators check what they measure: wrk's Lua script and the
fallback to this process's client (benchmarks/bench_hub.py)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from careplan_link.hub import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
WRK = shutil.which("wrk")
needs_wrk = pytest.mark.skipif(
    WRK is None, reason="wrk is not installed (Debian: apt-get install wrk; .ci/run installs it)"
)


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_hub", ROOT / "benchmarks" / "bench_hub.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_hub"] = module  # attrs resolves the module's classes through it
    spec.loader.exec_module(module)
    return module


bench = _bench()


@pytest.fixture(scope="module")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SqliteStore, Any]]:
    """A hub served on SQLite as the benchmark serves it, logged in; the store to check it."""
    path = tmp_path_factory.mktemp("bench") / "hub.sqlite"
    store = SqliteStore(str(path))
    passwords = bench.seed(store)
    with bench.served(bench.hub_command(f"sqlite:///{path}", 1)) as (url, pid):
        target = bench.Target("hub", url, True, pid)
        bench.log_in(target, passwords)
        yield store, target
    store.close()


@pytest.fixture
def served_hub(
    hub_server: tuple[SqliteStore, Any], request: pytest.FixtureRequest
) -> tuple[SqliteStore, Any]:
    """The module's hub, as a target of its own: its own record of what was answered, and its
    own idempotency keys (the name is in them; a key used again would be a replay)."""
    store, shared = hub_server
    target = bench.Target(request.node.name[-40:], shared.url, True, shared.pid)
    target.headers = {office: dict(headers) for office, headers in shared.headers.items()}
    return store, target


def _no_cpu() -> dict[str, float]:
    return {"at": 0.0}


def test_wrk_envelope_is_the_number_repeated() -> None:
    envelope = bench.wrk_envelope(10000001)
    assert len(envelope) == bench.SIZE
    assert envelope[:16] == b"1000000110000001"
    assert bench.wrk_envelope(3)[:8] == b"00000003"


def test_lua_literals() -> None:
    assert bench._lua([["msg-1", 2], True, 'a"b']) == '{{"msg-1", 2}, true, "a\\"b"}'
    with pytest.raises(TypeError):
        bench._lua(1.5)


@needs_wrk
def test_wrk_sends_and_downloads_are_checked_and_stored(
    served_hub: tuple[SqliteStore, Any], tmp_path: Path
) -> None:
    store, target = served_hub
    load = bench.Load(2, WRK, 1, tmp_path)
    latest: list[tuple[str, int]] = []
    sent = bench.wrk_measure(target, "sends", 0, load, latest, _no_cpu)
    assert sent[0] > 0 and len(latest) == sent[0] == len(target.answered)
    fetched = bench.wrk_measure(target, "downloads", 0, load, latest, _no_cpu)
    assert fetched[0] > 0 and fetched[1] > 0 and 0 < fetched[2] <= fetched[3]
    bench.check_stored(store, [target])  # every answered send stored under its key
    message_id, number = latest[0]
    assert store.content(message_id) == bench.wrk_envelope(number)


@needs_wrk
def test_wrk_refuses_a_download_that_is_not_its_envelope(
    served_hub: tuple[SqliteStore, Any], tmp_path: Path
) -> None:
    _, target = served_hub
    load = bench.Load(2, WRK, 1, tmp_path)
    latest: list[tuple[str, int]] = []
    bench.wrk_measure(target, "sends", 0, load, latest, _no_cpu)
    # Each id paired with another send's number: every answer is a whole envelope, not its own.
    numbers = [number for _, number in latest]
    shuffled = [(i, n) for (i, _), n in zip(latest, numbers[1:] + numbers[:1], strict=True)]
    with pytest.raises(RuntimeError, match="answers not as expected"):
        bench.wrk_measure(target, "downloads", 1, load, shuffled, _no_cpu)


@needs_wrk
def test_wrk_refuses_a_send_that_is_not_accepted(
    served_hub: tuple[SqliteStore, Any], tmp_path: Path
) -> None:
    _, target = served_hub
    target.headers[bench.CARE] = {"authorization": "Bearer not-a-token"}
    with pytest.raises(RuntimeError, match=r"answers not as expected.*401"):
        bench.wrk_measure(target, "sends", 0, bench.Load(1, WRK, 1, tmp_path), [], _no_cpu)


@needs_wrk
def test_check_stored_finds_an_answered_send_that_was_not_stored(
    served_hub: tuple[SqliteStore, Any], tmp_path: Path
) -> None:
    store, target = served_hub
    bench.wrk_measure(target, "sends", 0, bench.Load(1, WRK, 1, tmp_path), [], _no_cpu)
    target.answered["bench-never-sent"] = "msg-999999999999"
    with pytest.raises(RuntimeError, match="1 answered sends not stored"):
        bench.check_stored(store, [target])


def test_without_wrk_the_python_client_is_used_and_said(tmp_path: Path) -> None:
    environment = {**os.environ, "PATH": str(tmp_path)}  # no wrk there
    environment.pop("CAREPLAN_LINK_TEST_POSTGRES", None)
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_hub.py"), "--quick", "--rounds", "1"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "wrk is not installed: the requests come from this process's asyncio client" in (
        run.stdout
    )
    assert "SQLite (one process), this process's asyncio client, 4 keep-alive" in run.stdout
    assert "hub's own work" in run.stdout
