"""Sends and downloads per second through the served hub over loopback, on SQLite and on
PostgreSQL with 1, 2 and 4 worker processes, against a trivial route of the same server.

    python benchmarks/bench_hub.py            # SQLite, then PostgreSQL if given
    python benchmarks/bench_hub.py --quick    # shorter (CI)
    python benchmarks/bench_hub.py --postgres postgresql://user@host/db   # also PostgreSQL
                                              # (default: $CAREPLAN_LINK_TEST_POSTGRES; the
                                              # database is emptied first)
    python benchmarks/bench_hub.py --postgres-only --loader python --clients 8   # variations

Every server is its own process, started exactly as an operator starts it: the hub is
`careplan-link hub serve --store …` (one process on SQLite; `--workers N` on PostgreSQL), and
the baseline is the same uvicorn configuration (`careplan_link.hub._server`: its protocol
class, its socket, `--workers N` through the same supervisor) serving a trivial Starlette app.

The load generator does the same work for every server — the same request bytes but the key
and the message id, an answer of the same size checked the same way (the trivial send answers
a copy of a real send's document, whose message id is read; the trivial download 2 KB with the
same headers; every hub download is compared with its envelope). What differs is only what the
server does. It shares the machine's cores with the servers (and the database), and every
millisecond of CPU it spends per request is taken from them, so it is as lean as can be:

* wrk (Debian's `wrk`, written in C; `--loader auto` uses it when installed), one connection
  per wrk thread, `--seconds` per measurement, with a Lua script that makes each request (a
  send: a new idempotency key and an envelope that is its number written 256 times; a
  download: an id answered to a send of the same round) and checks each answer (a send's id is
  recorded; a download must be the envelope of its number). `check_stored` then looks every
  answered send up by its key. Without wrk the run says so and falls back to:
* this process's asyncio client (`--loader python`): keep-alive HTTP/1.1 connections, requests
  built as bytes, answers read as far as status, headers and the Content-Length body; `count`
  requests per server.

httpx in threads cost 1.5–2.2 ms of CPU per request (three times the trivial server's own);
the asyncio client 0.15–0.58 ms; wrk with its checking script 0.1–0.14 ms at the trivial
route's rates and 0.2–0.38 ms at the hub's (16 threads' start-up, spread over `--seconds`).

Connections: `clients` at once (4 on SQLite, 16 on PostgreSQL). uvicorn's workers share one
listening socket and a keep-alive connection stays with the worker that accepted it, and a
worker's event loop accepts every connection waiting when it wakes: of 8 connections opened at
once, one worker took 58–82 % of the work in measured runs, so a second worker idled while
the first was saturated. 16 gave 50–56 %: many connections spread over the workers as a
load balancer's many clients do (the report prints the busiest worker's share).

The machines are shared and their load moves by the second, so the servers are not measured
one after the other: each run is `ROUNDS` rounds, and in each round every server gets the same
slice (requests, or seconds with wrk), in an order that rotates from round to round. The ratio
hub ÷ trivial is taken per round (the two measured seconds apart) and its median reported with
the spread over the rounds, with the median throughput and 50th/99th-percentile latency of
each server. Where /proc can be read (Linux) the report also gives the CPU per request of the
load generator, the server's processes and PostgreSQL's backends, the cores the machine's
other processes used meanwhile (a second worker has only what they leave), and the busiest
worker's share of a multi-worker server's CPU.

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
import shutil
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
PG_CLIENTS = 16
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
    cpu: dict[str, dict[str, float]] = attrs.field(factory=lambda: {"sends": {}, "downloads": {}})
    """CPU seconds spent while this server was measured, by whom (`cpu_probe`), and `requests`."""
    others: dict[str, list[float]] = attrs.field(factory=lambda: {"sends": [], "downloads": []})
    """Per measurement: the cores the machine's other processes used meanwhile."""
    busiest: dict[str, list[float]] = attrs.field(factory=lambda: {"sends": [], "downloads": []})
    """Per measurement (several workers): the busiest worker's share of the workers' CPU."""
    percentiles: dict[str, list[tuple[float, float]]] = attrs.field(
        factory=lambda: {"sends": [], "downloads": []}
    )
    """Per measurement with wrk: its (p50, p99) latency in seconds."""
    answered: dict[str, str] = attrs.field(factory=dict)
    """wrk's sends: the message id answered, by idempotency key."""
    unanswered: int = 0
    """wrk's sends that had no answer when wrk stopped (possibly stored, never acknowledged)."""


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


# -- wrk -----------------------------------------------------------------------------------------
#
# wrk (Debian's package; https://github.com/wg/wrk) is written in C: a request costs it a
# fraction of what this process's asyncio client costs, and on two cores what the load
# generator spends is taken from the servers and the database. Its Lua script makes every
# request (a new idempotency key, the envelope of that key) and checks every answer: wrk runs
# one connection per thread (`-t N -c N`), so a thread's answer is to the request it made last.
# A send's envelope is its number written 256 times (`wrk_envelope`); the ids the sends are
# answered go to a file, the downloads of the round fetch those ids and compare each answer
# with the envelope of its number, and `check_stored` looks every answered send up by its key.

_WRK_SCRIPT = """\
-- Written by benchmarks/bench_hub.py for one measurement.
local threads = {}

function setup(thread)
  thread:set("number", #threads + 1)
  table.insert(threads, thread)
end

local function envelope(n)
  return string.rep(string.format("%08d", n), SIZE / 8)
end

function init(args)
  made, bad, first, pending = 0, 0, "", nil
  at = number
  if SEND then
    answers = io.open(OUT .. "." .. number, "w")
    answers:setvbuf("line")
  end
end

function request()
  made = made + 1
  if SEND then
    pending = number * 10000000 + made
    return wrk.format("POST", PATH, {["Authorization"] = TOKEN,
      ["Content-Type"] = "application/pkcs7-mime", ["Idempotency-Key"] = PREFIX .. pending},
      envelope(pending))
  end
  at = at % #LIST + 1
  pending = LIST[at]
  return wrk.format("GET", "/v1/messages/" .. pending[1] .. "/content",
    {["Authorization"] = TOKEN})
end

function response(status, headers, body)
  local ok = pending ~= nil and status == EXPECT
  if ok and SEND then
    local id = string.match(body, '"id": *"([^"]+)"')
    ok = id ~= nil
    if ok then answers:write(pending, " ", id, "\\n") end
  elseif ok and EXACT then
    ok = body == envelope(pending[2])
  elseif ok then
    ok = #body == SIZE
  end
  if not ok then
    bad = bad + 1
    if first == "" then first = status .. " " .. string.sub(body, 1, 200) end
  end
  pending = nil
end

function done(summary, latency, requests)
  local bad, made, first = 0, 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("bad")
    made = made + thread:get("made")
    if first == "" then first = thread:get("first") end
  end
  local e = summary.errors
  io.write(string.format("\\nRESULT %.0f %.0f %.0f %.0f %d %d %d %s\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99), bad, made,
    e.connect + e.read + e.write + e.timeout, string.gsub(first, "%s", " ")))
end
"""


def wrk_envelope(number: int) -> bytes:
    """The envelope of wrk's send number `number` (what the Lua script's `envelope` makes)."""
    return (b"%08d" % number) * (SIZE // 8)


def _lua(value: object) -> str:
    """A Lua literal of a constant of the script (ASCII strings, numbers, booleans, lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # the same escapes as Lua's, for ASCII
    if isinstance(value, list | tuple):
        return "{" + ", ".join(_lua(item) for item in value) + "}"
    raise TypeError(value)


@attrs.frozen
class Load:
    """How the requests are made: by `wrk` (its path) when installed, else by this process's
    asyncio client; `clients` connections at once; with wrk, `seconds` per measurement."""

    clients: int
    wrk: str | None = None
    seconds: int = 1
    folder: Path = Path()

    def describe(self) -> str:
        if self.wrk is None:
            return f"this process's asyncio client, {self.clients} keep-alive connections"
        return f"wrk, {self.clients} keep-alive connections, {self.seconds} s per measurement"


def wrk_measure(
    target: Target,
    name: str,
    number: int,
    load: Load,
    latest: list[tuple[str, int]],
    probe: Probe,
) -> tuple[int, float, float, float, Sample, Sample]:
    """(requests, requests per second, p50, p99, CPU before, CPU after) of one wrk run of
    `name` against `target`; a send's answered (id, number) pairs replace `latest`, which a
    download run fetches. The CPU is read right around wrk's run: what this process does to
    prepare it and check its answers is not the load generator's work."""
    assert load.wrk is not None
    sending = name == "sends"
    prefix = f"bench-{target.name}-{number}-"
    scratch = load.folder / f"{target.name}-{name}-{number}"
    scratch.mkdir()
    out = scratch / "answers"
    if sending:
        listed: list[tuple[str, int]] = [("", 0)]
    elif target.hub:
        listed = latest
    else:  # the trivial route answers any id
        listed = [(f"msg-{n:012d}", n) for n in range(1, 65)]
    constants = {
        "SIZE": SIZE,
        "SEND": sending,
        "EXACT": target.hub,
        "EXPECT": 201 if sending else 200,
        "PATH": f"/v1/messages?to={PROVIDER}&service_type=11",
        "TOKEN": target.headers[CARE if sending else PROVIDER]["authorization"],
        "PREFIX": prefix,
        "OUT": str(out),
        "LIST": [[message_id, n] for message_id, n in listed],
    }
    script = scratch / "script.lua"
    header = "".join(f"{key} = {_lua(value)}\n" for key, value in constants.items())
    script.write_text(header + _WRK_SCRIPT)
    command = [
        load.wrk, "-t", str(load.clients), "-c", str(load.clients), "-d", f"{load.seconds}s",
        "--timeout", "60s", "-s", str(script), target.url,
    ]  # fmt: skip
    before = probe()
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    after = probe()
    results = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    if run.returncode != 0 or not results:
        raise RuntimeError(f"wrk failed ({run.returncode}): {run.stderr.strip()[:500]}")
    fields = results[-1].split(" ", 8)
    requests, duration, p50, p99, bad, made, errors = (int(f) for f in fields[1:8])
    if bad or errors or not requests:
        first = fields[8] if len(fields) > 8 else ""
        raise RuntimeError(
            f"{target.name}: {name}: {bad} answers not as expected (first: {first!r}), "
            f"{errors} socket errors, {requests} requests"
        )
    if sending:
        latest.clear()
        for path in scratch.glob("answers.*"):
            for line in path.read_text().splitlines():
                n, message_id = line.split()
                latest.append((message_id, int(n)))
                if target.hub:
                    target.answered[f"{prefix}{n}"] = message_id
        if len(latest) != requests:
            raise RuntimeError(f"{target.name}: {requests} sends, {len(latest)} answers read")
        target.unanswered += made - requests
    return requests, requests / (duration / 1e6), p50 / 1e6, p99 / 1e6, before, after


# -- the rounds -----------------------------------------------------------------------------------


def _run_rounds(
    targets: Sequence[Target], count: int, rounds: int, probes: dict[str, Probe], load: Load
) -> None:
    clients = load.clients
    per_round = max(clients, count // rounds)
    operations: dict[str, Operation] = {"sends": send, "downloads": fetch}
    latest: dict[str, list[tuple[str, int]]] = {t.name: [] for t in targets}
    with asyncio.Runner() as runner:

        async def connect() -> dict[str, list[Connection]]:
            return {t.name: [await Connection.open(t.url) for _ in range(clients)] for t in targets}

        async def close(pools: dict[str, list[Connection]]) -> None:
            for pool in pools.values():
                for connection in pool:
                    await connection.close()

        pools = runner.run(connect())
        try:
            # Warm every connection (and the hub's caches) outside the timing, with this
            # process's client (whose downloads are compared with their envelopes) either way.
            for target in targets:
                warm = [-1 - n for n in range(clients)]
                runner.run(measure(target, send, warm, pools[target.name]))
                runner.run(measure(target, fetch, warm, pools[target.name]))
            if load.wrk is not None:
                runner.run(close(pools))
            for number in range(rounds):
                indexes = range(number * per_round, (number + 1) * per_round)
                order = [*targets[number % len(targets) :], *targets[: number % len(targets)]]
                for name in ("sends", "downloads"):
                    for target in order:
                        pool = pools[target.name]
                        if load.wrk is None:
                            runner.run(_reopen(pool))  # not measured
                            before = probes[target.name]()
                            rate, latencies = runner.run(
                                measure(target, operations[name], indexes, pool)
                            )
                            after = probes[target.name]()
                            requests = len(indexes)
                            p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
                        else:
                            requests, rate, p50, p99, before, after = wrk_measure(
                                target, name, number, load, latest[target.name], probes[target.name]
                            )
                        record(target, name, before, after, requests)
                        target.rates[name].append(rate)
                        target.percentiles[name].append((p50, p99))
        finally:
            if load.wrk is None:
                runner.run(close(pools))


async def _reopen(pool: Sequence[Connection]) -> None:
    """Open every connection of `pool` again, all at once (wrk does so for each measurement).

    A keep-alive connection stays with the worker that accepted it, and a worker's event loop
    accepts every connection waiting when it wakes: a pool opened once for the whole run was
    all on one worker of two in measured runs (16 of 16), which made two workers one. Opened
    anew for each measurement, the split is drawn again each time, as wrk's is."""
    for connection in pool:
        await connection.close()
    await asyncio.gather(*(connection.refresh() for connection in pool))


def record(target: Target, name: str, before: Sample, after: Sample, requests: int) -> None:
    """Add what one measurement of `requests` spent to `target`'s figures."""
    spent = target.cpu[name]
    for who, seconds in after.items():
        if who in before and not who.startswith(("worker ", "machine", "at")):
            spent[who] = spent.get(who, 0.0) + seconds - before[who]
    spent["requests"] = spent.get("requests", 0) + requests
    wall = after["at"] - before["at"]
    if "machine" in after and wall > 0:
        ours = sum(after[w] - before[w] for w in after if w in _WHO and w in before)
        target.others[name].append(max(0.0, (after["machine"] - before["machine"] - ours) / wall))
    workers = {
        who: after[who] - before[who]
        for who in after
        if who.startswith("worker ") and who in before
    }
    if len(workers) > 1 and sum(workers.values()) > 0:
        target.busiest[name].append(max(workers.values()) / sum(workers.values()))


def run_rounds(
    targets: Sequence[Target],
    count: int,
    rounds: int,
    load: Load,
    database: Callable[[], list[int]] | None = None,
) -> None:
    """Sends then downloads per target (`count` with this process's client; with wrk,
    `load.seconds` each), in `rounds` interleaved rounds."""
    probes = {target.name: cpu_probe(target, database, load.wrk is not None) for target in targets}
    _run_rounds(targets, count, rounds, probes, load)


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


Sample = dict[str, float]
"""CPU seconds so far by whom (`_WHO`), per worker process ("worker <pid>"), of the whole
machine ("machine", every process's), and when ("at", `time.perf_counter`)."""
Probe = Callable[[], Sample]
_WHO = ("load generator", "server", "PostgreSQL")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _machine_cpu() -> float:
    """CPU seconds the whole machine has spent (all cores: user, nice, system, irq, softirq)."""
    fields = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / _TICK


def cpu_probe(target: Target, database: Callable[[], list[int]] | None, wrk: bool = False) -> Probe:
    """What a measurement reads for `target`: its server (and each worker), the database, the
    load generator, the whole machine. The load generator is wrk's runs (`wrk`: this process's
    reaped children; it only waits for them meanwhile, and its reading of /proc and of
    pg_stat_activity happens before wrk starts and after it ends), or this process."""

    def probe() -> Sample:
        found = {"at": time.perf_counter()}
        if not Path("/proc/self").is_dir():
            return found
        times = os.times()
        found["load generator"] = (
            times.children_user + times.children_system if wrk else times.user + times.system
        )
        if target.pid is not None:
            found["server"] = _process_cpu(target.pid, tree=True)
            for child in _children(target.pid):
                found[f"worker {child}"] = _process_cpu(child, tree=True)
        if database is not None:
            found["PostgreSQL"] = sum(_process_cpu(pid, tree=False) for pid in database())
        found["machine"] = _machine_cpu()
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
             if who in _WHO]  # fmt: skip
    total = sum(seconds for who, seconds in cpu.items() if who in _WHO)
    return f"CPU ms per request: {', '.join(parts)} (all {total / requests * 1e3:.2f})"


def best_growth(hub: float, everything: float, workers: int, cores: float) -> float:
    """How many times one worker's throughput `workers` workers can reach at best on `cores`
    cores, when a request costs `hub` seconds of CPU in the worker and `everything` in all (the
    load generator and the database too): one worker uses one core at most (the GIL), and all
    of them share the cores with everything else a request costs."""
    if cores <= 0:
        return 1.0
    return min(workers / hub, cores / everything) / min(1 / hub, cores / everything)


def ceiling(one: Target, name: str, workers: int) -> str:
    """What the CPU per request of one worker allows `workers` workers at best, on this
    machine's cores idle and on what the machine's other processes left of them."""
    cpu = one.cpu[name]
    requests = cpu.get("requests", 0)
    if not requests or "server" not in cpu or "PostgreSQL" not in cpu:
        return ""
    hub = cpu["server"] / requests
    everything = sum(seconds for who, seconds in cpu.items() if who in _WHO) / requests
    cores = os.cpu_count() or 1
    line = (
        f"{workers} workers at best {best_growth(hub, everything, workers, cores):.2f}× one on "
        f"{cores} idle cores, by one worker's CPU per request (hub {hub * 1e3:.2f} ms of "
        f"{everything * 1e3:.2f} ms in all)"
    )
    if one.others[name]:
        left = cores - statistics.median(one.others[name])
        line += (
            f"; {best_growth(hub, everything, workers, left):.2f}× on the {left:.2f} cores "
            "the machine's other processes left"
        )
    return line


def quiet_rounds(one: Target, other: Target, name: str, limit: float = 0.5) -> str:
    """`other` ÷ `one` in the rounds where the machine's other processes used less than
    `limit` cores while both were measured (beside the median of all rounds, never instead)."""
    rounds = len(one.rates[name])
    if len(one.others[name]) != rounds or len(other.others[name]) != rounds:
        return ""
    quiet = [
        o / s
        for o, s, a, b in zip(
            other.rates[name], one.rates[name], other.others[name], one.others[name], strict=True
        )
        if max(a, b) < limit
    ]
    where = f"where other processes used < {limit:g} cores"
    if not quiet:
        return f"no round {where}"
    return f"{spread(quiet)} in the {len(quiet)} of {rounds} rounds {where}"


# -- reporting ------------------------------------------------------------------------------------


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def describe(target: Target, name: str) -> str:
    """Median throughput and median 50th/99th-percentile latency over the measurements."""
    p50 = statistics.median(p for p, _ in target.percentiles[name]) * 1e3
    p99 = statistics.median(p for _, p in target.percentiles[name]) * 1e3
    rate = statistics.median(target.rates[name])
    return f"{rate:7.0f}/s  p50 {p50:5.1f} ms  p99 {p99:6.1f} ms"


def ratios(slow: Target, fast: Target, name: str) -> list[float]:
    """fast ÷ slow per round."""
    return [f / s for f, s in zip(fast.rates[name], slow.rates[name], strict=True)]


def spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):4.2f}× (rounds {min(values):.2f}–{max(values):.2f})"


# -- the runs -------------------------------------------------------------------------------------


def machine_line(targets: Sequence[Target], name: str) -> str:
    """What else the machine did while `targets` were measured, and how the workers shared."""
    others = [value for target in targets for value in target.others[name]]
    parts = []
    if others:
        parts.append(
            f"other processes used {statistics.median(others):.2f} cores "
            f"(median; {min(others):.2f}–{max(others):.2f}) of {os.cpu_count()}"
        )
    for target in targets:
        if target.busiest[name]:
            parts.append(
                f"{target.name}'s busiest worker did "
                f"{statistics.median(target.busiest[name]):.0%} of its workers' CPU"
            )
    return "; ".join(parts)


def sqlite_run(count: int, folder: Path, rounds: int, load: Load) -> dict[str, Any]:
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
        run_rounds([trivial, hub], count, rounds, load)
    store = SqliteStore(str(path))
    try:
        check_stored(store, [hub])
    finally:
        store.close()
    print(f"served hub, SQLite (one process), {load.describe()}, {SIZE} B envelopes, "
          f"{rounds} interleaved rounds")  # fmt: skip
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
        if line := machine_line((trivial, hub), name):
            print(f"  {'':<9} {line}")
        result[name] = statistics.median(ratio)
    return result


def check_stored(store: HubStore, hubs: Sequence[Target]) -> None:
    """Every send stored once, none lost: each one this process sent (warm-up sends included)
    and each one wrk was answered, under its key with the id it was answered; nothing else but
    wrk's sends still unanswered when it stopped (a client never told may or may not find
    them stored, and would send again with the same key). The audit chain intact."""
    stored = store.all_messages()
    ids = {message.id for message in stored}
    for target in hubs:
        lost = [i for i in target.ids.values() if i not in ids]
        for key, message_id in target.answered.items():
            found = store.sent_with_key(CARE, key)
            if found is None or found[1].id != message_id:
                lost.append(message_id)
        if lost:
            raise RuntimeError(f"{target.name}: {len(lost)} answered sends not stored: {lost[:5]}")
    expected = sum(len(t.ids) + len(t.answered) for t in hubs)
    unanswered = sum(t.unanswered for t in hubs)
    if len(ids) != len(stored) or not expected <= len(stored) <= expected + unanswered:
        raise RuntimeError(
            f"{len(stored)} messages stored for {expected} answered sends "
            f"(and {unanswered} unanswered)"
        )
    check = verify_chain(store.audit_entries(), store.audit_head())
    if not check.intact:
        raise RuntimeError(f"the audit chain is broken: {check}")


def postgres_run(count: int, url: str, rounds: int, load: Load) -> None:
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
        run_rounds([trivial, *hubs], count, rounds, load, postgres_backends(url))
    try:
        check_stored(store, hubs)
    finally:
        store.close()
    print(f"served hub, PostgreSQL, {load.describe()}, {SIZE} B envelopes, {rounds} "
          f"interleaved rounds (correct: every send stored once, every download its "
          f"envelope, the audit chain intact)")  # fmt: skip
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
        if quiet := quiet_rounds(one, hubs[1], name):
            print(f"  {'':<9} 2 workers × one worker: {quiet}")
        if line := machine_line(hubs, name):
            print(f"  {'':<9} {line}")


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
    parser.add_argument(
        "--postgres-only", action="store_true", help="skip the SQLite run (PostgreSQL only)"
    )
    parser.add_argument(
        "--loader",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="who makes the requests: wrk (auto: when installed) or this process's client",
    )
    parser.add_argument(
        "--clients",
        type=int,
        help=f"connections at once (default: 4 on SQLite, {PG_CLIENTS} on PostgreSQL)",
    )
    parser.add_argument(
        "--seconds",
        type=int,
        help="with wrk: seconds per measurement (default: 1 with --quick, else 3)",
    )
    parser.add_argument("--trivial-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trivial_server:
        _serve_trivial()
        return 0
    count = 400 if args.quick else 2000
    wrk = shutil.which("wrk") if args.loader != "python" else None
    if args.loader == "wrk" and wrk is None:
        parser.error("--loader wrk: wrk is not installed (Debian: apt-get install wrk)")
    if args.loader == "auto" and wrk is None:
        print("wrk is not installed: the requests come from this process's asyncio client, "
              "whose CPU the servers share (apt-get install wrk)")  # fmt: skip
    seconds = args.seconds or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        scratch = Path(folder)
        if not args.postgres_only:
            (scratch / "sqlite").mkdir()
            load = Load(args.clients or SQLITE_CLIENTS, wrk, seconds, scratch / "sqlite")
            sqlite_run(count, scratch, args.rounds, load)
        if args.postgres:
            (scratch / "postgres").mkdir()
            load = Load(args.clients or PG_CLIENTS, wrk, seconds, scratch / "postgres")
            postgres_run(count, args.postgres, args.rounds, load)
        else:
            print("PostgreSQL: not measured (give --postgres URL or CAREPLAN_LINK_TEST_POSTGRES)")
    # A measurement, not a test: a loaded machine must not fail CI, so the status is 0.
    return 0


if __name__ == "__main__":
    sys.exit(main())
