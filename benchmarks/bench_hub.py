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
The load generator is this process: `clients` keep-alive HTTP/1.1 connections driven by one
asyncio loop, doing the same work for every server — the same request bytes but the key and
the message id, an answer of the same size parsed the same way (the trivial send answers a
copy of a real send's document, whose JSON is parsed for the message id; the trivial download
2 KB with the same headers; every hub download is compared with its envelope). What differs
is only what the server does. The client is deliberately lean (requests built as bytes; the
answer read just enough: status line, headers, the Content-Length body), as wrk or h2load are
written in C: the load generator shares the machine's cores with the servers (and the
database), and every millisecond of CPU it spends per request is taken from them. httpx in
threads cost 1.5–2.2 ms of CPU per request, three times the trivial server's own (so the
trivial route measured the client), and on two cores it took from PostgreSQL's hub much of the
core a second worker would use; this client costs 0.15–0.45 ms.

The machines are shared and their load moves by the second, so the servers are not measured
one after the other: each run is `ROUNDS` rounds, and in each round every server gets the same
slice of requests, in an order that rotates from round to round. The ratio hub ÷ trivial is
taken per round (the two measured seconds apart) and its median reported with the spread over
the rounds, with the throughput and the 50th/99th-percentile latency of each server.

Targets (docs/hub-operations.md, "Performance"): SQLite — the hub's own work (routing,
authentication, rules, the fsync'ed commit, the audit log) ≤ 3× the trivial route; PostgreSQL
— 2 workers ≥ 1.4× one, and 4 workers correct (every send stored once, every download its
envelope, the audit chain intact) even where they are not faster. Where the CPU per request
can be read (Linux, PostgreSQL on this machine), the report also says what one worker's CPU
per request allows two workers at best on this machine's cores, idle: one worker uses one core
at most (the GIL), and every process shares the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator, Sequence
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
    pid: int | None = None
    """The server's process (its workers are its children)."""
    headers: dict[str, dict[str, str]] = attrs.field(factory=dict)
    ids: dict[int, str] = attrs.field(factory=dict)
    envelopes: dict[int, bytes] = attrs.field(factory=dict)
    rates: dict[str, list[float]] = attrs.field(factory=lambda: {"sends": [], "downloads": []})
    latencies: dict[str, list[float]] = attrs.field(factory=lambda: {"sends": [], "downloads": []})
    cpu: dict[str, dict[str, float]] = attrs.field(factory=lambda: {"sends": {}, "downloads": {}})
    """CPU seconds spent while this server was measured, by whom (`cpu_now`), and `requests`."""


@contextmanager
def served(command: Sequence[str], env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """Start a server process that prints `{"url": …}` first; yield its URL and process id
    once it answers."""
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
        yield url, server.pid
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


_IDLE = 2.0
"""Seconds after which a connection is opened again before it is used (outside the timing):
uvicorn closes a keep-alive connection idle for 5 s, which other servers' turns can exceed."""


class Connection:
    """One keep-alive HTTP/1.1 connection of the load generator: a request goes out as bytes,
    and the answer is read as far as the benchmark needs it — the status, the headers' block
    (for Content-Length; an answer without one is refused), the body."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0

    @classmethod
    async def open(cls, url: str) -> Connection:
        connection = cls(url)
        await connection.refresh()
        return connection

    async def refresh(self) -> None:
        """Open the connection again if the server may have closed it meanwhile (idle)."""
        if self.reader is not None and time.monotonic() - self.used < _IDLE:
            return
        await self.close()
        parts = urllib.parse.urlsplit(self.url)
        assert parts.hostname is not None and parts.port is not None
        # asyncio sets TCP_NODELAY on the connection, as httpx does.
        self.reader, self.writer = await asyncio.open_connection(parts.hostname, parts.port)
        self.used = time.monotonic()

    async def request(self, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
        """(status, body) of one request; `head` ends with the blank line."""
        assert self.reader is not None and self.writer is not None
        self.writer.write(head + body if body else head)
        block = await self.reader.readuntil(b"\r\n\r\n")
        status = int(block[9:12])
        length = -1
        for line in block.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        if length < 0:
            raise RuntimeError(f"an answer without Content-Length: {block[:200]!r}")
        answer = await self.reader.readexactly(length)
        self.used = time.monotonic()
        return status, answer

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def _head(target: Target, request_line: str, office: str, extra: str = "") -> bytes:
    host = urllib.parse.urlsplit(target.url).netloc
    token = target.headers[office]["authorization"]
    return (
        f"{request_line} HTTP/1.1\r\nhost: {host}\r\nauthorization: {token}\r\n{extra}\r\n".encode()
    )


async def send(target: Target, connection: Connection, index: int) -> None:
    envelope = os.urandom(SIZE)
    head = _head(
        target,
        f"POST /v1/messages?to={PROVIDER}&service_type=11",
        CARE,
        "content-type: application/pkcs7-mime\r\n"
        f"idempotency-key: bench-{target.name}-{index}\r\ncontent-length: {SIZE}\r\n",
    )
    status, answer = await connection.request(head, envelope)
    if status != 201:
        raise RuntimeError(f"{target.name}: send answered {status} {answer[:300]!r}")
    target.ids[index] = json.loads(answer)["message"]["id"]
    target.envelopes[index] = envelope


async def fetch(target: Target, connection: Connection, index: int) -> None:
    head = _head(target, f"GET /v1/messages/{target.ids[index]}/content", PROVIDER)
    status, answer = await connection.request(head)
    if status != 200 or len(answer) != SIZE:
        raise RuntimeError(f"{target.name}: download answered {status}")
    if target.hub and answer != target.envelopes[index]:
        raise RuntimeError(f"{target.name}: download {index} is not its envelope")


Operation = Callable[[Target, Connection, int], Awaitable[None]]


async def measure(
    target: Target,
    operation: Operation,
    indexes: Sequence[int],
    connections: Sequence[Connection],
) -> tuple[float, list[float]]:
    """(requests per second, latencies) of `operation` over `indexes`, the connections each
    doing one request at a time, all at once."""
    latencies: list[float] = []
    await asyncio.gather(*(connection.refresh() for connection in connections))

    async def worker(number: int) -> None:
        for index in indexes[number :: len(connections)]:
            started = time.perf_counter()
            await operation(target, connections[number], index)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(len(connections))))
    elapsed = time.perf_counter() - started
    return len(indexes) / elapsed, latencies


async def _rounds(
    targets: Sequence[Target], count: int, clients: int, rounds: int, probes: dict[str, Probe]
) -> None:
    per_round = max(clients, count // rounds)
    pools = {t.name: [await Connection.open(t.url) for _ in range(clients)] for t in targets}
    try:
        for target in targets:  # warm every connection (and the hub's caches) outside the timing
            warm = [-1 - n for n in range(clients)]
            await measure(target, send, warm, pools[target.name])
            await measure(target, fetch, warm, pools[target.name])
        for number in range(rounds):
            indexes = range(number * per_round, (number + 1) * per_round)
            order = [*targets[number % len(targets) :], *targets[: number % len(targets)]]
            for name, operation in (("sends", send), ("downloads", fetch)):
                for target in order:
                    pool = pools[target.name]  # reopened first, if idle: not measured
                    await asyncio.gather(*(connection.refresh() for connection in pool))
                    before = probes[target.name]()
                    rate, latencies = await measure(target, operation, indexes, pools[target.name])
                    after = probes[target.name]()
                    spent = target.cpu[name]
                    for who, seconds in after.items():
                        spent[who] = spent.get(who, 0.0) + seconds - before[who]
                    spent["requests"] = spent.get("requests", 0) + len(indexes)
                    target.rates[name].append(rate)
                    target.latencies[name] += latencies
    finally:
        for pool in pools.values():
            for connection in pool:
                await connection.close()


def run_rounds(
    targets: Sequence[Target],
    count: int,
    clients: int,
    rounds: int,
    database: Callable[[], list[int]] | None = None,
) -> None:
    """`count` sends then downloads per target, in `rounds` interleaved rounds."""
    probes = {target.name: cpu_probe(target, database) for target in targets}
    asyncio.run(_rounds(targets, count, clients, rounds, probes))


# -- CPU per process -----------------------------------------------------------------------------
#
# On two cores the load generator, the hub's processes and the database share the CPU, so a
# ratio of throughputs says little without where the CPU went: each measurement also reads the
# CPU time (user + system, from /proc: Linux only; elsewhere nothing is reported) of the
# server's process tree, of the database's processes (the backends PostgreSQL lists in
# pg_stat_activity, when it runs on this machine) and of this process.

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _ticks(pid: int, tree: bool) -> int:
    process = Path(f"/proc/{pid}")
    try:
        fields = (process / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return 0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if tree:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: reaped children
        with contextlib.suppress(OSError):
            for task in (process / "task").iterdir():
                children = (task / "children").read_text().split()
                ticks += sum(_ticks(int(child), True) for child in children)
    return ticks


def _process_cpu(pid: int, tree: bool) -> float:
    """CPU seconds of `pid` (with `tree`: and of its descendants, reaped ones included)."""
    return _ticks(pid, tree) / _TICK


Probe = Callable[[], dict[str, float]]


def cpu_probe(target: Target, database: Callable[[], list[int]] | None) -> Probe:
    """What `cpu_now` reads for `target`: its server, the database, this process."""

    def probe() -> dict[str, float]:
        if not Path("/proc/self").is_dir():
            return {}
        times = os.times()
        found = {"load generator": times.user + times.system}
        if target.pid is not None:
            found["server"] = _process_cpu(target.pid, tree=True)
        if database is not None:
            found["PostgreSQL"] = sum(_process_cpu(pid, tree=False) for pid in database())
        return found

    return probe


def postgres_backends(url: str) -> Callable[[], list[int]] | None:
    """The pids of the database server's processes, when it runs on this machine (a loopback
    or Unix-socket address); None otherwise."""
    import psycopg

    connection = psycopg.connect(url, autocommit=True)
    host = connection.info.host
    if not (host.startswith("/") or host in ("localhost", "127.0.0.1", "::1")):
        connection.close()
        return None

    def pids() -> list[int]:
        rows = connection.execute("SELECT pid FROM pg_stat_activity").fetchall()
        return [int(row[0]) for row in rows if Path(f"/proc/{row[0]}").is_dir()]

    return pids


def cpu_line(target: Target, name: str) -> str:
    cpu = target.cpu[name]
    requests = cpu.get("requests", 0)
    if not requests or len(cpu) == 1:
        return ""
    parts = [f"{who} {seconds / requests * 1e3:.2f}" for who, seconds in cpu.items()
             if who != "requests"]  # fmt: skip
    total = sum(seconds for who, seconds in cpu.items() if who != "requests")
    return f"CPU ms per request: {', '.join(parts)} (all {total / requests * 1e3:.2f})"


def ceiling(one: Target, name: str, workers: int) -> str:
    """What the CPU per request of one worker allows `workers` workers on this machine's cores
    at best (each worker one core at most, the GIL; every process's CPU on the same cores)."""
    cpu = one.cpu[name]
    requests = cpu.get("requests", 0)
    if not requests or "server" not in cpu or "PostgreSQL" not in cpu:
        return ""
    hub = cpu["server"] / requests
    everything = sum(seconds for who, seconds in cpu.items() if who != "requests") / requests
    cores = os.cpu_count() or 1
    best = min(workers / hub, cores / everything) / min(1 / hub, cores / everything)
    return (
        f"{workers} workers at best {best:.2f}× one on {cores} idle cores, by one worker's CPU "
        f"per request (hub {hub * 1e3:.2f} ms of {everything * 1e3:.2f} ms in all)"
    )


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
        served(hub_command(f"sqlite:///{path}", 1)) as (hub_url, hub_pid),
        served(trivial_command()) as (trivial_url, trivial_pid),
    ):
        hub = Target("hub", hub_url, True, hub_pid)
        trivial = Target("trivial", trivial_url, False, trivial_pid)
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
        for target in (trivial, hub):
            if line := cpu_line(target, name):
                print(f"  {'':<9} {target.name:<7} {line}")
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
        trivial_url, trivial_pid = stack.enter_context(served(trivial_command()))
        trivial = Target("trivial", trivial_url, False, trivial_pid)
        hubs = []
        for workers in PG_WORKERS:
            hub_url, hub_pid = stack.enter_context(served(hub_command(url, workers)))
            hubs.append(Target(f"hub-{workers}w", hub_url, True, hub_pid))
        for target in (trivial, *hubs):
            log_in(target, passwords)
        run_rounds([trivial, *hubs], count, PG_CLIENTS, rounds, postgres_backends(url))
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
        for workers, target in zip(PG_WORKERS, hubs, strict=True):
            if line := cpu_line(target, name):
                print(f"  {'':<9} {workers}w  {line}")
        if bound := ceiling(one, name, 2):
            print(f"  {'':<9} {bound}")


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
