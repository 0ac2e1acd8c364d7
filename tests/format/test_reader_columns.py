"""The columns validation's reader makes while it reads (`read_leniently(...).columns`).

They must be exactly the records transposed: every column, in record order, across the
reader's blocks, with records kept partially (a value that could not be read is None) and
records left out (a row that does not fit the layout), and for a layout whose records are not
tuples (then made from the records when first asked for). Validation uses them in place of
transposing the records itself, so it must report the same with and without them.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careplan_link import validate
from careplan_link.format import CSV_CODEC, Decoded, FileName, _reader
from careplan_link.format._columns import Columns
from careplan_link.format._reader import read_leniently

from .helpers import PLAN_NAME, table6_csv, table6_row

BLOCK = _reader._COLUMN_BLOCK


def _row(n: int) -> list[str]:
    return table6_row(
        insured_no=f"{n + 1:010d}",
        units=str(100 + n),
        planner_name=f'"佐藤 花子{n}"',
        start_time=f"{n % 24:02d}{n % 60:02d}",
        end_time=f"{n % 24:02d}{59 - n % 60:02d}",
    )


def _transposed(columns: Columns, records: tuple[Any, ...], layout: Any) -> None:
    for column in layout.columns:
        expected = [getattr(record, column.attribute) for record in records]
        assert list(columns[column.attribute]) == expected, column.attribute


@pytest.mark.parametrize("count", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 7])
def test_the_columns_are_the_records_transposed(count: int) -> None:
    reading = read_leniently(table6_csv(*map(_row, range(count))), name=PLAN_NAME)
    assert len(reading.file.records) == count
    _transposed(reading.columns, reading.file.records, reading.file.layout)


def test_they_are_made_while_reading_not_from_the_records() -> None:
    """The columns come from the reader (lists it filled), not from transposing the records
    when first asked for (tuples)."""
    reading = read_leniently(table6_csv(*map(_row, range(BLOCK + 3))), name=PLAN_NAME)
    assert isinstance(reading.columns["units"], list)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(1, 3 * BLOCK),
    bad=st.lists(st.tuples(st.integers(0, 3 * BLOCK), st.sampled_from(["value", "width"]))),
)
def test_partial_and_unread_records_keep_columns_and_records_in_step(
    count: int, bad: list[tuple[int, str]]
) -> None:
    """Rows with an unreadable value (kept, None in that item) and rows of the wrong width
    (left out) anywhere, across block boundaries."""
    rows = [_row(n) for n in range(count)]
    for at, how in bad:
        if at < count:
            if how == "value":
                rows[at][7] = "2X4"  # 単位数
            else:
                rows[at] = rows[at][:-1]
    reading = read_leniently(table6_csv(*rows), name=PLAN_NAME)
    _transposed(reading.columns, reading.file.records, reading.file.layout)


def test_a_layout_of_other_records_gets_its_columns_from_the_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_reader, "builds_tuple", lambda layout: False)
    reading = read_leniently(table6_csv(*map(_row, range(BLOCK + 3))), name=PLAN_NAME)
    assert isinstance(reading.columns["units"], tuple)  # transposed when first asked for
    _transposed(reading.columns, reading.file.records, reading.file.layout)


@attrs.frozen
class _WithoutColumns:
    """The CSV codec, its columns withheld: validation transposes the records itself."""

    name: str = "csv"

    def decode(self, data: bytes, name: FileName, label: str) -> Decoded:
        decoded = CSV_CODEC.decode(data, name, label)
        return Decoded(decoded.file, decoded.issues)

    def encode(self, file: Any) -> bytes:
        return CSV_CODEC.encode(file)


def test_validation_reports_the_same_with_the_readers_columns() -> None:
    rows = [_row(n) for n in range(2 * BLOCK + 5)]
    rows[3][7] = "2X4"  # an unreadable 単位数
    rows[BLOCK][9] = "20250501"  # a service date outside the month
    rows[BLOCK + 1][2] = "12345"  # a 被保険者番号 of 5 digits
    rows[2 * BLOCK + 2][6] = '"佐藤\x1b花子"'  # a control character
    files = {PLAN_NAME: table6_csv(*rows)}
    with_columns = validate(files)
    without = validate(files, codec=_WithoutColumns())
    assert [str(i) for i in with_columns.issues] == [str(i) for i in without.issues]
    assert {i.record for i in with_columns.errors} >= {4, BLOCK + 1, BLOCK + 2, 2 * BLOCK + 3}
