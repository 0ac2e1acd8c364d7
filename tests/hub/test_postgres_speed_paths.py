"""The PostgreSQL store's speed paths (docs/hub-operations.md, Performance).

The database seals audit entries and numbers messages (one round trip while the chain's lock
is held): what it writes must be exactly what the hub's Python would have written — the same
hashes (`_audit.seal`), the same shifted times (`_postgres._shifted`, `protocol.format_time`)
— or `verify_chain` and every reader break. And the writes of one process's threads that
queue meanwhile commit together (group commit): each still stored once, in order, a failing
write failing alone, an unreachable database failing every write of the batch.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Iterator

import attrs
import psycopg
import psycopg_pool
import pytest

from careplan_link.hub import verify_chain
from careplan_link.hub._audit import GENESIS, canonical, seal
from careplan_link.hub._postgres import PostgresStore, _shifted, _template
from careplan_link.hub._store import AuditDraft
from careplan_link.protocol import AuditEntry, Message, MessageStatus, StatusChange

from ..stores import NO_POSTGRES, postgres_url
from .helpers import CARE, PROVIDER, Rig

AT = datetime.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=datetime.UTC)

# Text that would cut the canonical form in the wrong place if the slots were found by
# anything but their key, or that the database could encode differently from Python.
AWKWARD = [
    "",
    "ケアプラン 第1表 ①",
    'quote " and backslash \\ and \\"',
    ',"previous_hash":""',
    ',"seq":0}',
    ',"message_id":""',
    "control \x01\x1f\n\t\u2028 end",
    "emoji 🏥 and surrogate-free astral 𠮷",
]


@pytest.fixture
def store() -> Iterator[PostgresStore]:
    url = postgres_url()
    if url is None:
        pytest.skip(NO_POSTGRES)
    opened = PostgresStore(url, pool_size=2)
    opened.clear()
    yield opened
    opened.close()


@pytest.mark.parametrize("text", AWKWARD)
def test_the_database_seals_an_entry_as_python_does(store: PostgresStore, text: str) -> None:
    drafts = [
        AuditDraft(at=AT, office_no=CARE, action="view", detail=text),
        AuditDraft(AT, CARE, "download", message_id=text, counterpart=text, detail=text),
        AuditDraft(AT, text or "x", "login_failed", envelope_sha256="ab" * 32),
    ]
    for draft in drafts:
        entry = store.append_audit(draft)
        assert entry == seal(draft, entry.seq, entry.previous_hash)
        assert store.audit_entries()[-1] == entry
    check = verify_chain(store.audit_entries(), store.audit_head())
    assert check.intact, check.problems
    assert store.audit_head()[0] == 3


def _message(at: datetime.datetime, history: tuple[StatusChange, ...] | None = None) -> Message:
    return Message(
        id="",
        sender=CARE,
        receiver=PROVIDER,
        service_type="11",
        serial='0001",\\',
        unit_kind=None,
        size=1,
        sha256="cd" * 32,
        status=MessageStatus.DELIVERED,
        history=history
        or (
            StatusChange(MessageStatus.ACCEPTED, at),
            StatusChange(MessageStatus.DELIVERED, at),
        ),
        accepted_at=at,
    )


def _send(store: PostgresStore, message: Message, key: str, detail: str = "") -> Message | None:
    audit = AuditDraft(AT, CARE, "send", counterpart=PROVIDER, detail=detail)
    return store.add_message(message, b"x", key, "digest", audit)


@pytest.mark.parametrize("text", AWKWARD[:4])
def test_a_send_is_numbered_and_sealed_by_the_database(store: PostgresStore, text: str) -> None:
    first = _send(store, _message(AT), "k-1", text)
    second = _send(store, _message(AT + datetime.timedelta(seconds=1)), "k-2", text)
    assert first is not None and second is not None
    assert (first.id, second.id) == ("msg-000000000001", "msg-000000000002")
    assert store.message(first.id) == first and store.message(second.id) == second
    entries = store.audit_entries()
    assert [e.message_id for e in entries] == [first.id, second.id]
    for entry in entries:
        draft = AuditDraft(
            entry.at, entry.office_no, entry.action, entry.message_id, entry.counterpart,
            entry.envelope_sha256, entry.detail,
        )  # fmt: skip
        assert entry == seal(draft, entry.seq, entry.previous_hash)
    check = verify_chain(entries, store.audit_head())
    assert check.intact, check.problems
    # The same key again: nothing written, not even a number or an entry.
    assert _send(store, _message(AT), "k-1", text) is None
    assert len(store.audit_entries()) == 2
    assert _send(store, _message(AT), "k-3") == attrs.evolve(
        _shifted(_message(AT), second.accepted_at), id="msg-000000000003"
    )


@pytest.mark.parametrize(
    "later",
    [
        datetime.datetime(2026, 3, 4, 5, 6, 8, 0, tzinfo=datetime.UTC),  # .000000
        datetime.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.UTC),
        datetime.datetime(2030, 1, 1, 0, 0, 0, 1, tzinfo=datetime.UTC),
    ],
)
def test_a_send_behind_the_last_is_shifted_as_python_shifts_it(
    store: PostgresStore, later: datetime.datetime
) -> None:
    assert _send(store, _message(later), "k-late") is not None
    # An earlier time, and a history entry at yet another time, which must not move.
    other = AT - datetime.timedelta(hours=1)
    history = (
        StatusChange(MessageStatus.ACCEPTED, AT),
        StatusChange(MessageStatus.DELIVERED, other, ("r",)),
        StatusChange(MessageStatus.DOWNLOADED, AT),
    )
    stored = _send(store, _message(AT, history), "k-early")
    expected = attrs.evolve(_shifted(_message(AT, history), later), id="msg-000000000002")
    assert stored == expected
    assert stored.accepted_at == later and stored.history[1].at == other
    assert store.message(stored.id) == expected  # the document the database rewrote
    assert [m.id for m in store.all_messages()] == ["msg-000000000001", "msg-000000000002"]


def test_the_cut_of_the_canonical_form_refuses_a_form_it_does_not_know(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draft = AuditDraft(AT, CARE, "view", detail=AWKWARD[3])
    pieces = _template(draft)
    entry = seal(draft, 7, GENESIS)
    assert pieces["text"] + pieces["previous"] + GENESIS + '","seq":7}' == _original(entry)
    # A field sorted after `seq`, or a different separator: the SQL would seal wrong hashes.
    for changed in (
        lambda text: text[:-1] + ',"zone":"UTC"}',
        lambda text: text.replace('"seq":', '"seq": '),
        lambda text: text.replace(',"message_id":""', ""),
    ):
        monkeypatch.setattr(
            "careplan_link.hub._postgres.canonical",
            lambda entry, changed=changed: changed(_original(entry)),
        )
        with pytest.raises(RuntimeError, match="canonical form"):
            _template(draft, with_id=True)


def _original(entry: AuditEntry) -> str:
    return canonical(entry)


def test_the_hub_on_postgresql_keeps_one_chain(store: PostgresStore) -> None:
    rig = Rig(store)
    token, provider = rig.login(), rig.login(PROVIDER)
    sent = [rig.send(token, f"m{n}".encode(), f"k-{n}")["id"] for n in range(3)]
    assert rig.receipt(provider, sent[0], "downloaded").status == 200
    check = verify_chain(store.audit_entries(), store.audit_head())
    assert check.intact, check.problems
    assert check.entries == len(store.audit_entries()) > 5


# -- group commit -----------------------------------------------------------------------------


def _queued(store: PostgresStore, jobs: list[Callable[[], object]]) -> list[object]:
    """Run `jobs` on threads while this process's turns are held, so that they queue; then
    release the turns: the first thread to get one commits every job queued. Returns what
    each job returned, or the exception it raised."""
    results: list[object] = [None] * len(jobs)

    def run(number: int) -> None:
        try:
            results[number] = jobs[number]()
        except Exception as error:  # reported in the results
            results[number] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(jobs))]
    with store._sends.turn, store._appends.turn:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(store._sends.queue) + len(store._appends.queue) < len(jobs):
            assert time.monotonic() < deadline, "the jobs did not queue"
            time.sleep(0.01)
    for thread in threads:
        thread.join()
    return results


def _transactions(store: PostgresStore, table: str) -> int:
    """How many transactions wrote the rows of `table` (rows written together share xmin)."""
    with store._connection() as db:
        row = db.execute(f"SELECT count(DISTINCT xmin::text) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_queued_sends_share_one_transaction_and_each_is_stored_once(
    store: PostgresStore,
) -> None:
    def send(n: int) -> Callable[[], object]:
        return lambda: _send(store, _message(AT), f"k-{n % 5}", f"send {n}")

    results = _queued(store, [send(n) for n in range(12)])
    stored = [r for r in results if isinstance(r, Message)]
    assert not [r for r in results if isinstance(r, Exception)]
    # 5 keys: 5 messages stored (numbered in commit order), 7 sends found their key taken.
    assert len(stored) == 5 and results.count(None) == 7
    assert sorted(m.id for m in stored) == [f"msg-00000000000{n}" for n in range(1, 6)]
    assert [m.id for m in store.all_messages()] == sorted(m.id for m in stored)
    entries = store.audit_entries()
    assert [e.message_id for e in entries] == sorted(m.id for m in stored)
    check = verify_chain(entries, store.audit_head())
    assert check.intact, check.problems
    assert _transactions(store, "messages") == _transactions(store, "audit") == 1


def test_a_write_that_fails_in_a_batch_fails_alone(store: PostgresStore) -> None:
    good = [AuditDraft(AT, CARE, "view", detail=f"entry {n}") for n in range(4)]
    bad = AuditDraft(AT, CARE, "view", detail="a NUL \x00 PostgreSQL refuses")
    jobs: list[Callable[[], object]] = [
        lambda: store.append_audit(good[0]),
        lambda: store.append_audit(good[1]),
        lambda: store.append_audit(bad),
        lambda: store.append_audit(good[2]),
        lambda: _send(store, _message(AT), "k-bad", "a NUL \x00 here too"),
        lambda: _send(store, _message(AT), "k-good"),
        lambda: store.append_audit(good[3]),
    ]
    results = _queued(store, jobs)
    assert isinstance(results[2], psycopg.DataError)
    assert isinstance(results[4], psycopg.DataError)
    entries = store.audit_entries()
    assert sorted(e.detail for e in entries if e.action == "view") == [
        f"entry {n}" for n in range(4)
    ]
    assert isinstance(results[5], Message)
    assert [m.id for m in store.all_messages()] == [results[5].id]
    assert _transactions(store, "audit") == 5  # the batch failed: each write alone
    check = verify_chain(entries, store.audit_head())
    assert check.intact, check.problems


def test_queued_audit_entries_share_one_transaction(store: PostgresStore) -> None:
    drafts = [AuditDraft(AT, CARE, "view", detail=f"entry {n}") for n in range(6)]

    def append(draft: AuditDraft) -> Callable[[], object]:
        return lambda: store.append_audit(draft)

    results = _queued(store, [append(draft) for draft in drafts])
    assert sorted(r.seq for r in results if isinstance(r, AuditEntry)) == list(range(1, 7))
    assert _transactions(store, "audit") == 1
    assert verify_chain(store.audit_entries(), store.audit_head()).intact


def test_a_batch_the_database_cannot_take_fails_every_write_and_is_not_retried(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[int] = []

    def unreachable(*args: object, **kwargs: object) -> object:
        attempts.append(1)
        raise psycopg_pool.PoolTimeout("the database is down")

    drafts = [AuditDraft(AT, CARE, "view", detail=f"entry {n}") for n in range(3)]

    def append(draft: AuditDraft) -> Callable[[], object]:
        return lambda: store.append_audit(draft)

    jobs = [append(draft) for draft in drafts]
    jobs.append(lambda: _send(store, _message(AT), "k-down"))
    with monkeypatch.context() as patched:
        patched.setattr(store._pool, "connection", unreachable)
        results = _queued(store, jobs)
    assert all(isinstance(result, psycopg_pool.PoolTimeout) for result in results)
    assert len(attempts) == 2  # one per group's batch, none per write
    assert store.audit_entries() == [] and store.all_messages() == []
    assert store.append_audit(drafts[0]).seq == 1  # and the store works again
