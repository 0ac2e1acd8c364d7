"""The 第7表 checks' bulk paths (issues 11 and 13, the arithmetic's cost in the file of one line a
user): each is taken where its premise holds, and what it passes over is really right.

The checks key the 第6表 against the 第7表 on the key items that vary (the rest one value in
both files), compare the two files' lines in order when they line up, test the money and the
detail figures column by column where every figure is stated on all rows or on none, number
users by runs when each user's rows are together, and read evenly spaced rows as a slice. Each
test here puts a unit where such a premise fails, or holds with one figure wrong, and compares
the issues with the record-by-record walk (`table7_reference.py`) and with the checks run
without shared columns (`_checked`).
"""

from __future__ import annotations

import datetime
import random
from decimal import Decimal
from operator import itemgetter
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careplan_link import SupplementRecord, Table6PlanRecord, YearMonth
from careplan_link.format import _table7_rules
from careplan_link.format._bundle import group_units
from careplan_link.format._columns import ColumnsOf
from careplan_link.format._file import CareplanFile
from careplan_link.format._reader import read_leniently
from careplan_link.format._table7_calc import tally_by_position
from careplan_link.format._table7_rules import (
    _Check,
    _limits,
    _money_loop,
    _money_suspects,
    _monthly,
    _picker,
)

from .test_table7_differential import _rich_unit
from .test_table7_fast_paths import _checked, _name, _where, _with
from .test_table7_rules import _unit

_PRICE = "11.40"


def _parsed(files: dict[str, bytes]) -> dict[str, CareplanFile]:
    """The files read as `validate` reads them: equal texts of a column are one object, so a
    column of one value is told in C (`uniform`), as the bulk paths expect."""
    return {name: read_leniently(data, name=name).file for name, data in files.items()}


def _one_line_a_user(
    users: int, *, records_a_line: int = 1, limit: int = 40000, lines_a_user: int = 1
) -> dict[str, bytes]:
    """The benchmark's *distinct* shape: each user one line (one code, a code a user), each
    line `records_a_line` 第6表 records; its 第7表 one detail and one 全合計 a user. With
    `lines_a_user` up to 3, each user has lines of as many service types (no 種類別小計)."""
    base = Table6PlanRecord(
        insurer_no="131011",
        created_date=datetime.date(2025, 3, 25),
        target_month=YearMonth(2025, 4),
        plan_office_no="1370100016",
        planner_name="佐藤",
        service_count=1,
        provider_office_no="1370200022",
        provider_name="すみれ",
        over_30_days="0",
        updater_office_no="1370100016",
    )
    plan = [
        attrs.evolve(
            base,
            insured_no=f"{user + 1:010d}",
            service_code=f"{('11', '13', '15')[(user + line) % 3]}{1000 + user:04d}",
            units=100 + user,
            service_date=datetime.date(2025, 4, day + 1),
        )
        for user in range(users)
        for line in range(lines_a_user)
        for day in range(records_a_line)
    ]
    supplements = [
        SupplementRecord(
            insurer_no="131011",
            insured_no=f"{user + 1:010d}",
            benefit_limit=limit,
            target_month=YearMonth(2025, 4),
        )
        for user in range(users)
    ]
    return _unit(plan, supplements, _PRICE, 90)


_SHAPES = {
    "one line a user": lambda: _one_line_a_user(24),
    "several records a line": lambda: _one_line_a_user(24, records_a_line=3),
    "several lines a user": lambda: _one_line_a_user(16, records_a_line=2, lines_a_user=3),
    "subtotals (rich)": lambda: _rich_unit(12, 40000),
}


def _check_of(parsed: dict[str, CareplanFile]) -> tuple[_Check, CareplanFile]:
    """The unit's `_Check` with shared columns, and its 第6表 file."""
    table7 = [parsed[_name(parsed, "UPSIKYU")]]
    table6 = parsed[_name(parsed, "UPPLAN")]
    columns_of = ColumnsOf()
    supplements = [parsed[_name(parsed, "UPHOSOKU")]]
    limits = _limits(supplements, columns_of, True)
    return _Check(table7, [table6], limits, False, columns_of, True), table6


def _details(records: list[Any]) -> list[int]:
    return [
        i
        for i, r in enumerate(records)
        if r.service_code != "999999" and not r.service_code.endswith(("AAAA", "EEEE", "ZZZZ"))
    ]


# -- the usual files take the bulk paths ----------------------------------------------------------


@pytest.mark.parametrize("shape", list(_SHAPES))
def test_usual_files_take_the_bulk_paths(shape: str) -> None:
    files = _SHAPES[shape]()
    parsed = _parsed(files)
    assert _checked(group_units(files), parsed) == []
    check, table6 = _check_of(parsed)
    # The 第6表 agrees in bulk (no dict of full keys), the details too.
    assert check._agrees_in_bulk(table6) is True
    assert check._details_in_bulk() == []
    if shape != "subtotals (rich)":
        # Every user's rows are one run: numbered by runs, the runs' ends known already.
        assert check._runs_made is not None and check._runs_made[0] is None
        rows = 4 if shape == "several lines a user" else 2
        assert check.user_no == [row // rows for row in range(len(check.user_no))]


def test_lines_are_keyed_on_the_items_that_vary(monkeypatch: pytest.MonkeyPatch) -> None:
    # Several records a line: the 第6表 is counted by line on 被保険者番号 and サービスコード
    # alone (the 保険者番号, office, empty items and month are one value in both files).
    keyed: list[Any] = []

    def tally(*args: Any, **kwargs: Any) -> Any:
        keyed.append(kwargs.get("names"))
        return tally_by_position(*args, **kwargs)

    monkeypatch.setattr(_table7_rules, "tally_by_position", tally)
    # Of サービス回数 1 each, the lines are not tallied but looked up on the same items.
    lookup = _Check._agrees_by_lookup

    def looked_up(self: _Check, columns: Any, varying: Any) -> bool:
        keyed.append(list(varying))
        return lookup(self, columns, varying)

    monkeypatch.setattr(_Check, "_agrees_by_lookup", looked_up)
    files = _one_line_a_user(10, records_a_line=2)
    parsed = _parsed(files)
    check, table6 = _check_of(parsed)
    assert check._agrees_in_bulk(table6) is True
    assert keyed == [["insured_no", "service_code"]]
    # One office differing in the 第6表: the office is keyed too, and the line is missing.
    plan = _name(parsed, "UPPLAN")
    records = list(parsed[plan].records)
    records[5] = attrs.evolve(records[5], provider_office_no="1370300038")
    keyed.clear()
    issues = _checked(group_units(files), _with(parsed, plan, records))
    assert keyed[0] == ["insured_no", "provider_office_no", "service_code"]
    assert _where(issues, "table7.missing_detail") == [("UPPLAN_", 6, 15)]


def test_a_unit_of_one_line_takes_the_full_path() -> None:
    # No key item varies (one user, one line): not worth a shortcut, nothing wrong either.
    files = _one_line_a_user(1)
    parsed = _parsed(files)
    check, table6 = _check_of(parsed)
    assert check._agrees_in_bulk(table6) is False
    assert _checked(group_units(files), parsed) == []


# -- against the 第6表: each premise broken, or held with one figure wrong --------------------


def _table6_changes(records: list[Any]) -> dict[str, list[Any]]:
    """Changed copies of a 第6表 (the lines of a user a line, in order)."""
    one = len(records) // 2
    shuffled = list(records)
    random.Random(7).shuffle(shuffled)
    return {
        "units": [*records[:one], attrs.evolve(records[one], units=1), *records[one + 1 :]],
        "count": [*records[:one], attrs.evolve(records[one], service_count=2), *records[one + 1 :]],
        "empty count": [
            *records[:one],
            attrs.evolve(records[one], service_count=None),
            *records[one + 1 :],
        ],
        "prorated": [
            *records[:one],
            attrs.evolve(records[one], prorated_days="1" * 3 + "0" * 28),
            *records[one + 1 :],
        ],
        "monthly code": [
            *records[:one],
            attrs.evolve(records[one], service_code="171111"),
            *records[one + 1 :],
        ],
        "dropped": [*records[:one], *records[one + 1 :]],  # its user's 第7表 line stays
        "added line": [
            *records[: one + 1],
            attrs.evolve(records[one], service_code="111211"),
            *records[one + 1 :],
        ],
        "shuffled": shuffled,
        "other office": [attrs.evolve(r, provider_office_no="1370300038") for r in records],
        "one other office": [
            *records[:one],
            attrs.evolve(records[one], provider_office_no="1370300038"),
            *records[one + 1 :],
        ],
        "other insurer": [attrs.evolve(r, insurer_no="131029") for r in records],
        "over 30 days": [
            *records[:one],
            attrs.evolve(records[one], over_30_days="1"),
            *records[one + 1 :],
        ],
    }


def _plus(value: int | None, change: int) -> int:
    return (value or 0) + change


def _table7_changes(records: list[Any]) -> dict[str, list[Any]]:
    """Changed copies of a 第7表 (details and 全合計 of a user a line)."""
    details = _details(records)
    row = details[len(details) // 2]
    shuffled = list(records)
    random.Random(11).shuffle(shuffled)

    def at(row: int, **changes: Any) -> list[Any]:
        return [*records[:row], attrs.evolve(records[row], **changes), *records[row + 1 :]]

    detail = records[row]
    return {
        "units": at(row, units=_plus(detail.units, 1)),
        "discounted": at(row, discount_rate=90, discounted_units=_plus(detail.units, 0) * 9 // 10),
        "times": at(row, times=_plus(detail.times, 1)),
        "no times": at(row, times=None),
        "amount": at(row, service_unit_amount=_plus(detail.managed_units, 1)),
        "managed": at(row, managed_units=_plus(detail.managed_units, 1)),
        "no managed": at(row, managed_units=None),
        "within": at(
            row, within_category_limit_units=_plus(detail.within_category_limit_units, -1)
        ),
        "over and within": at(
            row,
            over_category_limit_units=5,
            within_category_limit_units=_plus(detail.within_category_limit_units, -5),
        ),
        "type split": at(row, over_type_limit_units=3, within_type_limit_units=1),
        "cost": at(row, total_cost=_plus(detail.total_cost, 1)),
        "claim": at(row, insurance_claim=_plus(detail.insurance_claim, -1)),
        "one copay": at(row, user_copay=0),
        "one full payment": at(row, user_full_payment=7),
        "over 30 days": at(row, over_30_days="1"),
        "price": at(row, unit_price=Decimal("10.72")),
        "no price": at(row, unit_price=None),
        "code": at(row, service_code="151111"),
        "satellite": at(row, satellite_no="01"),
        "tais": at(row, tais_code="00170-000001"),
        "insured": at(row, insured_no="0000009999"),
        "extra line": [*records[: row + 1], records[row], *records[row + 1 :]],
        "extra add-on": [
            *records[: row + 1],
            attrs.evolve(detail, service_code="116100", managed_units=None),
            *records[row + 1 :],
        ],
        "dropped line": [*records[:row], *records[row + 1 :]],
        "shuffled": shuffled,
        "split user": [*records[2:4], *records[:2], *records[4:]],
    }


@pytest.mark.parametrize(
    "shape", ["one line a user", "several records a line", "several lines a user"]
)
def test_each_table6_change_reports_as_the_walk(shape: str) -> None:
    files = _SHAPES[shape]()
    parsed = _parsed(files)
    units = group_units(files)
    plan = _name(parsed, "UPPLAN")
    reported = {}
    for change, records in _table6_changes(list(parsed[plan].records)).items():
        reported[change] = _checked(units, _with(parsed, plan, records))
    # Not vacuous: each change that breaks agreement is found (a 単位数 differing between
    # the records of a line is not computable: decisions.md).
    found = ["count", "added line", "other office", "other insurer", "one other office"]
    for change in [*found, *(["units"] if shape == "one line a user" else [])]:
        assert reported[change], change
    assert reported["shuffled"] == []  # lines in another order are the same lines


@pytest.mark.parametrize("shape", list(_SHAPES))
def test_each_table7_change_reports_as_the_walk(shape: str) -> None:
    files = _SHAPES[shape]()
    parsed = _parsed(files)
    units = group_units(files)
    name = _name(parsed, "UPSIKYU")
    reported = {}
    for change, records in _table7_changes(list(parsed[name].records)).items():
        reported[change] = _checked(units, _with(parsed, name, records), strict=True)
    for change in ("units", "times", "amount", "managed", "within", "cost", "claim", "code"):
        assert reported[change], change
    assert reported["shuffled"] == []


def test_a_wrong_copy_in_bulk_is_found_at_its_record_and_column() -> None:
    files = _one_line_a_user(30)
    parsed = _parsed(files)
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    row = _details(records)[17]
    records[row] = attrs.evolve(records[row], times=records[row].times + 1)
    issues = _checked(group_units(files), _with(parsed, name, records))
    assert ("UPSIKYU", row + 1, 16) in _where(issues, "table7.count")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_changes_to_a_unit_of_one_line_a_user(data: st.DataObject) -> None:
    files = _one_line_a_user(8, records_a_line=data.draw(st.sampled_from([1, 2])))
    parsed = _parsed(files)
    name, plan = _name(parsed, "UPSIKYU"), _name(parsed, "UPPLAN")
    records, schedule = list(parsed[name].records), list(parsed[plan].records)
    for _ in range(data.draw(st.integers(0, 4))):
        row = data.draw(st.integers(0, len(records) - 1))
        attribute = data.draw(
            st.sampled_from(
                [
                    "units",
                    "times",
                    "managed_units",
                    "service_unit_amount",
                    "within_category_limit_units",
                    "over_category_limit_units",
                    "total_cost",
                    "insurance_claim",
                    "user_copay",
                    "insured_no",
                    "service_code",
                    "provider_office_no",
                    "over_30_days",
                ]
            )
        )
        value: Any
        if attribute == "insured_no":
            value = data.draw(st.sampled_from(["0000000001", "0000000003", "0000000099"]))
        elif attribute == "service_code":
            value = data.draw(st.sampled_from(["111000", "131001", "171111", "11AAAA", "999999"]))
        elif attribute == "provider_office_no":
            value = data.draw(st.sampled_from(["1370200022", "1370300038", None]))
        elif attribute == "over_30_days":
            value = data.draw(st.sampled_from(["0", "1", None]))
        else:
            value = data.draw(st.one_of(st.none(), st.integers(0, 3), st.integers(0, 30000)))
        records[row] = attrs.evolve(records[row], **{attribute: value})
    if data.draw(st.booleans()):
        records = data.draw(st.permutations(records))
    for _ in range(data.draw(st.integers(0, 2))):
        row = data.draw(st.integers(0, len(schedule) - 1))
        attribute = data.draw(st.sampled_from(["units", "service_count", "insured_no"]))
        value = (
            "0000000002"
            if attribute == "insured_no"
            else data.draw(st.one_of(st.none(), st.integers(0, 3)))
        )
        schedule[row] = attrs.evolve(schedule[row], **{attribute: value})
    if data.draw(st.booleans()):
        schedule = data.draw(st.permutations(schedule))
    changed = _with(_with(parsed, name, records), plan, schedule)
    _checked(group_units(files), changed, strict=data.draw(st.booleans()))


# -- the 区分支給限度基準額 keyed by 被保険者番号 --------------------------------------------------


def test_limits_of_another_insurer_are_not_read() -> None:
    # The supplement's users are of one insurer (keyed by 被保険者番号 alone); a 第7表 of
    # another insurer's users with the same numbers has no limit, one of both insurers has
    # limits for the first insurer's users only.
    files = _one_line_a_user(6)
    parsed = _parsed(files)
    units = group_units(files)
    supplement = _name(parsed, "UPHOSOKU")
    lower = [attrs.evolve(r, benefit_limit=10) for r in parsed[supplement].records]
    parsed = _with(parsed, supplement, lower)  # every user over the limit
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    assert len(_where(_checked(units, parsed), "table7.limit")) == 6
    other = [attrs.evolve(r, insurer_no="131029") for r in records]
    assert _where(_checked(units, _with(parsed, name, other)), "table7.limit") == []
    mixed = [*other[:4], *records[4:]]
    assert len(_where(_checked(units, _with(parsed, name, mixed)), "table7.limit")) == 4
    # A supplement of two insurers: keyed by both.
    two = list(parsed[supplement].records)
    two[0] = attrs.evolve(two[0], insurer_no="131029")
    issues = _checked(units, _with(_with(parsed, name, mixed), supplement, two))
    assert len(_where(issues, "table7.limit")) == 5  # and the other insurer's first user


# -- the money rules column by column --------------------------------------------------------------

_MONEY = (
    "managed",
    "over_type",
    "within_type",
    "over",
    "within",
    "amount",
    "over_30",
    "price",
    "cost",
    "rate",
    "claim",
    "copay",
    "full",
)


def _figure(kind: str) -> Any:
    if kind == "over_30":
        return st.sampled_from(["0", "1", None])
    if kind == "price":
        return st.sampled_from([Decimal("11.40"), Decimal("10.72"), Decimal("10"), None])
    return st.one_of(st.none(), st.integers(0, 40), st.integers(0, 2000))


@st.composite
def _money_columns(draw: st.DrawFn) -> tuple[list[int], list[list[Any]]]:
    """Rows and the 13 money columns; each column of one of four kinds: all stated, all
    empty, one value (right or wrong), or anything (empty on some rows)."""
    size = draw(st.integers(1, 12))
    columns = []
    for kind in _MONEY:
        how = draw(st.sampled_from(["stated", "empty", "one", "any"]))
        if how == "empty":
            column: list[Any] = [None] * size
        elif how == "one":
            value = draw(_figure(kind).filter(lambda v: v is not None))
            column = [value] * size
        else:
            column = draw(st.lists(_figure(kind), min_size=size, max_size=size))
            if how == "stated":
                column = [v if v is not None else 1 for v in column]
        columns.append(column)
    rows = sorted(draw(st.sets(st.integers(0, size - 1), min_size=0)))
    return rows, columns


def _consistent(size: int, seed: int) -> list[list[Any]]:
    """Money columns that satisfy every rule (the usual file), one price object."""
    rng = random.Random(seed)
    price = Decimal("11.40")
    managed = [rng.randint(1, 5000) for _ in range(size)]
    cost = [m * 114 // 10 for m in managed]
    claim = [c * 90 // 100 for c in cost]
    empty: list[Any] = [None] * size
    return [
        managed,
        empty,
        empty,
        empty,
        list(managed),
        empty,
        ["0"] * size,
        [price] * size,
        cost,
        [90] * size,
        claim,
        [c - k for c, k in zip(cost, claim, strict=True)],
        empty,
    ]


@settings(max_examples=50, deadline=None)
@given(_money_columns())
def test_money_in_bulk_fails_the_rows_the_loop_fails(
    drawn: tuple[list[int], list[list[Any]]],
) -> None:
    rows, columns = drawn
    assert _money_suspects(rows, *columns) == _money_loop(rows, *columns)


def test_money_in_bulk_over_a_usual_file_with_odd_rows() -> None:
    columns = _consistent(200, 1)
    rows = list(range(0, 200, 2))  # evenly spaced (read as a slice)
    assert _money_suspects(rows, *columns) == _money_loop(rows, *columns) == []
    # One wrong figure of each rule; a row with an empty copay among stated ones, one with
    # ３０日超区分 "1", one with a price of its own: the same rows as the loop.
    wrong = [list(column) for column in columns]
    for row, index, value in (
        (4, 4, 1),  # within
        (10, 8, 3),  # cost
        (20, 10, 5),  # claim
        (30, 11, 0),  # copay
        (40, 11, None),  # copay empty on one row
        (50, 6, "1"),  # ３０日超
        (60, 7, Decimal("10.72")),  # price
        (61, 8, 0),  # a row not among `rows`
    ):
        wrong[index][row] = value
    found = _money_suspects(rows, *wrong)
    assert found == _money_loop(rows, *wrong)
    assert {4, 10, 20, 30, 60} <= set(found)
    assert 61 not in found


# -- helpers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rows",
    [[0, 2, 4, 6], [1, 4, 7], [3, 4, 5, 6], [0, 2, 5], [0, 2, 4, 7], [5, 9], [8], [], [2, 2, 2]],
)
def test_picker_reads_the_rows(rows: list[int]) -> None:
    values = tuple(range(100, 110))
    for column in (values, list(values)):
        assert list(_picker(rows)(column)) == [column[g] for g in rows]
        assert list(_picker(tuple(rows))(column)) == [column[g] for g in rows]


def test_evenly_spaced_rows_are_read_as_a_slice() -> None:
    assert repr(_picker([1, 3, 5, 7])) == repr(itemgetter(slice(1, 8, 2)))
    assert repr(_picker([1, 3, 5, 8])) == repr(itemgetter(1, 3, 5, 8))


def test_monthly_codes_are_told_over_the_codes_joined() -> None:
    assert _monthly({"111211", "171111", None})
    assert _monthly({"670000"})
    assert not _monthly({"111211", "131711", "117111", None})
    assert not _monthly(set())
    # A code holding a line break may seem monthly: a closer look, never a missed one.
    assert _monthly({"11\n17"})


def test_several_runs_of_one_user_are_one_user() -> None:
    # A user whose rows come in two runs (A B A): numbered by first appearance, not by runs.
    files = _one_line_a_user(5)
    parsed = _parsed(files)
    name = _name(parsed, "UPSIKYU")
    records = list(parsed[name].records)
    split = [records[0], *records[2:6], records[1], *records[6:]]  # user 1's 全合計 later
    changed = _with(parsed, name, split)
    assert _checked(group_units(files), changed) == []
    check, _ = _check_of(changed)
    assert check.user_count == 5
    assert check.user_no[:6] == [0, 1, 1, 2, 2, 0]
    wrong = list(split)
    wrong[5] = attrs.evolve(wrong[5], total_cost=wrong[5].total_cost + 1)
    issues = _checked(group_units(files), _with(parsed, name, wrong))
    assert _where(issues, "table7.total_sum") == [("UPSIKYU", 6, 24)]


@pytest.mark.parametrize("names", [["insured_no"], ["insured_no", "service_code"]])
def test_tally_on_some_items_reads_records_as_columns(names: list[str]) -> None:
    # Keyed on some items: from the records or from their columns, the same lines, in the
    # same order, each key a tuple (one item too), counted alike.
    files = _one_line_a_user(6, records_a_line=2)
    plan = _parsed(files)[_name(_parsed(files), "UPPLAN")]
    by_records = tally_by_position(plan.records, names=names)
    by_columns = tally_by_position(plan.records, ColumnsOf()(plan).__getitem__, names=names)
    assert by_records == by_columns
    records = plan.records[::2]  # a line's first record (two records a line, one a user)
    assert list(by_records.first) == [tuple(getattr(r, n) for n in names) for r in records]
    assert set(by_records.times.values()) == {2}


def test_money_of_days_beyond_30_is_tested_row_by_row() -> None:
    # ３０日超区分 "1" moves サービス単位／金額 from the insured 費用総額 to the full payment:
    # a row of it among usual rows (no 給付管理単位数, no split: 費用総額 from the amount)
    # is right when its 費用総額 is empty of the amount and its full payment holds it.
    size = 6
    price = Decimal("11.40")
    amount = [100 * (row + 1) for row in range(size)]
    cost: list[Any] = [a * 114 // 10 for a in amount]
    full: list[Any] = [0] * size  # stated on every row: only the "1" row is odd
    over_30 = ["0"] * size
    over_30[3], cost[3], full[3] = "1", 0, amount[3] * 114 // 10
    empty: list[Any] = [None] * size
    columns = [empty, empty, empty, empty, empty, amount, over_30, [price] * size, cost]
    columns += [empty, empty, empty, full]
    rows = list(range(size))
    assert _money_loop(rows, *columns) == []
    assert _money_suspects(rows, *columns) == []
    full[3] += 1
    assert _money_suspects(rows, *columns) == _money_loop(rows, *columns) == [3]
