"""`sync` end to end: two offices over a served hub (uvicorn, SQLite store)."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from careplan_link import FileName, MessageStatus, validate
from careplan_link.cli import main
from careplan_link.office import Event
from careplan_link.office._sync import REPORT_NAME, SENT_FOLDER, SyncPass

from .sync_helpers import PROVIDER, inbox_folders, month, two_offices


def _hub_statuses(offices) -> dict[str, MessageStatus]:  # type: ignore[no-untyped-def]
    client = offices.care.workflow.client
    return {m.serial: m.status for m in client.outbox()}


def test_a_month_goes_from_the_care_office_outbox_to_the_provider_inbox_and_back(
    tmp_path: Path,
) -> None:
    data = month()
    with two_offices(tmp_path) as offices:
        for unit in (*data.plans, *data.schedules):
            offices.export(unit)
        sent = offices.care.run_once()
        assert sent.ok, sent
        assert [folder for folder, _ in sent.sent] == [
            f"{data.plans[0].serial}_{PROVIDER.number}_plan",
            f"{data.schedules[0].serial}_{PROVIDER.number}_schedule",
        ]
        # The outbox is emptied into sent/<unit>/, every file kept.
        outbox = offices.care.folders.outbox
        assert [p.name for p in outbox.iterdir()] == [SENT_FOLDER]
        assert sorted(p.name for p in (outbox / SENT_FOLDER).iterdir()) == [f for f, _ in sent.sent]

        received = offices.provider.run_once()
        assert received.ok, received
        folders = inbox_folders(offices.provider)
        assert list(folders) == [
            f"{data.plans[0].serial}_1310000003_plan",
            f"{data.schedules[0].serial}_1310000003_schedule",
        ]
        assert list(folders.values()) == [dict(data.plans[0].files), dict(data.schedules[0].files)]
        assert set(_hub_statuses(offices).values()) == {MessageStatus.DOWNLOADED}

        # Nothing new: a second pass takes nothing in twice.
        again = offices.provider.run_once()
        assert again.received == [] and again.ok

        # The provider's software imports, drops receipts, and answers with its 実績.
        for _, message_id in received.received:
            (offices.provider.folders.receipts / f"{message_id}.imported").write_bytes(b"")
        offices.export(data.results[0], office="provider")
        answered = offices.provider.run_once()
        assert sorted(answered.receipts) == sorted((m, "imported") for _, m in received.received)
        assert len(answered.sent) == 1
        assert not list(offices.provider.folders.receipts.glob("*.imported"))

        back = offices.care.run_once()
        assert [f for f, _ in back.received] == [
            f"{data.results[0].serial}_{PROVIDER.number}_results"
        ]
        assert set(_hub_statuses(offices).values()) == {MessageStatus.IMPORTED}
        journal = offices.care.journal
        plan_events = journal.events(journal.unit(sent.sent[0][1]).key)  # type: ignore[union-attr]
        for event in (Event.VALIDATED, Event.SEALED, Event.SENT, Event.DELIVERED,
                      Event.DOWNLOADED, Event.IMPORTED):  # fmt: skip
            assert event in plan_events


def test_a_file_still_being_written_is_not_picked_up(tmp_path: Path) -> None:
    now = [2_000_000_000.0]
    unit = month().schedules[0]
    with two_offices(tmp_path, settle_seconds=10, clock=lambda: now[0]) as offices:
        outbox = offices.care.folders.outbox
        names = list(unit.files)
        for name in names[1:]:
            (outbox / name).write_bytes(unit.files[name])
            os.utime(outbox / name, (now[0] - 60, now[0] - 60))
        # Half of the 第6表 is on disk, written a second ago: read now, it would not validate.
        half = unit.files[names[0]][: len(unit.files[names[0]]) // 2]
        assert not validate({**unit.files, names[0]: half}).ok
        (outbox / names[0]).write_bytes(half)
        os.utime(outbox / names[0], (now[0] - 1, now[0] - 1))
        first = offices.care.run_once()
        assert first.sent == [] and first.rejected == []
        assert [w.reason_en for w in first.waiting] == ["still being written"]
        # The export finishes; the unit is taken once it has been quiet for 10 seconds.
        (outbox / names[0]).write_bytes(unit.files[names[0]])
        os.utime(outbox / names[0], (now[0] - 2, now[0] - 2))
        assert offices.care.run_once().sent == []
        now[0] += 9
        assert offices.care.run_once().sent == []
        now[0] += 2
        done = offices.care.run_once()
        assert len(done.sent) == 1 and done.rejected == []


def test_a_unit_whose_last_file_arrives_late_is_not_rejected(tmp_path: Path) -> None:
    unit = month().schedules[0]
    with two_offices(tmp_path) as offices:
        outbox = offices.care.folders.outbox
        last = next(n for n in unit.files if n.startswith("UPHOSOKU"))
        for name, data in unit.files.items():
            if name != last:
                (outbox / name).write_bytes(data)
        for _ in range(2):
            waiting = offices.care.run_once()
            assert waiting.sent == [] and waiting.rejected == []
            assert "supplement" in waiting.waiting[0].reason_en
        assert list(offices.care.folders.rejected.iterdir()) == []
        (outbox / last).write_bytes(unit.files[last])
        assert len(offices.care.run_once().sent) == 1


def test_an_invalid_unit_moves_to_rejected_with_its_report_and_does_not_hold_the_next(
    tmp_path: Path,
) -> None:
    data = month()
    plan = data.plans[0]
    broken_name = next(n for n in plan.files if n.startswith("UP1KYO"))
    broken = plan.files[broken_name].replace(b"202407,", b"209999,", 1)
    with two_offices(tmp_path) as offices:
        offices.export(plan)
        (offices.care.folders.outbox / broken_name).write_bytes(broken)
        offices.export(data.schedules[0])
        result = offices.care.run_once()
        folder = f"{plan.serial}_{PROVIDER.number}_plan"
        assert result.rejected == [folder]
        assert [f for f, _ in result.sent] == [
            f"{data.schedules[0].serial}_{PROVIDER.number}_schedule"
        ]
        rejected = offices.care.folders.rejected / folder
        assert sorted(p.name for p in rejected.iterdir()) == sorted([*plan.files, REPORT_NAME])
        report = (rejected / REPORT_NAME).read_text(encoding="utf-8-sig")
        assert "送信していません" in report and "was not sent" in report
        assert "[日本語]" in report and "[English]" in report
        assert list(_hub_statuses(offices)) == [data.schedules[0].serial]
        assert Event.INVALID in offices.care.journal.events(offices.care.journal.units()[0].key)


def test_a_stray_file_in_the_outbox_is_moved_aside_with_a_reason(tmp_path: Path) -> None:
    with two_offices(tmp_path) as offices:
        (offices.care.folders.outbox / "メモ.txt").write_text("not a unit", encoding="utf-8")
        result = offices.care.run_once()
        assert result.rejected == ["メモ.txt"]
        reason = offices.care.folders.rejected / "メモ.txt.理由_reason.txt"
        assert "not a file name of the standard" in reason.read_text(encoding="utf-8-sig")


def test_a_file_open_in_another_program_waits_and_holds_the_later_units(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = month()
    locked_name = next(iter(data.plans[0].files))
    original = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == locked_name:
            # What Windows raises while Excel holds the CSV open.
            raise PermissionError(13, "The process cannot access the file", str(self))
        return original(self)

    with two_offices(tmp_path) as offices:
        offices.export(data.plans[0])
        offices.export(data.schedules[0])
        monkeypatch.setattr(Path, "read_bytes", read_bytes)
        held = offices.care.run_once()
        assert held.sent == [] and held.rejected == [] and held.errors == []
        assert "held open by another program" in held.waiting[0].reason_en
        assert _hub_statuses(offices) == {}  # the later schedule waited for the plan
        monkeypatch.setattr(Path, "read_bytes", original)
        done = offices.care.run_once()
        assert [f.split("_")[0] for f, _ in done.sent] == [
            data.plans[0].serial,
            data.schedules[0].serial,
        ]


def test_a_sent_unit_whose_files_cannot_be_moved_is_not_sent_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = month().plans[0]
    real_replace = os.replace

    def locked_replace(source: object, target: object) -> None:
        if Path(str(source)).parent.name == "送信":
            raise PermissionError(13, "The process cannot access the file", str(source))
        real_replace(source, target)  # type: ignore[arg-type]

    with two_offices(tmp_path) as offices:
        offices.export(unit)
        monkeypatch.setattr(os, "replace", locked_replace)
        first = offices.care.run_once()
        assert len(first.sent) == 1
        assert "held open" in first.waiting[0].reason_en
        monkeypatch.setattr(os, "replace", real_replace)
        second = offices.care.run_once()
        assert second.sent == []  # moved now, not sent again
        assert sorted(p.name for p in offices.care.folders.outbox.iterdir()) == [SENT_FOLDER]
        assert len(_hub_statuses(offices)) == 1
        events = offices.care.journal.events(offices.care.journal.units()[0].key)
        assert events.count(Event.SENT) == 1


def test_hub_restart_with_messages_in_flight(tmp_path: Path) -> None:
    data = month()
    with two_offices(tmp_path) as offices:
        offices.export(data.plans[0])
        assert len(offices.care.run_once().sent) == 1
        offices.stop_hub()
        # The hub is down: the provider cannot receive, the care office cannot send.
        down = offices.provider.run_once()
        assert down.hub_unreachable and not down.ok
        offices.export(data.schedules[0])
        stuck = offices.care.run_once()
        assert stuck.hub_unreachable and stuck.sent == []
        assert any(FileName.parse(p.name).serial == data.schedules[0].serial
                   for p in offices.care.folders.outbox.iterdir() if p.is_file())  # fmt: skip
        offices.start_hub()
        assert len(offices.care.run_once().sent) == 1
        received = offices.provider.run_once()
        assert len(received.received) == 2
        assert len(inbox_folders(offices.provider)) == 2
        assert len(_hub_statuses(offices)) == 2


def test_a_rejected_receipt_file_carries_its_reason_to_the_sender_and_its_text_to_the_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with two_offices(tmp_path) as offices:
        offices.export(month().plans[0])
        offices.care.run_once()
        ((_, message_id),) = offices.provider.run_once().received
        (offices.provider.folders.receipts / f"{message_id}.rejected").write_text(
            "USER_UNKNOWN 利用者が登録されていません\n", encoding="utf-8"
        )
        assert offices.provider.run_once().receipts == [(message_id, "rejected")]
        offices.care.run_once()
        message = offices.care.workflow.client.message(message_id)
        assert message.status is MessageStatus.REJECTED
        assert message.history[-1].reasons == ("USER_UNKNOWN",)
        entries = [e for e in offices.care.journal.history() if e.event is Event.REJECTED]
        assert entries and entries[0].reasons == ("USER_UNKNOWN",)
        mine = [e for e in offices.provider.journal.history() if e.event is Event.REJECTED]
        assert [e.reasons for e in mine] == [("USER_UNKNOWN",)]
        # The file's text is the office's own record of why (never sent to the hub).
        assert [e.detail for e in mine] == ["利用者が登録されていません"]
        journal = ["--journal", offices.provider.journal.path, "--lang", "en"]
        assert main(["history", "--format", "json", *journal]) == 0
        exported = json.loads(capsys.readouterr().out)
        (rejected,) = [e for e in exported if e["event"] == "rejected"]
        assert rejected["detail"] == "利用者が登録されていません"
        assert rejected["reasons"] == ["USER_UNKNOWN"]
        assert not list(offices.provider.folders.receipts.glob("*.rejected"))
        assert (offices.provider.folders.receipts / "done" / f"{message_id}.rejected").exists()


def test_a_received_unit_is_written_all_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from careplan_link.office import _sync

    calls = []
    real = _sync.write_bundle

    def disk_full(bundle: object, *, to: Path) -> object:
        calls.append(to)
        real(bundle, to=to)  # type: ignore[arg-type]
        raise OSError(28, "No space left on device")

    with two_offices(tmp_path) as offices:
        offices.export(month().plans[0])
        offices.care.run_once()
        monkeypatch.setattr(_sync, "write_bundle", disk_full)
        failed = offices.provider.run_once()
        assert failed.received == [] and calls
        # Nothing the vendor could pick up: only the hidden staging folder.
        assert [
            p for p in offices.provider.folders.inbox.iterdir() if not p.name.startswith(".")
        ] == []
        assert set(_hub_statuses(offices).values()) == {MessageStatus.DELIVERED}
        monkeypatch.setattr(_sync, "write_bundle", real)
        assert len(offices.provider.run_once().received) == 1
        assert [p.name for p in offices.provider.folders.inbox.iterdir()] == [
            f"{month().plans[0].serial}_1310000003_plan"
        ]


@pytest.mark.parametrize("watcher", ["watchfiles", "polling"])
def test_watching_sends_a_unit_once_it_settles_and_stops_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, watcher: str
) -> None:
    if watcher == "polling":
        monkeypatch.setitem(sys.modules, "watchfiles", None)  # as if not installed
    with two_offices(tmp_path, settle_seconds=0.2) as offices:
        stop = threading.Event()
        passes: list[SyncPass] = []
        thread = threading.Thread(
            target=offices.care.watch,
            args=(stop,),
            kwargs={"poll_seconds": 0.1, "on_pass": passes.append},
        )
        thread.start()
        try:
            time.sleep(0.3)
            offices.export(month().plans[0])
            deadline = time.monotonic() + 30
            while not any(p.sent for p in passes) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            thread.join(10)
        assert not thread.is_alive()
        assert [len(p.sent) for p in passes if p.sent] == [1]
        assert all(p.rejected == [] for p in passes)
