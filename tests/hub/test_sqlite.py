"""The SQLite store: survives restarts, several threads, versioned migrations, backups."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from careplan_link.errors import HubAdminError
from careplan_link.hub import SCHEMA_VERSION, SqliteStore, verify_chain

from .helpers import CARE, PROVIDER, Rig


def test_a_restart_with_messages_in_flight_loses_nothing_and_changes_no_status(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hub.sqlite"
    rig = Rig(SqliteStore(path))
    care, provider = rig.login(), rig.login(PROVIDER)
    waiting = rig.send(care, b"waiting", "k-waiting")
    downloaded = rig.send(care, b"downloaded", "k-downloaded")
    imported = rig.send(care, b"imported", "k-imported")
    withdrawn = rig.send(care, b"withdrawn", "k-withdrawn")
    assert rig.receipt(provider, downloaded["id"], "downloaded").status == 200
    for receipt in ("downloaded", "imported"):
        assert rig.receipt(provider, imported["id"], receipt).status == 200
    assert rig.request("POST", f"/v1/messages/{withdrawn['id']}/withdraw", token=care).status == 200
    page = json.loads(rig.request("GET", "/v1/inbox", token=provider, query={"limit": "2"}).body)
    before = {m.id: m for m in rig.store.all_messages()}
    head = rig.store.audit_head()
    rig.store.close()

    again = Rig(SqliteStore(path))  # a new process would see exactly this (same start time)
    after = {m.id: m for m in again.store.all_messages()}
    assert after == before
    statuses = {m.id: m.status.value for m in after.values()}
    assert statuses == {
        waiting["id"]: "delivered",
        downloaded["id"]: "downloaded",
        imported["id"]: "imported",
        withdrawn["id"]: "withdrawn",
    }
    assert again.store.content(waiting["id"]) == b"waiting"
    assert again.store.content(withdrawn["id"]) is None
    assert again.store.audit_head() == head
    assert verify_chain(again.store.audit_entries(), again.store.audit_head()).intact
    # Tokens survive (hashed); the listing goes on from the cursor given before the restart;
    # a retried send is still recognised by its key; numbering continues.
    rest = again.request("GET", "/v1/inbox", token=provider, query={"cursor": page["next_cursor"]})
    assert [m["id"] for m in json.loads(rest.body)["messages"]] == [imported["id"], withdrawn["id"]]
    assert again.send(care, b"waiting", "k-waiting")["id"] == waiting["id"]
    assert again.send(care, b"new", "k-new")["id"] > withdrawn["id"]


def test_several_threads_send_at_once_and_nothing_is_lost_or_doubled(tmp_path: Path) -> None:
    rig = Rig(SqliteStore(tmp_path / "hub.sqlite"))
    token = rig.login()
    ids: list[str] = []
    failures: list[BaseException] = []

    def sender(worker: int) -> None:
        try:
            for number in range(10):
                # Every key twice: the second send of each must be a replay, not a new message.
                for _ in range(2):
                    key = f"w{worker}-{number}"
                    ids.append(rig.send(token, key.encode(), key)["id"])
        except BaseException as error:  # reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(ids) == 80 and len(set(ids)) == 40
    assert len(rig.store.all_messages()) == 40
    check = verify_chain(rig.store.audit_entries(), rig.store.audit_head())
    assert check.intact, check.problems


def test_the_schema_is_versioned_and_a_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite"
    store = SqliteStore(path)
    assert store.schema_version() == SCHEMA_VERSION
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(HubAdminError, match=r"newer|upgrade"):
        SqliteStore(path)


def test_an_empty_file_is_migrated_in_one_transaction(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite"
    sqlite3.connect(path).close()
    store = SqliteStore(path)
    assert store.schema_version() == SCHEMA_VERSION
    assert store.audit_head()[0] == 0
    store.close()
    reopened = SqliteStore(path)  # a second open applies nothing
    assert reopened.schema_version() == SCHEMA_VERSION
    reopened.close()


def test_an_online_backup_is_a_working_store(tmp_path: Path) -> None:
    rig = Rig(SqliteStore(tmp_path / "hub.sqlite"))
    sent = rig.send(rig.login(), b"kept", "k")
    assert isinstance(rig.store, SqliteStore)
    rig.store.backup(tmp_path / "copy.sqlite")
    copy = SqliteStore(tmp_path / "copy.sqlite")
    assert copy.content(sent["id"]) == b"kept"
    assert copy.office(CARE) is not None
    assert verify_chain(copy.audit_entries(), copy.audit_head()).intact
