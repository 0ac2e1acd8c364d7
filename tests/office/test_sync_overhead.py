"""What `sync` does beyond the library calls, kept small without giving up what it guarantees
(benchmarks/bench_sync.py): the users' column scanned rather than parsed, no status refresh
when no sent unit can change, `validated` and `sealed` in one commit."""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careplan_link.office import Direction, Event, Journal, JournalUnit
from careplan_link.office._flow import _INSURED_POSITIONS, _bare_values, insured_numbers
from careplan_link.protocol import MessageStatus

from .sync_helpers import PROVIDER, month, pki, two_offices

AT = datetime.datetime(2025, 6, 26, 10, 0, tzinfo=datetime.UTC)


# -- the users' column -------------------------------------------------------------------------


def _plan_unit_with(content: bytes) -> object:
    unit = month().schedules[0]
    name = next(n for n in unit.files if n.startswith("UPPLAN"))
    return attrs.evolve(unit, files={name: content})


def _by_csv(content: bytes, position: int) -> tuple[str, ...]:
    """The column read by the csv module: the reference."""
    rows = csv.reader(io.StringIO(content.decode("cp932"), newline=""))
    values = {row[position].strip() for row in rows if len(row) > position}
    return tuple(sorted(v for v in values if v and v.isprintable()))


_bare = st.text(alphabet="ab1H ", max_size=4)
_quoted = st.text(alphabet='ab1H,"', max_size=4).map(lambda t: '"' + t.replace('"', '""') + '"')
_field = st.one_of(_bare, _quoted, st.sampled_from(["H000000001", "H000000002", '"H000000003"']))


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(st.lists(_field, min_size=0, max_size=5), min_size=0, max_size=6),
    end=st.sampled_from(["\r\n", "\n", "\r"]),
    last_end=st.booleans(),
)
def test_the_column_scan_reads_what_the_csv_module_reads(
    rows: list[list[str]], end: str, last_end: bool
) -> None:
    # Bare and quoted fields (commas and escaped quotes inside), short and empty lines, every
    # line end: whichever way the scan goes (the bare pattern, the full one, the csv module),
    # it finds the csv module's values.
    text = end.join(",".join(row) for row in rows) + (end if rows and last_end else "")
    if rows and not any(rows[-1]) and not last_end:
        text += end  # a last line that is empty is no line at all for either reading
    content = text.encode("cp932")
    position = _INSURED_POSITIONS["table6_plan"]
    assert insured_numbers(_plan_unit_with(content)) == _by_csv(content, position)  # type: ignore[arg-type]


def test_the_standards_files_take_the_fast_pattern() -> None:
    # The files a care software writes have no quotes before the column: every line is read
    # by the bare pattern, a user's records at a time, not by the slower readings after it.
    from careplan_link.format import FileName

    checked = 0
    for unit in (*month().plans, *month().schedules, *month().results):
        for name, data in unit.files.items():
            position = _INSURED_POSITIONS.get(FileName.parse(name).layout_id)
            if position is not None:
                assert _bare_values(data, position) is not None, name
                checked += 1
    assert checked >= 3


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # The bare pattern misses a line (the column quoted, a quote before it, the column last
        # on an LF line): the full pattern or the csv module reads the file instead.
        (b'a,b,H000000001,z\r\na,b,"H000000002",z\r\n', ("H000000001", "H000000002")),
        (b'a,b,H000000001,z\r\n"a",b,H000000003,z\r\n', ("H000000001", "H000000003")),
        (b"a,b,H000000004\na,b,H000000005\n", ("H000000004", "H000000005")),
        # One line end of another kind in the middle.
        (b"a,b,H000000006,z\r\na,b,H000000007,z\ra,b,H000000008,z\r\n",
         ("H000000006", "H000000007", "H000000008")),
        # A user's run of records ends where the number goes on (H1 then H12), and where a
        # line that is not plainly written comes; an empty line; no line end at the last.
        (b"a,b,H1,z\r\na,b,H1,z\r\na,b,H12,z\r\na,b,H12\r\n", ("H1", "H12")),
        (b'a,b,H1,z\r\na,b,H1,"z"\r\n"a",b,H1,z\r\na,b,H2,z\r\n', ("H1", "H2")),
        (b"a,b,H1,z\r\n\r\na,b,H2,z\r\n", ("H1", "H2")),
        (b"a,b,H1,z\r\na,b,H2,z", ("H1", "H2")),
        (b"a,b,H1,z\na,b,H2,z\n", ("H1", "H2")),
    ],
)  # fmt: skip
def test_a_line_the_fast_pattern_misses_sends_the_file_to_the_full_reading(
    content: bytes, expected: tuple[str, ...]
) -> None:
    assert insured_numbers(_plan_unit_with(content)) == expected  # type: ignore[arg-type]


# -- the journal -------------------------------------------------------------------------------


def _unit(serial: str, direction: Direction = Direction.SENT, **changes: object) -> JournalUnit:
    unit = JournalUnit(
        key=f"key-{serial}",
        direction=direction,
        sender="1310000003",
        sender_service_type="43",
        receiver="1310000102",
        receiver_service_type="11",
        serial=serial,
        kind="schedule",
        month="202507",
        message_id=f"msg-{serial}",
    )
    return attrs.evolve(unit, **changes)  # type: ignore[arg-type]


def test_only_sent_units_without_a_final_status_await_one() -> None:
    with Journal() as journal:
        journal.record(_unit("1"), Event.SENT, at=AT)
        journal.record(_unit("1"), Event.DELIVERED, at=AT)
        for serial, final in (("2", Event.IMPORTED), ("3", Event.REJECTED),
                              ("4", Event.WITHDRAWN), ("5", Event.EXPIRED)):  # fmt: skip
            journal.record(_unit(serial), Event.SENT, at=AT)
            journal.record(_unit(serial), final, at=AT)
        journal.record(_unit("6"), Event.DOWNLOADED, at=AT)
        journal.record(_unit("7", message_id=None), Event.SENDING, at=AT)  # never answered
        journal.record(_unit("8", Direction.RECEIVED), Event.DOWNLOADED, at=AT)
        assert journal.awaiting_status() == ["msg-1", "msg-6"]


def test_the_final_statuses_are_those_the_hub_leads_nowhere_from() -> None:
    from careplan_link.office._journal import FINAL_EVENTS
    from careplan_link.protocol import TRANSITIONS

    assert {event.value for event in FINAL_EVENTS} == {"imported", "rejected", "withdrawn",
                                                       "expired"}  # fmt: skip
    for event in FINAL_EVENTS:
        assert not [k for k in TRANSITIONS if k[0] is MessageStatus(event.value)]


def test_events_recorded_together_take_one_commit(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.sqlite") as journal:
        statements: list[str] = []
        journal._db.set_trace_callback(statements.append)
        journal.record_all(_unit("1"), [(Event.VALIDATED, AT), (Event.SEALED, None)])
        assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == [
            "BEGIN IMMEDIATE",
            "COMMIT",
        ]
        entries = journal.timeline("key-1")
        assert [e.event for e in entries] == [Event.VALIDATED, Event.SEALED]
        assert entries[0].at == AT and entries[1].at > AT


def test_events_recorded_together_are_all_or_none(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.sqlite") as journal:
        with pytest.raises(ValueError, match="no_such_event"):
            journal.record_all(_unit("1"), [(Event.VALIDATED, AT), ("no_such_event", None)])  # type: ignore[list-item]
        assert journal.timeline("key-1") == []


# -- sync passes -------------------------------------------------------------------------------


def _count_refreshes(sync: object) -> list[int]:
    calls: list[int] = []
    workflow = sync.workflow  # type: ignore[attr-defined]
    refresh = workflow.refresh_statuses

    def counted() -> object:
        calls.append(1)
        return refresh()

    workflow.refresh_statuses = counted
    return calls


def test_a_pass_refreshes_statuses_only_when_a_sent_unit_can_still_change(
    tmp_path: Path,
) -> None:
    unit = month().schedules[0]
    with two_offices(tmp_path) as offices:
        care_refreshes = _count_refreshes(offices.care)
        provider_refreshes = _count_refreshes(offices.provider)
        offices.export(unit)
        sent = offices.care.run_once()
        assert len(sent.sent) == 1
        # Its status came back with the send and is journaled: nothing to ask the hub yet.
        assert care_refreshes == []
        journal = offices.care.journal
        key = journal.unit(sent.sent[0][1]).key  # type: ignore[union-attr]
        assert Event.DELIVERED in journal.events(key)
        # The provider never sent anything: no outbox to walk.
        received = offices.provider.run_once()
        assert len(received.received) == 1 and provider_refreshes == []
        # The next pass asks, and learns of the download.
        assert offices.care.run_once().ok
        assert care_refreshes == [1]
        assert Event.DOWNLOADED in journal.events(key)
        # Once imported (final), passes stop asking.
        message_id = sent.sent[0][1]
        (offices.provider.folders.receipts / f"{message_id}.imported").write_bytes(b"")
        assert offices.provider.run_once().receipts == [(message_id, "imported")]
        offices.care.run_once()
        assert care_refreshes == [1, 1] and Event.IMPORTED in journal.events(key)
        offices.care.run_once()
        assert care_refreshes == [1, 1]
        assert journal.awaiting_status() == []


def test_validated_is_journaled_even_when_the_unit_goes_no_further(tmp_path: Path) -> None:
    # `validated` waits to share `sealed`'s commit; when sealing never comes (a certificate the
    # trust anchors do not certify), it is journaled on its own, at its own time.
    from careplan_link import UntrustedRecipient

    unit = month().schedules[0]
    with two_offices(tmp_path) as offices:
        workflow = offices.care.workflow
        before = workflow.journal.now()
        with pytest.raises(UntrustedRecipient):
            workflow.prepare(unit, to=[pki().foreign(PROVIDER.number).certificate])  # type: ignore[attr-defined]
        (entry,) = workflow.journal.units()
        (validated,) = workflow.journal.timeline(entry)
        assert validated.event is Event.VALIDATED and validated.at >= before
        # Prepared for real: `validated` and `sealed` follow, in that order.
        workflow.prepare(unit)
        assert workflow.journal.events(entry) == [Event.VALIDATED, Event.VALIDATED, Event.SEALED]


def test_a_sync_pass_sends_a_unit_with_two_journal_commits(tmp_path: Path) -> None:
    # `validated`, `sealed` and `sending` go in one commit before the envelope leaves (the
    # intent a restart looks for), `sent` and the hub's status in one after it.
    unit = month().schedules[0]
    with two_offices(tmp_path) as offices:
        journal = offices.care.journal
        statements: list[str] = []
        journal._db.set_trace_callback(statements.append)
        offices.export(unit)
        sent = offices.care.run_once()
        journal._db.set_trace_callback(None)
        assert len(sent.sent) == 1
        assert statements.count("COMMIT") == 2
        entry = journal.unit(sent.sent[0][1])
        assert entry is not None
        timeline = journal.timeline(entry)
        assert [e.event for e in timeline] == [
            Event.VALIDATED, Event.SEALED, Event.SENDING, Event.SENT, Event.DELIVERED,
        ]  # fmt: skip
        # Each at its own time, in order.
        times = [e.at for e in timeline[:4]]
        assert times == sorted(times)


def test_a_unit_prepared_for_sending_is_journaled_by_its_send(tmp_path: Path) -> None:
    unit = month().schedules[0]
    with two_offices(tmp_path) as offices:
        workflow = offices.care.workflow
        prepared = workflow.prepare(unit, journal_with_send=True)  # type: ignore[call-arg]
        assert [event for event, _ in prepared.pending] == [Event.VALIDATED, Event.SEALED]
        assert workflow.journal.units() == []  # nothing went out, nothing to tell
        outcome = workflow.send(prepared)
        assert outcome.sent
        assert workflow.journal.events(prepared.idempotency_key)[:4] == [
            Event.VALIDATED, Event.SEALED, Event.SENDING, Event.SENT,
        ]  # fmt: skip
        # Prepared the ordinary way, a unit is journaled at once.
        again = workflow.prepare(month().schedules[0])
        assert again.pending == ()
        assert workflow.journal.events(again.idempotency_key)[-2:] == [
            Event.VALIDATED, Event.SEALED,
        ]  # fmt: skip


def test_the_units_sent_under_a_serial_are_found_without_their_files() -> None:
    with Journal() as journal:
        journal.record(_unit("20250626100000"), Event.SENT, at=AT)
        journal.record(_unit("20250626100000", key="key-other"), Event.SENT, at=AT)
        journal.record(_unit("20250626100100"), Event.SENDING, at=AT)  # not sent (yet)
        journal.record(_unit("20250626100200", Direction.RECEIVED), Event.SENT, at=AT)
        assert journal.sent_keys("1310000102", "20250626100000") == {
            "key-20250626100000",
            "key-other",
        }
        assert journal.sent_keys("1310000102", "20250626100100") == set()
        assert journal.sent_keys("1310000102", "20250626100200") == set()
        assert journal.sent_keys("1310000999", "20250626100000") == set()


def test_a_unit_sent_before_a_crash_kept_its_files_is_moved_not_sent_again(
    tmp_path: Path,
) -> None:
    # Killed after the send and before the move: the files are still in the outbox. The
    # journal finds the unit by its 連番 and then its key, and only the move is left to do.
    unit = month().schedules[0]
    with two_offices(tmp_path) as offices:
        offices.export(unit)
        first = offices.care.run_once()
        assert len(first.sent) == 1
        offices.export(unit)  # the same files, back where the crash left them
        again = offices.care.run_once()
        assert again.sent == [] and again.ok
        assert list(offices.care.folders.outbox.glob("*.CSV")) == []
        assert len(list(offices.clients[0].outbox())) == 1  # stored once
        # The same 連番 with other content is not that unit: its key tells them apart.
        from careplan_link import Bundle

        files = dict(unit.files)
        first_name = sorted(files)[0]
        files[first_name] = files[first_name][:-2] + b"9\r\n"
        assert offices.care._already_sent(unit)
        assert not offices.care._already_sent(Bundle.from_files(files))


def test_file_names_are_parsed_once_and_bad_ones_always_refused() -> None:
    from careplan_link.errors import FormatError
    from careplan_link.format import FileName
    from careplan_link.office._flow import file_name

    name = next(iter(month().schedules[0].files))
    assert file_name(name) is file_name(name)
    assert file_name(name) == FileName.parse(name)
    for _ in range(2):
        with pytest.raises(FormatError):
            file_name("UPPLAN_202507_131000000_43.CSV")
