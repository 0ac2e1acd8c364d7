"""More fast paths of the item and file rules (issues 11 and 13, the all-distinct shape: a
file of many users, every name, number, code and amount different) decide what the general
paths decide.

Each shortcut is held against what it short-cuts: the fixed-width test of texts against the
column's pattern, the raw (whole-column) checks against the value-by-value rules,
`Columns.single` and `Columns.joined` against the set and the join, the search for service
types against the test of each code, and the 第7表 totals found without the set of codes
against the reference rules, on files big enough (over 2,048 records) to take the paths.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careplan_link import FileName, get_layout
from careplan_link.format._codec import CSV_CODEC
from careplan_link.format._columns import Columns
from careplan_link.format._item_rules import (
    _all_fixed_width,
    _fixed_width,
    _make_raw_check,
    _problems,
)
from careplan_link.format._layout import Column, Kind, Layout
from careplan_link.format._model_rules import _CONTROL, _holds_control
from careplan_link.format._record_rules import (
    _FIRST_TWO,
    _SCOPE_OR_EQUIPMENT,
    _SCOPE_OR_EQUIPMENT_START,
    _may_start_with,
)
from careplan_link.format._unit_rules import _same

from .test_item_rules_bulk import _issues_both_ways
from .test_rule_fast_paths import _unit_issues_both_ways
from .unitfiles import bytes_of, name_of, rows_of, schedule_unit


def _columns(values: dict[str, list[Any]]) -> Columns:
    """A `Columns` holding these columns (as a read file's would, transposed)."""
    columns = Columns.__new__(Columns)
    columns._values = {attribute: tuple(column) for attribute, column in values.items()}
    columns._distinct = {}
    columns._joined = {}
    columns._python_hashed = set()
    return columns


# -- the fixed-width test of texts ------------------------------------------------------------

_LAYOUT_IDS = ("table6_plan", "table7", "supplement", "table1", "table2", "table6_actual")
_FIXED = [
    (layout_id, column.attribute)
    for layout_id in _LAYOUT_IDS
    for column in get_layout(layout_id).columns
    if _fixed_width(column) is not None
]


def test_the_fixed_width_columns_are_the_expected_ones() -> None:
    attributes = {attribute for _, attribute in _FIXED}
    assert {"insured_no", "service_code", "insurer_no", "provider_office_no"} <= attributes
    assert "tais_code" not in attributes  # letters, digits and hyphens of any length to 12
    assert "user_postal_code" not in attributes  # a hyphen at its place


@pytest.mark.parametrize(("layout_id", "attribute"), _FIXED)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_a_text_of_the_width_and_characters_breaks_no_rule(
    layout_id: str, attribute: str, data: st.DataObject
) -> None:
    """What `_fixed_width` promises: every text of its width and characters matches the
    column's pattern and keeps within its item length."""
    layout = get_layout(layout_id)
    column = layout.column(attribute)
    fixed = _fixed_width(column)
    assert fixed is not None
    width, allowed = fixed
    value = data.draw(st.text(alphabet=allowed.decode(), min_size=width, max_size=width))
    assert _problems(layout, column, value) == []


_PIECES = ["0", "1", "9", "A", "Z", "a", "H", "-", " ", "\n", "１", "é"]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.text(alphabet=_PIECES, min_size=0, max_size=7), min_size=1, max_size=8),
    st.sampled_from([(1, b"01"), (4, b"0123456789"), (6, b"0123456789AZ")]),
)
def test_all_fixed_width_says_true_exactly_of_texts_of_the_width_and_characters(
    values: list[str], fixed: tuple[int, bytes]
) -> None:
    width, allowed = fixed
    expected = all(
        len(value) == width and all(c.isascii() and c.encode() in allowed for c in value)
        for value in values
    )
    assert _all_fixed_width(values, "\n".join(values), width, allowed) is expected


def test_all_fixed_width_sees_a_line_feed_within_a_value() -> None:
    """A value of 4 characters holding a line feed: the joined length and the line feed at
    every 5th place are those of values of 4 digits; the count of line feeds is not."""
    values = ["1234", "5\n78"]
    joined = "\n".join(values)
    assert len(joined) == 2 * 5 - 1 and joined[4::5] == "\n"
    assert not _all_fixed_width(values, joined, 4, b"0123456789")
    assert _all_fixed_width(["1234", "5678"], "1234\n5678", 4, b"0123456789")


# -- the raw checks -----------------------------------------------------------------------------

_ADDRESS = attrs.evolve(get_layout("supplement").column("user_address1"), max_length=5)
_RAW_COLUMNS: list[tuple[Layout, Column]] = [
    (get_layout("table6_plan"), get_layout("table6_plan").column("insured_no")),
    (get_layout("table6_plan"), get_layout("table6_plan").column("service_code")),
    (get_layout("table7"), get_layout("table7").column("provider_office_no")),
    (get_layout("table6_plan"), get_layout("table6_plan").column("tais_code")),
    (get_layout("supplement"), get_layout("supplement").column("user_postal_code")),
    (get_layout("supplement"), _ADDRESS),
]
_GOOD: dict[str, list[Any]] = {
    "insured_no": ["0000012345", "H123456789", "1234567890"],
    "service_code": ["111211", "17A001", "999999"],
    "provider_office_no": ["1370200022", "9999999999"],
    "tais_code": ["00001-000001", "ABC"],
    "user_postal_code": ["160-0023"],
    "user_address1": ["東京都", "大阪府大阪"],
}
_BAD: list[Any] = [
    None,
    "",
    "１２３４５６７８９０",
    "12345\n7890",
    "111211\n",
    "H12345678",
    "11121",
    "1112111",
    "11a211",
    "1600023",
    "大阪府大阪市",
    "x" * 13,
    12345,
    Decimal("1"),
    True,
]


@pytest.mark.parametrize(("layout", "column"), _RAW_COLUMNS, ids=lambda c: getattr(c, "id", ""))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_raw_check_says_clean_only_where_no_value_has_a_problem(
    layout: Layout, column: Column, data: st.DataObject
) -> None:
    good = _GOOD[column.attribute]
    values = data.draw(st.lists(st.sampled_from(good + _BAD), min_size=1, max_size=12))
    raw = _make_raw_check(layout, column)
    assert raw is not None
    if raw(_columns({column.attribute: values}), column.attribute):
        assert not any(_problems(layout, column, value) for value in values), values
    # The usual column, of good values only, is told clean by the raw check.
    assert raw(_columns({column.attribute: good * 3}), column.attribute)


def test_the_raw_check_of_an_optional_free_text_passes_its_empty_items() -> None:
    layout = get_layout("supplement")
    raw = _make_raw_check(layout, _ADDRESS)
    assert raw is not None
    assert not _ADDRESS.required
    assert raw(_columns({"user_address1": ["東京都", None, "大阪府"]}), "user_address1")
    assert not raw(_columns({"user_address1": ["東京都", None, "大阪府大阪市"]}), "user_address1")
    assert not raw(_columns({"user_address1": [None, None]}), "user_address1")  # no value


# -- Columns.joined, Columns.single -----------------------------------------------------------


def test_joined_joins_texts_only_once() -> None:
    columns = _columns({"a": ["x", "", "yz"], "b": ["x", None], "c": [1, 2]})
    assert columns.joined("a") == "x\n\nyz"
    assert columns.joined("a") is columns.joined("a")
    assert columns.joined("b") is None
    assert columns.joined("c") is None


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a", "b", 1, True, 1.0, None, Decimal("NaN"), Decimal(1)]),
        min_size=1,
        max_size=9,
    )
)
def test_single_says_what_the_set_says(values: list[Any]) -> None:
    assert _columns({"a": values}).single("a") is (len(set(values)) == 1)


def test_single_looks_past_the_probes() -> None:
    """First, middle and last equal: the values in between still decide."""
    assert not _columns({"a": ["a", "b", "a", "a", "a"]}).single("a")
    assert not _columns({"a": ["a", "a", "a", "b", "a"]}).single("a")
    assert _columns({"a": ["a", "a", "a", "a", "a"]}).single("a")
    assert _columns({"a": [1, True, 1.0]}).single("a")  # equal values of other types


def test_single_of_a_column_of_many_values_makes_no_set() -> None:
    columns = _columns({"a": [f"{n:010d}" for n in range(5000)]})
    assert not columns.single("a")
    assert "a" not in columns._distinct
    assert _columns({"a": ["x"] * 5000}).single("a")


# -- the search for service types ---------------------------------------------------------------

_CODES = [None, "", "1", "17", "171111", "671111", "111211", "131111", "321111", "999999", "x\n17"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(_CODES), min_size=1, max_size=10))
def test_the_search_for_service_types_misses_none(codes: list[str | None]) -> None:
    """`_may_start_with` says False only where no code starts with one of the types (the
    per-code test it short-cuts), and says it of codes of other types only."""
    found = any(_FIRST_TWO(code) in _SCOPE_OR_EQUIPMENT for code in filter(None, codes))
    says = _may_start_with(_columns({"c": codes}), "c", _SCOPE_OR_EQUIPMENT_START)
    if found:
        assert says
    elif not any(code and "\n" in code for code in codes):
        assert not says


# -- big files: the whole-column paths, against the reference rules ---------------------------


def _big_table7(users: int) -> tuple[str, list[list[str]]]:
    """A 第7表 of `users` users, each a detail line of its own service code and amounts and
    a 全合計: the all-distinct shape."""
    files = schedule_unit()
    name = name_of(files, "UPSIKYU")
    line, grand = rows_of(files[name])[:2]
    rows = []
    for n in range(users):
        number = f"{1000000000 + n}"
        detail = list(line)
        detail[2] = number
        detail[8] = f"11{n % 9000 + 1000:04d}"
        detail[12] = str(100 + n)  # 単位数
        total = list(grand)
        total[2] = number
        rows += [detail, total]
    return name, rows


def _issues(name: str, rows: list[list[str]], layout_id: str) -> tuple[list[Any], list[Any]]:
    data = bytes_of(rows, layout_id)
    file = CSV_CODEC.decode(data, FileName.parse(name), name).file
    assert file is not None
    assert len(file.records) > 2048  # the whole-column paths
    return _issues_both_ways({name: data})


def test_a_clean_big_table7_has_no_issue_either_way() -> None:
    name, rows = _big_table7(1100)
    new, old = _issues(name, rows, "table7")
    assert new == old == []


@pytest.mark.parametrize(
    ("where", "column_no", "value", "code"),
    [
        (1001, 3, "１２３４５６７８９０", "format.full_width"),  # a 全合計's 被保険者番号
        (1000, 3, "H12345678", "format.insured_no"),  # a detail line's
        (1200, 9, "11a211", "format.service_code"),
        (1200, 9, "171111", "equipment.code_missing"),  # 福祉用具貸与, no TAISコード
        (1200, 9, "321111", "scope.out_of_scope"),
        (1200, 9, "11EEEE", "table7.total_units"),  # a subtotal (letters) with units
        (1201, 13, "7", "table7.total_units"),  # a 全合計 with units
        (1201, 7, "1370200022", "table7.grand_total_office"),
        (1201, 9, "111211", "table7.grand_total"),  # a user without 全合計
        (1203, 3, "1000000600", "table7.grand_total"),  # two 全合計 for one user
        (1202, 3, "1000000600", "table7.subtotal"),  # two lines of one type, no subtotal
    ],
)
def test_a_fault_in_a_big_table7_is_reported_as_the_reference_reports_it(
    where: int, column_no: int, value: str, code: str
) -> None:
    name, rows = _big_table7(1100)
    rows[where][column_no - 1] = value
    new, old = _issues(name, rows, "table7")
    assert new == old
    assert code in {issue.code for issue in new}


def test_an_out_of_scope_code_among_thousands_in_a_table6_is_found() -> None:
    files = schedule_unit()
    name = name_of(files, "UPPLAN")
    template = rows_of(files[name])[0]
    rows = []
    for n in range(2500):
        row = list(template)
        row[2] = f"{1000000000 + n}"
        row[14] = f"11{n % 9000 + 1000:04d}"
        rows.append(row)
    rows[1777][14] = "671111"  # 福祉用具貸与 (予防)
    new, old = _issues(name, rows, "table6_plan")
    assert new == old
    assert [(i.code, i.record) for i in new if i.code.startswith(("scope", "equipment"))]


def test_a_control_character_in_a_column_with_empty_items_is_found() -> None:
    """The control-character rule searches the column joined once for the rules, or its
    texts when it holds an empty item (then it cannot be joined as it is)."""
    name, rows = _big_table7(1100)
    rows[2000][5] = "事業所\x01名"  # サービス事業者名 of a detail line (全合計 lines: empty)
    new, old = _issues(name, rows, "table7")
    assert new == old
    assert [(i.code, i.record) for i in new] == [("text.control_character", 2001)]


def test_kinds_with_a_fixed_width_are_few() -> None:
    kinds = {get_layout(layout_id).column(attribute).kind for layout_id, attribute in _FIXED}
    assert kinds <= {Kind.DIGITS, Kind.ALPHANUMERIC, Kind.SERVICE_CODE, Kind.FLAG31}


def test_a_control_character_in_a_column_of_texts_only_is_found() -> None:
    """The column joined once (no empty item) is what the control-character rule searches."""
    files = schedule_unit()
    name = name_of(files, "UPPLAN")
    template = rows_of(files[name])[0]
    rows = []
    for n in range(2500):
        row = list(template)
        row[6] = f"計画作成者{n}"  # 計画作成者名, every one different
        rows.append(row)
    rows[1999][6] = "計画\x1b作成者"
    new, old = _issues(name, rows, "table6_plan")
    assert new == old
    assert [(i.code, i.record) for i in new] == [("text.control_character", 2000)]


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x3100), max_size=12))
def test_the_byte_test_of_control_characters_is_the_search(text: str) -> None:
    assert _holds_control(text) is (_CONTROL.search(text) is not None)


def test_the_byte_test_sees_each_control_character_and_no_other() -> None:
    controls = [chr(c) for c in range(0x80) if _CONTROL.match(chr(c))]
    assert len(controls) == 31  # C0 but CR and LF, and DEL
    for control in controls:
        assert _holds_control(f"山田{control}太郎")
    assert not _holds_control("山田\u3000太郎\r\n\u0080\u009f\ud800")  # C1, a lone surrogate


# -- unit rules: child keys that are the parent's, in order -----------------------------------


def test_same_compares_keys_in_order_whatever_the_sequence() -> None:
    assert _same(("a", "b"), ["a", "b"])
    assert _same([("1", 2)], [("1", 2)])
    assert not _same(("a", "b"), ("b", "a"))
    assert not _same(("a",), ("a", "a"))
    assert not _same(("a", "b"), ["a", "c"])


def _one_line_a_user(users: list[str], supplement_users: list[str]) -> dict[str, bytes]:
    """The example schedule unit with a 第6表 of one line a user (`users`) and a 補足 of
    `supplement_users`; its 第7表 as it is (its users are the example's two)."""
    files = schedule_unit()
    plan = name_of(files, "UPPLAN")
    supplement = name_of(files, "UPHOSOKU")
    plan_row, supplement_row = rows_of(files[plan])[0], rows_of(files[supplement])[0]
    files[plan] = bytes_of([[*plan_row[:2], user, *plan_row[3:]] for user in users], "table6_plan")
    files[supplement] = bytes_of(
        [[*supplement_row[:2], user, *supplement_row[3:]] for user in supplement_users],
        "supplement",
    )
    return files


@pytest.mark.parametrize(
    ("users", "supplement_users", "codes"),
    [
        (["0000012345", "H123456789"], ["0000012345", "H123456789"], set()),  # the same keys
        (["0000012345", "H123456789"], ["H123456789", "0000012345"], set()),  # other order
        (["0000012345", "H123456789"], ["0000012345", "0000099999"], {"unit.orphan"}),
        (["0000012345", "H123456789"], ["0000012345"], {"unit.no_supplement"}),
        (["0000012345"], ["0000012345", "H123456789"], {"unit.orphan"}),  # 第7表's H…, no 第6表
    ],
)
def test_unit_keys_in_order_are_checked_as_the_reference_checks_them(
    users: list[str], supplement_users: list[str], codes: set[str]
) -> None:
    new, old = _unit_issues_both_ways(_one_line_a_user(users, supplement_users))
    assert new == old
    assert {issue.code for issue in new} >= codes
    if not codes:
        assert not new
