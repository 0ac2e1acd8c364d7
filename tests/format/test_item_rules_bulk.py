"""The column-wise item and record rules find exactly what the per-record rules found.

`check_items` decides most columns with one check of all their values, and the 第7表 and
利用者補足情報 rules run column by column (for speed, issue 11/13); `rules_reference` keeps the
earlier walk. Over generated units with planted faults (readable values that break a rule, values
that cannot be read, rows removed or repeated, one fault repeated past the per-rule limit),
each file's records must draw the same issues, in the order `validate` reports them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careplan_link import Bundle, FileName, Issue, Kind, get_layout
from careplan_link.format._codec import CSV_CODEC
from careplan_link.format._columns import Columns
from careplan_link.format._file import CareplanFile
from careplan_link.format._findings import PER_RULE_LIMIT, Findings
from careplan_link.format._item_rules import _column_is_clean, _problems, check_items
from careplan_link.format._model_rules import check_records
from careplan_link.format._scope import OUT_OF_SCOPE
from careplan_link.format._values import NO_TIME, ZERO_DATE, ZERO_MONTH, YearMonth
from careplan_link.testing import strategies as cst

from . import rules_reference
from .unitfiles import bytes_of, rows_of, schedule_unit

_OUT_OF_SCOPE_CODE = sorted(OUT_OF_SCOPE)[0] + "1111"

# Values that break (or may break) a rule of each kind of item: readable ones, so that the rule
# runs, and a few that cannot be read. Several per kind, so that one column can hold several
# different bad values.
_FAULTS: dict[Kind, tuple[str, ...]] = {
    Kind.DIGITS: ("12345", "１２３４５６７８９０", "137010001", "9999999999", ""),
    Kind.ALPHANUMERIC: ("ＡＢ", "a b", "H12345678", "12345678901234567890123", ""),
    Kind.CODE: ("Q", "9", "1", "11", ""),
    Kind.SERVICE_CODE: ("11-211", "171111", "999999", "11AAAA", _OUT_OF_SCOPE_CODE, ""),
    Kind.INTEGER: ("-5", "12345678901234", "1x", "0", ""),
    Kind.DECIMAL: ("1.234", "123456.5", "5", "x", ""),
    Kind.YYYYMMDD: ("18000101", "00000000", "20251341", "20250501", ""),
    Kind.YYYYMM: ("000000", "202505", "202513", ""),
    Kind.HHMM: ("9999", "2460", "0000", ""),
    Kind.POSTAL_CODE: ("1600023", "160-00231", ""),
    Kind.PHONE: ("03-1234-５６７８", "abc", ""),
    Kind.FLAG31: ("0101", "2" * 31, ""),
    Kind.FREE_TEXT: ("a\x01b", "x" * 300, "\x7f", ""),
}


def _issues_both_ways(files: dict[str, bytes]) -> tuple[list[Issue], list[Issue]]:
    """The issues of each file's records, by the rules of today and by the reference, in the
    order `validate` reports them (by record, then column; the order found among equals)."""
    new: list[Issue] = []
    old: list[Issue] = []
    for name, data in sorted(files.items()):
        file = CSV_CODEC.decode(data, FileName.parse(name), name).file
        if file is None:
            continue
        new += sorted(check_records(file, name), key=_place)
        old += sorted(rules_reference.check_records(file, name), key=_place)
    return new, old


def _place(issue: Issue) -> tuple[float, int]:
    return (issue.record if issue.record is not None else float("inf"), issue.column or 0)


# The items the record rules read (besides every item's own rules): faults are planted there
# half of the time, so that the 第7表 totals, 補足 slots and links, months and offices are hit.
_RULE_ITEMS = frozenset(
    {
        "insurer_no", "insured_no", "target_month", "service_date", "start_time", "end_time",
        "service_code", "detail_no", "tais_code", "equipment_notification_code",
        "plan_office_no", "updater_office_no", "provider_office_no", "units", "discount_rate",
        "discounted_units", "plan_date", "deletion_month", "need_no", "goal_no", "support_no",
        *(f"slot{n}_service_type" for n in range(1, 10)),
    }
)  # fmt: skip


@st.composite
def _faulty_units(draw: st.DrawFn) -> dict[str, bytes]:
    """A valid generated unit, then in one to three of its files: the rows repeated (past the
    per-rule limit, half of the time), a row removed or doubled, and one to six faults planted
    (each in one record or in every record)."""
    unit: Bundle = draw(cst.units())
    files = dict(unit.files)
    names = sorted(files)
    for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)):
        layout = get_layout(FileName.parse(name).layout_id)
        rows = rows_of(files[name])
        if draw(st.booleans()):
            rows = rows * (PER_RULE_LIMIT // len(rows) + 2)
        if len(rows) > 1 and draw(st.booleans()):
            del rows[draw(st.integers(0, len(rows) - 1))]
        if draw(st.booleans()):
            doubled = draw(st.integers(0, len(rows) - 1))
            rows.insert(doubled, list(rows[doubled]))
        plantable = [c for c in layout.columns if c.kind in _FAULTS and c.no > 1]
        read_by_rules = [c for c in plantable if c.attribute in _RULE_ITEMS] or plantable
        for _ in range(draw(st.integers(1, 6))):
            column = draw(st.sampled_from(read_by_rules if draw(st.booleans()) else plantable))
            value = draw(st.sampled_from(_FAULTS[column.kind]))
            if draw(st.booleans()):
                targets = range(len(rows))
            else:
                targets = range(draw(st.integers(0, len(rows) - 1)), len(rows), len(rows))
            for record in targets:
                rows[record][column.no - 1] = value
        files[name] = bytes_of(rows, layout.id)
    return files


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_faulty_units())
def test_column_wise_rules_report_what_the_per_record_rules_reported(
    files: dict[str, bytes],
) -> None:
    new, old = _issues_both_ways(files)
    assert new == old


def test_the_differential_test_sees_planted_faults() -> None:
    """The comparison is not between two empty reports: a planted fault is found by both."""
    files = schedule_unit()
    name = next(n for n in files if n.startswith("UPSIKYU_"))
    rows = rows_of(files[name])
    for row in rows:
        row[6] = "12345"  # サービス事業所番号 of 5 digits, in every record
    files[name] = bytes_of(rows, "table7")
    new, old = _issues_both_ways(files)
    assert any(i.code == "format.digits" for i in new)
    assert new == old


def test_a_fault_in_every_record_of_a_big_file_is_listed_to_the_limit_both_ways() -> None:
    """Past `PER_RULE_LIMIT` the report lists the first records and a count: the same ones."""
    files = schedule_unit()
    name = next(n for n in files if n.startswith("UPPLAN_"))
    rows = rows_of(files[name]) * 80
    for number, row in enumerate(rows):
        row[14] = f"11{number % 7}x11"  # 7 different bad service codes (a lower-case x)
    files[name] = bytes_of(rows, "table6_plan")
    new, old = _issues_both_ways(files)
    bad_codes = [i for i in new if i.code == "format.service_code"]
    assert len(bad_codes) == PER_RULE_LIMIT + 1  # the listed ones, and the count of the rest
    assert new == old


def _set(column_no: int, value: str, rows: slice = slice(None)) -> Edit:
    def edit(table: list[list[str]]) -> list[list[str]]:
        for row in table[rows]:
            row[column_no - 1] = value
        return table

    return edit


def _drop(index: int) -> Edit:
    return lambda table: table[:index] + table[index + 1 :]


def _double(index: int) -> Edit:
    return lambda table: [*table[: index + 1], list(table[index]), *table[index + 1 :]]


def _times(count: int) -> Edit:
    return lambda table: [list(row) for _ in range(count) for row in table]


Edit = Callable[[list[list[str]]], list[list[str]]]


@pytest.mark.parametrize(
    ("prefix", "edits"),
    [
        ("UPSIKYU", [_set(13, "5")]),  # 単位数 on the 全合計
        ("UPSIKYU", [_times(60), _set(13, "5")]),  # … past the limit
        ("UPSIKYU", [_set(14, "10"), _set(15, "3")]),  # discounts on the 全合計
        ("UPSIKYU", [_set(7, "1370200022")]),  # the 全合計's office
        ("UPSIKYU", [_drop(3)]),  # a user without 全合計
        ("UPSIKYU", [_double(1)]),  # two 全合計
        ("UPSIKYU", [_double(0)]),  # two lines of one type, no subtotal
        ("UPSIKYU", [_times(60)]),  # every one of them, past the limit
        ("UPSIKYU", [_set(9, "171111", slice(0, 1))]),  # 福祉用具貸与 without TAISコード
        ("UPSIKYU", [_set(9, _OUT_OF_SCOPE_CODE, slice(0, 1))]),
        ("UPSIKYU", [_set(9, "11AAAA", slice(1, 2))]),  # a subtotal where the 全合計 was
        ("UPSIKYU", [_set(5, "202505", slice(0, 1))]),  # another month
        ("UPPLAN", [_set(15, "171111", slice(0, 3)), _set(19, "1")]),
        ("UPPLAN", [_set(15, _OUT_OF_SCOPE_CODE)]),
        ("UPPLAN", [_set(12, "9999", slice(0, 2))]),  # only one of the times is 9999
        ("UPPLAN", [_set(10, "20250501", slice(2, 4))]),  # days outside the month
        ("UPHOSOKU", [_set(24, "11")]),  # slot 2 filled, slot 1 empty
        ("UPHOSOKU", [_set(20, "11"), _set(28, "13"), _set(32, "15", slice(1, 2))]),
        ("UPHOSOKU", [_set(4, "20250401")]),  # a schedule's supplement with a plan date
        ("UPHOSOKU", [_set(63, "202505", slice(1, 2))]),  # another month
        ("UPHOSOKU", [_set(63, "000000")]),
    ],
)
def test_planted_record_rule_faults_are_reported_the_same_both_ways(
    prefix: str, edits: list[Edit]
) -> None:
    files = schedule_unit()
    name = next(n for n in files if n.startswith(prefix + "_"))
    rows = rows_of(files[name])
    for edit in edits:
        rows = edit(rows)
    files[name] = bytes_of(rows, FileName.parse(name).layout_id)
    new, old = _issues_both_ways(files)
    assert [i for i in new if not i.code.startswith(("identifier.", "format."))], "no fault"
    assert new == old


# -- the bulk check never says "clean" where a value has a problem ---------------------------


def _table6_file(column_no: int, texts: list[str]) -> CareplanFile:
    """The example 第6表 with one row per text, that text in column `column_no`."""
    files = schedule_unit()
    name = next(n for n in files if n.startswith("UPPLAN_"))
    rows = rows_of(files[name])
    rows = [list(rows[index % len(rows)]) for index in range(len(texts))]
    for row, text in zip(rows, texts, strict=True):
        row[column_no - 1] = text
    decoded = CSV_CODEC.decode(bytes_of(rows, "table6_plan"), FileName.parse(name), name)
    assert decoded.file is not None
    return decoded.file


_DAY = datetime.date(2025, 4, 1)


@pytest.mark.parametrize(
    ("layout_id", "attribute", "values"),
    [
        ("table6_plan", "insured_no", {"0000000001", "00000０0002"}),  # a full-width digit
        ("table6_plan", "insured_no", {"0000000001", "H00000001"}),  # H + 8 digits
        ("table6_plan", "insured_no", {"0000000001", "H000000001"}),  # H + 9 digits: fine
        ("table6_plan", "service_code", {"111211", "11121"}),  # one short
        ("table6_plan", "service_code", {"111211", "1112111"}),  # one long
        ("table6_plan", "service_code", {"111211", "11121\n"}),  # a line feed
        ("table6_plan", "provider_office_no", {"1370200022", "137020002"}),  # 9 digits
        ("table6_plan", "provider_office_no", {"1370200022", "1370200022\n1370200022"}),
        ("table6_plan", "tais_code", {"00001-000001", "00001-0000011"}),  # longer than 12
        ("table6_plan", "over_30_days", {"1", "3"}),  # not a code of the table
        ("table6_plan", "identifier", {"1"}),  # filled although not used
        ("table7", "units", {0, -1}),  # a negative 単位数 is allowed …
        ("table7", "times", {1, -1}),  # … a negative 回数 is not
        ("table7", "units", {0, 999999}),  # as long as its item …
        ("table7", "units", {0, 1000000}),  # … and longer
        ("table7", "units", {0, -1000000}),
        ("table7", "unit_price", {Decimal("11.40"), Decimal("11.405")}),
        ("table2", "need_no", {1, 99}),
        ("table2", "need_no", {1, 100}),
        ("table2", "need_no", {0, 1}),
        ("table6_plan", "service_date", {_DAY, datetime.date(1899, 12, 31)}),
        ("table6_plan", "service_date", {_DAY, datetime.date(2100, 1, 1)}),
        ("table6_plan", "service_date", {_DAY, ZERO_DATE}),  # not allowed here …
        ("supplement", "plan_date", {_DAY, ZERO_DATE}),  # … allowed here
        ("table6_plan", "start_time", {datetime.time(9), NO_TIME}),
        ("table6_plan", "target_month", {YearMonth(2025, 4), ZERO_MONTH}),
        ("supplement", "user_postal_code", {"160-0023", "1600023"}),  # no hyphen
        ("supplement", "user_phone", {"03-0000-0000", "03-0000\n-0000"}),  # a line feed
        ("supplement", "user_phone", {"03-0000-0000", "03-0000-0000-0000"}),  # 17 > 15
        ("table6_plan", "insurer_no", {"131011", None}),  # required, empty
        ("table6_plan", "tais_code", {"00001-000001", None}),  # optional, empty
    ],
)
def test_bulk_check_agrees_with_the_value_rules(
    layout_id: str, attribute: str, values: set[Any]
) -> None:
    layout = get_layout(layout_id)
    column = layout.column(attribute)
    any_problem = any(_problems(layout, column, value) for value in values)
    assert _column_is_clean(layout, column, values, False) is not any_problem


def test_bulk_check_may_leave_an_unusual_column_to_the_value_rules() -> None:
    """Values of another type than the column's (True among ints) are not judged in bulk."""
    layout = get_layout("table7")
    column = layout.column("units")
    assert not _column_is_clean(layout, column, {0, True}, False)
    assert not any(_problems(layout, column, value) for value in (0, True))


def test_free_text_with_an_item_length_is_checked_in_bulk_by_its_longest_value() -> None:
    """No layout of today gives free text a length, but the rule is there for one that does."""
    layout = get_layout("supplement")
    column = attrs.evolve(layout.column("user_address1"), max_length=5)
    assert _column_is_clean(layout, column, {"東京都", "大阪府大阪市"[:5]}, False)
    assert not _column_is_clean(layout, column, {"東京都", "大阪府大阪市"}, False)
    assert _problems(layout, column, "大阪府大阪市")


def test_check_items_reports_a_bad_value_at_every_record_holding_it() -> None:
    file = _table6_file(20, ["1370200022", "137020002", "1370200022", "137020002"])
    findings = Findings(file, "x")
    check_items(file, findings, Columns(file), identifier_checks=False)
    assert [(i.code, i.record, i.column) for i in findings.finish()] == [
        ("format.digits", 2, 20),
        ("format.digits", 4, 20),
    ]


def test_a_clean_file_has_clean_columns() -> None:
    file = _table6_file(10, ["20250401", "20250402"])
    columns = Columns(file)
    for column in file.layout.columns:
        if column.kind not in (Kind.CSV_VERSION, Kind.FREE_TEXT):
            distinct = columns.distinct(column.attribute)
            assert _column_is_clean(file.layout, column, distinct, False), column.attribute


@pytest.mark.parametrize(
    ("column_no", "bad"),
    [
        (3, "１２３４５６７８９０"),  # 被保険者番号 in full width
        (15, "11-211"),  # サービスコード of a wrong shape
        (8, "12345678901234"),  # 単位数 longer than its item length
    ],
)
def test_a_bad_value_among_thousands_of_different_ones_is_found_at_its_record(
    column_no: int, bad: str
) -> None:
    """A column whose values mostly differ is checked whole, without its set of values
    (`Columns.checkable`): one bad value among 3,000 different ones is still found, at its
    record, as the per-record rules find it."""
    files = schedule_unit()
    name = next(n for n in files if n.startswith("UPPLAN_"))
    template = rows_of(files[name])[0]
    rows = []
    for n in range(3000):
        row = list(template)
        row[2] = f"{1000000000 + n}"
        row[14] = f"11{n % 10000:04d}"
        row[7] = str(100 + n)
        row[6] = f"計画作成者{n}"
        rows.append(row)
    rows[2345][column_no - 1] = bad
    files[name] = bytes_of(rows, "table6_plan")
    file = CSV_CODEC.decode(files[name], FileName.parse(name), name).file
    assert file is not None
    columns = Columns(file)
    attribute = get_layout("table6_plan").column(column_no).attribute
    assert not isinstance(columns.checkable(attribute), set)  # the whole-column path
    new, old = _issues_both_ways({name: files[name]})
    assert new == old
    assert [i.record for i in new if i.column == column_no] == [2346]
