"""The reader's fast paths against its general path (the csv state machine, row by row).

`_reader.records` types a chunk without quotes in one batch and other plain rows in a tight
loop; `_FAST_PATHS = False` sends every row through the general path instead. Whatever the file
holds (quotes, line breaks inside quotes, blank lines, headers, 外字, values that cannot be
typed, wrong item counts, records over the cap, small chunks), both must give the same records,
line numbers, gaps and issues, in `parse_plan`, `iter_records`, `read_leniently` and
validation's `read_for_rules` (which must also read as `read_leniently` does).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careplan_link import FormatError, iter_records, parse_plan, write_file
from careplan_link.format import LAYOUTS, _reader
from careplan_link.format._convert import TYPED_KINDS
from careplan_link.format._layout import Kind, Layout
from careplan_link.testing import strategies as cst

from .helpers import PLAN_NAME, table6_csv, table6_row

# A layout without free text (its files never hold a quote) and one with free text.
SHORT = LAYOUTS[("table6_plan_delete", "202407")]
WIDE = LAYOUTS[("table6_plan", "202407")]

ROW_CHANGES = [
    "blank_before", "bad_value", "gaiji", "line_break_in_quotes", "lenient_quotes",
    "one_item_less", "one_item_more", "leading_zero", "long", "long_across_lines",
]  # fmt: skip
# Changes that leave a file readable without error or note, so that its canonical form is checked.
CLEAN_CHANGES = ["lenient_quotes", "leading_zero"]


@contextlib.contextmanager
def reader_settings(*, fast: bool, chunk: int) -> Iterator[None]:
    saved = _reader._FAST_PATHS, _reader._CHUNK_SIZE
    _reader._FAST_PATHS, _reader._CHUNK_SIZE = fast, chunk
    try:
        yield
    finally:
        _reader._FAST_PATHS, _reader._CHUNK_SIZE = saved


def _item(text: str, quoted: bool) -> str:
    if quoted or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _change(row: list[str], change: str, layout: Layout) -> list[str]:
    typed = [i for i, c in enumerate(layout.columns) if c.kind in TYPED_KINDS]
    integers = [i for i, c in enumerate(layout.columns) if c.kind is Kind.INTEGER]
    row = list(row)
    if change == "bad_value":
        row[typed[-1]] = "x9"
    elif change == "gaiji":
        row[1] += "\ue000"  # encodes to 0xF040, a 外字 code
    elif change == "line_break_in_quotes":
        row[1] = 'a\r\nb"c'  # a plain text item: the row is typed, on two lines
    elif change == "one_item_less":
        row.pop()
    elif change == "one_item_more":
        row.append("")
    elif change == "leading_zero" and integers and row[integers[0]]:
        row[integers[0]] = "0" + row[integers[0]]
    elif change == "long":
        row[1] = "y" * 150
    elif change == "long_across_lines":
        row[1] = ("y" * 20 + "\r\n") * 8
    return row


@st.composite
def files(draw: st.DrawFn) -> tuple[bytes, Any, int]:
    """(bytes, name, max_record_bytes) of a file of valid records with faults planted."""
    layout = draw(st.sampled_from([SHORT, WIDE]))
    name = draw(cst.file_names(layout))
    records = draw(st.lists(cst.records(layout), min_size=2, max_size=12))
    text = write_file(records, name).decode("cp932")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if draw(st.booleans()):
        # Free text left empty: a file of the wide layout without any quote.
        free = [i for i, c in enumerate(layout.columns) if c.kind is Kind.FREE_TEXT]
        rows = [[("" if i in free else v) for i, v in enumerate(row)] for row in rows]
    newline = draw(st.sampled_from(["\r\n", "\r\n", "\n", "\r"]))
    changes = draw(st.sampled_from([ROW_CHANGES, CLEAN_CHANGES]))
    lines = []
    if changes is ROW_CHANGES and draw(st.integers(0, 5)) == 5:
        lines.append(",".join(str(c.no) for c in layout.columns))  # a header line
    # Most rows as written, a few changed (a fault in every row would leave no batch to test).
    faults = dict(
        draw(
            st.lists(st.tuples(st.integers(0, len(rows) - 1), st.sampled_from(changes)), max_size=2)
        )
    )
    for number, row in enumerate(rows):
        change = faults.get(number, "keep")
        if change == "blank_before":
            lines.append("")
        changed = _change(row, change, layout)
        quote_all = change == "lenient_quotes"
        lines.append(
            ",".join(_item(v, quote_all or '"' in v or v.startswith('"')) for v in changed)
        )
    body = newline.join(lines) + (newline if draw(st.booleans()) else "")
    # Batches need chunks of several lines: the default cap and chunk size are drawn most.
    cap = draw(st.sampled_from([_reader.DEFAULT_MAX_RECORD_BYTES] * 2 + [60, 200]))
    return body.encode("cp932"), name, cap


def _outcome(action: Callable[[], Any]) -> Any:
    try:
        return ("ok", action())
    except FormatError as error:
        return ("error", error.issues)


def _read_all(data: bytes, name: Any, cap: int) -> Any:
    def parsed() -> Any:
        file = parse_plan(data, name=name, max_record_bytes=cap)
        return file.records, file.record_lines, file.notes

    def streamed() -> Any:
        seen: list[Any] = []
        try:
            for record in iter_records(data, name=name, max_record_bytes=cap):
                seen.append(record)
        except FormatError as error:
            return seen, error.issues
        return seen, None

    def lenient() -> Any:
        reading = _reader.read_leniently(data, name=name, max_record_bytes=cap)
        file = reading.file
        return file.records, file.record_lines, file.gaps, reading.issues

    def for_rules() -> Any:
        # Validation's read: typed column by column, records made from the columns.
        reading = _reader.read_for_rules(data, name=name, max_record_bytes=cap)
        file = reading.file
        return tuple(file.records), file.record_lines, file.gaps, reading.issues

    outcomes = _outcome(parsed), _outcome(streamed), _outcome(lenient), _outcome(for_rules)
    assert outcomes[3] == outcomes[2]
    return outcomes


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files(), st.sampled_from([7, 64, 1 << 20, 1 << 20]))
def test_fast_paths_read_every_file_as_the_general_path_does(
    file: tuple[bytes, Any, int], chunk: int
) -> None:
    data, name, cap = file
    with reader_settings(fast=False, chunk=chunk):
        expected = _read_all(data, name, cap)
    with reader_settings(fast=True, chunk=chunk):
        assert _read_all(data, name, cap) == expected


def _count_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch the reader's `itertools.islice` (used only for batches) to record batch sizes."""
    sizes: list[int] = []

    class Spy:
        def __getattr__(self, attribute: str) -> Any:
            return getattr(itertools, attribute)

        @staticmethod
        def islice(iterable: Any, *bounds: Any) -> Any:
            if len(bounds) == 1:  # a batch takes a count; line search takes start and stop
                sizes.append(bounds[0])
            return itertools.islice(iterable, *bounds)

    monkeypatch.setattr(_reader, "itertools", Spy())
    return sizes


def test_a_file_without_quotes_is_typed_in_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = _count_batches(monkeypatch)
    rows = [table6_row(planner_name="", provider_name="", units=str(n)) for n in range(1, 101)]
    file = parse_plan(table6_csv(*rows), name=PLAN_NAME)
    assert [r.units for r in file.records] == list(range(1, 101))  # type: ignore[attr-defined]
    assert file.record_lines == tuple(range(1, 101))
    assert sizes == [99]  # every row after the first, which says the layout


def test_a_file_with_quotes_takes_no_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = _count_batches(monkeypatch)
    file = parse_plan(table6_csv(*[table6_row()] * 5), name=PLAN_NAME)
    assert len(file.records) == 5
    assert sizes == []


def test_a_bad_row_in_a_batch_is_reported_where_it_is() -> None:
    rows = [table6_row(planner_name="", provider_name="") for _ in range(6)]
    rows[3] = table6_row(planner_name="", provider_name="", units="x")
    with pytest.raises(FormatError) as caught:
        parse_plan(table6_csv(*rows), name=PLAN_NAME)
    assert [(i.code, i.record, i.line, i.column) for i in caught.value.issues] == [
        ("value.integer", 4, 4, 8)
    ]


def test_a_non_canonical_value_in_a_batch_is_found_on_its_line() -> None:
    rows = [table6_row(planner_name="", provider_name="") for _ in range(6)]
    rows[4] = table6_row(planner_name="", provider_name="", units="0244")
    reading = _reader.read_leniently(table6_csv(*rows), name=PLAN_NAME)
    departures = [i for i in reading.issues if i.code == "read.not_canonical"]
    assert [(i.record, i.line, i.column) for i in departures] == [(5, 5, 8)]


def test_a_blank_line_in_a_batch_is_a_note_and_the_records_stay() -> None:
    rows = [table6_row(planner_name="", provider_name="", units=str(n)) for n in range(1, 5)]
    data = table6_csv(*rows[:2]) + b"\r\n" + table6_csv(*rows[2:])
    file = parse_plan(data, name=PLAN_NAME)
    assert [r.units for r in file.records] == [1, 2, 3, 4]  # type: ignore[attr-defined]
    assert file.record_lines == (1, 2, 4, 5)
    assert [(n.code, n.line) for n in file.notes] == [("read.blank_line", 3)]


def _text_rows(layout: Layout, free_text: bool) -> list[list[str]]:
    if layout is SHORT:
        return [["202407", "131011", f"{n:010d}", "202504"] for n in range(8)]
    names = {"planner_name": "佐藤 花子", "provider_name": "訪問介護すみれ"}
    if not free_text:
        names = dict.fromkeys(names, "")
    row = [v.strip('"') for v in table6_row(**names)]
    return [[*row[:7], str(100 + n), *row[8:]] for n in range(8)]


@pytest.mark.parametrize("change", [*ROW_CHANGES, "keep"])
@pytest.mark.parametrize(("layout", "free_text"), [(SHORT, False), (WIDE, False), (WIDE, True)])
@pytest.mark.parametrize(("chunk", "cap"), [(1 << 20, 1 << 20), (64, 200), (1 << 20, 60)])
def test_each_fault_in_the_middle_of_a_file_reads_as_the_general_path_reads_it(
    change: str, layout: Layout, free_text: bool, chunk: int, cap: int
) -> None:
    rows = _text_rows(layout, free_text)
    lines = []
    for number, row in enumerate(rows):
        if number == 4 and change == "blank_before":
            lines.append("")
        changed = _change(row, change, layout) if number == 4 else row
        quote_all = number == 4 and change == "lenient_quotes"
        lines.append(",".join(_item(v, quote_all or (free_text and v == row[6])) for v in changed))
    data = ("\r\n".join(lines) + "\r\n").encode("cp932")
    name = (
        PLAN_NAME
        if layout is WIDE
        else "DLTPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV"
    )
    with reader_settings(fast=False, chunk=chunk):
        expected = _read_all(data, name, cap)
    with reader_settings(fast=True, chunk=chunk):
        assert _read_all(data, name, cap) == expected
