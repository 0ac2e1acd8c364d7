"""The column-wise fast paths of the file and unit rules find what the rules found before.

`_record_rules` and `_unit_rules` decide the usual case (one CSVバージョン, one 全合計 per user,
no repeated line, every key known) by set sizes and set operations in C, drop key items that
hold one value everywhere, and number values that hash in Python (issue 11, speed). The rules
as they were are kept in `record_rules_reference` and `unit_rules_reference`; over generated
units with faults planted where a fast path could miss them, both must report the same issues,
in the same order. Then one test per fast path plants the fault it must not miss.
"""

from __future__ import annotations

import datetime
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careplan_link import Bundle, FileName, Issue, get_layout
from careplan_link.format._bundle import group_units
from careplan_link.format._codec import CSV_CODEC
from careplan_link.format._columns import Columns, ColumnsOf
from careplan_link.format._file import CareplanFile
from careplan_link.format._findings import Findings
from careplan_link.format._record_rules import IdentityNumbers, check_file_rules
from careplan_link.format._unit_rules import check_units
from careplan_link.format._values import ZERO_DATE, ZERO_MONTH, YearMonth
from careplan_link.testing import strategies as cst

from . import record_rules_reference, unit_rules_reference
from .unitfiles import bytes_of, name_of, rows_of, schedule_unit

# -- both ways --------------------------------------------------------------------------------


def _read(files: dict[str, bytes]) -> dict[str, CareplanFile]:
    parsed = {}
    for name, data in sorted(files.items()):
        file = CSV_CODEC.decode(data, FileName.parse(name), name).file
        if file is not None:
            parsed[name] = file
    return parsed


def _file_rules(file: CareplanFile, rules: Any) -> list[Issue]:
    findings = Findings(file, str(file.name))
    rules.check_file_rules(file, findings, Columns(file))
    return findings.finish()


def _file_issues_both_ways(parsed: dict[str, CareplanFile]) -> tuple[list[Issue], list[Issue]]:
    new: list[Issue] = []
    old: list[Issue] = []
    for file in parsed.values():
        new += _file_rules(file, _NEW_RECORD_RULES)
        old += _file_rules(file, record_rules_reference)
    return new, old


def _unit_issues_both_ways(files: dict[str, bytes]) -> tuple[list[Issue], list[Issue]]:
    parsed = _read(files)
    units = group_units(files)
    new = check_units(units, parsed, ColumnsOf())
    old = unit_rules_reference.check_units(units, parsed, ColumnsOf())
    return new, old


class _NEW_RECORD_RULES:  # stands for the module, as `record_rules_reference` does
    check_file_rules = staticmethod(check_file_rules)


# -- faults where a fast path could miss them -------------------------------------------------

# Readable values that break (or move) a file or unit rule, by the item they go in.
_VALUES: dict[str, tuple[str, ...]] = {
    "csv_version": ("202208", "202504", "202407", "999999"),
    "insurer_no": ("131012", "131011"),
    "insured_no": ("0000099999", "H000000001"),
    "target_month": ("202505", "202504", "000000", "202513"),
    "plan_date": ("00000000", "20250301", "20250401"),
    "service_date": ("20250501", "20250430", "00000000"),
    "start_time": ("9999", "1000"),
    "end_time": ("9999", "1100"),
    "service_code": (
        "999999",
        "11AAAA",
        "17AAAA",
        "11EEEE",
        "111211",
        "171111",
        "671111",
        "321111",
        "1711",
        "",
    ),
    "detail_no": ("1", ""),
    "tais_code": ("", "00123-000456"),
    "equipment_notification_code": ("",),
    "units": ("0", "5", ""),
    "discount_rate": ("", "10"),
    "discounted_units": ("", "3"),
    "provider_office_no": ("9999999999", "1370200022", "1370100016"),
    "plan_office_no": ("1370100016", "1370200022"),
    "updater_office_no": ("1370100016", "1370200022"),
    "deletion_month": ("202504", "202505"),
    **{f"slot{n}_service_type": ("", "11", "13") for n in range(1, 10)},
}


@st.composite
def _faulty_units(draw: st.DrawFn) -> dict[str, bytes]:
    """A valid generated unit, then in one to three of its files one to six edits: a row
    dropped, doubled or moved, or (more often) an item of the rules set (in one row, or in
    every row) to a value that breaks or moves a rule (another user, month, total, type …)."""
    # Schedules half of the time: most of the file rules are about 第6表 and 第7表.
    unit: Bundle = draw(st.one_of(cst.schedule_units(), cst.units()))
    files = dict(unit.files)
    for name in draw(st.lists(st.sampled_from(sorted(files)), min_size=1, max_size=3, unique=True)):
        layout = get_layout(FileName.parse(name).layout_id)
        rows = rows_of(files[name])
        columns = [c for c in layout.columns if c.attribute in _VALUES]
        for _ in range(draw(st.integers(1, 6))):
            edit = draw(st.sampled_from(("drop", "double", "move", "set", "set", "set", "set all")))
            at = draw(st.integers(0, len(rows) - 1)) if rows else 0
            if edit == "drop" and len(rows) > 1:
                del rows[at]
            elif edit == "double" and rows:
                rows.insert(at, list(rows[at]))
            elif edit == "move" and rows:
                rows.append(rows.pop(at))
            elif edit.startswith("set") and rows and columns:
                column = draw(st.sampled_from(columns))
                value = draw(st.sampled_from(_VALUES[column.attribute]))
                for row in rows if edit == "set all" else rows[at : at + 1]:
                    row[column.no - 1] = value
        files[name] = bytes_of(rows, layout.id)
    return files


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_faulty_units())
def test_file_and_unit_rules_report_what_the_reference_reported(files: dict[str, bytes]) -> None:
    new, old = _file_issues_both_ways(_read(files))
    assert new == old
    new, old = _unit_issues_both_ways(files)
    assert new == old


def _unshared(file: CareplanFile) -> CareplanFile:
    """The file with every month and date value a separate object (records made by code, not
    read: the reader gives equal texts one object, which the fast paths count on for speed,
    never for the result)."""

    def fresh(value: Any) -> Any:
        if isinstance(value, YearMonth):
            return YearMonth(value.year, value.month)
        if type(value) is datetime.date:
            return datetime.date(value.year, value.month, value.day)
        return value

    records = tuple(type(record)(*map(fresh, record.values())) for record in file.records)
    return attrs.evolve(file, records=records)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_faulty_units())
def test_values_made_by_code_are_compared_by_value(files: dict[str, bytes]) -> None:
    parsed = {name: _unshared(file) for name, file in _read(files).items()}
    new, old = _file_issues_both_ways(parsed)
    assert new == old
    units = group_units(files)
    assert check_units(units, parsed) == unit_rules_reference.check_units(units, parsed)


# -- each fast path, with the fault it must not miss ------------------------------------------


def _edited(prefix: str, *edits: tuple[int | slice, int, str]) -> dict[str, bytes]:
    """The shipped schedule unit with items of one file set: (rows, 1-based column, text)."""
    files = schedule_unit()
    name = name_of(files, prefix)
    rows = rows_of(files[name])
    for where, column, text in edits:
        for row in rows[where] if isinstance(where, slice) else [rows[where]]:
            row[column - 1] = text
    files[name] = bytes_of(rows, FileName.parse(name).layout_id)
    return files


def _file_issues(files: dict[str, bytes], prefix: str) -> list[Issue]:
    parsed = _read(files)
    new, old = _file_issues_both_ways({n: f for n, f in parsed.items() if n.startswith(prefix)})
    assert new == old
    return new


def _codes(issues: list[Issue]) -> list[tuple[str, int | None, int | None]]:
    return [(i.code, i.record, i.column) for i in issues]


def test_the_shipped_unit_draws_no_issue_either_way() -> None:
    files = schedule_unit()
    assert _file_issues_both_ways(_read(files)) == ([], [])
    assert _unit_issues_both_ways(files) == ([], [])


def test_a_second_csv_version_in_the_last_record_only_is_found() -> None:
    """One value throughout is told by a count: the odd one out at the very end counts."""
    files = _edited("UPPLAN", (-1, 1, "202208"))
    issues = _file_issues(files, "UPPLAN")
    last = len(rows_of(files[name_of(files, "UPPLAN")]))
    assert ("version.mixed", last, 1) in _codes(issues)


def test_a_user_with_two_grand_totals_and_one_with_none_are_both_found() -> None:
    """As many 全合計 as users, but not one each: the sizes agree, the sets do not."""
    files = schedule_unit()
    name = name_of(files, "UPSIKYU")
    rows = rows_of(files[name])
    grand = [i for i, row in enumerate(rows) if row[8] == "999999"]
    assert len(grand) == 2 and rows[grand[0]][2] != rows[grand[1]][2]
    rows[grand[1]][2] = rows[grand[0]][2]  # the second user's 全合計 now names the first user
    files[name] = bytes_of(rows, "table7")
    codes = [c for c in _codes(_file_issues(files, "UPSIKYU")) if c[0] == "table7.grand_total"]
    assert len(codes) == 2  # the first user's extra 全合計, the second user's missing one


def test_two_lines_of_one_type_without_subtotal_are_found_among_distinct_users() -> None:
    """No user with two lines skips the subtotal rule: one user with two lines runs it."""
    files = schedule_unit()
    name = name_of(files, "UPSIKYU")
    rows = rows_of(files[name])
    detail = next(
        i for i, row in enumerate(rows) if row[8] not in ("999999",) and "AAAA" not in row[8]
    )
    rows.insert(detail, list(rows[detail]))
    files[name] = bytes_of(rows, "table7")
    assert "table7.subtotal" in [c[0] for c in _codes(_file_issues(files, "UPSIKYU"))]


def test_a_subtotal_of_an_out_of_scope_type_is_not_a_line_of_that_type() -> None:
    files = _edited("UPSIKYU", (0, 9, "32AAAA"), (1, 9, "321111"))
    codes = _codes(_file_issues(files, "UPSIKYU"))
    assert [c for c in codes if c[0] == "scope.out_of_scope"] == [("scope.out_of_scope", 2, 9)]


def test_a_code_of_an_interesting_prefix_but_another_length_is_no_service_type() -> None:
    """The first two characters are compared in C; the length still decides."""
    files = _edited("UPPLAN", (0, 15, "1711"), (1, 15, "3211"))
    codes = [c[0] for c in _codes(_file_issues(files, "UPPLAN"))]
    assert "scope.out_of_scope" not in codes and "equipment.code_missing" not in codes
    files = _edited("UPPLAN", (1, 15, "321111"))
    codes = [c[0] for c in _codes(_file_issues(files, "UPPLAN"))]
    assert "scope.out_of_scope" in codes


def test_discounts_on_a_total_are_found_when_only_one_record_has_one() -> None:
    files = _edited("UPSIKYU", (-1, 15, "3"))
    codes = _codes(_file_issues(files, "UPSIKYU"))
    assert [c[0] for c in codes if c[2] == 15] == ["table7.total_discount"]


def test_a_slot_gap_at_the_last_slots_only_is_found() -> None:
    """No gap is told from the slot columns' distinct values, pair by pair: a gap that only
    the last pair (slots 8 and 9) can hold."""
    slot = [20 + 4 * n for n in range(9)]  # the columns of slots 1-9
    edits = [(0, column, "11") for column in slot[:8]]  # the first: slots 1-8
    edits += [(1, column, "11") for column in slot[:7]]  # the second: 1-7, and 9 after a gap
    files = _edited("UPHOSOKU", *edits, (1, slot[8], "13"))
    codes = _codes(_file_issues(files, "UPHOSOKU"))
    assert [c for c in codes if c[0] == "supplement.slot_order"] == [
        ("supplement.slot_order", 2, slot[8])
    ]


def test_equal_months_made_apart_get_one_number_and_others_their_own() -> None:
    identity = IdentityNumbers()
    april, april_again = YearMonth(2025, 4), YearMonth(2025, 4)
    assert april is not april_again
    numbers = identity.numbers([april, april_again, ZERO_MONTH, None, april])
    assert numbers == [0, 0, 1, 2, 0]
    # Numbered alike in every later column of the same run (keys of several files).
    assert identity.numbers([ZERO_DATE, YearMonth(2025, 4)]) == [3, 0]


def test_a_month_that_is_one_value_in_each_file_but_not_the_same_is_compared() -> None:
    """A key item of one value throughout is left out only when it is the same in every file:
    a 第7表 all of May under a 第6表 all of April has no parent for any record."""
    files = schedule_unit()
    name = name_of(files, "UPSIKYU")
    rows = rows_of(files[name])
    for row in rows:
        row[4] = "202505"
    files[name] = bytes_of(rows, "table7")
    new, old = _unit_issues_both_ways(files)
    assert new == old
    orphans = [i for i in new if i.code == "unit.orphan"]
    assert len(orphans) == len(rows) and {i.value for i in orphans} == {"202505"}


def test_a_user_without_supplement_is_reported_once_at_the_first_record() -> None:
    files = schedule_unit()
    name = name_of(files, "UPHOSOKU")
    rows = rows_of(files[name])
    files[name] = bytes_of(rows[1:], "supplement")  # the first user's 補足 is gone
    new, old = _unit_issues_both_ways(files)
    assert new == old
    missing = [i for i in new if i.code == "unit.no_supplement"]
    assert len(missing) == 1 and missing[0].record == 1


def test_a_child_key_whose_parent_record_was_changed_is_an_orphan() -> None:
    files = _edited("UPPLAN", (slice(None), 3, "0000099999"))
    new, old = _unit_issues_both_ways(files)
    assert new == old
    assert {i.code for i in new} >= {"unit.orphan", "unit.no_supplement"}


def test_lines_whose_codes_have_no_service_type_need_no_subtotal() -> None:
    """A code of another length than six has no service type (its format is reported by the
    item rules): two such lines of one user are not two lines of a type without subtotal."""
    files = schedule_unit()
    name = name_of(files, "UPSIKYU")
    rows = rows_of(files[name])
    rows.insert(1, list(rows[0]))
    rows[0][8], rows[1][8] = "1112", "1113"
    files[name] = bytes_of(rows, "table7")
    codes = [c[0] for c in _codes(_file_issues(files, "UPSIKYU"))]
    assert "table7.subtotal" not in codes
    rows[0][8], rows[1][8] = "111211", "112211"  # two lines of type 11: a subtotal is needed
    files[name] = bytes_of(rows, "table7")
    assert "table7.subtotal" in [c[0] for c in _codes(_file_issues(files, "UPSIKYU"))]
