"""The column-wise 第7表 checks report exactly what the record-by-record walk reported.

`table7_reference.py` is the walk as first written (with Decimal rounding); the checks were
rewritten over columns for speed (issues 11 and 13). Both run here on the same parsed unit with
figures changed at random places, lines in any order and users interleaved, and must give the
same issues in the same order (which decides which of more than `PER_RULE_LIMIT` are listed).
"""

from __future__ import annotations

import datetime
import random
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careplan_link import (
    Issue,
    SupplementRecord,
    Table6PlanRecord,
    YearMonth,
    parse_plan,
)
from careplan_link.format._bundle import group_units
from careplan_link.format._file import CareplanFile
from careplan_link.format._findings import PER_RULE_LIMIT
from careplan_link.format._table7_calc import discounted_units, total_cost
from careplan_link.format._table7_rules import check_table7_arithmetic

from . import table7_reference
from .test_table7_rules import _schedules, _unit

_FIGURES = (
    "units",
    "discount_rate",
    "discounted_units",
    "times",
    "service_unit_amount",
    "managed_units",
    "over_type_limit_units",
    "within_type_limit_units",
    "over_category_limit_units",
    "within_category_limit_units",
    "total_cost",
    "benefit_rate",
    "insurance_claim",
    "user_copay",
    "user_full_payment",
)
_CODES = ("111211", "112211", "131111", "11AAAA", "13EEEE", "11ZZZZ", "999999", None)


def _parsed(files: dict[str, bytes]) -> dict[str, CareplanFile]:
    return {name: parse_plan(data, name=name) for name, data in files.items()}


def _both(files: dict[str, bytes], parsed: dict[str, CareplanFile], strict: bool) -> list[Issue]:
    units = group_units(files)
    new = check_table7_arithmetic(units, parsed, strict=strict)
    old = table7_reference.check_table7_arithmetic(units, parsed, strict=strict)
    assert new == old, ([str(i) for i in new][:8], [str(i) for i in old][:8])
    return new


def _replace(file: CareplanFile, records: list[Any]) -> CareplanFile:
    return attrs.evolve(file, records=tuple(records))


@st.composite
def _changes(draw: st.DrawFn, size: int) -> list[tuple[int, str, Any]]:
    """A few (record, attribute, new value) changes for a file of `size` records."""
    out = []
    for _ in range(draw(st.integers(0, 8))):
        record = draw(st.integers(0, size - 1))
        attribute = draw(st.sampled_from([*_FIGURES, "service_code", "over_30_days"]))
        if attribute == "service_code":
            value: Any = draw(st.sampled_from(_CODES))
        elif attribute == "over_30_days":
            value = draw(st.sampled_from(["0", "1", None]))
        else:
            value = draw(st.one_of(st.none(), st.integers(-3, 3), st.integers(0, 30000)))
        out.append((record, attribute, value))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _schedules(),
    st.sampled_from(["10.00", "10.72", "11.40"]),
    st.sampled_from([90, 80, 70]),
    st.booleans(),
    st.data(),
)
def test_same_issues_as_the_record_by_record_walk(
    schedule: tuple[list[Table6PlanRecord], list[SupplementRecord]],
    price: str,
    rate: int,
    strict: bool,
    data: st.DataObject,
) -> None:
    files = _unit(*schedule, price, rate)
    parsed = _parsed(files)
    totals = next(name for name in parsed if name.startswith("UPSIKYU"))
    plan = next(name for name in parsed if name.startswith("UPPLAN"))
    records = list(parsed[totals].records)
    # Lines in any order (users interleaved, subtotals before their lines) …
    records = data.draw(st.permutations(records)) if data.draw(st.booleans()) else records
    # … and figures changed in the 第7表 and in the 第6表.
    for index, attribute, value in data.draw(_changes(len(records))):
        records[index] = attrs.evolve(records[index], **{attribute: value})
    schedule_records = list(parsed[plan].records)
    if data.draw(st.booleans()):
        schedule_records = data.draw(st.permutations(schedule_records))
    for _ in range(data.draw(st.integers(0, 2))):
        index = data.draw(st.integers(0, len(schedule_records) - 1))
        attribute = data.draw(st.sampled_from(["units", "service_count", "service_code"]))
        value = data.draw(
            st.sampled_from(_CODES[:3])
            if attribute == "service_code"
            else st.one_of(st.none(), st.integers(0, 3))
        )
        schedule_records[index] = attrs.evolve(schedule_records[index], **{attribute: value})
    parsed[totals] = _replace(parsed[totals], records)
    parsed[plan] = _replace(parsed[plan], schedule_records)
    _both(files, parsed, strict)


def _rich_unit(users: int, limit: int) -> dict[str, bytes]:
    """Each user: two codes of type 11 (a block with its AAAA subtotal carrying the money),
    one of type 13 and one of type 15 (lines carrying their own), the limit `limit`."""
    base = Table6PlanRecord(
        insurer_no="131011",
        created_date=datetime.date(2025, 3, 25),
        target_month=YearMonth(2025, 4),
        plan_office_no="1370100016",
        planner_name="佐藤",
        units=244,
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
            service_code=code,
            units=units,
            service_date=datetime.date(2025, 4, day),
        )
        for user in range(users)
        for code, units in (("111211", 244), ("112211", 387), ("131111", 567), ("151111", 98))
        for day in (1, 2)
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
    return _unit(plan, supplements, "11.40", 90)


def test_same_issues_for_every_single_change() -> None:
    # Every figure of every line of a small unit, changed one at a time (+1, empty, 0), and
    # the codes and ３０日超区分 that decide what sums what.
    files = _rich_unit(2, 2000)
    parsed = _parsed(files)
    totals = next(name for name in parsed if name.startswith("UPSIKYU"))
    records = parsed[totals].records
    changes: list[tuple[int, str, Any]] = [
        (index, attribute, value)
        for index, record in enumerate(records)
        for attribute in _FIGURES
        for value in {
            None,
            0,
            (getattr(record, attribute) or 0) + 1,
            (getattr(record, attribute) or 0) - 1,
        }
    ]
    changes += [
        (index, attribute, value)
        for index in range(len(records))
        for attribute, values in (("service_code", _CODES), ("over_30_days", ("0", "1", None)))
        for value in values
    ]
    reported = 0
    for index, attribute, value in changes:
        changed = list(records)
        changed[index] = attrs.evolve(changed[index], **{attribute: value})
        for strict in (False, True):
            reported += bool(
                _both(files, {**parsed, totals: _replace(parsed[totals], changed)}, strict)
            )
    # Most changes are found (a few figures, e.g. an empty optional one, are not checked).
    assert reported > len(changes)


def test_same_issues_past_the_per_rule_limit() -> None:
    # 150 users, every money figure off by one, lines shuffled: which 100 of each rule are
    # listed depends on the order the checks report in (subtotals before lines, block by
    # block, user by user).
    files = _rich_unit(150, 1500)
    parsed = _parsed(files)
    totals = next(name for name in parsed if name.startswith("UPSIKYU"))
    records = list(parsed[totals].records)
    random.Random(7).shuffle(records)
    records = [
        attrs.evolve(r, total_cost=r.total_cost + 1, user_full_payment=7)
        if r.total_cost is not None
        else r
        for r in records
    ]
    parsed[totals] = _replace(parsed[totals], records)
    found = _both(files, parsed, strict=False)
    # … and against a shuffled 第6表 (users interleaved), every 回数 off by one and every
    # second line missing from the 第7表.
    plan = next(name for name in parsed if name.startswith("UPPLAN"))
    schedule = list(parsed[plan].records)
    random.Random(11).shuffle(schedule)
    parsed[plan] = _replace(parsed[plan], schedule)
    details = [r for r in records if r.service_code[2:].isdigit() and r.service_code != "999999"]
    kept = [r for r in records if r not in details[::2]]
    parsed[totals] = _replace(
        parsed[totals], [attrs.evolve(r, times=(r.times or 0) + 1) for r in kept]
    )
    found += _both(files, parsed, strict=False)
    for code in (
        "table7.total_cost",
        "table7.full_payment",
        "table7.count",
        "table7.missing_detail",
    ):
        listed = [i for i in found if i.code == code and i.record is not None]
        assert len(listed) >= PER_RULE_LIMIT, code
        assert any(i.code == code and i.record is None for i in found)


def test_integer_rounding_matches_decimal() -> None:
    # The rules in integers (no Decimal a line) against their Decimal statement.
    from decimal import ROUND_FLOOR, ROUND_HALF_UP

    rng = random.Random(13)
    for _ in range(2000):
        units, rate = rng.randint(-99999, 99999), rng.randint(0, 100)
        exact = (Decimal(units) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        assert discounted_units(units, rate) == int(exact), (units, rate)
        price = Decimal(rng.randint(1000, 11400)) / 100
        expected = (units * price).to_integral_value(rounding=ROUND_FLOOR)
        assert total_cost(units, price) == int(expected), (units, price)
    assert discounted_units(244, 90) == 220 and discounted_units(-5, 50) == -3
    assert total_cost(123, Decimal("10.72")) == 1318 and total_cost(-1, Decimal("10.5")) == -11
