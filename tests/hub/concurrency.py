"""Exactly once under concurrency: several hub processes on one PostgreSQL database.

    python tests/hub/concurrency.py --store postgresql://user@host/db          # the full run
    python tests/hub/concurrency.py --quick                                    # CI

(the store defaults to $CAREPLAN_LINK_TEST_POSTGRES; `source .ci/postgres.sh; postgres_start`
starts a throwaway server). THE DATABASE IS EMPTIED FIRST: give it a test database.

Four `careplan-link hub serve` processes (each its own port, as hosts behind a load balancer)
share the database. Then:

1. Re-driven sends: 200 concurrent senders (full run; 60 in --quick), each sending its envelope
   under its idempotency key to three different processes at once → every key is stored once,
   and all three answers name that one message (201 once, 200 replays).
2. Racing receipts: for each of 40 messages (10), eight `downloaded` receipts at once, spread
   over the processes → one transition per message (history and audit log), every answer 200.
3. Restart with messages in flight: senders keep sending while every process is killed
   (SIGKILL: no graceful end) and started again on its port; a sender whose request failed
   re-drives it with the same key until it gets an answer → every acknowledged message is
   stored once with its content; nothing lost, nothing doubled.
4. The audit chain verifies, and it holds one `send` per message.

Exit status 0 when every check holds; 1 with the failed checks listed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from careplan_link.hub import Admin, verify_chain
from careplan_link.hub._postgres import PostgresStore
from careplan_link.protocol import MessageStatus
from careplan_link.testing import FakePKI

ENVIRONMENT = "CAREPLAN_LINK_TEST_POSTGRES"
PROVIDER = "1370200022"
SENDERS = [f"13701{n:05d}" for n in range(10)]
PASSWORD = "concurrency test password"
PROCESSES = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Hubs:
    """The hub processes, each on its own loopback port."""

    def __init__(self, store: str, count: int) -> None:
        self.store = store
        self.ports = [free_port() for _ in range(count)]
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * count

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def start(self, index: int) -> None:
        command = [
            sys.executable, "-m", "careplan_link", "hub", "serve", "--store", self.store,
            "--port", str(self.ports[index]), "--no-migrate", "--log-level", "warning",
        ]  # fmt: skip
        self.processes[index] = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def start_all(self) -> None:
        for index in range(len(self.ports)):
            self.start(index)
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for index, url in enumerate(self.urls):
            while True:
                try:
                    if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                process = self.processes[index]
                if process is not None and process.poll() is not None:
                    raise SystemExit(f"hub process {index} exited with {process.returncode}")
                if time.monotonic() > deadline:
                    raise SystemExit(f"hub process {index} did not start")
                time.sleep(0.1)

    def kill_all(self) -> None:
        for process in self.processes:
            if process is not None:
                process.send_signal(signal.SIGKILL)
        for process in self.processes:
            if process is not None:
                process.wait()

    def stop_all(self) -> None:
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in self.processes:
            if process is not None:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def prepare(url: str) -> None:
    store = PostgresStore(url)
    store.clear()
    certificate = FakePKI().office(PROVIDER).certificate_pem()
    admin = Admin(store, password_cost=2**4)
    for office in [PROVIDER, *SENDERS]:
        admin.add_office(office, ["11"], f"user-{office}", [certificate], password=PASSWORD)
    store.close()


async def login(client: httpx.AsyncClient, url: str, office: str) -> dict[str, str]:
    body = {"office_no": office, "user_id": f"user-{office}", "password": PASSWORD}
    answer = await client.post(f"{url}/v1/login", json=body)
    answer.raise_for_status()
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


async def send(
    client: httpx.AsyncClient, url: str, token: dict[str, str], key: str, content: bytes
) -> httpx.Response:
    return await client.post(
        f"{url}/v1/messages",
        params={"to": PROVIDER, "service_type": "11"},
        headers={**token, "content-type": "application/pkcs7-mime", "idempotency-key": key},
        content=content,
    )


async def redriven_sends(hubs: Hubs, senders: int, tokens: dict[str, dict[str, str]]) -> list[str]:
    problems: list[str] = []
    limits = httpx.Limits(max_connections=senders * 3)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def sender(number: int) -> None:
            office = SENDERS[number % len(SENDERS)]
            key, content = f"redrive-{number}", f"envelope {number}".encode()
            urls = random.sample(hubs.urls, 3)
            answers = await asyncio.gather(
                *(send(client, url, tokens[office], key, content) for url in urls)
            )
            codes = sorted(answer.status_code for answer in answers)
            ids = {answer.json()["message"]["id"] for answer in answers if answer.is_success}
            if codes != [200, 200, 201] or len(ids) != 1:
                problems.append(f"key {key}: answers {codes}, ids {sorted(ids)}")

        await asyncio.gather(*(sender(n) for n in range(senders)))
    return problems


async def racing_receipts(hubs: Hubs, messages: list[str]) -> list[str]:
    problems: list[str] = []
    async with httpx.AsyncClient(timeout=120) as client:
        token = await login(client, hubs.urls[0], PROVIDER)

        async def race(message_id: str) -> None:
            answers = await asyncio.gather(
                *(
                    client.post(
                        f"{hubs.urls[n % len(hubs.urls)]}/v1/messages/{message_id}/receipts",
                        headers=token,
                        json={"receipt": "downloaded"},
                    )
                    for n in range(8)
                )
            )
            codes = [answer.status_code for answer in answers]
            if codes != [200] * 8:
                problems.append(f"{message_id}: receipt answers {codes}")

        await asyncio.gather(*(race(m) for m in messages))
    return problems


async def restart_in_flight(
    hubs: Hubs, senders: int, tokens: dict[str, dict[str, str]]
) -> tuple[dict[str, tuple[str, bytes]], list[str]]:
    """Send while every process is killed and restarted; re-drive failed requests."""
    acknowledged: dict[str, tuple[str, bytes]] = {}
    problems: list[str] = []
    failed: list[str] = []  # requests that met the restart (re-driven)
    async with httpx.AsyncClient(timeout=30) as client:

        async def sender(number: int) -> None:
            office = SENDERS[number % len(SENDERS)]
            for round_ in range(5):
                key = f"inflight-{number}-{round_}"
                content = os.urandom(256)
                deadline = time.monotonic() + 120
                while True:
                    url = random.choice(hubs.urls)
                    try:
                        answer = await send(client, url, tokens[office], key, content)
                    except httpx.HTTPError:
                        answer = None
                        failed.append(key)
                    if answer is not None and answer.status_code in (200, 201):
                        acknowledged[key] = (answer.json()["message"]["id"], content)
                        break
                    if answer is not None and answer.status_code != 503:
                        problems.append(f"key {key}: {answer.status_code} {answer.text[:200]}")
                        break
                    if time.monotonic() > deadline:
                        problems.append(f"key {key}: no answer in 120 s")
                        break
                    await asyncio.sleep(0.05)

        async def restarter() -> None:
            await asyncio.sleep(0.3)  # sends are in flight
            await asyncio.to_thread(hubs.kill_all)
            for index in range(len(hubs.ports)):
                hubs.start(index)
            await asyncio.to_thread(hubs.wait_ready)

        await asyncio.gather(restarter(), *(sender(n) for n in range(senders)))
    if not failed:
        problems.append("the restart met no request in flight: nothing was tested")
    print(f"  {len(failed)} requests met the restart and were re-driven")
    return acknowledged, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", default=os.environ.get(ENVIRONMENT), metavar="URL")
    parser.add_argument("--quick", action="store_true", help="fewer senders (CI)")
    args = parser.parse_args(argv)
    if not args.store:
        print(f"concurrency.py needs a PostgreSQL server: --store URL or {ENVIRONMENT}",
              file=sys.stderr)  # fmt: skip
        return 2
    senders, races = (60, 10) if args.quick else (200, 40)
    prepare(args.store)
    hubs = Hubs(args.store, PROCESSES)
    problems: list[str] = []
    started = time.perf_counter()
    hubs.start_all()
    try:

        async def logins() -> dict[str, dict[str, str]]:
            async with httpx.AsyncClient(timeout=60) as client:
                found = await asyncio.gather(*(login(client, hubs.urls[0], o) for o in SENDERS))
            return dict(zip(SENDERS, found, strict=True))

        tokens = asyncio.run(logins())
        problems += asyncio.run(redriven_sends(hubs, senders, tokens))
        store = PostgresStore(args.store, pool_size=2)
        stored = store.all_messages()
        keys = len({m.id for m in stored})
        if len(stored) != senders or keys != senders:
            problems.append(f"re-driven sends: {len(stored)} messages stored for {senders} keys")
        chosen = [m.id for m in stored[:races]]
        problems += asyncio.run(racing_receipts(hubs, chosen))
        for message_id in chosen:
            message = store.message(message_id)
            if message is None:
                problems.append(f"{message_id}: gone (was the database emptied meanwhile?)")
                continue
            steps = [change.status for change in message.history]
            if (
                message.status != MessageStatus.DOWNLOADED
                or steps.count(MessageStatus.DOWNLOADED) != 1
            ):
                problems.append(f"{message_id}: history {[s.value for s in steps]}")
        audit = store.audit_entries()
        for message_id in chosen:
            count = sum(
                1 for e in audit if e.message_id == message_id and e.action == "receipt_downloaded"
            )
            if count != 1:
                problems.append(f"{message_id}: {count} receipt entries in the audit log")

        acknowledged, lost = asyncio.run(restart_in_flight(hubs, senders // 2, tokens))
        problems += lost
        by_key = {key: (message_id, content) for key, (message_id, content) in acknowledged.items()}
        for key, (message_id, content) in by_key.items():
            if store.content(message_id) != content:
                problems.append(f"in flight: {key} ({message_id}) lost or changed")
        in_flight = [m for m in store.all_messages() if m.id not in {m.id for m in stored}]
        if len(in_flight) != len(by_key) or len(by_key) != (senders // 2) * 5:
            problems.append(
                f"in flight: {len(in_flight)} stored, {len(by_key)} acknowledged, "
                f"{(senders // 2) * 5} sent"
            )

        audit = store.audit_entries()
        check = verify_chain(audit, store.audit_head())
        if not check.intact:
            problems.append(f"audit chain: {check.problems[:5]}")
        sends = sum(1 for e in audit if e.action == "send")
        if sends != len(store.all_messages()):
            problems.append(f"audit: {sends} send entries for {len(store.all_messages())} messages")
        store.close()
    finally:
        hubs.stop_all()
    elapsed = time.perf_counter() - started
    print(
        f"{PROCESSES} hub processes, {senders} re-driving senders, {len(chosen)} receipt races, "
        f"{(senders // 2) * 5} sends across a kill -9 of every process: "
        f"{'OK' if not problems else f'{len(problems)} problems'} in {elapsed:.1f} s"
    )
    for problem in problems[:30]:
        print(f"  FAILED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    sys.exit(main())
