"""The 第7表 checks' fast paths: what they pass over in bulk is really right, what they flag is
found at its record and column (issues 11 and 13).

The checks compare every user's 全合計 with prefix sums over the rows in user order, the
第6表's lines with the 第7表's in C, and read the columns `validate` shares. Each test here puts
a unit where such a shortcut could go wrong: users whose lines are not contiguous, several
第7表 files, a 202208 file, one wrong figure among many right ones. Every result is also
compared with the record-by-record walk (`table7_reference.py`), and with the checks run
without shared columns.
"""

from __future__ import annotations

import random
from typing import Any

import attrs

from careplan_link import FileName, Issue, convert, parse_plan, validate, write_file
from careplan_link.format._bundle import Bundle, group_units
from careplan_link.format._columns import ColumnsOf
from careplan_link.format._file import CareplanFile
from careplan_link.format._table7_rules import check_table7_arithmetic

from . import table7_reference
from .test_table7_differential import _rich_unit


def _parsed(files: dict[str, bytes]) -> dict[str, CareplanFile]:
    return {name: parse_plan(data, name=name) for name, data in files.items()}


def _name(parsed: dict[str, CareplanFile], prefix: str) -> str:
    return next(name for name in parsed if name.startswith(prefix))


def _checked(
    units: list[Bundle], parsed: dict[str, CareplanFile], strict: bool = False
) -> list[Issue]:
    """The issues, the same with shared columns, without them, and by the reference walk."""
    shared = check_table7_arithmetic(units, parsed, strict=strict, columns_of=ColumnsOf())
    alone = check_table7_arithmetic(units, parsed, strict=strict)
    old = table7_reference.check_table7_arithmetic(units, parsed, strict=strict)
    assert shared == alone == old, ([str(i) for i in shared][:6], [str(i) for i in old][:6])
    return shared


def _with(parsed: dict[str, CareplanFile], name: str, records: list[Any]) -> dict[str, Any]:
    return {**parsed, name: attrs.evolve(parsed[name], records=tuple(records))}


def _where(issues: list[Issue], code: str) -> list[tuple[str, int | None, int | None]]:
    return [((i.file or "")[:7], i.record, i.column) for i in issues if i.code == code]


def _totals_of(records: list[Any]) -> list[int]:
    return [index for index, r in enumerate(records) if r.service_code == "999999"]


# -- users whose lines are not contiguous ---------------------------------------------------------


def test_interleaved_users_are_summed_each_on_their_own() -> None:
    # Prefix sums per user need each user's rows together: shuffled lines of 30 users, every
    # 全合計 right, must give no issue (summing runs as they lie would mix users).
    files = _rich_unit(30, 2000)
    parsed = _parsed(files)
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    random.Random(3).shuffle(records)
    assert _checked(group_units(files), _with(parsed, name, records)) == []


def test_interleaved_users_one_wrong_total_found_at_its_row() -> None:
    files = _rich_unit(30, 2000)
    parsed = _parsed(files)
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    random.Random(5).shuffle(records)
    row = _totals_of(records)[17]
    records[row] = attrs.evolve(records[row], total_cost=records[row].total_cost + 1)
    issues = _checked(group_units(files), _with(parsed, name, records))
    assert _where(issues, "table7.total_sum") == [("UPSIKYU", row + 1, 24)]


def test_two_users_swapping_lines_are_told_apart() -> None:
    # Two users' lines alternate (A B A B …): a total right for the pair but wrong for each
    # user (a line moved from one to the other) is found on both users.
    files = _rich_unit(2, 2000)
    parsed = _parsed(files)
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    half = len(records) // 2
    alternating = [r for pair in zip(records[:half], records[half:], strict=True) for r in pair]
    assert _checked(group_units(files), _with(parsed, name, alternating)) == []
    # The first user's 131111 line takes 1 unit of 給付管理単位数 from the second's (a line
    # outside any 種類別小計: the 全合計 adds it itself).
    first, second = (
        next(
            i
            for i, r in enumerate(alternating)
            if r.insured_no.endswith(user) and r.service_code == "131111"
        )
        for user in ("1", "2")
    )
    moved = list(alternating)
    for row, change in ((first, 1), (second, -1)):
        moved[row] = attrs.evolve(moved[row], managed_units=moved[row].managed_units + change)
    issues = _checked(group_units(files), _with(parsed, name, moved))
    totals = _totals_of(moved)
    assert {(r, c) for _, r, c in _where(issues, "table7.total_sum")} >= {
        (totals[0] + 1, 18),
        (totals[1] + 1, 18),
    }


# -- one wrong figure among many right ones -------------------------------------------------------


def test_one_wrong_figure_among_many_is_found_at_its_record_and_column() -> None:
    files = _rich_unit(60, 2000)
    parsed = _parsed(files)
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    assert _checked(group_units(files), parsed) == []
    totals = _totals_of(records)
    for column, attribute in ((18, "managed_units"), (22, "within_category_limit_units")):
        for user in (0, 41, 59):  # the first, a middle and the last user
            changed = list(records)
            row = totals[user]
            changed[row] = attrs.evolve(changed[row], **{attribute: 5})
            issues = _checked(group_units(files), _with(parsed, name, changed))
            assert ("UPSIKYU", row + 1, column) in _where(issues, "table7.total_sum"), (
                column,
                user,
            )


def test_a_users_limit_exceeded_among_many() -> None:
    # Every user within a limit of 2000 but one, whose limit (補足) is 100.
    files = _rich_unit(40, 2000)
    parsed = _parsed(files)
    supplement = _name(parsed, "UPHOSOKU")
    limits = list(parsed[supplement].records)
    limits[23] = attrs.evolve(limits[23], benefit_limit=100)
    issues = _checked(group_units(files), _with(parsed, supplement, limits))
    records = parsed[_name(parsed, "UPSIKYU")].records
    totals = _totals_of(list(records))
    assert _where(issues, "table7.limit") == [("UPSIKYU", totals[23] + 1, 22)]
    # Users without a limit (no 補足 record, or none stated) are not compared with one; a
    # limit far above the units with some put over it is the other way wrong.
    limits[3] = attrs.evolve(limits[3], benefit_limit=None)
    limits[30] = attrs.evolve(limits[30], benefit_limit=90000)
    del limits[9]
    name = _name(parsed, "UPSIKYU")
    changed = list(records)
    row = totals[30]
    changed[row] = attrs.evolve(changed[row], over_category_limit_units=4)
    issues = _checked(group_units(files), _with(_with(parsed, supplement, limits), name, changed))
    assert _where(issues, "table7.limit") == [
        ("UPSIKYU", totals[23] + 1, 22),
        ("UPSIKYU", totals[30] + 1, 21),
    ]


def test_a_count_wrong_among_many_and_a_missing_line() -> None:
    files = _rich_unit(40, 2000)
    parsed = _parsed(files)
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    details = [i for i, r in enumerate(records) if r.service_code[2:].isdigit()]
    details = [i for i in details if records[i].service_code != "999999"]
    wrong = details[77]
    records[wrong] = attrs.evolve(records[wrong], times=records[wrong].times + 1)
    gone = details[101]
    missing_code = records[gone].service_code
    insured = records[gone].insured_no
    kept = [r for i, r in enumerate(records) if i != gone]
    issues = _checked(group_units(files), _with(parsed, name, kept))
    assert _where(issues, "table7.count") == [("UPSIKYU", wrong + 1, 16)]
    plan = parsed[_name(parsed, "UPPLAN")].records
    first = next(
        i for i, r in enumerate(plan) if r.service_code == missing_code and r.insured_no == insured
    )
    assert _where(issues, "table7.missing_detail") == [("UPPLAN_", first + 1, 15)]


# -- several 第7表 files, a 202208 unit, shared columns -----------------------------------------


def test_several_table7_files_are_one_sequence() -> None:
    files = _rich_unit(12, 2000)
    parsed = _parsed(files)
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    (unit,) = group_units(files)
    other = name.replace("_20250325093000", "_20250325093001")
    assert other != name
    cut = len(records) // 2 + 1  # a user's lines split over the two files
    split = {
        **parsed,
        name: attrs.evolve(parsed[name], records=tuple(records[:cut])),
        other: attrs.evolve(parsed[name], name=FileName.parse(other), records=tuple(records[cut:])),
    }
    two = attrs.evolve(unit, files={**unit.files, other: unit.files[name]})
    assert _checked([two], split) == []
    # A wrong 全合計 in the second file is reported in that file, at its own record.
    later = records[cut:]
    row = _totals_of(later)[3]
    later[row] = attrs.evolve(later[row], insurance_claim=later[row].insurance_claim + 7)
    split[other] = attrs.evolve(split[other], records=tuple(later))
    issues = _checked([two], split)
    assert [(i.file, i.record, i.column) for i in issues if i.code == "table7.total_sum"] == [
        (other, row + 1, 26)
    ]


def test_a_202208_unit() -> None:
    files = _rich_unit(8, 2000)
    parsed = {
        name: convert(file, to="202208", allow_month_mismatch=True).file
        for name, file in _parsed(files).items()
    }
    assert all(f.layout.csv_version == "202208" for f in parsed.values())
    units = group_units(files)
    assert _checked(units, parsed) == []
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    assert not hasattr(records[0], "tais_code")
    row = _totals_of(records)[5]
    records[row] = attrs.evolve(records[row], user_copay=records[row].user_copay + 1)
    issues = _checked(units, _with(parsed, name, records))
    column = parsed[name].layout.column("user_copay").no
    assert _where(issues, "table7.total_sum") == [("UPSIKYU", row + 1, column)]


def test_validate_shares_its_columns_and_reports_the_same() -> None:
    # Through `validate` (columns shared with the item rules) and alone: the same issues.
    files = _rich_unit(20, 2000)
    parsed = _parsed(files)
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    row = _totals_of(records)[9]
    records[row] = attrs.evolve(records[row], total_cost=records[row].total_cost - 3)
    changed = {**files, name: write_file(records, name)}
    report = validate(changed)
    alone = check_table7_arithmetic(group_units(changed), _parsed(changed))
    assert [i for i in report.issues if i.code.startswith("table7.")] == alone
    assert _where(alone, "table7.total_sum") == [("UPSIKYU", row + 1, 24)]


def test_one_insured_number_under_two_insurers_is_two_users() -> None:
    # Users are told apart by 被保険者番号 alone only in a file of one 保険者番号 (and month):
    # the second user moved to another insurer under the first one's number stays apart.
    files = _rich_unit(3, 2000)
    parsed = _parsed(files)

    def moved(records: tuple[Any, ...]) -> list[Any]:
        return [
            attrs.evolve(r, insurer_no="131029", insured_no="0000000001")
            if r.insured_no == "0000000002"
            else r
            for r in records
        ]

    for prefix in ("UPPLAN", "UPSIKYU", "UPHOSOKU"):
        name = _name(parsed, prefix)
        parsed = _with(parsed, name, moved(parsed[name].records))
    assert _checked(group_units(files), parsed) == []
    # A wrong 全合計 of the moved user is its own.
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    row = next(
        i for i, r in enumerate(records) if r.service_code == "999999" and r.insurer_no == "131029"
    )
    records[row] = attrs.evolve(records[row], total_cost=records[row].total_cost + 1)
    issues = _checked(group_units(files), _with(parsed, name, records))
    assert _where(issues, "table7.total_sum") == [("UPSIKYU", row + 1, 24)]
