"""The fast paths of the validation rules (issues 11 and 13: validation within 1.5× parsing)
decide what the general paths decide.

Each shortcut is held against the path it short-cuts, on values drawn to hit both its usual
case and the cases that must leave it: `uniform` (a column of one value, told by counting),
the kinds of service codes decided from their joined text, the 第6表 tally's units per line,
and the 第7表 sums of a figure no row states.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from itertools import compress
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from careplan_link import FileName, YearMonth, parse_plan
from careplan_link.format._bundle import group_units
from careplan_link.format._codec import CSV_CODEC
from careplan_link.format._columns import Columns, uniform
from careplan_link.format._model_rules import check_records
from careplan_link.format._table7_calc import tally_by_position, tally_lines
from careplan_link.format._table7_rules import _kind, _kinds, check_table7_arithmetic

from . import rules_reference, table7_reference
from .test_table7_differential import _rich_unit
from .unitfiles import bytes_of, name_of, rows_of, schedule_unit

# -- uniform ----------------------------------------------------------------------------------


def test_uniform_of_one_object_equal_values_and_none() -> None:
    assert uniform([None] * 5)
    assert uniform(("a",))
    one, same = Decimal("1.0"), Decimal("1.00")  # equal, other objects
    assert uniform([one, same, one, one, one])  # the probes (ends, middle) are one object
    assert not uniform([one, one, same, one, one])  # not told: the general path decides
    assert not uniform([])
    assert not uniform([None, None, 0, None, None])  # differs in between, not at the probes
    assert not uniform([1, 1, 1, 2])
    assert not uniform([2, 1, 1, 1])
    assert not uniform([1, 1, 2, 1, 1])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from([None, 0, 1, "1", "a", True]), min_size=1, max_size=40))
def test_uniform_says_true_only_of_one_value(values: list[Any]) -> None:
    """`uniform` says True only of values whose set is `{values[0]}` (1 and True among them
    too), and always of one object throughout."""
    if uniform(values):
        assert len(set(values)) == 1
        assert next(iter(set(values))) is values[0]
    assert uniform([values[0]] * len(values))


def test_a_one_value_column_gives_its_value_as_distinct() -> None:
    files = _rich_unit(3, 2000)
    name = next(n for n in files if n.startswith("UPPLAN_"))
    file = parse_plan(files[name], name=name)
    columns = Columns(file)
    for column in file.layout.columns:
        values = columns[column.attribute]
        assert columns.distinct(column.attribute) == set(values), column.attribute
    assert columns.distinct("insurer_no") == {"131011"}
    assert columns.distinct("tais_code") == {None}


# -- the kinds of service codes -----------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    st.sets(
        st.one_of(
            st.none(),
            st.sampled_from(["999999", "11AAAA", "13EEEE", "15ZZZZ", "", "１２３４５６", "11A"]),
            st.from_regex(r"[0-9A-Z]{2}[0-9]{4}", fullmatch=True),
        ),
        max_size=12,
    )
)
def test_kinds_of_codes_are_each_codes_kind(codes: set[str | None]) -> None:
    assert _kinds(codes) == {code: _kind(code) for code in codes}


# -- the 第6表 tally ------------------------------------------------------------------------


def test_tally_from_columns_counts_as_from_records() -> None:
    """Units per line: a 1-tuple when a line has one 単位数, a set when it has several; the
    same whether the tally reads the records or the columns validation made."""
    files = _rich_unit(5, 2000)
    name = next(n for n in files if n.startswith("UPPLAN_"))
    file = parse_plan(files[name], name=name)
    records = list(file.records)
    # One line with two 単位数 (a later record of user 2's 111211 line).
    second = [i for i, r in enumerate(records) if r.service_code == "111211"][5]
    records[second] = attrs.evolve(records[second], units=250)
    file = attrs.evolve(file, records=tuple(records))
    by_columns = tally_by_position(file.records, Columns(file).__getitem__)
    by_records = tally_by_position(file.records)
    assert by_columns.first == by_records.first
    assert by_columns.times == by_records.times
    assert by_columns.units == by_records.units
    several = [units for units in by_columns.units.values() if len(units) > 1]
    assert several == [{244, 250}]
    # Every line of a file with one 単位数 a line: its 1-tuple.
    plain = tally_by_position(parse_plan(files[name], name=name).records)
    assert all(isinstance(u, tuple) and len(u) == 1 for u in plain.units.values())
    lines = tally_lines(file.records)
    assert sorted(map(len, lines.units.values())) == [1] * (len(lines.units) - 1) + [2]


def test_tally_counts_service_count_and_prorated_days() -> None:
    files = _rich_unit(2, 2000)
    name = next(n for n in files if n.startswith("UPPLAN_"))
    file = parse_plan(files[name], name=name)
    records = list(file.records)
    records[0] = attrs.evolve(records[0], service_count=3)
    records[1] = attrs.evolve(records[1], prorated_days="1" * 5 + "0" * 26)
    file = attrs.evolve(file, records=tuple(records))
    tally = tally_by_position(file.records, Columns(file).__getitem__)
    first = tally.first[next(iter(tally.first))]
    assert tally.times[first] == 3 + 1  # records 0 (3 times) and 1 (once) are one line
    assert tally.days[first] == {1, 2, 3, 4, 5}
    assert list(compress(tally.units, map(len, tally.units.values()))) == list(tally.units)


def test_dates_are_kept_apart_from_months_in_columns() -> None:
    """A column of dates (a hashable C type) gives its distinct values as a set."""
    files = _rich_unit(2, 2000)
    name = next(n for n in files if n.startswith("UPPLAN_"))
    columns = Columns(parse_plan(files[name], name=name))
    assert columns.distinct("service_date") == {
        datetime.date(2025, 4, 1),
        datetime.date(2025, 4, 2),
    }


# -- the 第7表 sums of a figure no row states ---------------------------------------------


def test_limits_with_no_over_units_stated_are_checked_as_the_walk_checks_them() -> None:
    """No row states 区分支給限度を超える単位数 (their sums are all 0, told without summing):
    the users whose lines within the limit add up to more than it are each reported, as the
    record-by-record walk reports them."""
    files = _rich_unit(30, 2000)
    parsed = {name: parse_plan(data, name=name) for name, data in files.items()}
    name = next(n for n in parsed if n.startswith("UPSIKYU"))
    records = [attrs.evolve(r, over_category_limit_units=None) for r in parsed[name].records]
    # User 7's lines within the limit: the 全合計 and the lines carrying money, over 2000.
    totals = [i for i, r in enumerate(records) if r.service_code == "999999"]
    seventh = range(totals[6] + 1, totals[7] + 1)
    for i in seventh:
        if records[i].within_category_limit_units is not None:
            records[i] = attrs.evolve(records[i], within_category_limit_units=1500)
    parsed[name] = attrs.evolve(parsed[name], records=tuple(records))
    units = group_units(files)
    issues = check_table7_arithmetic(units, parsed)
    assert issues == table7_reference.check_table7_arithmetic(units, parsed)
    assert ("table7.limit", totals[7] + 1) in [(i.code, i.record) for i in issues]
    assert len({i.record for i in issues if i.code == "table7.limit"}) == 1


def test_a_table7_of_two_months_holds_two_users_for_one_insured_number() -> None:
    """The months of a 第7表 are numbered from one object when it holds one month; a file of
    two months keeps each user's months apart (each its own 全合計), as the walk does."""
    files = _rich_unit(4, 2000)
    parsed = {name: parse_plan(data, name=name) for name, data in files.items()}
    name = next(n for n in parsed if n.startswith("UPSIKYU"))
    april = list(parsed[name].records)
    may = [attrs.evolve(r, target_month=YearMonth(2025, 5)) for r in april]
    parsed[name] = attrs.evolve(parsed[name], records=(*april, *may))
    units = group_units(files)
    issues = check_table7_arithmetic(units, parsed)
    assert issues == table7_reference.check_table7_arithmetic(units, parsed)
    assert not [i for i in issues if i.code == "table7.total_sum"]
    # One 全合計 of May wrong: found at its record, April's users untouched.
    total = len(april) + max(i for i, r in enumerate(may) if r.service_code == "999999")
    records = list(parsed[name].records)
    records[total] = attrs.evolve(records[total], managed_units=1)
    parsed[name] = attrs.evolve(parsed[name], records=tuple(records))
    issues = check_table7_arithmetic(units, parsed)
    assert issues == table7_reference.check_table7_arithmetic(units, parsed)
    assert {i.record for i in issues if i.code == "table7.total_sum"} == {total + 1}


# -- record rules: a 第7表 of digit codes only, a name held by every record ------------------


def _file_issues_both_ways(files: dict[str, bytes], prefix: str) -> tuple[list[Any], list[Any]]:
    name = name_of(files, prefix)
    file = CSV_CODEC.decode(files[name], FileName.parse(name), name).file
    assert file is not None
    return check_records(file, name), rules_reference.check_records(file, name)


def test_a_subtotal_among_digit_codes_is_a_total_and_none_there_is_none() -> None:
    """The subtotals are looked for only when some code is not all digits: a 第7表 whose
    only letters are one subtotal's still has that subtotal checked (単位数 0)."""
    files = schedule_unit()
    name = name_of(files, "UPSIKYU")
    rows = rows_of(files[name])
    detail = next(i for i, row in enumerate(rows) if row[8] != "999999")
    subtotal = [*rows[detail]]
    subtotal[8] = subtotal[8][:2] + "AAAA"
    subtotal[13] = "5"  # a subtotal's 単位数 is 0
    rows.insert(detail + 1, subtotal)
    subtotals = [detail + 1]
    files[name] = bytes_of(rows, "table7")
    new, old = _file_issues_both_ways(files, "UPSIKYU")
    assert new == old
    assert [i.record for i in new if i.code == "table7.total_units"] == [i + 1 for i in subtotals]
    # Without the subtotals (codes of digits only): no total but the 全合計.
    files[name] = bytes_of([row for i, row in enumerate(rows) if i not in subtotals], "table7")
    new, old = _file_issues_both_ways(files, "UPSIKYU")
    assert new == old
    assert "table7.total_units" not in [i.code for i in new]


def test_a_control_character_in_a_name_every_record_holds_is_found_at_each() -> None:
    files = schedule_unit()
    name = name_of(files, "UPPLAN")
    rows = rows_of(files[name])
    for row in rows:
        row[6] = "佐藤\x07花子"  # 作成者氏名, the same on every record
    files[name] = bytes_of(rows, "table6_plan")
    new, old = _file_issues_both_ways(files, "UPPLAN")
    assert new == old
    found = [(i.record, i.column) for i in new if i.code == "text.control_character"]
    assert found == [(n, 7) for n in range(1, len(rows) + 1)]


def test_a_user_stating_no_limit_figure_is_not_judged_against_the_limit() -> None:
    """Sums are compared with the limits first; only a user whose sums are flagged has its
    stated terms counted, and one stating neither figure is not judged (a limit below 0,
    which the empty sum 0 exceeds, draws no issue for that user; another user's does)."""
    files = _rich_unit(6, 2000)
    parsed = {name: parse_plan(data, name=name) for name, data in files.items()}
    t7 = next(n for n in parsed if n.startswith("UPSIKYU"))
    supplement = next(n for n in parsed if n.startswith("UPHOSOKU"))
    users = [r.insured_no for r in parsed[supplement].records]
    limits = {users[1]: -1, users[4]: -1}
    parsed[supplement] = attrs.evolve(
        parsed[supplement],
        records=tuple(
            attrs.evolve(r, benefit_limit=limits.get(r.insured_no, r.benefit_limit))
            for r in parsed[supplement].records
        ),
    )
    # User 2 (index 1) states no 区分支給限度 figure on any line; user 5 keeps its own.
    blank = {"within_category_limit_units": None, "over_category_limit_units": None}
    parsed[t7] = attrs.evolve(
        parsed[t7],
        records=tuple(
            attrs.evolve(r, **blank) if r.insured_no == users[1] else r for r in parsed[t7].records
        ),
    )
    units = group_units(files)
    issues = check_table7_arithmetic(units, parsed)
    assert issues == table7_reference.check_table7_arithmetic(units, parsed)
    judged = {
        parsed[t7].records[i.record - 1].insured_no for i in issues if i.code == "table7.limit"
    }
    assert judged == {users[4]}
