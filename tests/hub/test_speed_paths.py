"""The fast paths of the served hub keep its guarantees: SQLite's group commit (one fsync for
the sends that queued meanwhile, each still answered only once its commit is on disk), and the
ASGI face reading the request straight from the ASGI scope, on the event loop when asked."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from careplan_link.hub import MemoryStore, SqliteStore, verify_chain
from careplan_link.hub._asgi import build_app, runs_inline

from .helpers import CARE, PASSWORD, PROVIDER, Rig


def _batches(store: SqliteStore) -> list[int]:
    """Record the size of every batch the store commits."""
    sizes: list[int] = []
    commit = store._commit

    def recording(db: sqlite3.Connection, batch: list[Any]) -> None:
        sizes.append(len(batch))
        commit(db, batch)

    store._commit = recording  # type: ignore[method-assign]
    return sizes


def _queued(store: SqliteStore, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(store._batch) < count:
        assert time.monotonic() < deadline, "the senders never queued"
        time.sleep(0.005)


def test_sends_that_queue_meanwhile_share_one_commit_and_each_is_stored_once(
    tmp_path: Path,
) -> None:
    rig = Rig(SqliteStore(tmp_path / "hub.sqlite"))
    care = rig.login()
    store = rig.store
    assert isinstance(store, SqliteStore)
    sizes = _batches(store)
    answers: dict[int, dict[str, Any]] = {}

    def sender(number: int) -> None:
        answers[number] = rig.send(care, f"envelope {number}".encode(), f"k-{number}")

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(6)]
    with store._write_lock:  # a commit in progress: the six senders queue behind it
        for thread in threads:
            thread.start()
        _queued(store, 6)
        assert answers == {}  # nobody is answered before the commit that holds its send
    for thread in threads:
        thread.join(10)
    assert sizes == [6]  # one transaction, one fsync, for the six sends
    assert len({a["id"] for a in answers.values()}) == 6
    store.close()
    again = SqliteStore(tmp_path / "hub.sqlite")  # what is on disk, from a new connection
    try:
        stored = {m.id for m in again.all_messages()}
        assert stored == {a["id"] for a in answers.values()}
        for number, answer in answers.items():
            assert again.content(answer["id"]) == f"envelope {number}".encode()
        assert verify_chain(again.audit_entries(), again.audit_head()).intact
    finally:
        again.close()


def test_a_job_that_fails_in_a_batch_is_rolled_back_alone(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hub.sqlite")
    sizes = _batches(store)
    outcomes: dict[str, object] = {}

    def run(name: str, job: Any) -> None:
        try:
            outcomes[name] = store._grouped(job)
        except Exception as error:
            outcomes[name] = error

    def writes(value: int) -> Any:
        def job(db: sqlite3.Connection) -> int:
            db.execute("INSERT INTO counters VALUES (?, ?)", (f"job-{value}", value))
            return value

        return job

    def fails(db: sqlite3.Connection) -> int:
        db.execute("INSERT INTO counters VALUES ('failed', 1)")  # written, then rolled back
        raise ValueError("this job fails")

    jobs = {"first": writes(1), "failing": fails, "last": writes(3)}
    with store._write_lock:
        threads = []
        for name, job in jobs.items():  # queued in this order
            threads.append(threading.Thread(target=run, args=(name, job)))
            threads[-1].start()
            _queued(store, len(threads))
    for thread in threads:
        thread.join(10)
    assert sizes == [3]
    assert outcomes["first"] == 1 and outcomes["last"] == 3
    assert isinstance(outcomes["failing"], ValueError)
    with sqlite3.connect(tmp_path / "hub.sqlite") as db:
        names = {row[0] for row in db.execute("SELECT name FROM counters")}
    assert names == {"message", "job-1", "job-3"}  # the failed job's insert is gone
    store.close()


class _PowerCut(BaseException):
    """Not an Exception: what the batch cannot recover from (the commit never happens)."""


def test_when_the_batch_cannot_commit_no_job_of_it_is_acknowledged(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hub.sqlite")
    outcomes: dict[str, object] = {}

    def run(name: str, job: Any) -> None:
        try:
            outcomes[name] = store._grouped(job)
        except BaseException as error:
            outcomes[name] = error

    def writes(db: sqlite3.Connection) -> str:
        db.execute("INSERT INTO counters VALUES ('written', 1)")
        return "stored"

    def cut(db: sqlite3.Connection) -> str:
        raise _PowerCut

    with store._write_lock:
        threads = []
        for name, job in (("writes", writes), ("cut", cut)):
            threads.append(threading.Thread(target=run, args=(name, job)))
            threads[-1].start()
            _queued(store, len(threads))
    for thread in threads:
        thread.join(10)
    assert isinstance(outcomes["writes"], _PowerCut)  # not "stored": it was never committed
    assert isinstance(outcomes["cut"], _PowerCut)
    with sqlite3.connect(tmp_path / "hub.sqlite") as db:
        assert db.execute("SELECT count(*) FROM counters WHERE name = 'written'").fetchone() == (0,)
    store.close()


# -- the ASGI face ------------------------------------------------------------------------------


def _call(app: object, method: str, path: str, **options: Any) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app, client=("127.0.0.1", 40000))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            return await http.request(method, path, **options)

    return asyncio.run(call())


@pytest.mark.parametrize("inline", [False, True])
def test_the_request_reaches_the_core_as_starlette_would_read_it(inline: bool) -> None:
    rig = Rig(MemoryStore())
    app = build_app(rig.hub.handle, inline=inline)
    login = {"office_no": CARE, "user_id": f"user-{CARE}", "password": PASSWORD}
    answer = _call(app, "POST", "/v1/login", json=login)  # in a thread even when inline
    assert answer.status_code == 200, answer.text
    headers = {
        "Authorization": f"Bearer {answer.json()['access_token']}",  # names in any case
        "Content-Type": "application/pkcs7-mime",
        "Idempotency-Key": "k-1",
    }
    # A blank parameter is kept (and refused as missing), not dropped; a repeated one is
    # the last value; percent-encoding is decoded.
    blank = _call(app, "POST", "/v1/messages?to=&service_type=11", headers=headers, content=b"x")
    assert blank.status_code == 400
    assert blank.json()["error"]["code"] == "FIELD_MISSING"
    sent = _call(
        app,
        "POST",
        f"/v1/messages?to=9999999999&to={PROVIDER}&service_type=%31%31",
        headers=headers,
        content=b"envelope",
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["message"]["receiver"] == PROVIDER
    assert sent.json()["message"]["service_type"] == "11"
    # An escaped '?' in the path stays in the path (escaped, as Starlette's URL gives it), so
    # the route still matches: a message that does not exist, not an unknown endpoint.
    odd = _call(app, "GET", "/v1/messages/msg%3F1", headers=headers)
    assert odd.status_code == 404
    assert odd.json()["error"]["code"] == "MESSAGE_NOT_FOUND"


def test_only_the_memory_store_is_called_on_the_event_loop(tmp_path: Path) -> None:
    assert runs_inline(MemoryStore())
    store = SqliteStore(tmp_path / "hub.sqlite")
    try:
        assert not runs_inline(store)  # its sends must meet in the group commit
    finally:
        store.close()
