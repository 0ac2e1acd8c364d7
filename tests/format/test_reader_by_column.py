"""Validation's read, typed column by column (`read_for_rules`, `BlockTyper`), against the
lenient read that types each row into its record (`read_leniently`).

Both must give the same records, lines, gaps, issues and columns whatever a file holds. The
files here are long enough for the typer's re-plan (after 1024 rows, a column of mostly
different integers is converted by `int` in C, one of mostly different names is no longer
shared), and each fault is planted before and after it, in files with and without quotes
(a file without quotes is read in batches).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from careplan_link import parse_plan
from careplan_link.format import _reader, _rowcode
from careplan_link.format._columns import ColumnRecords, uniform
from careplan_link.format._layouts import get_layout
from careplan_link.format._reader import read_for_rules, read_leniently

from .helpers import PLAN_NAME, table6_csv, table6_row

LAYOUT = get_layout("table6_plan")
UNITS, SERVICE_DATE, COUNT = 7, 9, 13  # indices of 単位数, サービス提供日, サービス回数
ROWS = 1500


def _rows(quoted: bool) -> list[list[str]]:
    """Rows of mostly different 被保険者番号, names and 単位数 (the re-plan types them
    without their caches); without quotes, the free texts are left empty."""
    return [
        table6_row(
            insured_no=f"{n:010d}",
            planner_name=f'"佐藤 {n}"' if quoted else "",
            provider_name=f'"すみれ{n % 7}"' if quoted else "",
            units=str(1000 + n),
            start_time=f"{9 + n % 8:02d}{n % 60:02d}",
        )
        for n in range(ROWS)
    ]


def _set(index: int, text: str) -> Callable[[list[str]], None]:
    return lambda row: row.__setitem__(index, text)


# Each plants one fault in a row: (how, the issue it must give: code and column number).
_PLANTS: dict[str, tuple[Callable[[list[str]], None], tuple[str, int] | None]] = {
    "letters": (_set(UNITS, "x9"), ("value.integer", 8)),
    # `int` takes these; the standard does not.
    "space": (_set(UNITS, " 5"), ("value.integer", 8)),
    "plus": (_set(UNITS, "+5"), ("value.integer", 8)),
    "full_width_digits": (_set(UNITS, "５"), ("value.integer", 8)),
    "underscore": (_set(UNITS, "1_0"), ("value.integer", 8)),
    # Read, but not written so: a departure from canonical form.
    "leading_zero": (_set(UNITS, "0123"), ("read.not_canonical", 8)),
    "minus_zero": (_set(UNITS, "-0"), ("read.not_canonical", 8)),
    "count_leading_zero": (_set(COUNT, "01"), ("read.not_canonical", 14)),
    # Read and canonical.
    "negative": (_set(UNITS, "-5"), None),
    "zero": (_set(UNITS, "0"), None),
    "empty": (_set(UNITS, ""), None),
    "bad_date": (_set(SERVICE_DATE, "20250431"), ("value.yyyymmdd", 10)),
}


@pytest.fixture(params=[True, False], ids=["quoted", "quote_free"])
def quoted(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def typed_by_column(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many rows `BlockTyper.type` was given (so that a test knows the path ran)."""
    sizes: list[int] = []
    original = _rowcode.BlockTyper.type

    def spy(self: _rowcode.BlockTyper, rows: list[list[str]]) -> list[list[Any]]:
        sizes.append(len(rows))
        return original(self, rows)

    monkeypatch.setattr(_rowcode.BlockTyper, "type", spy)
    yield sizes


def _read_both(data: bytes) -> tuple[Any, Any]:
    by_row, by_column = read_leniently(data, name=PLAN_NAME), read_for_rules(data, name=PLAN_NAME)
    assert isinstance(by_column.file.records, ColumnRecords)
    assert by_column.file.records == by_row.file.records
    assert by_column.file.record_lines == by_row.file.record_lines
    assert by_column.file.gaps == by_row.file.gaps
    assert by_column.issues == by_row.issues
    for column in LAYOUT.columns:
        values = by_column.columns[column.attribute]
        assert list(values) == list(by_row.columns[column.attribute])
        # A column of one value is one object, as the rules' fast tests of it expect.
        assert uniform(values) == uniform(by_row.columns[column.attribute])
    return by_row, by_column


@pytest.mark.parametrize("plant", sorted(_PLANTS))
@pytest.mark.parametrize("where", [3, 1300])  # before and after the re-plan
def test_a_fault_reads_as_the_row_by_row_read_reads_it(
    plant: str, where: int, quoted: bool, typed_by_column: list[int]
) -> None:
    rows = _rows(quoted)
    change, expected = _PLANTS[plant]
    change(rows[where])
    _, reading = _read_both(table6_csv(*rows))
    assert sum(typed_by_column) >= ROWS - 512  # the column path typed (nearly) every row
    found = [(i.code, i.column, i.line) for i in reading.issues]
    assert found == ([] if expected is None else [(*expected, where + 1)])


def test_the_first_departure_is_the_first_row_s_not_the_first_column_s(quoted: bool) -> None:
    # Column by column, 単位数 (No.8) is typed before サービス回数 (No.14): the typer notes the
    # later row's departure first, and must report the earlier row, as row by row.
    rows = _rows(quoted)
    rows[1203][UNITS] = "0123"
    rows[1201][COUNT] = "01"
    _, reading = _read_both(table6_csv(*rows))
    assert [(i.code, i.line, i.column) for i in reading.issues] == [
        ("read.not_canonical", 1202, 14)
    ]


def test_columns_of_mostly_different_values_are_typed_without_their_caches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # After the re-plan, 単位数 goes through `_integers` (and stays correct: the tests above
    # plant faults there after row 1024).
    seen: list[int] = []
    original = _rowcode._integers

    def spy(texts: tuple[str, ...], *rest: Any) -> list[Any]:
        seen.append(len(texts))
        return original(texts, *rest)

    monkeypatch.setattr(_rowcode, "_integers", spy)
    _, by_column = _read_both(table6_csv(*_rows(True)))
    # The first row is typed alone (it gives the layout), then blocks of 128: the typer
    # re-plans after the block that brings it to 1024 rows (1 + 8 × 128).
    assert sum(seen) == ROWS - 1 - 1024
    assert by_column.columns["units"][-1] == 1000 + ROWS - 1


def test_rows_over_several_lines_and_faults_of_structure_read_alike(monkeypatch: Any) -> None:
    # A line break inside quotes, a row of one item too many, a blank line, across chunks.
    monkeypatch.setattr(_reader, "_CHUNK_SIZE", 4096)
    rows = _rows(True)
    rows[10][6] = '"佐藤\r\n花子"'
    rows[600].append("")
    rows[1100][6] = '"佐藤\r\n\r\n花子"'
    data = table6_csv(*rows[:900]) + b"\r\n" + table6_csv(*rows[900:])
    by_row, _ = _read_both(data)
    assert {i.code for i in by_row.issues} == {"csv.column_count", "read.blank_line"}


def test_the_general_path_fills_the_columns_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_reader, "_FAST_PATHS", False)
    rows = _rows(True)
    rows[5][UNITS] = "x"
    _, by_column = _read_both(table6_csv(*rows))
    assert by_column.columns["units"][5] is None
    assert by_column.file.gaps is not None


def _three() -> tuple[ColumnRecords, tuple[Any, ...]]:
    data = table6_csv(*_rows(True)[:3])
    records = read_for_rules(data, name=PLAN_NAME).file.records
    assert isinstance(records, ColumnRecords)
    return records, parse_plan(data, name=PLAN_NAME).records


def test_column_records_are_a_sequence_of_records() -> None:
    records, parsed = _three()
    assert len(records) == 3
    assert records[1] == parsed[1] and type(records[1]) is type(parsed[1])
    assert records[1].insured_no == "0000000001"
    assert records[-1] == parsed[-1]
    assert records[1:] == parsed[1:]
    assert list(records) == list(parsed)
    with pytest.raises(IndexError):
        records[3]


def test_column_records_equal_the_tuple_of_their_records() -> None:
    records, parsed = _three()
    assert records == parsed and parsed == records
    assert hash(records) == hash(parsed)
    assert records == _three()[0]
    assert records != list(parsed)
    assert records != parsed[:2]
    assert "3 records" in repr(records)


@pytest.mark.parametrize("where", [3, 200, 1300])
@pytest.mark.parametrize("fault", ["bad_quoting", "too_long"])
def test_rows_before_a_row_the_csv_reader_refuses_are_kept(
    fault: str, where: int, typed_by_column: list[int]
) -> None:
    # The reader raises inside a block (a quote in an unquoted item; a record over the cap):
    # the rows of the block gathered before it must be typed first, not lost.
    rows = _rows(True)
    if fault == "bad_quoting":
        rows[where][6] = '"佐藤" 花子'
    else:
        rows[where][6] = '"' + "長" * 600 + '"'
    data = table6_csv(*rows)
    by_row = read_leniently(data, name=PLAN_NAME, max_record_bytes=1000)
    by_column = read_for_rules(data, name=PLAN_NAME, max_record_bytes=1000)
    assert by_column.file.records == by_row.file.records
    assert by_column.file.record_lines == by_row.file.record_lines
    assert by_column.file.gaps == by_row.file.gaps
    assert by_column.issues == by_row.issues
    assert len(by_column.file.records) == ROWS - 1
    assert sum(typed_by_column) > 0


def test_validate_reads_by_column_and_the_csv_codec_gives_a_tuple(
    typed_by_column: list[int],
) -> None:
    from careplan_link import validate
    from careplan_link.format import CSV_CODEC, FileName

    data = table6_csv(*_rows(True)[:300])
    report = validate({PLAN_NAME: data})
    assert sum(typed_by_column) == 300  # every row (the first, which gives the layout, alone)
    assert {i.code for i in report.issues} <= {"unit.incomplete", "unit.missing_file"}
    typed_by_column.clear()
    decoded = CSV_CODEC.decode(data, FileName.parse(PLAN_NAME), PLAN_NAME)
    assert decoded.file is not None and type(decoded.file.records) is tuple
    assert decoded.file.records == parse_plan(data, name=PLAN_NAME).records
    assert typed_by_column == []
