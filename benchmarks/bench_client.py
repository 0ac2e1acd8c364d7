"""Sends and downloads per second through the clients against the in-process FakeHub.

    python benchmarks/bench_client.py            # 1 KB: 5,000 messages; 1 MB: 200
    python benchmarks/bench_client.py --quick    # 1 KB: 1,000; 1 MB: 40 (CI)

For AsyncClient (50 requests in flight) and Client (one at a time) it prints sends/s and
downloads/s, and as a baseline from the same run the requests/s of a bare httpx client against
an httpx.MockTransport that answers at once (the cost of httpx itself): the ratio shows what
the protocol, the client core and the hub add. Target: at least 1,000 small sends/s with
AsyncClient.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import httpx

from careplan_link.client import AsyncClient, Client, Login
from careplan_link.testing import FakeHub, FakePKI

IN_FLIGHT = 50
PROVIDER = "1370200022"


def hub_and_logins(pki: FakePKI) -> tuple[FakeHub, Login, Login]:
    hub = FakeHub()
    care = hub.register_office(pki.office("1370100016"))
    provider = hub.register_office(pki.office(PROVIDER))
    return hub, care, provider


async def async_rates(pki: FakePKI, size: int, count: int) -> tuple[float, float]:
    hub, care, provider = hub_and_logins(pki)
    envelopes = [os.urandom(16) + bytes(size - 16) for _ in range(count)]
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with AsyncClient(hub.url, login=care, transport=hub.async_transport()) as client:
        await client.inbox_page()  # log in outside the timing

        async def send(envelope: bytes) -> str:
            async with gate:
                return (await client.send(envelope, to=PROVIDER, service_type="11")).id

        started = time.perf_counter()
        ids = await asyncio.gather(*(send(e) for e in envelopes))
        send_rate = count / (time.perf_counter() - started)
    async with AsyncClient(hub.url, login=provider, transport=hub.async_transport()) as client:
        await client.inbox_page()

        async def download(message_id: str) -> int:
            async with gate:
                return len(await client.download(message_id))

        started = time.perf_counter()
        sizes = await asyncio.gather(*(download(i) for i in ids))
        download_rate = count / (time.perf_counter() - started)
    assert sizes == [size] * count
    return send_rate, download_rate


def sync_rates(pki: FakePKI, size: int, count: int) -> tuple[float, float]:
    hub, care, provider = hub_and_logins(pki)
    envelopes = [os.urandom(16) + bytes(size - 16) for _ in range(count)]
    with Client(hub.url, login=care, transport=hub.transport()) as client:
        client.inbox_page()
        started = time.perf_counter()
        ids = [client.send(e, to=PROVIDER, service_type="11").id for e in envelopes]
        send_rate = count / (time.perf_counter() - started)
    with Client(hub.url, login=provider, transport=hub.transport()) as client:
        client.inbox_page()
        started = time.perf_counter()
        for message_id in ids:
            client.download(message_id)
        download_rate = count / (time.perf_counter() - started)
    return send_rate, download_rate


async def httpx_baseline(count: int) -> float:
    answer = b'{"ok": true}'
    transport = httpx.MockTransport(lambda request: httpx.Response(201, content=answer))
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with httpx.AsyncClient(transport=transport) as client:

        async def post() -> None:
            async with gate:
                (await client.post("https://hub.test/v1/messages", content=b"x" * 1024)).json()

        started = time.perf_counter()
        await asyncio.gather(*(post() for _ in range(count)))
        return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer messages (CI)")
    args = parser.parse_args()
    small, large = (1_000, 40) if args.quick else (5_000, 200)
    pki = FakePKI()
    baseline = asyncio.run(httpx_baseline(small))
    print("careplan_link client benchmark (in-process FakeHub; ratios from this run)")
    print(f"bare httpx AsyncClient + MockTransport: {baseline:,.0f} requests/s (baseline)")
    print(f"{'client':<12} {'envelope':>8} {'sends/s':>10} {'/baseline':>10} {'downloads/s':>12}")
    for size, count in ((1024, small), (1024 * 1024, large)):
        label = "1 KB" if size == 1024 else "1 MB"
        send, download = asyncio.run(async_rates(pki, size, count))
        print(f"{'AsyncClient':<12} {label:>8} {send:>10,.0f} {send / baseline:>10.2f} "
              f"{download:>12,.0f}")  # fmt: skip
        send, download = sync_rates(pki, size, count)
        print(f"{'Client':<12} {label:>8} {send:>10,.0f} {send / baseline:>10.2f} "
              f"{download:>12,.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
