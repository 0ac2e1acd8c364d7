"""The speed paths of the item and unit rules, third round: integer columns tested whole
(`_integer_raw_check`, `_below`), the emptiness test of required free text (`_holds_none`),
`Columns.checkable` of a column that looks uniform, and the unit rules' sets shared with the
item rules (`_Keys.union`, `_Keys.few`).

Each is held to what it replaces: the value rules (`_problems`), `None in values`, `set`, and
the reference rules (rules_reference, unit_rules_reference) on files big enough to take the
whole-column paths.
"""

from __future__ import annotations

from array import array
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careplan_link import get_layout
from careplan_link.format._bundle import group_units
from careplan_link.format._codec import CSV_CODEC
from careplan_link.format._columns import ColumnsOf
from careplan_link.format._filename import FileName
from careplan_link.format._item_rules import (
    _UINT32,
    _below,
    _holds_none,
    _make_raw_check,
    _problems,
)
from careplan_link.format._unit_rules import check_units

from . import unit_rules_reference
from .test_rule_fast_paths import _read
from .test_rule_speed_paths2 import _big_table7, _columns, _issues
from .unitfiles import bytes_of, name_of, rows_of, schedule_unit

# -- integer columns tested whole ---------------------------------------------------------------

_TABLE7 = get_layout("table7")
_INTEGER_COLUMNS = [
    (_TABLE7, _TABLE7.column("units")),  # required, may be negative
    (_TABLE7, _TABLE7.column("times")),  # required, 3 digits
    (_TABLE7, _TABLE7.column("total_cost")),  # optional
    (_TABLE7, _TABLE7.column("planned_days_this_month")),  # optional, 2 digits
    (get_layout("table6_plan"), get_layout("table6_plan").column("units")),
]


def _id(value: Any) -> str:
    return str(getattr(value, "attribute", getattr(value, "id", "")))


# Values of an integer column that break a rule or that a fast path could mistake: empty,
# negative, too long, of another type, false but not None (a Decimal 0 with three places
# breaks the decimal rule; it must not be dropped with the empty items).
_ODD: list[Any] = [
    None,
    0,
    -1,
    99,
    100,
    999,
    1000,
    99999,
    999999,
    1000000,
    2**32 - 1,
    2**32,
    True,
    False,
    Decimal("0.000"),
    Decimal("0"),
    Decimal("1"),
    "",
    "12",
    0.0,
    1.5,
]


@pytest.mark.parametrize(
    ("layout", "column"),
    _INTEGER_COLUMNS,
    ids=_id,
)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_the_raw_integer_check_says_clean_only_where_no_value_has_a_problem(
    layout: Any, column: Any, data: st.DataObject
) -> None:
    good = st.integers(0, 10 ** (column.max_length or 6) - 1)
    values = data.draw(st.lists(st.one_of(good, st.sampled_from(_ODD)), min_size=1, max_size=12))
    raw = _make_raw_check(layout, column)
    assert raw is not None
    if raw(_columns({column.attribute: values}), column.attribute):
        assert not any(_problems(layout, column, value) for value in values), values


@pytest.mark.parametrize(
    ("layout", "column"),
    _INTEGER_COLUMNS,
    ids=_id,
)
def test_the_raw_integer_check_passes_the_usual_column(layout: Any, column: Any) -> None:
    top = 10 ** (column.max_length or 6) - 1
    values: list[Any] = [n % (top + 1) for n in range(0, 50_000, 7)] + [top, 0]
    raw = _make_raw_check(layout, column)
    assert raw is not None
    assert raw(_columns({column.attribute: values}), column.attribute)
    if not column.required:  # with empty items too (a 第7表's 全合計 lines)
        present = [value or 1 for value in values]  # (0 and None together: see below)
        assert raw(_columns({column.attribute: [None, *present, None]}), column.attribute)
        assert raw(_columns({column.attribute: [None, None]}), column.attribute)


@pytest.mark.parametrize(
    ("attribute", "values"),
    [
        ("total_cost", [None, 5, Decimal("0.000")]),  # false, not None, and a problem
        ("total_cost", [None, 5, 0]),  # 0 and None: left to the set (not told apart)
        ("total_cost", [None, 5, ""]),
        ("total_cost", [5, 1000000]),
        ("total_cost", [5, -1]),
        ("units", [5, None]),  # required
        ("units", [5, -1]),  # allowed, but told by the set
        ("times", [5, 1000]),
    ],
)
def test_the_raw_integer_check_leaves_these_to_the_set(attribute: str, values: list[Any]) -> None:
    raw = _make_raw_check(_TABLE7, _TABLE7.column(attribute))
    assert raw is not None
    assert not raw(_columns({attribute: values}), attribute)


def test_the_numbers_of_table2_have_no_raw_check() -> None:
    layout = get_layout("table2")
    assert _make_raw_check(layout, layout.column("need_no")) is None


_BOUNDS = [1, 2, 10, 100, 255, 256, 257, 1000, 10**4, 65535, 65536, 983040, 10**6, 10**9]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 2**32 - 1),
            st.sampled_from(
                [0, 9, 10, 99, 100, 255, 256, 999999, 1000000, 983039, 983040, 1 << 16, 1 << 24]
            ),
        ),
        max_size=30,
    ),
    st.one_of(st.sampled_from(_BOUNDS), st.integers(1, 2**33)),
)
def test_below_is_max_below_the_bound(values: list[int], bound: int) -> None:
    assert _below(array(_UINT32, values), bound) is (not values or max(values) < bound)


@pytest.mark.parametrize("bound", _BOUNDS)
def test_below_sees_the_one_value_at_the_bound_among_many(bound: int) -> None:
    values = [n % bound for n in range(5000)]
    assert _below(array(_UINT32, values), bound)
    for where in (0, 2500, 4999):
        changed = list(values)
        changed[where] = bound
        assert not _below(array(_UINT32, changed), bound)
        # A value whose bytes at and below the bound's leading one are 0, over the bound by
        # a higher byte only.
        for high in (1 << 8, 1 << 16, 1 << 24):
            if high >= bound:
                changed[where] = high
                assert not _below(array(_UINT32, changed), bound)


def _distinct_amounts_table7(users: int) -> tuple[str, list[list[str]]]:
    """`_big_table7` with every amount of the details different (the distinct shape)."""
    name, rows = _big_table7(users)
    for n, row in enumerate(rows[::2]):
        row[17] = row[21] = str(1000 + n)  # 種類支給限度基準内単位数, 区分支給限度基準内単位数
        row[23] = str(20000 + n)  # 費用総額
        row[25] = str(18000 + n)  # 保険給付額
    return name, rows


def test_a_big_table7_of_distinct_amounts_is_checked_whole() -> None:
    name, rows = _distinct_amounts_table7(1100)
    file = CSV_CODEC.decode(bytes_of(rows, "table7"), FileName.parse(name), name)
    assert file.file is not None and file.columns is not None
    for attribute in ("units", "total_cost", "insurance_claim"):
        column = _TABLE7.column(attribute)
        raw = _make_raw_check(_TABLE7, column)
        assert raw is not None
        checkable = file.columns.checkable(attribute, mostly_distinct=128)
        assert not isinstance(checkable, set)  # the whole column, not a set
        assert raw(file.columns, attribute)
    new, old = _issues(name, rows, "table7")
    assert new == old


@pytest.mark.parametrize(
    ("where", "column_no", "text", "code"),
    [
        (1000, 13, "1000000", "length.too_long"),  # 単位数, a detail line
        (0, 13, "1000000", "length.too_long"),
        (2199, 13, "", "required.missing"),  # a 全合計's 単位数
        (1000, 24, "1000000", "length.too_long"),  # 費用総額 among empty items
        (1001, 24, "1000000", "length.too_long"),  # … in a 全合計 line
        (1000, 24, "-5", "format.negative"),
        (1000, 26, "-5", "format.negative"),
        (1000, 16, "-1", "format.negative"),  # 回数
        (1000, 16, "1000", "length.too_long"),
    ],
)
def test_an_integer_fault_among_distinct_amounts_is_reported_as_the_reference_reports_it(
    where: int, column_no: int, text: str, code: str
) -> None:
    name, rows = _distinct_amounts_table7(1100)
    rows[where][column_no - 1] = text
    new, old = _issues(name, rows, "table7")
    assert new == old
    assert (code, where + 1) in {(issue.code, issue.record) for issue in new}


# -- the emptiness of required free text --------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["佐藤", "", None, "a b", 0, "x"]), max_size=9), st.booleans())
def test_holds_none_is_in(values: list[Any], one_object: bool) -> None:
    if one_object and values:
        values = [values[0]] * len(values)
    assert _holds_none(values) is (None in values)


@pytest.mark.parametrize("where", [0, 1234, 2499])
def test_an_empty_planner_among_distinct_ones_is_found(where: int) -> None:
    files = schedule_unit()
    name = name_of(files, "UPPLAN")
    template = rows_of(files[name])[0]
    rows = []
    for n in range(2500):
        row = list(template)
        row[6] = f"佐藤 ケアマネ{n}"
        rows.append(row)
    rows[where][6] = ""
    new, old = _issues(name, rows, "table6_plan")
    assert new == old
    assert ("required.missing", where + 1) in {(issue.code, issue.record) for issue in new}


# -- Columns.checkable of a column that looks uniform -------------------------------------------


def test_checkable_of_a_column_that_only_looks_uniform_is_its_set() -> None:
    same = "1370200022"
    values = [same, *(f"{n:010d}" for n in range(3000)), same]
    values[len(values) // 2] = same
    columns = _columns({"a": values, "b": [same] * 3000, "c": [f"{n:010d}" for n in range(3000)]})
    assert columns.checkable("a") == set(values)
    assert columns.checkable("b") == {same}
    assert not isinstance(columns.checkable("c"), set)


# -- the unit rules' sets shared with the item rules ------------------------------------------


def _schedule_of(users: int) -> dict[str, bytes]:
    """The shipped unit grown to `users` users of 20 第6表 records each (the realistic
    shape): a 被保険者番号 repeats, so the item rules make its set."""
    files = schedule_unit()
    grown = {}
    for prefix, layout_id, per_user in (
        ("UPPLAN", "table6_plan", 20),
        ("UPSIKYU", "table7", 2),
        ("UPHOSOKU", "supplement", 1),
    ):
        name = name_of(files, prefix)
        template = rows_of(files[name])[:per_user]
        template += [template[-1]] * (per_user - len(template))
        rows = []
        for user in range(users):
            for row in template:
                row = list(row)
                row[2] = f"{2000000000 + user}"
                rows.append(row)
        grown[name] = bytes_of(rows, layout_id)
    return grown


def _unit_issues(files: dict[str, bytes], made: bool) -> tuple[list[Any], list[Any]]:
    parsed = _read(files)
    columns_of = ColumnsOf()
    if made:  # as the item rules leave them: the sets of the key items made
        for file in parsed.values():
            for attribute in ("insurer_no", "insured_no", "target_month"):
                columns_of(file).distinct(attribute)
    units = group_units(files)
    new = check_units(units, parsed, columns_of)
    old = unit_rules_reference.check_units(units, parsed, ColumnsOf())
    return new, old


@pytest.mark.parametrize("made", [True, False])
@pytest.mark.parametrize(
    ("prefix", "where", "column", "text", "code"),
    [
        (None, 0, 3, "", None),
        ("UPSIKYU", 299, 3, "3000000001", "unit.orphan"),  # a 全合計 of no 第6表 user
        ("UPSIKYU", 0, 3, "3000000001", "unit.orphan"),
        ("UPHOSOKU", 77, 3, "3000000001", "unit.orphan"),  # a 補足 of no 第6表 user …
        ("UPPLAN", 2999, 3, "3000000001", "unit.no_supplement"),  # … a user without 補足
        ("UPPLAN", 0, 3, "3000000001", "unit.no_supplement"),
        # Another 保険者番号 in one record: the item then tells keys apart.
        ("UPSIKYU", 200, 2, "131012", "unit.orphan"),
        ("UPHOSOKU", 10, 2, "131012", "unit.orphan"),
        ("UPPLAN", 100, 2, "131012", "unit.no_supplement"),
    ],
)
def test_unit_keys_checked_in_sets_made_for_the_items_report_as_the_reference(
    made: bool, prefix: str | None, where: int, column: int, text: str, code: str | None
) -> None:
    files = _schedule_of(150)
    if prefix is not None:
        name = name_of(files, prefix)
        rows = rows_of(files[name])
        rows[where][column - 1] = text
        files[name] = bytes_of(rows, FileName.parse(name).layout_id)
    new, old = _unit_issues(files, made)
    assert new == old
    if code is None:
        assert new == []
    else:
        assert code in {issue.code for issue in new}
