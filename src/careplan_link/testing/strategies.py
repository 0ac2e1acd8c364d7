"""Hypothesis strategies for the standard's records and files.

    from careplan_link.testing import strategies as cst

    @given(cst.csv_files())
    def test_import(file): ...

Every strategy produces values the library writes and reads back unchanged: codes from their
code tables, identifiers of the right length, free text of MS932 characters including commas,
quotes and line breaks, and the standard's special values (`00000000`, `000000`, `9999`) only
where the standard uses them.
"""

from __future__ import annotations

import datetime
import functools
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from ..format import (
    LAYOUTS,
    NO_TIME,
    ZERO_DATE,
    ZERO_MONTH,
    CareplanFile,
    FileName,
    Layout,
    Office,
    Record,
    YearMonth,
    get_layout,
)
from ..format._layout import Column, Kind

__all__ = [
    "csv_files",
    "file_names",
    "free_text",
    "layouts",
    "ms932_characters",
    "offices",
    "records",
]

_DIGITS = "0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Where the standard puts its special values: (interface, attribute) → special value.
_SPECIAL_VALUES: dict[tuple[str, str], Any] = {
    ("supplement", "plan_date"): ZERO_DATE,
    ("supplement", "target_month"): ZERO_MONTH,
    ("table6_plan", "start_time"): NO_TIME,
    ("table6_plan", "end_time"): NO_TIME,
    ("table6_actual", "start_time"): NO_TIME,
    ("table6_actual", "end_time"): NO_TIME,
}


@functools.cache
def _ms932_alphabet() -> tuple[str, ...]:
    chars = {chr(c) for c in range(0x20, 0x7F)}
    for lead in [*range(0x81, 0xA0), *range(0xE0, 0xF0), *range(0xFA, 0xFD)]:
        for trail in [*range(0x40, 0x7F), *range(0x80, 0xFD)]:
            try:
                chars.add(bytes((lead, trail)).decode("cp932"))
            except UnicodeDecodeError:
                continue
    chars.update(bytes((b,)).decode("cp932") for b in range(0xA1, 0xE0))  # half-width kana
    chars = {c for c in chars if not ("\ue000" <= c <= "\uf8ff")}
    return tuple(sorted(chars))


def ms932_characters() -> st.SearchStrategy[str]:
    """Single characters of MS932 (JIS X 0208, NEC and IBM extensions, half-width kana)."""
    return st.sampled_from(_ms932_alphabet())


def free_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Non-empty free text: MS932 characters, commas, quotes and line breaks (CRLF, LF, CR)."""
    pieces = st.one_of(
        ms932_characters(),
        st.sampled_from([",", '"', "\r\n", "\n", "\r", " ", "　", "髙", "﨑", "①", "㈱", "～"]),
    )
    return st.lists(pieces, min_size=1, max_size=max_size).map("".join)


def offices(with_service_type: bool = True) -> st.SearchStrategy[Office]:
    """Office numbers (10 digits) with a service type (2 characters, digits or letters)."""
    number = st.text(_DIGITS, min_size=10, max_size=10)
    if not with_service_type:
        return st.builds(Office, number)
    service_type = st.sampled_from(["43", "11", "13", "15", "17", "2A", "A1", "46", "78"])
    return st.builds(Office, number, service_type)


def _year_months() -> st.SearchStrategy[YearMonth]:
    return st.builds(YearMonth, st.integers(2000, 2099), st.integers(1, 12))


def _value(layout: Layout, column: Column) -> st.SearchStrategy[Any]:
    kind = column.kind
    length = column.max_length
    if kind is Kind.CSV_VERSION:
        return st.just(layout.csv_version)
    if column.code_table is not None:
        return st.sampled_from([code for code, _ in column.code_table.values])
    if kind is Kind.DIGITS:
        return st.text(_DIGITS, min_size=length or 1, max_size=length or 10)
    if kind is Kind.ALPHANUMERIC:
        if column.attribute == "insured_no":
            return st.one_of(
                st.text(_DIGITS, min_size=10, max_size=10),
                st.text(_DIGITS, min_size=9, max_size=9).map(lambda d: "H" + d),
            )
        return st.text(_DIGITS + _UPPER + "-", min_size=1, max_size=length or 12)
    if kind is Kind.CODE:
        return st.text(_DIGITS + _UPPER, min_size=length or 1, max_size=length or 2)
    if kind is Kind.SERVICE_CODE:
        return st.text(_DIGITS + _UPPER, min_size=6, max_size=6)
    if kind is Kind.INTEGER:
        return st.integers(0, 10 ** (length or 2) - 1)
    if kind is Kind.DECIMAL:
        return st.integers(1000, 1500).map(lambda n: Decimal(n).scaleb(-2))
    if kind is Kind.YYYYMM:
        return _year_months()
    if kind is Kind.YYYYMMDD:
        return st.dates(datetime.date(1900, 1, 1), datetime.date(2099, 12, 31))
    if kind is Kind.HHMM:
        return st.builds(datetime.time, st.integers(0, 23), st.integers(0, 59))
    if kind is Kind.POSTAL_CODE:
        return st.tuples(
            st.text(_DIGITS, min_size=3, max_size=3), st.text(_DIGITS, min_size=4, max_size=4)
        ).map("-".join)
    if kind is Kind.PHONE:
        return st.text(_DIGITS + "-", min_size=1, max_size=length or 15)
    if kind is Kind.FLAG31:
        return st.text("01", min_size=31, max_size=31)
    if kind is Kind.FREE_TEXT:
        return free_text()
    raise AssertionError(f"no strategy for {kind}")


def _column_value(layout: Layout, column: Column) -> st.SearchStrategy[Any]:
    value = _value(layout, column)
    special = _SPECIAL_VALUES.get((layout.id, column.attribute))
    if special is not None:
        value = st.one_of(value, st.just(special))
    if column.required or column.kind is Kind.CSV_VERSION:
        return value
    return st.one_of(st.none(), value)


def layouts(csv_version: str | None = None) -> st.SearchStrategy[Layout]:
    """Any layout (of one CSVバージョン family if given)."""
    chosen = [
        layout
        for (_, family), layout in sorted(LAYOUTS.items())
        if csv_version is None or family == csv_version
    ]
    return st.sampled_from(chosen)


def records(layout: Layout | str, csv_version: str | None = None) -> st.SearchStrategy[Record]:
    """Valid records of one layout (a `Layout`, or an interface id with a CSVバージョン)."""
    if isinstance(layout, str):
        layout = get_layout(layout, csv_version or "202407")
    fields = {column.attribute: _column_value(layout, column) for column in layout.columns}
    return st.fixed_dictionaries(fields).map(lambda values: layout.record_type(**values))


def file_names(layout: Layout) -> st.SearchStrategy[FileName]:
    """Names for a file of this layout (v4.1 rule for 202407 layouts, v3 rule for 202208)."""
    v4 = layout.csv_version == "202407"
    month: st.SearchStrategy[Any] = st.none()
    if layout.has_month:
        month = (
            st.one_of(_year_months(), st.just(ZERO_MONTH))
            if layout.id == "supplement"
            else (_year_months())
        )
    serial = st.datetimes(datetime.datetime(2020, 1, 1), datetime.datetime(2099, 12, 31)).map(
        lambda moment: moment.strftime("%Y%m%d%H%M%S")
    )
    return st.builds(
        lambda sender, receiver, month, serial: FileName.new(
            layout.prefix, sender=sender, receiver=receiver, month=month, serial=serial
        ),
        offices(v4),
        offices(v4),
        month,
        serial,
    )


@st.composite
def csv_files(
    draw: st.DrawFn,
    layout: Layout | str | None = None,
    csv_version: str | None = None,
    max_records: int = 5,
) -> CareplanFile:
    """A valid file: a name and records of one layout (any layout if none is given)."""
    if layout is None:
        chosen = draw(layouts(csv_version))
    elif isinstance(layout, str):
        chosen = get_layout(layout, csv_version or "202407")
    else:
        chosen = layout
    name = draw(file_names(chosen))
    rows = draw(st.lists(records(chosen), min_size=0, max_size=max_records))
    return CareplanFile(
        name=name,
        layout=chosen,
        csv_version=chosen.csv_version if rows else None,
        records=tuple(rows),
    )
