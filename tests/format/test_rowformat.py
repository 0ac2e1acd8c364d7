"""The column-by-column file writer of `_rowformat` against the row formatter it replaces.

`FileWriter` writes a block of records column by column, by C-level passes: cached texts, ints
by value, decimals and months by identity, and text columns whose values all differ by plain
passes with one check of the joined column. Each of those is a shortcut the row formatter (the
general path, itself checked against the record constructors in test_rowcode.py) does not take:
the differential test draws records full of the values where a shortcut could go wrong (equal
decimals written differently, equal months that are other objects, texts with quotes, commas,
line breaks or characters Windows encodes otherwise, empty texts, special values) with blocks of
a few records, so that every path and every switch between them is taken.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careplan_link import FormatError, Substitution, Table7Record, parse_plan, write_file
from careplan_link.format import LAYOUTS, _rowformat
from careplan_link.format._layout import Column, Kind, Layout
from careplan_link.format._rowformat import FileWriter, row_formatter, saw_special_characters
from careplan_link.format._values import NO_TIME, ZERO_DATE, ZERO_MONTH, YearMonth

from .helpers import table6_record

TABLE7 = LAYOUTS[("table7", "202407")]
TABLE7_NAME = "UPSIKYU_202504_1370100016_43_1370200022_11_20250325093000.CSV"
POLICIES = {
    "canonical": frozenset({Kind.FREE_TEXT}),
    "all": frozenset(Kind),
    "minimal": frozenset(),
}

# Texts where a shortcut could go wrong: separators, quotes, line breaks, characters Windows
# encodes otherwise than Python's cp932 (髙 﨑), characters never written (〜), plain ones.
_TEXT_PIECES = ["a", "1", ",", '"', "\r", "\n", "髙", "﨑", "①", "ア", "　", "〜", "-"]
_DECIMALS = ["11.4", "11.40", "1E+2", "1.0E+1", "0.0000001", "-0", "0", "10.00", "-3.5"]


def _hazards(column: Column) -> st.SearchStrategy[Any]:
    kind = column.kind
    if kind is Kind.INTEGER:
        return st.integers(-(10**12), 10**12)
    if kind is Kind.DECIMAL:
        # Equal decimals (11.4, 11.40) write differently; exponents write without E; ints are
        # decimals too. A new object per draw: identities must not be trusted across values.
        hazards = st.sampled_from(_DECIMALS).map(Decimal)
        return st.one_of(
            hazards,
            hazards,
            hazards,
            st.decimals(allow_nan=False, allow_infinity=False, places=None),
            st.integers(0, 99),
        )
    if kind is Kind.YYYYMM:
        # A new object per draw: equal months, different identities.
        return st.one_of(
            st.builds(YearMonth, st.integers(1900, 2100), st.integers(1, 12)),
            st.just(ZERO_MONTH),
        )
    if kind is Kind.YYYYMMDD:
        return st.one_of(st.dates(), st.just(ZERO_DATE))
    if kind is Kind.HHMM:
        return st.one_of(
            st.times().map(lambda t: t.replace(second=0, microsecond=0)), st.just(NO_TIME)
        )
    return st.lists(st.sampled_from(_TEXT_PIECES), max_size=4).map("".join)


def _value(column: Column) -> st.SearchStrategy[Any]:
    if column.kind is Kind.CSV_VERSION:
        return st.sampled_from(["202407", "".join(["2024", "07"])])
    return st.one_of(st.none(), _hazards(column))


@st.composite
def _files(draw: st.DrawFn) -> tuple[Layout, list[Any]]:
    layout = draw(st.sampled_from([LAYOUTS[key] for key in sorted(LAYOUTS)]))
    # A few values per column, drawn once and picked per record: columns that repeat (cache
    # hits) and columns that do not (new values), both in one file.
    pools = [draw(st.lists(_value(c), min_size=1, max_size=6)) for c in layout.columns]
    count = draw(st.integers(1, 14))
    records = []
    for _ in range(count):
        values = [pool[draw(st.integers(0, len(pool) - 1))] for pool in pools]
        records.append(layout.record_type(*values))
    # The same objects again, in another order: hits by value and by identity.
    return layout, records + records[::-1]


def _by_rows(layout: Layout, quote_kinds: frozenset[Kind], records: list[Any]) -> tuple[str, bool]:
    line = row_formatter(layout, quote_kinds)
    text = "".join(line(record) + "\r\n" for record in records)
    return text, saw_special_characters(line)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_files(), st.sampled_from(sorted(POLICIES)), st.integers(1, 4))
def test_column_writer_writes_what_the_row_formatter_writes(
    file: tuple[Layout, list[Any]], policy: str, block: int
) -> None:
    layout, records = file
    quote_kinds = POLICIES[policy]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_rowformat, "_BLOCK", block)
        assert FileWriter(layout, quote_kinds).text(records) == _by_rows(
            layout, quote_kinds, records
        )


def _table7(n: int, **values: Any) -> Table7Record:
    """A 第7表 record whose name, units and codes differ with `n` (every value new)."""
    fields: dict[str, Any] = {
        "csv_version": "202407",
        "insurer_no": "131011",
        "insured_no": f"{n:010d}",
        "created_date": datetime.date(2025, 3, 25),
        "target_month": YearMonth(2025, 4),
        "provider_name": f"事業所{n}",
        "provider_office_no": "1370200022",
        "service_code": f"{110000 + n}",
        "units": 100 + n,
        "times": 1 + n % 20,
        "unit_price": Decimal("11.40"),
        "office_code": "1370100016",
    }
    fields.update(values)
    return Table7Record(**fields)


def _expected(records: list[Any]) -> bytes:
    """The bytes the row formatter gives (canonical policy), encoded as Windows encodes."""
    from careplan_link.format import _ms932

    return _ms932.encode(_by_rows(TABLE7, POLICIES["canonical"], records)[0])


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 4 records: a file of a few dozen switches its text columns to plain passes."""
    monkeypatch.setattr(_rowformat, "_BLOCK", 4)


@pytest.mark.usefixtures("small_blocks")
def test_texts_that_all_differ_keep_quotes_separators_and_windows_bytes() -> None:
    records = [_table7(n) for n in range(40)]
    # After the switch to plain passes: a quote in free text, a comma and a line break in text
    # that is quoted only because of them, 髙 (0xFBFC in Windows, 0xEEE0 in Python's cp932),
    # and an empty text (written empty, not as "").
    records[30] = _table7(30, provider_name='株式会社"髙"')
    records[33] = _table7(33, service_code="1,2", insured_no="a\r\nb", satellite_no="3,4")
    records[36] = _table7(36, provider_name="", equipment_name="﨑")
    data = write_file(records, TABLE7_NAME)
    assert data == _expected(records)
    lines = data.split(b"\r\n")
    assert '"株式会社""髙"""'.encode("cp932").replace(b"\xee\xe0", b"\xfb\xfc") in lines[30]
    assert b',"a\r\nb",' in data and b',"1,2",' in data and b',"3,4",' in data
    assert lines[37].split(b",")[5] == b""  # record 36: the line break of 33 split one more
    assert parse_plan(data, name=TABLE7_NAME).to_bytes() == data


@pytest.mark.usefixtures("small_blocks")
def test_a_character_windows_encodes_otherwise_only_in_new_texts_is_written_as_windows() -> None:
    # The only such character of the file, in texts that take the plain passes (no quotes, no
    # separators in their block): nothing else would make the writer encode as Windows.
    records = [_table7(n) for n in range(40)]
    records[29] = _table7(29, provider_name="髙橋", insured_no="H髙")
    data = write_file(records, TABLE7_NAME)
    assert data == _expected(records)
    line = data.split(b"\r\n")[29]
    assert line.startswith(b'202407,131011,H\xfb\xfc,20250325,202504,"\xfb\xfc\x8b\xb4",')
    assert b"\xee\xe0" not in data  # Python's cp932 code for 髙


@pytest.mark.usefixtures("small_blocks")
def test_decimals_and_months_that_are_equal_keep_their_own_text() -> None:
    prices = [Decimal("11.4"), Decimal("11.40"), Decimal("1E+1"), Decimal("11.400"), 11]
    records = [
        _table7(n, unit_price=prices[n % 5], target_month=YearMonth(2025, 4)) for n in range(30)
    ]
    records.append(_table7(30, unit_price=Decimal("0.0000001"), target_month=ZERO_MONTH))
    data = write_file(records, TABLE7_NAME)
    assert data == _expected(records)
    written = [line.split(b",")[22] for line in data.split(b"\r\n")[:6]]
    assert written == [b"11.4", b"11.40", b"10", b"11.400", b"11", b"11.4"]
    assert data.split(b"\r\n")[30].split(b",")[4] == b"000000"
    assert b",0.0000001," in data


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("units", True),  # a bool is an int to Python, no number to the standard
        ("units", "12"),
        ("unit_price", 1.5),
        ("target_month", "202504"),
        ("created_date", datetime.datetime(2025, 3, 25, 9, 0)),
        ("provider_name", 12),
        ("insured_no", b"0000000001"),
    ],
)
def test_a_value_of_the_wrong_type_among_new_values_is_reported_where(
    attribute: str, value: object
) -> None:
    records = [_table7(n) for n in range(40)]
    records[33] = _table7(33, **{attribute: value})
    with pytest.raises(FormatError) as caught:
        write_file(records, TABLE7_NAME)
    (issue,) = caught.value.issues
    column = next(c for c in TABLE7.columns if c.attribute == attribute)
    assert (issue.code, issue.record, issue.column) == ("write.type", 34, column.no)
    assert issue.file == TABLE7_NAME and issue.item == column.name_ja


@pytest.mark.usefixtures("small_blocks")
def test_unwritable_characters_among_new_texts_are_reported_or_substituted() -> None:
    records = [_table7(n) for n in range(40)]
    records[35] = _table7(35, provider_name="ナカ〜ノ")
    with pytest.raises(FormatError) as caught:
        write_file(records, TABLE7_NAME)
    (issue,) = caught.value.issues
    assert (issue.code, issue.record, issue.column, issue.item) == (
        "write.unencodable",
        36,
        6,
        "サービス事業所名",
    )
    log: list[Any] = []
    data = write_file(records, TABLE7_NAME, substitution=Substitution(), on_substitute=log.append)
    assert [(s.record, s.column, s.original, s.replacement) for s in log] == [(36, 6, "〜", "～")]
    assert "ナカ～ノ".encode("cp932") in data.split(b"\r\n")[35]


def test_a_file_of_plan_records_is_written_in_blocks_as_row_by_row() -> None:
    records = [table6_record(units=n % 7 or None, planner_name=f"名前{n % 3}") for n in range(9000)]
    layout = LAYOUTS[("table6_plan", "202407")]
    assert FileWriter(layout, POLICIES["canonical"]).text(records) == _by_rows(
        layout, POLICIES["canonical"], records
    )


# Another record type (not a generated tuple): its values are read by attribute, and may be
# new objects at every access (here, from a property), freed when their block is written.
_BASE: Any = TABLE7.record_type
_Plain = attrs.make_class(
    "_Plain", {f.name: attrs.field() for f in attrs.fields(_BASE) if f.name != "unit_price"}
)


class _MadeOnAccess(_Plain):  # type: ignore[valid-type,misc]
    @property
    def unit_price(self) -> Decimal:
        # A new object per access, of a text that depends on the record.
        return Decimal(f"1{self.times}.{'0' * (self.times % 4)}")


@pytest.mark.parametrize("block", [1, 2, 5])
def test_values_made_on_access_are_not_known_by_identity_across_blocks(block: int) -> None:
    layout = attrs.evolve(TABLE7, record_type=_MadeOnAccess)
    names = [c.attribute for c in TABLE7.columns if c.attribute != "unit_price"]
    records = [_MadeOnAccess(**{a: getattr(_table7(n), a) for a in names}) for n in range(60)]
    expected = _by_rows(layout, POLICIES["canonical"], records)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_rowformat, "_BLOCK", block)
        assert FileWriter(layout, POLICIES["canonical"]).text(records) == expected
    assert {line.split(",")[22] for line in expected[0].splitlines()} >= {"11.0", "12.00", "13.000"}
