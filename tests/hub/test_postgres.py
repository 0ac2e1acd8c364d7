"""The store interface's guarantees on every store, and the PostgreSQL store with several
"processes" (several `PostgresStore`s, each with its own connection pool, on one database).

The PostgreSQL tests need `CAREPLAN_LINK_TEST_POSTGRES` (see tests/stores.py); without it
they are skipped with that reason.
"""

from __future__ import annotations

import datetime
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from careplan_link.errors import HubAdminError
from careplan_link.hub import HubStore, open_store, verify_chain
from careplan_link.hub._postgres import POSTGRES_SCHEMA_VERSION, PostgresStore
from careplan_link.protocol import MessageStatus

from ..stores import NO_POSTGRES, postgres_url
from .helpers import CARE, PROVIDER, Rig, error_code

needs_postgres = pytest.mark.skipif(postgres_url() is None, reason=NO_POSTGRES)


def _together(count: int, job: Callable[[int], None]) -> None:
    """Run `job(0..count-1)` on threads released at once; re-raise the first failure."""
    start = threading.Barrier(count)
    failures: list[BaseException] = []

    def run(number: int) -> None:
        try:
            start.wait()
            job(number)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# -- every store ----------------------------------------------------------------------------------


def test_a_resent_key_returns_the_stored_message_on_every_store(store: HubStore) -> None:
    rig = Rig(store)
    token = rig.login()
    first = rig.send(token, b"once", "k-1")
    assert rig.send(token, b"once", "k-1") == first
    assert [m.id for m in store.all_messages()] == [first["id"]]
    assert store.content(first["id"]) == b"once"


def test_a_stale_transition_changes_nothing_on_every_store(store: HubStore) -> None:
    rig = Rig(store)
    sent = rig.send(rig.login(), b"x", "k")
    message = store.message(sent["id"])
    assert message is not None and message.status == MessageStatus.DELIVERED
    entries = len(store.audit_entries())
    # The caller read "accepted", but the message is "delivered" now: refused, nothing written.
    assert not store.change_message(MessageStatus.ACCEPTED, message, drop_content=True)
    assert store.content(sent["id"]) == b"x"
    assert len(store.audit_entries()) == entries


def test_a_token_is_taken_once_on_every_store(store: HubStore) -> None:
    rig = Rig(store)
    answer = rig.request(
        "POST", "/v1/login",
        body={"office_no": CARE, "user_id": f"user-{CARE}", "password": "correct horse battery"},
    )  # fmt: skip
    refresh = json.loads(answer.body)["refresh_token"]
    again = rig.request("POST", "/v1/token", body={"refresh_token": refresh})
    assert again.status == 200
    replayed = rig.request("POST", "/v1/token", body={"refresh_token": refresh})
    assert error_code(replayed) == "REFRESH_TOKEN_INVALID"


def test_the_cursor_goes_on_after_later_inserts_on_every_store(store: HubStore) -> None:
    rig = Rig(store)
    care, provider = rig.login(), rig.login(PROVIDER)
    first = [rig.send(care, b"a", f"k-{n}")["id"] for n in range(3)]
    page = json.loads(rig.request("GET", "/v1/inbox", token=provider, query={"limit": "2"}).body)
    later = rig.send(care, b"b", "k-later")["id"]
    rest = rig.request("GET", "/v1/inbox", token=provider, query={"cursor": page["next_cursor"]})
    assert [m["id"] for m in page["messages"]] == first[:2]
    assert [m["id"] for m in json.loads(rest.body)["messages"]] == [first[2], later]


def test_rate_windows_count_per_office_and_window_on_every_store(store: HubStore) -> None:
    window = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    assert [store.count_request(CARE, window) for _ in range(3)] == [1, 2, 3]
    assert store.count_request(PROVIDER, window) == 1
    assert store.count_request(CARE, window + datetime.timedelta(minutes=1)) == 1
    assert store.drop_windows(window + datetime.timedelta(seconds=1)) == 2


# -- PostgreSQL with several processes ------------------------------------------------------------


@pytest.fixture
def url() -> str:
    found = postgres_url()
    if found is None:
        pytest.skip(NO_POSTGRES)
    return found


@pytest.fixture
def processes(url: str) -> Iterator[list[PostgresStore]]:
    """Four stores on one database, as four hub processes would have (own pools)."""
    stores = [PostgresStore(url, pool_size=8) for _ in range(4)]
    stores[0].clear()
    yield stores
    for store in stores:
        store.close()


@needs_postgres
def test_senders_in_four_processes_reusing_keys_store_every_message_once(
    processes: list[PostgresStore],
) -> None:
    rigs = [Rig(store) for store in processes]
    tokens = [rig.login() for rig in rigs]
    ids: list[str] = []

    def sender(number: int) -> None:
        # Each key sent from every process: exactly one insert, the rest are replays.
        for key in range(5):
            process = (number + key) % len(rigs)
            sent = rigs[process].send(tokens[process], f"e{key}".encode(), f"k-{key}")
            ids.append(sent["id"])

    _together(16, sender)
    assert len(ids) == 80 and len(set(ids)) == 5
    stored = processes[0].all_messages()
    assert len(stored) == 5
    check = verify_chain(processes[1].audit_entries(), processes[2].audit_head())
    assert check.intact, check.problems
    # 5 sends + 75 replays, each audited once, plus the offices and logins.
    actions = [entry.action for entry in processes[3].audit_entries()]
    assert actions.count("send") == 5 and actions.count("send_replayed") == 75


@needs_postgres
def test_receipts_racing_from_four_processes_make_one_transition(
    processes: list[PostgresStore],
) -> None:
    rigs = [Rig(store) for store in processes]
    sent = rigs[0].send(rigs[0].login(), b"x", "k")
    tokens = [rig.login(PROVIDER) for rig in rigs]
    statuses: list[int] = []

    def receipt(number: int) -> None:
        process = number % len(rigs)
        statuses.append(rigs[process].receipt(tokens[process], sent["id"], "downloaded").status)

    _together(12, receipt)
    assert statuses == [200] * 12  # the losers answer idempotently
    message = processes[0].message(sent["id"])
    assert message is not None and message.status == MessageStatus.DOWNLOADED
    assert [change.status for change in message.history].count(MessageStatus.DOWNLOADED) == 1
    receipts = [e for e in processes[1].audit_entries() if e.message_id == sent["id"]]
    actions = [e.action for e in receipts]
    assert actions.count("receipt_downloaded") == 1, actions


@needs_postgres
def test_listing_order_is_commit_order_even_when_a_clock_runs_behind(
    processes: list[PostgresStore],
) -> None:
    ahead, behind = Rig(processes[0]), Rig(processes[1])
    ahead.clock.advance(60)  # the other "host" lags a minute
    early = ahead.send(ahead.login(), b"a", "k-a")
    late = behind.send(behind.login(), b"b", "k-b")
    # The late message is not placed before a cursor already given out.
    assert late["accepted_at"] >= early["accepted_at"]
    assert [m.id for m in processes[2].all_messages()] == [early["id"], late["id"]]


@needs_postgres
def test_a_restart_of_every_process_loses_nothing(url: str) -> None:
    first = PostgresStore(url)
    first.clear()
    rig = Rig(first)
    care, provider = rig.login(), rig.login(PROVIDER)
    sent = [rig.send(care, f"m{n}".encode(), f"k-{n}")["id"] for n in range(3)]
    assert rig.receipt(provider, sent[1], "downloaded").status == 200
    before, head = first.all_messages(), first.audit_head()
    first.close()
    again = PostgresStore(url)
    try:
        assert again.all_messages() == before and again.audit_head() == head
        assert again.content(sent[0]) == b"m0"
        assert verify_chain(again.audit_entries(), again.audit_head()).intact
        rig2 = Rig(again)
        assert rig2.send(rig2.login(), b"m0", "k-0")["id"] == sent[0]
        assert rig2.send(rig2.login(), b"new", "k-new")["id"] > sent[-1]
    finally:
        again.close()


@needs_postgres
def test_housekeeping_is_elected_once_per_period(processes: list[PostgresStore]) -> None:
    won: list[int] = []

    def worker(number: int) -> None:
        with processes[number].elect("purge", 3600) as elected:
            if elected:
                won.append(number)

    _together(4, worker)
    assert len(won) == 1
    with processes[0].elect("purge", 3600) as elected:
        assert not elected  # already run in this period
    with processes[1].elect("retention", 3600) as elected:
        assert elected  # another job has its own period


@needs_postgres
def test_a_held_election_lock_keeps_the_others_out(processes: list[PostgresStore]) -> None:
    with processes[0].elect("purge", 0) as first:
        assert first
        with processes[1].elect("purge", 0) as second:
            assert not second  # running elsewhere: not twice at once


@pytest.fixture
def scratch_database(url: str) -> Iterator[str]:
    """A new empty database on the test server, dropped afterwards."""
    name = "careplan_link_scratch"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {name}")
        db.execute(f"CREATE DATABASE {name}")
    parts = urllib.parse.urlsplit(url)
    yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@needs_postgres
def test_migrations_are_versioned_applied_once_and_a_newer_database_refused(
    scratch_database: str,
) -> None:
    with pytest.raises(HubAdminError, match="migrate"):
        PostgresStore(scratch_database, migrate=False)  # empty: not migrated yet
    stores: list[PostgresStore] = []
    _together(3, lambda _: stores.append(PostgresStore(scratch_database)))
    with psycopg.connect(scratch_database) as db:
        versions = db.execute("SELECT version FROM careplan_link_schema").fetchall()
        assert versions == [(n,) for n in range(1, POSTGRES_SCHEMA_VERSION + 1)]
        db.execute("INSERT INTO careplan_link_schema (version) VALUES (%s)",
                   (POSTGRES_SCHEMA_VERSION + 1,))  # fmt: skip
    with pytest.raises(HubAdminError, match="upgrade"):
        stores[0].migrate()
    for store in stores:
        store.close()


@needs_postgres
def test_open_store_reads_a_postgresql_url_and_its_pool_size(url: str) -> None:
    joiner = "&" if "?" in url else "?"
    store = open_store(f"{url}{joiner}pool_size=3")
    assert isinstance(store, PostgresStore)
    store.ping()
    store.close()
    with pytest.raises(HubAdminError, match="pool_size"):
        open_store(f"{url}{joiner}pool_size=none")


def test_an_unreachable_server_is_a_hub_admin_error_at_once(tmp_path: Path) -> None:
    with pytest.raises(HubAdminError, match="Cannot connect to PostgreSQL"):
        open_store("postgresql://hub@127.0.0.1:1/hub?connect_timeout=2")


@needs_postgres
@pytest.mark.parametrize(
    ("statement", "found"),
    [
        ("UPDATE audit SET office_no = '1399999999' WHERE action = 'send'", "altered"),
        ("DELETE FROM audit WHERE action = 'login'", "missing"),
        ("DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)", "at the end"),
    ],
)
def test_tampering_with_the_audit_table_is_detected(
    processes: list[PostgresStore], url: str, statement: str, found: str
) -> None:
    rig = Rig(processes[0])
    rig.send(rig.login(), b"x", "k")
    assert verify_chain(processes[1].audit_entries(), processes[1].audit_head()).intact
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(statement.encode())
    check = verify_chain(processes[1].audit_entries(), processes[1].audit_head())
    assert any(found in problem for problem in check.problems), check.problems
