"""More of the 第7表 checks' bulk paths (issues 11 and 13): the 第6表 looked up line by line
without a tally when every サービス回数 is 1, the file of one line a user told distinct by its
users, monthly codes searched in the joined column, the 区分支給限度基準額 read from the
利用者補足情報 in order, and the 全合計 rows the file rules found reused by the arithmetic.

Each test puts a unit where the premise of such a path fails, or holds with one figure wrong,
and compares the issues with the record-by-record walks (`table7_reference.py`,
`record_rules_reference.py`).
"""

from __future__ import annotations

import datetime
from typing import Any

import attrs
import pytest

from careplan_link import SupplementRecord
from careplan_link.format import _table7_rules
from careplan_link.format._bundle import Bundle, group_units
from careplan_link.format._columns import Columns, ColumnsOf
from careplan_link.format._file import CareplanFile
from careplan_link.format._findings import Findings
from careplan_link.format._record_rules import check_file_rules, grand_total_rows
from careplan_link.format._table7_rules import (
    _Check,
    _limits,
    _monthly,
    _monthly_column,
    check_table7_arithmetic,
)

from . import record_rules_reference, table7_reference
from .test_table7_differential import _rich_unit
from .test_table7_fast_paths import _checked, _name, _where, _with
from .test_table7_speed_paths import _check_of, _one_line_a_user, _parsed


def _codes(issues: list[Any]) -> list[str]:
    return sorted({issue.code for issue in issues})


def _units(parsed: dict[str, CareplanFile]) -> list[Bundle]:
    """The unit of the parsed files (grouped by their names)."""
    return group_units(dict.fromkeys(parsed, b""))


def _after_file_rules(parsed: dict[str, CareplanFile]) -> tuple[list[Any], list[Any], ColumnsOf]:
    """The file rules, then the arithmetic, on one `ColumnsOf` (as `validate` runs them); each
    the same as its record-by-record reference."""
    columns_of = ColumnsOf()
    new: list[Any] = []
    old: list[Any] = []
    for name, file in parsed.items():
        findings = Findings(file, name)
        check_file_rules(file, findings, columns_of(file))
        new += findings.finish()
        findings = Findings(file, name)
        record_rules_reference.check_file_rules(file, findings, Columns(file))
        old += findings.finish()
    assert [str(i) for i in new] == [str(i) for i in old]
    units = _units(parsed)
    arithmetic = check_table7_arithmetic(units, parsed, columns_of=columns_of)
    reference = table7_reference.check_table7_arithmetic(units, parsed)
    assert arithmetic == reference, ([str(i) for i in arithmetic][:6], [str(i) for i in reference])
    return new, arithmetic, columns_of


# -- the 第6表 looked up without a tally (サービス回数 1 each) -----------------------------------


def _lookups(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The results of `_agrees_by_lookup`, as it is called."""
    results: list[bool] = []
    lookup = _Check._agrees_by_lookup

    def looked_up(self: _Check, columns: Any, varying: Any) -> bool:
        results.append(lookup(self, columns, varying))
        return results[-1]

    monkeypatch.setattr(_Check, "_agrees_by_lookup", looked_up)
    return results


def _several_records_a_line() -> dict[str, Any]:
    return _parsed(_one_line_a_user(12, records_a_line=3, lines_a_user=2))


def test_the_usual_unit_is_looked_up_not_tallied(monkeypatch: pytest.MonkeyPatch) -> None:
    results = _lookups(monkeypatch)
    tallied: list[Any] = []
    monkeypatch.setattr(_table7_rules, "tally_by_position", lambda *a, **k: tallied.append(a))
    parsed = _several_records_a_line()
    check, table6 = _check_of(parsed)
    assert check._agrees_in_bulk(table6) is True
    assert results == [True]
    assert tallied == []


def _plan_edit(*indices: int, **changes: Any) -> Any:
    def edit(parsed: dict[str, CareplanFile]) -> dict[str, Any]:
        name = _name(parsed, "UPPLAN")
        records = list(parsed[name].records)
        for index in indices:
            records[index] = attrs.evolve(records[index], **changes)
        return _with(parsed, name, records)

    return edit


def _table7_edit(edit_records: Any) -> Any:
    def edit(parsed: dict[str, CareplanFile]) -> dict[str, Any]:
        name = _name(parsed, "UPSIKYU")
        records = list(parsed[name].records)
        edit_records(records)
        return _with(parsed, name, records)

    return edit


def _times_plus_one(records: list[Any]) -> None:
    records[4] = attrs.evolve(records[4], times=records[4].times + 1)


def _detail_twice(records: list[Any]) -> None:
    records.insert(1, records[0])


def _no_such_detail(records: list[Any]) -> None:
    records[0] = attrs.evolve(records[0], service_code="119999")


def _no_such_detail_nor_count(records: list[Any]) -> None:
    # The first line's detail keyed elsewhere and of no 回数: as many (key, 単位数) pairs as
    # details, one of which no record has.
    records[0] = attrs.evolve(records[0], service_code="119999", times=None)


def _plan_without(parsed: dict[str, CareplanFile]) -> dict[str, Any]:
    # The first user's first line has no 第6表 record left (its three records dropped).
    name = _name(parsed, "UPPLAN")
    return _with(parsed, name, list(parsed[name].records)[3:])


# Faults where a record or a detail line has no match, a 回数 or 単位数 differs: each must
# send the 第6表 to the full check, which reports what the reference walk reports.
_FAULTS = {
    # (the records 3-5 are the first user's second line)
    "a line's 単位数": (_plan_edit(3, 4, 5, units=999), ["table7.units"]),
    "a record's 単位数 alone": (_plan_edit(4, units=999), []),  # not computable: no issue
    "a record of another code": (_plan_edit(4, service_code="117777"), ["table7.count"]),
    "a record of another user": (_plan_edit(4, insured_no="0000000009"), ["table7.count"]),
    "a detail's 回数": (_table7_edit(_times_plus_one), ["table7.count"]),
    "a detail line twice": (_table7_edit(_detail_twice), ["table7.count"]),
    "a detail line of no record": (_table7_edit(_no_such_detail), ["table7.missing_detail"]),
    "a line without records": (_plan_without, ["table7.extra_detail"]),
    "a detail of no record nor 回数": (
        _table7_edit(_no_such_detail_nor_count),
        ["table7.missing_detail"],
    ),
}


@pytest.mark.parametrize("fault", list(_FAULTS))
def test_a_fault_fails_the_lookup_and_is_reported(fault: str) -> None:
    edit, expected = _FAULTS[fault]
    parsed = edit(_several_records_a_line())
    check, table6 = _check_of(parsed)
    assert check._agrees_in_bulk(table6) is False
    issues = _checked(_units(parsed), parsed)
    assert set(expected) <= set(_codes(issues)), _codes(issues)


def test_a_count_of_two_is_tallied_and_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    # A サービス回数 of 2 with its detail's 回数 one more: counted by the tally, right.
    results = _lookups(monkeypatch)
    parsed = _plan_edit(4, service_count=2)(_several_records_a_line())
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    record = parsed[_name(parsed, "UPPLAN")].records[4]
    detail = next(
        i
        for i, r in enumerate(records)
        if (r.insured_no, r.service_code) == (record.insured_no, record.service_code)
    )
    records[detail] = attrs.evolve(records[detail], times=records[detail].times + 1)
    parsed = _with(parsed, name, records)
    check, table6 = _check_of(parsed)
    assert check._agrees_in_bulk(table6) is True
    assert results == []  # not looked up: the tally counts the 2
    assert "table7.count" not in _codes(_checked(_units(parsed), parsed))


# -- the file of one line a user --------------------------------------------------------------


def test_one_line_a_user_is_told_distinct_by_its_users() -> None:
    parsed = _parsed(_one_line_a_user(20))
    check, table6 = _check_of(parsed)
    assert check.user_by_insured is True
    varying = {"insured_no": check.at_details(check.col["insured_no"])}
    assert check._distinct_insured(varying) is True
    assert check._agrees_in_bulk(table6) is True
    assert check._distinct_insured({"service_code": ()}) is False  # no 被保険者番号 to tell


def test_two_insurers_are_not_told_distinct_by_their_users() -> None:
    # Users are (保険者番号, 被保険者番号, month): their 被保険者番号 may repeat.
    parsed = _parsed(_one_line_a_user(6))
    for prefix in ("UPPLAN", "UPSIKYU"):
        name = _name(parsed, prefix)
        records = [
            attrs.evolve(r, insurer_no="131029") if r.insured_no == "0000000002" else r
            for r in parsed[name].records
        ]
        parsed = _with(parsed, name, records)
    check, _ = _check_of(parsed)
    assert check.user_by_insured is False
    assert check._distinct_insured({"insured_no": ()}) is False
    _checked(_units(parsed), parsed)


def test_users_of_several_details_are_not_distinct() -> None:
    parsed = _parsed(_one_line_a_user(6, lines_a_user=2))
    check, _ = _check_of(parsed)
    assert check.user_by_insured is True
    assert check._distinct_insured({"insured_no": ()}) is False


def test_one_line_a_user_with_a_detail_counted_twice() -> None:
    parsed = _parsed(_one_line_a_user(20))
    edit = _table7_edit(lambda records: records.__setitem__(
        2, attrs.evolve(records[2], times=2)
    ))  # fmt: skip
    parsed = edit(parsed)
    check, table6 = _check_of(parsed)
    assert check._agrees_in_bulk(table6) is False
    assert _where(_checked(_units(parsed), parsed), "table7.count") == [("UPSIKYU", 3, 16)]


def test_one_line_a_user_with_a_count_of_two_agrees() -> None:
    # A サービス回数 of 2 and its detail's 回数 2: compared value by value, right.
    parsed = _plan_edit(3, service_count=2)(_parsed(_one_line_a_user(20)))
    parsed = _table7_edit(
        lambda records: records.__setitem__(6, attrs.evolve(records[6], times=2))
    )(parsed)
    check, table6 = _check_of(parsed)
    assert check._agrees_in_bulk(table6) is True
    assert "table7.count" not in _codes(_checked(_units(parsed), parsed))


# -- monthly codes searched in the joined column ------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "monthly"),
    [
        (["111211", "131111", "151111"], False),
        (["171001", "131111", "151111"], True),  # the first code
        (["111211", "131111", "671001"], True),  # the last
        (["111211", "731111", "151111"], True),  # 小規模多機能型居宅介護
        (["111217", "113111", "151117"], False),  # a type's digits inside codes only
        (["111211", None, "171001"], True),  # no joined column: the set of codes
        (["111211", None, "151111"], False),
    ],
)
def test_monthly_codes_are_found_in_the_joined_column(
    codes: list[str | None], monthly: bool
) -> None:
    parsed = _parsed(_one_line_a_user(3))
    name = _name(parsed, "UPPLAN")
    records = [
        attrs.evolve(r, service_code=code)
        for r, code in zip(parsed[name].records, codes, strict=True)
    ]
    file = _with(parsed, name, records)[name]
    columns = ColumnsOf()(file)
    assert _monthly_column(columns) is monthly
    assert _monthly(set(codes)) is monthly


# -- the 区分支給限度基準額 in the 利用者補足情報's order ----------------------------------------


def _supplement(parsed: dict[str, CareplanFile], records: list[Any]) -> CareplanFile:
    name = _name(parsed, "UPHOSOKU")
    return _with(parsed, name, records)[name]


@pytest.mark.parametrize("order", ["same", "reversed", "one missing", "one twice", "one empty"])
def test_limits_in_order_are_the_limits_looked_up(order: str) -> None:
    parsed = _parsed(_one_line_a_user(8))
    name = _name(parsed, "UPHOSOKU")
    records = [attrs.evolve(r, benefit_limit=1000 + i) for i, r in enumerate(parsed[name].records)]
    if order == "reversed":
        records.reverse()
    elif order == "one missing":
        del records[3]
    elif order == "one twice":
        records.append(attrs.evolve(records[2], benefit_limit=7))
    elif order == "one empty":
        records[5] = attrs.evolve(records[5], benefit_limit=None)
    limits = _limits([_supplement(parsed, records)], ColumnsOf(), True)
    insureds = [f"{user + 1:010d}" for user in range(8)]
    expected = [
        next((r.benefit_limit for r in reversed(records) if r.insured_no == insured
              and r.benefit_limit is not None), None)
        for insured in insureds
    ]  # fmt: skip
    insurers = ["131011"] * 8
    assert limits.of(insurers, insureds, distinct=True) == expected
    assert limits.of(insurers, insureds) == expected
    assert limits.of(["131029"] * 8, insureds, distinct=True) == [None] * 8


def test_a_limit_exceeded_is_found_from_the_supplement_in_order() -> None:
    parsed = _parsed(_one_line_a_user(10))
    name = _name(parsed, "UPHOSOKU")
    records = list(parsed[name].records)
    records[4] = attrs.evolve(records[4], benefit_limit=50)
    parsed = _with(parsed, name, records)
    issues = _checked(_units(parsed), parsed)
    assert _where(issues, "table7.limit") == [("UPSIKYU", 10, 22)]


# -- the 全合計 rows the file rules found ------------------------------------------------------


def test_the_arithmetic_reuses_the_grand_total_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = _parsed(_one_line_a_user(10, lines_a_user=2))
    _, issues, columns_of = _after_file_rules(parsed)
    assert issues == []
    table7 = parsed[_name(parsed, "UPSIKYU")]
    known = grand_total_rows(columns_of(table7))
    assert known is not None and known.one_each
    assert known.rows == [i for i, r in enumerate(table7.records) if r.service_code == "999999"]
    # The arithmetic takes them as they are, and numbers users by runs without a set.
    made: list[_Check] = []
    init = _Check.__init__

    def spy(self: _Check, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(_Check, "__init__", spy)
    check_table7_arithmetic(_units(parsed), parsed, columns_of=columns_of)
    assert made[0].totals is known.rows and made[0].is_term is known.not_grand
    # Not made for a 第7表 with 種類別小計.
    rich = _parsed(_rich_unit(4, 40000))
    _, _, columns_of = _after_file_rules(rich)
    assert grand_total_rows(columns_of(rich[_name(rich, "UPSIKYU")])) is None


def _reordered(order: list[int]) -> Any:
    return _table7_edit(lambda records: records.__setitem__(
        slice(0, len(order)), [records[i] for i in order]
    ))  # fmt: skip


# The first two users' rows (A: rows 0-2, B: rows 3-5, each two details and a 全合計),
# reordered so that a user's rows are not one run ending at its 全合計.
_ORDERS = {
    # A's rows in two runs, one 全合計 each: the runs end at A1, then B's and A's 全合計.
    "a user in two runs": [0, 3, 4, 5, 1, 2],
    # A 全合計 first: the runs' ends are not the 全合計 rows.
    "a 全合計 before its lines": [2, 0, 1, 3, 4, 5],
}


@pytest.mark.parametrize("order", list(_ORDERS))
def test_runs_that_are_not_users_are_numbered_by_set(order: str) -> None:
    parsed = _reordered(_ORDERS[order])(_parsed(_one_line_a_user(6, lines_a_user=2)))
    _, issues, _ = _after_file_rules(parsed)
    assert issues == []  # every sum right, wherever the rows lie


def test_a_user_of_two_runs_each_with_a_grand_total() -> None:
    # A: detail, 全合計, B's rows, A: detail, 全合計: two 全合計 for A (the file rules report
    # the second; the arithmetic checks the first against all of A's lines).
    parsed = _parsed(_one_line_a_user(6, lines_a_user=2))
    edit = _table7_edit(lambda records: records.__setitem__(
        slice(0, 6), [records[0], records[2], records[3], records[4], records[5], records[1]]
    ))  # fmt: skip
    parsed = edit(parsed)
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    records.insert(6, records[1])  # A's 全合計 again, after A's second line
    parsed = _with(parsed, name, records)
    file_issues, issues, columns_of = _after_file_rules(parsed)
    known = grand_total_rows(columns_of(parsed[name]))
    assert known is not None and not known.one_each
    assert "table7.grand_total" in _codes(file_issues)
    # A's first 全合計 is A's sum (of both runs), and a later one is not checked: no issue,
    # as the reference finds (numbering A's runs as two users would find one).
    assert issues == []


# -- the file rules on a 第7表 of many distinct codes --------------------------------------------


def test_many_codes_are_searched_joined_and_the_odd_ones_found() -> None:
    # 300 users of a code each (more distinct codes than `_FEW`): an out-of-scope code, a
    # 福祉用具 line without TAIS, and a user of two type-11 lines without their AAAA.
    parsed = _parsed(_one_line_a_user(300))
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    records[0] = attrs.evolve(records[0], service_code="321001")
    records[2] = attrs.evolve(records[2], service_code="171001")
    records.insert(5, attrs.evolve(records[4], service_code=records[4].service_code[:2] + "7777"))
    parsed = _with(parsed, name, records)
    file = parsed[name]
    columns = ColumnsOf()(file)
    assert len(columns.distinct("service_code")) > 256
    findings = Findings(file, name)
    check_file_rules(file, findings, columns)
    new = findings.finish()
    findings = Findings(file, name)
    record_rules_reference.check_file_rules(file, findings, Columns(file))
    assert [str(i) for i in new] == [str(i) for i in findings.finish()]
    assert _codes(new) == ["equipment.code_missing", "scope.out_of_scope", "table7.subtotal"]


def test_many_codes_with_a_subtotal_are_told_by_their_kinds() -> None:
    parsed = _parsed(_one_line_a_user(300))
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    subtotal = attrs.evolve(records[1], service_code="11AAAA", provider_office_no="1370200022")
    records.insert(1, subtotal)
    parsed = _with(parsed, name, records)
    file = parsed[name]
    findings = Findings(file, name)
    check_file_rules(file, findings, ColumnsOf()(file))
    new = [str(i) for i in findings.finish()]
    findings = Findings(file, name)
    record_rules_reference.check_file_rules(file, findings, Columns(file))
    assert new == [str(i) for i in findings.finish()]


def test_supplement_records_are_as_written() -> None:
    # The helper's supplement records keep their type (a guard for the tests above).
    parsed = _parsed(_one_line_a_user(2))
    assert all(isinstance(r, SupplementRecord) for r in parsed[_name(parsed, "UPHOSOKU")].records)
    assert parsed[_name(parsed, "UPPLAN")].records[0].created_date == datetime.date(2025, 3, 25)
