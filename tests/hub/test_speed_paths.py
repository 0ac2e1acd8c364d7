"""The fast paths of the served hub keep its guarantees: SQLite's group commit (one fsync for
the sends that queued meanwhile, each still answered only once its commit is on disk), and the
ASGI face reading the request straight from the ASGI scope, on the event loop when asked."""

from __future__ import annotations

import asyncio
import datetime
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from careplan_link.hub import MemoryStore, SqliteStore, verify_chain
from careplan_link.hub._asgi import build_app, runs_inline

from .helpers import CARE, PASSWORD, PROVIDER, Rig, error_code


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


def test_what_is_called_on_the_event_loop_depends_on_the_store_and_the_operation(
    tmp_path: Path,
) -> None:
    assert runs_inline(MemoryStore()) is True
    store = SqliteStore(tmp_path / "hub.sqlite")
    try:
        inline = runs_inline(store)
        assert callable(inline)
        assert inline("download") and inline("message") and inline("health")
        # A write a client waits for stays in a thread: its sends must meet in the group
        # commit.
        for operation in ("send", "receipt", "withdraw", "login", "refresh"):
            assert not inline(operation), operation
        # A read that finds a write under way goes to a thread (it would wait on the loop for
        # the write lock during that write's fsync), and so does one while writes queue.
        with store._write_lock:
            assert not inline("download")
        store._batch.append(object())  # type: ignore[arg-type]
        assert not inline("download")
        store._batch.clear()
        assert inline("download")
    finally:
        store.close()


def test_an_inline_read_of_a_served_sqlite_hub_answers_as_in_a_thread(tmp_path: Path) -> None:
    rig = Rig(SqliteStore(tmp_path / "hub.sqlite"))
    try:
        care = rig.login()
        sent = rig.send(care, b"envelope", "k-1")
        app = build_app(rig.hub.handle, inline=runs_inline(rig.store))
        headers = {"Authorization": f"Bearer {rig.login(PROVIDER)}"}
        path = f"/v1/messages/{sent['id']}/content"
        answer = _call(app, "GET", path, headers=headers)
        assert answer.status_code == 200 and answer.content == b"envelope"
        assert _call(app, "GET", path).json()["error"]["code"] == "TOKEN_MISSING"
        actions = [entry.action for entry in rig.store.audit_entries()]
        assert actions[-1] == "download"
        assert verify_chain(rig.store.audit_entries(), rig.store.audit_head()).intact
    finally:
        rig.store.close()


# -- fewer statements per request ----------------------------------------------------------------


def _counting(store: Any, name: str) -> list[object]:
    calls: list[object] = []
    method = getattr(store, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return method(*args, **kwargs)

    setattr(store, name, counted)
    return calls


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_fresh_send_reads_no_key_and_a_replay_is_answered_whatever_the_recipient(
    tmp_path: Path, kind: str
) -> None:
    rig = Rig(MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "hub.sqlite"))
    care = rig.login()
    lookups = _counting(rig.store, "sent_with_key")
    first = rig.send(care, b"envelope", "k-1")
    assert lookups == []  # the insert came first and took the key
    replay = rig.request(
        "POST", "/v1/messages", token=care, query={"to": PROVIDER, "service_type": "11"},
        headers={"content-type": "application/pkcs7-mime", "idempotency-key": "k-1"},
        body=b"envelope",
    )  # fmt: skip
    assert replay.status == 200 and replay.headers["idempotent-replayed"] == "true"
    assert json.loads(replay.body)["message"]["id"] == first["id"]
    # The recipient is disabled since: the replay still answers with the first send, a new
    # key is refused, and a reused key with another envelope is still a reused key.
    rig.admin.disable_office(PROVIDER)

    def send(key: str, body: bytes) -> Any:
        return rig.request(
            "POST", "/v1/messages", token=care, query={"to": PROVIDER, "service_type": "11"},
            headers={"content-type": "application/pkcs7-mime", "idempotency-key": key},
            body=body,
        )  # fmt: skip

    again = send("k-1", b"envelope")
    assert again.status == 200 and json.loads(again.body)["message"]["id"] == first["id"]
    assert error_code(send("k-2", b"envelope")) == "RECIPIENT_NOT_REGISTERED"
    assert error_code(send("k-1", b"another")) == "IDEMPOTENCY_KEY_REUSED"
    rig.admin.enable_office(PROVIDER)
    assert error_code(send("k-1", b"another")) == "IDEMPOTENCY_KEY_REUSED"
    assert len(rig.store.all_messages()) == 1
    actions = [entry.action for entry in rig.store.audit_entries()]
    assert actions.count("send") == 1 and actions.count("send_replayed") == 2


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_read_sweeps_only_when_its_message_is_past_retention(tmp_path: Path, kind: str) -> None:
    store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "hub.sqlite")
    rig = Rig(store, retention=datetime.timedelta(days=1))
    care = rig.login()
    old = rig.send(care, b"old", "k-1")
    rig.clock.advance(datetime.timedelta(hours=20))
    care = rig.login()  # the first token has expired meanwhile
    young = rig.send(care, b"young", "k-2")
    rig.clock.advance(datetime.timedelta(hours=5))  # `old` is past retention, `young` not
    provider = rig.login(PROVIDER)
    sweeps = _counting(rig.store, "holding_content")
    answer = rig.request("GET", f"/v1/messages/{young['id']}/content", token=provider)
    assert answer.status == 200 and answer.body == b"young"
    assert sweeps == []
    # Reading the message past retention expires it first: it is never served.
    answer = rig.request("GET", f"/v1/messages/{old['id']}/content", token=provider)
    assert error_code(answer) == "MESSAGE_EXPIRED"
    assert sweeps
    assert rig.store.message(old["id"]).status == "expired"  # type: ignore[union-attr]
    viewed = rig.request("GET", f"/v1/messages/{old['id']}", token=rig.login())
    assert json.loads(viewed.body)["message"]["status"] == "expired"


def test_durable_commits_run_at_full_and_bookkeeping_at_normal_in_any_order(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "hub.sqlite")
    try:

        def level(db: sqlite3.Connection) -> int:
            return int(db.execute("PRAGMA synchronous").fetchone()[0])

        full, normal = 2, 1
        seen = []
        for durable in (True, True, False, False, True, False, True):
            if durable:
                seen.append(store._grouped(level))
            else:
                with store._write() as db:
                    seen.append(level(db))
        assert seen == [full, full, normal, normal, full, normal, full]
        with store._write(durable=True) as db:
            assert level(db) == full
    finally:
        store.close()
