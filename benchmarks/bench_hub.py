"""Sends and downloads per second through the served hub over loopback, on SQLite and on
PostgreSQL with 1, 2 and 4 worker processes.

    python benchmarks/bench_hub.py            # 2,000 sends and downloads of 2 KB
    python benchmarks/bench_hub.py --quick    # 300 (CI)
    python benchmarks/bench_hub.py --postgres postgresql://user@host/db   # also PostgreSQL
                                              # (default: $CAREPLAN_LINK_TEST_POSTGRES; the
                                              # database is emptied first)

The hub (`careplan_link.hub.Hub` over a SQLite file, behind the ASGI face and uvicorn exactly
as `careplan-link hub serve` runs it) is driven by `THREADS` plain httpx clients with
keep-alive. As the baseline, in the same run, the same uvicorn server configuration serves a
trivial Starlette route that reads the body and answers a small JSON document (POST, like a
send) or 2 KB (GET, like a download). The ratio hub ÷ trivial is the hub's own work (routing,
authentication, rules, SQLite, the audit log) over what any request through this server costs.
Target: ≤ 3×.

PostgreSQL: `careplan-link hub serve --workers N` (uvicorn worker processes sharing the socket,
each with its own connection pool) driven by PG_CLIENTS keep-alive clients, for N = 1, 2, 4.
Reported: throughput, its growth over one worker (target on these 2-core machines: 2 workers
≥ 1.4× one), and the mean and 95th-percentile latency of a request. Each run checks that every
send was stored once and every download returned its envelope (4 workers must be correct even
where they are not faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from careplan_link.hub import Admin, Hub, HubSettings, SqliteStore
from careplan_link.hub._asgi import build_app
from careplan_link.hub._server import ServerThread
from careplan_link.testing import FakePKI

THREADS = 4
SIZE = 2048
CARE, PROVIDER = "1370100012", "1370200028"
TARGET = 3.0
PG_CLIENTS = 8
PG_WORKERS = (1, 2, 4)
PG_GROWTH = 1.4


def run_parallel(count: int, one: Callable[[httpx.Client, int], None], url: str) -> float:
    """Requests per second of `count` calls of `one`, spread over THREADS keep-alive clients."""
    barrier = threading.Barrier(THREADS + 1)
    failures: list[BaseException] = []

    def worker(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            one(client, -1 - offset)  # warm the connection outside the timing
            barrier.wait()
            try:
                for index in range(offset, count, THREADS):
                    one(client, index)
            except BaseException as error:
                failures.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    return count / elapsed


def trivial_rates(count: int) -> tuple[float, float]:
    document = b'{"message": {"id": "msg-000000000001", "status": "delivered"}}'
    payload = os.urandom(SIZE)

    async def post(request: Request) -> Response:
        await request.body()
        return Response(document, 201, media_type="application/json")

    async def get(request: Request) -> Response:
        return Response(payload, 200, media_type="application/pkcs7-mime")

    app = Starlette(routes=[Route("/post", post, methods=["POST"]), Route("/get", get)])
    body = os.urandom(SIZE)
    with ServerThread(app) as server:

        def send(client: httpx.Client, index: int) -> None:
            assert client.post("/post", content=body).status_code == 201

        def fetch(client: httpx.Client, index: int) -> None:
            assert len(client.get("/get").content) == SIZE

        return run_parallel(count, send, server.url), run_parallel(count, fetch, server.url)


def hub_rates(count: int, folder: Path) -> tuple[float, float]:
    pki = FakePKI()
    store = SqliteStore(str(folder / "hub.sqlite"))
    admin = Admin(store)
    passwords = {
        office: admin.add_office(
            office, (), f"user-{office}", [pki.office(office).certificate_pem()]
        )
        for office in (CARE, PROVIDER)
    }
    # The benchmark measures the hub's work, not its per-office rate limit (1,200 a minute).
    hub = Hub(store, settings=HubSettings(rate_limit=None))
    ids: dict[int, str] = {}
    with ServerThread(build_app(hub.handle)) as server:

        def token(office: str) -> dict[str, str]:
            login = {
                "office_no": office,
                "user_id": f"user-{office}",
                "password": passwords[office],
            }
            answer = httpx.post(f"{server.url}/v1/login", json=login)
            return {"authorization": f"Bearer {answer.json()['access_token']}"}

        care, provider = token(CARE), token(PROVIDER)
        envelopes = [os.urandom(SIZE) for _ in range(count + THREADS)]

        def send(client: httpx.Client, index: int) -> None:
            answer = client.post(
                "/v1/messages",
                params={"to": PROVIDER, "service_type": "11"},
                headers={
                    **care,
                    "content-type": "application/pkcs7-mime",
                    "idempotency-key": f"bench-{index}",
                },
                content=envelopes[index],
            )
            assert answer.status_code == 201, answer.text
            ids[index] = answer.json()["message"]["id"]

        sends = run_parallel(count, send, server.url)

        def fetch(client: httpx.Client, index: int) -> None:
            answer = client.get(f"/v1/messages/{ids[index]}/content", headers=provider)
            assert answer.status_code == 200 and answer.content == envelopes[index]

        downloads = run_parallel(count, fetch, server.url)
    store.close()
    return sends, downloads


def timed_parallel(
    count: int, one: Callable[[httpx.Client, int], None], url: str, clients: int
) -> tuple[float, list[float]]:
    """(requests per second, latencies in seconds) of `count` calls over `clients` keep-alive
    clients (each its own connection: the kernel hands them to the workers)."""
    latencies: list[float] = []
    barrier = threading.Barrier(clients + 1)
    failures: list[BaseException] = []

    def worker(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            one(client, -1 - offset)
            barrier.wait()
            try:
                for index in range(offset, count, clients):
                    started = time.perf_counter()
                    one(client, index)
                    latencies.append(time.perf_counter() - started)
            except BaseException as error:
                failures.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    return count / elapsed, latencies


def postgres_rates(count: int, url: str, workers: int) -> dict[str, tuple[float, list[float]]]:
    """Sends and downloads through `hub serve --workers N` on PostgreSQL."""
    from careplan_link.hub._postgres import PostgresStore

    pki = FakePKI()
    store = PostgresStore(url, pool_size=2)
    store.clear()
    admin = Admin(store)
    passwords = {
        office: admin.add_office(
            office, (), f"user-{office}", [pki.office(office).certificate_pem()]
        )
        for office in (CARE, PROVIDER)
    }
    command = [
        sys.executable, "-m", "careplan_link", "hub", "serve", "--store", url, "--port", "0",
        "--workers", str(workers), "--rate-limit", "0", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = json.loads(server.stdout.readline())["url"]
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the hub did not start")
            time.sleep(0.1)

        def token(office: str) -> dict[str, str]:
            login = {"office_no": office, "user_id": f"user-{office}",
                     "password": passwords[office]}  # fmt: skip
            answer = httpx.post(f"{base}/v1/login", json=login, timeout=30)
            return {"authorization": f"Bearer {answer.json()['access_token']}"}

        care, provider = token(CARE), token(PROVIDER)
        envelopes = [os.urandom(SIZE) for _ in range(count + PG_CLIENTS)]
        ids: dict[int, str] = {}

        def send(client: httpx.Client, index: int) -> None:
            answer = client.post(
                "/v1/messages",
                params={"to": PROVIDER, "service_type": "11"},
                headers={
                    **care,
                    "content-type": "application/pkcs7-mime",
                    "idempotency-key": f"bench-{index}",
                },
                content=envelopes[index],
            )
            assert answer.status_code == 201, answer.text
            ids[index] = answer.json()["message"]["id"]

        def fetch(client: httpx.Client, index: int) -> None:
            answer = client.get(f"/v1/messages/{ids[index]}/content", headers=provider)
            assert answer.status_code == 200 and answer.content == envelopes[index]

        sends = timed_parallel(count, send, base, PG_CLIENTS)
        downloads = timed_parallel(count, fetch, base, PG_CLIENTS)
        stored = store.all_messages()
        # Correct: one message per key (warm-up sends included), no duplicate, none lost.
        expected = count + PG_CLIENTS
        if len(stored) != expected or len({m.id for m in stored}) != expected:
            raise RuntimeError(f"{workers} workers: {len(stored)} stored for {expected} sends")
    finally:
        server.terminate()
        server.wait(60)
        store.close()
    return {"sends": sends, "downloads": downloads}


def report_postgres(count: int, url: str, trivial: dict[str, float]) -> None:
    runs = {workers: postgres_rates(count, url, workers) for workers in PG_WORKERS}
    print(f"served hub, PostgreSQL, {PG_CLIENTS} keep-alive clients, {count} × {SIZE} B")
    for name in ("sends", "downloads"):
        one = runs[PG_WORKERS[0]][name][0]
        for workers, measured in runs.items():
            rate, latencies = measured[name]
            growth = rate / one
            verdict = ""
            if workers == 2:
                verdict = f" (target ≥ {PG_GROWTH:g}×: {'ok' if growth >= PG_GROWTH else 'MISSED'})"
            p95 = statistics.quantiles(latencies, n=20)[-1]
            print(
                f"  {name:<9} {workers} worker{'s' if workers > 1 else ' '} {rate:8.0f}/s "
                f"× {growth:4.2f} of one{verdict}   trivial ÷ hub {trivial[name] / rate:4.1f}×   "
                f"latency mean {statistics.fmean(latencies) * 1000:6.1f} ms, "
                f"p95 {p95 * 1000:6.1f} ms   (correct: every send stored once)"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (CI)")
    parser.add_argument(
        "--folder", type=Path, help="where the SQLite file goes (default: the temporary folder)"
    )
    parser.add_argument(
        "--postgres", default=os.environ.get("CAREPLAN_LINK_TEST_POSTGRES"), metavar="URL",
        help="also measure PostgreSQL with 1, 2, 4 workers (this database is emptied)",
    )  # fmt: skip
    args = parser.parse_args()
    count = 300 if args.quick else 2000
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        trivial_send, trivial_get = trivial_rates(count)
        hub_send, hub_get = hub_rates(count, Path(folder))
    print(f"served hub, SQLite, {THREADS} keep-alive clients, {count} × {SIZE} B")
    for name, hub_rate, trivial in (
        ("sends", hub_send, trivial_send),
        ("downloads", hub_get, trivial_get),
    ):
        ratio = trivial / hub_rate
        verdict = "ok" if ratio <= TARGET else "MISSED"
        print(
            f"  {name:<9} hub {hub_rate:8.0f}/s   trivial route {trivial:8.0f}/s   "
            f"hub's own work {ratio:4.1f}× (target ≤ {TARGET:g}×: {verdict})"
        )
    if args.postgres:
        report_postgres(count, args.postgres, {"sends": trivial_send, "downloads": trivial_get})
    else:
        print("PostgreSQL: not measured (give --postgres URL or CAREPLAN_LINK_TEST_POSTGRES)")
    # A measurement, not a test: a loaded machine must not fail CI, so the status is 0.
    return 0


if __name__ == "__main__":
    sys.exit(main())
