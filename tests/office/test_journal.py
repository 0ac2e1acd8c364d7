"""The office journal: private, crash-safe, kept for years; the delivery history and its
exports."""

from __future__ import annotations

import datetime
import json
import sqlite3
import stat
from pathlib import Path

import attrs
import pytest

from careplan_link.office import (
    Direction,
    Event,
    ImportedUnit,
    Journal,
    JournalError,
    JournalUnit,
)

AT = datetime.datetime(2025, 3, 25, 9, 30, tzinfo=datetime.UTC)


def sent_unit(serial: str = "20250325093000", **changes: object) -> JournalUnit:
    unit = JournalUnit(
        key=f"key-{serial}",
        direction=Direction.SENT,
        sender="1370100016",
        sender_service_type="43",
        receiver="1370200022",
        receiver_service_type="11",
        serial=serial,
        kind="schedule",
        month="202504",
        insured_nos=("H000000001", "H000000002"),
    )
    return attrs.evolve(unit, **changes)  # type: ignore[arg-type]


def test_the_journal_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        journal.record(sent_unit(), Event.VALIDATED, at=AT)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for side in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        assert not side.exists() or stat.S_IMODE(side.stat().st_mode) == 0o600
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)
    path.chmod(0o644)  # an existing journal is narrowed again when opened
    Journal(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_timeline_survives_reopening_and_hub_statuses_are_kept_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    unit = sent_unit()
    with Journal(path) as journal:
        for event in (Event.VALIDATED, Event.SEALED, Event.SENDING):
            journal.record(unit, event, at=AT)
    with Journal(path) as journal:  # a later run
        sent = sent_unit(message_id="msg-1", sha256="ab" * 32)
        assert journal.record(sent, Event.SENT, at=AT)
        assert journal.record(sent, Event.DELIVERED, at=AT)
        assert not journal.record(sent, Event.DELIVERED, at=AT)  # a second refresh
        assert (
            journal.events("msg-1")
            == journal.events(unit.key)
            == [
                Event.VALIDATED,
                Event.SEALED,
                Event.SENDING,
                Event.SENT,
                Event.DELIVERED,
            ]
        )
        (stored,) = journal.units()
        assert (stored.message_id, stored.sha256) == ("msg-1", "ab" * 32)
        assert journal.timeline("msg-1")[-1].sha256 == "ab" * 32
        assert journal.timeline("no-such-unit") == []


def test_an_interrupted_send_is_found_and_a_finished_one_is_not() -> None:
    journal = Journal()
    interrupted, finished, failed = sent_unit("1"), sent_unit("2"), sent_unit("3")
    for unit in (interrupted, finished, failed):
        journal.record(unit, Event.SENDING)
    journal.record(finished, Event.SENT)
    journal.record(failed, Event.SEND_FAILED)
    assert journal.unfinished_sends() == [interrupted]
    journal.record(failed, Event.SENDING)  # tried again, and interrupted again
    assert [u.serial for u in journal.unfinished_sends()] == ["1", "3"]


def test_history_filters_by_month_partner_and_user() -> None:
    journal = Journal()
    journal.record(sent_unit("1"), Event.SENT, at=AT)
    journal.record(sent_unit("2", receiver="1370300038", month="202505"), Event.SENT, at=AT)
    received = sent_unit(
        "3",
        key="in:msg-9",
        direction=Direction.RECEIVED,
        sender="1370300038",
        receiver="1370100016",
        insured_nos=("H000000009",),
    )
    journal.record(received, Event.DOWNLOADED, at=AT)
    assert len(journal.history()) == 3
    assert [e.serial for e in journal.history(month="202505")] == ["2"]
    assert [e.serial for e in journal.history(partner="1370300038")] == ["2", "3"]
    assert [e.serial for e in journal.history(insured_no="H000000009")] == ["3"]
    assert [e.serial for e in journal.history(insured_no="H000000002")] == ["1", "2"]
    assert journal.history(partner="1370200022", month="202505") == []


def test_exports_for_excel_and_json() -> None:
    journal = Journal()
    journal.record(
        sent_unit(message_id="msg-1", sha256="cd" * 32),
        Event.REJECTED,
        at=AT,
        reasons=("VALIDATION_FAILED",),
        detail="取込できません / cannot import",
    )
    cp932 = journal.export("csv", "cp932")
    text = cp932.decode("cp932")
    assert text.startswith("at,event,direction,partner,") and text.endswith("\r\n")
    assert (
        "VALIDATION_FAILED" in text and "取込できません" in text and "H000000001 H000000002" in text
    )
    assert journal.export("csv", "utf-8").startswith("\ufeff".encode())  # Excel reads UTF-8
    (entry,) = json.loads(journal.export("json"))
    assert entry["reasons"] == ["VALIDATION_FAILED"] and entry["sha256"] == "cd" * 32
    assert entry["at"] == AT.isoformat() and entry["insured_nos"] == ["H000000001", "H000000002"]
    with pytest.raises(ValueError, match="format"):
        journal.export("xlsx")
    with pytest.raises(ValueError, match="encoding"):
        journal.export("csv", "latin-1")


def test_the_journal_is_the_record_of_imported_units(tmp_path: Path) -> None:
    unit = ImportedUnit("1370100016", "43", "1370200022", "11", "20250325093000")
    older = ImportedUnit("1370100016", "43", "1370200022", "11", "20250301000000")
    with Journal(tmp_path / "j.db") as journal:
        assert journal.imported_by(unit) is None and journal.newest_serial(unit) is None
        journal.add(unit, "msg-1")
        journal.add(older, "msg-0")
    with Journal(tmp_path / "j.db") as journal:
        assert journal.imported_by(unit) == "msg-1"
        assert journal.newest_serial(older) == "20250325093000"


def test_an_unusable_journal_path_is_a_journal_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="missing"):
        Journal(tmp_path / "missing" / "journal.db")


def test_the_offices_detail_is_kept_on_a_status_the_hub_reported_first() -> None:
    journal = Journal()
    unit = sent_unit(direction=Direction.RECEIVED, key="in:msg-1", message_id="msg-1")
    journal.record(unit, Event.REJECTED, at=AT, reasons=("VALIDATION_FAILED",))
    assert not journal.record(unit, Event.REJECTED, detail="取込エラー / import error")
    (entry,) = journal.timeline("msg-1")
    assert (entry.reasons, entry.detail) == (("VALIDATION_FAILED",), "取込エラー / import error")
    assert not journal.record(unit, Event.REJECTED, detail="a later word")  # the first stays
    assert journal.timeline("msg-1")[0].detail == "取込エラー / import error"


def test_a_transaction_commits_its_events_together_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    unit = sent_unit()
    with Journal(path) as journal:
        with pytest.raises(RuntimeError), journal.transaction():
            journal.record(unit, Event.SENT, at=AT)
            with journal.transaction():  # nested: joins the outer one
                journal.record(unit, Event.DELIVERED, at=AT)
            raise RuntimeError("killed half way")
        assert journal.events(unit.key) == []  # neither event, nor the unit
        assert journal.units() == []
        with journal.transaction():
            journal.record(unit, Event.SENT, at=AT)
            with journal.transaction():
                journal.record(unit, Event.DELIVERED, at=AT)
            # Another connection sees nothing until the outer block ends.
            other = sqlite3.connect(path)
            assert other.execute("SELECT count(*) FROM events").fetchone() == (0,)
        assert other.execute("SELECT count(*) FROM events").fetchone() == (2,)
        other.close()
        journal.record(unit, Event.DOWNLOADED, at=AT)  # and single records still commit
    with Journal(path) as reopened:
        assert reopened.events(unit.key) == [Event.SENT, Event.DELIVERED, Event.DOWNLOADED]


def test_a_status_recorded_again_with_a_detail_keeps_the_detail(tmp_path: Path) -> None:
    unit = sent_unit()
    with Journal(tmp_path / "journal.db") as journal:
        assert journal.record(unit, Event.REJECTED, at=AT, reasons=("USER_UNKNOWN",))
        assert not journal.record(unit, Event.REJECTED, at=AT, detail="利用者が未登録")
        (entry,) = journal.history()
        assert (entry.reasons, entry.detail) == (("USER_UNKNOWN",), "利用者が未登録")
