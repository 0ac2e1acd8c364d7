"""Sends and downloads per second through the served hub over loopback, on SQLite and on
PostgreSQL with 1, 2 and 4 worker processes, against a trivial route of the same server.

    python benchmarks/bench_hub.py            # 2,000 sends and downloads of 2 KB per server
    python benchmarks/bench_hub.py --quick    # 400 (CI)
    python benchmarks/bench_hub.py --postgres postgresql://user@host/db   # also PostgreSQL
                                              # (default: $CAREPLAN_LINK_TEST_POSTGRES; the
                                              # database is emptied first)

Every server is its own process, started exactly as an operator starts it: the hub is
`careplan-link hub serve --store …` (one process on SQLite; `--workers N` on PostgreSQL), and
the baseline is the same uvicorn configuration (`careplan_link.hub._server`: its protocol
class, its socket, `--workers N` through the same supervisor) serving a trivial Starlette app.
The load generator is this process: plain httpx clients with keep-alive, one thread each,
doing the same work for every server — the same query, the same headers, an answer of the
same size parsed the same way (the trivial send answers a copy of a real send's document; the
trivial download 2 KB with the same headers). What differs is only what the server does.

The machines are shared and their load moves by the second, so the servers are not measured
one after the other: each run is `ROUNDS` rounds, and in each round every server gets the same
slice of requests, in an order that rotates from round to round. The ratio hub ÷ trivial is
taken per round (the two measured seconds apart) and its median reported with the spread over
the rounds, with the throughput and the 50th/99th-percentile latency of each server.

Targets (docs/hub-operations.md, "Performance"): SQLite — the hub's own work (routing,
authentication, rules, the fsync'ed commit, the audit log) ≤ 3× the trivial route; PostgreSQL
— 2 workers ≥ 1.4× one, and 4 workers correct (every send stored once, every download its
envelope, the audit chain intact) even where they are not faster.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from careplan_link.hub import Admin, HubStore, SqliteStore, verify_chain
from careplan_link.testing import FakePKI

SIZE = 2048
CARE, PROVIDER = "1370100016", "1370200022"
TARGET = 3.0
SQLITE_CLIENTS = 4
PG_CLIENTS = 8
PG_WORKERS = (1, 2, 4)
PG_GROWTH = 1.4
ROUNDS = 8
HERE = Path(__file__).resolve().parent

# -- the trivial server ---------------------------------------------------------------------------

# What a real send answers (a copy, so that the client parses the same bytes).
_SEND_ANSWER = json.dumps(
    {
        "message": {
            "id": "msg-000000000001",
            "sender": CARE,
            "receiver": PROVIDER,
            "service_type": "11",
            "serial": None,
            "unit_kind": None,
            "size": SIZE,
            "sha256": "0" * 64,
            "status": "delivered",
            "accepted_at": "2026-01-01T00:00:00.000000Z",
            "history": [
                {"status": "accepted", "at": "2026-01-01T00:00:00.000000Z", "reasons": []},
                {"status": "delivered", "at": "2026-01-01T00:00:00.000000Z", "reasons": []},
            ],
        }
    },
    ensure_ascii=False,
).encode()


def trivial_app() -> Starlette:
    """The baseline: reads the body and answers like a send (POST), or 2 KB like a download."""
    payload = os.urandom(SIZE)
    headers = {"x-content-sha256": "0" * 64}

    async def post(request: Request) -> Response:
        await request.body()
        return Response(_SEND_ANSWER, 201, media_type="application/json")

    async def get(request: Request) -> Response:
        return Response(payload, 200, headers=headers, media_type="application/pkcs7-mime")

    async def token(request: Request) -> Response:
        await request.body()
        return Response(b'{"access_token": "trivial"}', 200, media_type="application/json")

    return Starlette(
        routes=[
            Route("/v1/login", token, methods=["POST"]),
            Route("/v1/messages", post, methods=["POST"]),
            Route("/v1/messages/{message_id}/content", get),
        ]
    )


def _serve_trivial() -> None:
    """`--trivial-server`: the baseline, served as `hub serve` serves the hub (one process)."""
    from careplan_link.hub._server import bind, serve_forever

    sock = bind("127.0.0.1", 0)
    print(json.dumps({"url": f"http://127.0.0.1:{sock.getsockname()[1]}"}), flush=True)
    serve_forever(trivial_app(), sock)


# -- servers and clients --------------------------------------------------------------------------


@attrs.define
class Target:
    """One server under measurement, and what was measured of it."""

    name: str
    url: str
    hub: bool
    headers: dict[str, dict[str, str]] = attrs.field(factory=dict)
    ids: dict[int, str] = attrs.field(factory=dict)
    envelopes: dict[int, bytes] = attrs.field(factory=dict)
    rates: dict[str, list[float]] = attrs.field(factory=lambda: {"sends": [], "downloads": []})
    latencies: dict[str, list[float]] = attrs.field(factory=lambda: {"sends": [], "downloads": []})


@contextmanager
def served(command: Sequence[str], env: dict[str, str] | None = None) -> Iterator[str]:
    """Start a server process that prints `{"url": …}` first; yield its URL once it answers."""
    environment = {**os.environ, **(env or {})}
    server = subprocess.Popen(list(command), stdout=subprocess.PIPE, text=True, env=environment)
    try:
        assert server.stdout is not None
        url = str(json.loads(server.stdout.readline())["url"])
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/v1/health", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"{command} did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(60)


def hub_command(store: str, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "careplan_link", "hub", "serve", "--store", store, "--port", "0",
        "--workers", str(workers), "--rate-limit", "0", "--log-level", "warning",
    ]  # fmt: skip


def trivial_command() -> list[str]:
    return [sys.executable, str(HERE / "bench_hub.py"), "--trivial-server"]


def seed(store: HubStore) -> dict[str, str]:
    """Register the two offices; their passwords."""
    pki = FakePKI()
    admin = Admin(store)
    return {
        office: admin.add_office(
            office, (), f"user-{office}", [pki.office(office).certificate_pem()]
        )
        for office in (CARE, PROVIDER)
    }


def log_in(target: Target, passwords: dict[str, str]) -> None:
    for office in (CARE, PROVIDER):
        login = {"office_no": office, "user_id": f"user-{office}", "password": passwords[office]}
        answer = httpx.post(f"{target.url}/v1/login", json=login, timeout=60)
        answer.raise_for_status()
        target.headers[office] = {"authorization": f"Bearer {answer.json()['access_token']}"}


def send(target: Target, client: httpx.Client, index: int) -> None:
    envelope = os.urandom(SIZE)
    answer = client.post(
        "/v1/messages",
        params={"to": PROVIDER, "service_type": "11"},
        headers={
            **target.headers[CARE],
            "content-type": "application/pkcs7-mime",
            "idempotency-key": f"bench-{target.name}-{index}",
        },
        content=envelope,
    )
    if answer.status_code != 201:
        raise RuntimeError(f"{target.name}: send answered {answer.status_code} {answer.text}")
    target.ids[index] = answer.json()["message"]["id"]
    target.envelopes[index] = envelope


def fetch(target: Target, client: httpx.Client, index: int) -> None:
    path = f"/v1/messages/{target.ids[index]}/content"
    answer = client.get(path, headers=target.headers[PROVIDER])
    if answer.status_code != 200 or len(answer.content) != SIZE:
        raise RuntimeError(f"{target.name}: download answered {answer.status_code}")
    if target.hub and answer.content != target.envelopes[index]:
        raise RuntimeError(f"{target.name}: download {index} is not its envelope")


Operation = Callable[[Target, httpx.Client, int], None]


def measure(
    target: Target,
    operation: Operation,
    indexes: Sequence[int],
    clients: Sequence[httpx.Client],
) -> tuple[float, list[float]]:
    """(requests per second, latencies) of `operation` over `indexes`, one thread per client."""
    latencies: list[float] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(clients) + 1)

    def worker(number: int) -> None:
        barrier.wait()
        try:
            for index in indexes[number :: len(clients)]:
                started = time.perf_counter()
                operation(target, clients[number], index)
                latencies.append(time.perf_counter() - started)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    return len(indexes) / elapsed, latencies


def run_rounds(targets: Sequence[Target], count: int, clients: int, rounds: int) -> None:
    """`count` sends then downloads per target, in `rounds` interleaved rounds."""
    per_round = max(clients, count // rounds)
    pools = {
        t.name: [httpx.Client(base_url=t.url, timeout=60) for _ in range(clients)] for t in targets
    }
    try:
        for target in targets:  # warm every connection (and the hub's caches) outside the timing
            warm = [-1 - n for n in range(clients)]
            measure(target, send, warm, pools[target.name])
            measure(target, fetch, warm, pools[target.name])
        for number in range(rounds):
            indexes = range(number * per_round, (number + 1) * per_round)
            order = [*targets[number % len(targets) :], *targets[: number % len(targets)]]
            for name, operation in (("sends", send), ("downloads", fetch)):
                for target in order:
                    rate, latencies = measure(target, operation, indexes, pools[target.name])
                    target.rates[name].append(rate)
                    target.latencies[name] += latencies
    finally:
        for pool in pools.values():
            for client in pool:
                client.close()


# -- reporting ------------------------------------------------------------------------------------


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def describe(target: Target, name: str) -> str:
    latencies = target.latencies[name]
    p50, p99 = _percentile(latencies, 0.5) * 1e3, _percentile(latencies, 0.99) * 1e3
    rate = statistics.median(target.rates[name])
    return f"{rate:7.0f}/s  p50 {p50:5.1f} ms  p99 {p99:6.1f} ms"


def ratios(slow: Target, fast: Target, name: str) -> list[float]:
    """fast ÷ slow per round."""
    return [f / s for f, s in zip(fast.rates[name], slow.rates[name], strict=True)]


def spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):4.2f}× (rounds {min(values):.2f}–{max(values):.2f})"


# -- the runs -------------------------------------------------------------------------------------


def sqlite_run(count: int, folder: Path, rounds: int) -> dict[str, Any]:
    path = folder / "hub.sqlite"
    store = SqliteStore(str(path))
    passwords = seed(store)
    store.close()
    with (
        served(hub_command(f"sqlite:///{path}", 1)) as hub_url,
        served(trivial_command()) as trivial_url,
    ):
        hub, trivial = Target("hub", hub_url, True), Target("trivial", trivial_url, False)
        log_in(hub, passwords)
        log_in(trivial, passwords)
        run_rounds([trivial, hub], count, SQLITE_CLIENTS, rounds)
    store = SqliteStore(str(path))
    try:
        check_stored(store, [hub], SQLITE_CLIENTS)
    finally:
        store.close()
    print(f"served hub, SQLite (one process), {SQLITE_CLIENTS} keep-alive clients, "
          f"{count} × {SIZE} B, {rounds} interleaved rounds")  # fmt: skip
    result: dict[str, Any] = {}
    for name in ("sends", "downloads"):
        ratio = ratios(hub, trivial, name)
        verdict = "ok" if statistics.median(ratio) <= TARGET else "MISSED"
        print(f"  {name:<9} trivial {describe(trivial, name)}")
        print(f"  {'':<9} hub     {describe(hub, name)}")
        print(f"  {'':<9} hub's own work {spread(ratio)}  (target ≤ {TARGET:g}×: {verdict})")
        result[name] = statistics.median(ratio)
    return result


def check_stored(store: HubStore, hubs: Sequence[Target], clients: int) -> None:
    """Every send stored once (warm-up sends included), none lost; the audit chain intact."""
    stored = store.all_messages()
    expected = sum(len(t.ids) for t in hubs)
    if len(stored) != expected or len({m.id for m in stored}) != expected:
        raise RuntimeError(f"{len(stored)} messages stored for {expected} sends")
    check = verify_chain(store.audit_entries(), store.audit_head())
    if not check.intact:
        raise RuntimeError(f"the audit chain is broken: {check}")


def postgres_run(count: int, url: str, rounds: int) -> None:
    from careplan_link.hub._postgres import PostgresStore

    store = PostgresStore(url, pool_size=2)
    store.clear()
    passwords = seed(store)
    with contextlib.ExitStack() as stack:
        trivial = Target("trivial", stack.enter_context(served(trivial_command())), False)
        hubs = [
            Target(f"hub-{n}w", stack.enter_context(served(hub_command(url, n))), True)
            for n in PG_WORKERS
        ]
        for target in (trivial, *hubs):
            log_in(target, passwords)
        run_rounds([trivial, *hubs], count, PG_CLIENTS, rounds)
    try:
        check_stored(store, hubs, PG_CLIENTS)
    finally:
        store.close()
    print(f"served hub, PostgreSQL, {PG_CLIENTS} keep-alive clients, {count} × {SIZE} B per "
          f"server, {rounds} interleaved rounds (correct: every send stored once, every "
          f"download its envelope, the audit chain intact)")  # fmt: skip
    one = hubs[0]
    for name in ("sends", "downloads"):
        print(f"  {name:<9} trivial   {describe(trivial, name)}")
        for workers, target in zip(PG_WORKERS, hubs, strict=True):
            growth = ratios(one, target, name)
            verdict = ""
            if workers == 2:
                ok = statistics.median(growth) >= PG_GROWTH
                verdict = f"  (target ≥ {PG_GROWTH:g}×: {'ok' if ok else 'MISSED'})"
            label = f"{workers} worker{'s' if workers > 1 else ' '}"
            print(f"  {'':<9} {label} {describe(target, name)}"
                  f"  × one worker {spread(growth)}{verdict}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (CI)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds")
    parser.add_argument(
        "--folder", type=Path, help="where the SQLite file goes (default: the temporary folder)"
    )
    parser.add_argument(
        "--postgres", default=os.environ.get("CAREPLAN_LINK_TEST_POSTGRES"), metavar="URL",
        help="also measure PostgreSQL with 1, 2, 4 workers (this database is emptied)",
    )  # fmt: skip
    parser.add_argument("--trivial-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trivial_server:
        _serve_trivial()
        return 0
    count = 400 if args.quick else 2000
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        sqlite_run(count, Path(folder), args.rounds)
    if args.postgres:
        postgres_run(count, args.postgres, args.rounds)
    else:
        print("PostgreSQL: not measured (give --postgres URL or CAREPLAN_LINK_TEST_POSTGRES)")
    # A measurement, not a test: a loaded machine must not fail CI, so the status is 0.
    return 0


if __name__ == "__main__":
    sys.exit(main())
