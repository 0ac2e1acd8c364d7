"""`build_table7`: the 第7表 computed from the 第6表, with worked examples of the rules."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careplan_link import (
    NOT_COMPUTABLE,
    Discount,
    SupplementRecord,
    Table6ActualRecord,
    Table6PlanRecord,
    Table6PlanV3Record,
    Table7Line,
    Table7Record,
    Table7Sheet,
    Table7V3Record,
    YearMonth,
    build_table7,
    parse_plan,
)
from careplan_link.format._table7_calc import (
    benefit_claim,
    discounted_units,
    expected_times,
    tally_lines,
    total_cost,
)

from . import table7_calc_reference
from .unitfiles import EXAMPLES

OFFICE = "1370200022"


def row(code: str, units: int | None, day: int = 1, **changes: Any) -> Table6PlanRecord:
    """One valid 第6表 record of user 0000012345 in April 2025 (service count 1)."""
    base = Table6PlanRecord(
        insurer_no="131011",
        insured_no="0000012345",
        created_date=datetime.date(2025, 3, 25),
        target_month=YearMonth(2025, 4),
        plan_office_no="1370100016",
        planner_name="佐藤",
        units=units,
        service_date=datetime.date(2025, 4, day),
        start_time=datetime.time(10, 0),
        end_time=datetime.time(11, 0),
        service_count=1,
        service_code=code,
        provider_office_no=OFFICE,
        provider_name="すみれ",
        over_30_days="0",
    )
    return attrs.evolve(base, **changes)


def line(sheet: Table7Sheet, code: str) -> Table7Line:
    (found,) = [ln for ln in sheet.lines if ln.service_code == code]
    return found


# -- the rules, one at a time -------------------------------------------------------------------


def test_rounding_rules() -> None:
    # 費用総額: 1円未満切り捨て (not rounded): 1 unit at 10.72 is 10 yen; 1,318.56 → 1,318.
    assert total_cost(1, Decimal("10.72")) == 10
    assert total_cost(123, Decimal("10.72")) == 1318
    # 請求額: 費用総額 × 給付率, 1円未満切り捨て: 244,755 × 90% = 220,279.5 → 220,279.
    assert benefit_claim(244_755, 90) == 220_279
    assert benefit_claim(13_908, 90) == 12_517
    # 割引後単位数: 四捨五入 (half up, away from zero for reductions).
    assert discounted_units(395, 90) == 356  # 355.5
    assert discounted_units(394, 95) == 374  # 374.3
    assert discounted_units(-30, 95) == -29  # -28.5


def test_times_rules() -> None:
    assert expected_times("111211", 8, frozenset()) == (8, "count")
    assert expected_times("171001", 4, frozenset()) == (1, "monthly")
    assert expected_times("731111", 12, frozenset()) == (1, "monthly")
    assert expected_times("111211", 3, frozenset({1, 2, 3, 4, 5})) == (5, "daily")
    assert expected_times("A21111", 3, frozenset(), monthly={"A21111"}) == (1, "monthly")


# -- worked examples ---------------------------------------------------------------------------


def test_shipped_example_is_recomputed() -> None:
    """examples/: 身体介護1 (244 units) 5 times at 11.40 yen and 90%: 13,908 / 12,517 / 1,391."""
    plan = parse_plan(next(EXAMPLES.glob("UPPLAN_*")))
    supplement = parse_plan(next(EXAMPLES.glob("UPHOSOKU_*")))
    stated = parse_plan(next(EXAMPLES.glob("UPSIKYU_*")))
    supplements = [r for r in supplement.records if isinstance(r, SupplementRecord)]
    sheets = build_table7(plan.records, supplements=supplements, from_table7=stated.records)
    assert [(s.insured_no, len(s.lines)) for s in sheets] == [("0000012345", 4), ("H123456789", 4)]
    sheet = sheets[0]
    visit = line(sheet, "111211")
    assert (visit.units, visit.times, visit.service_unit_amount, visit.managed_units) == (
        244, 5, 1220, 1220,
    )  # fmt: skip
    subtotal = line(sheet, "11AAAA")
    assert subtotal.figure(22) == 1220 and subtotal.figure(23) == Decimal("11.40")
    assert [subtotal.figure(no) for no in (24, 25, 26, 28)] == [13_908, 90, 12_517, 1_391]
    # 116275 is a rate add-on with no units in the 第6表: not computable, never guessed.
    rate_line = line(sheet, "116275")
    assert rate_line.units is NOT_COMPUTABLE and rate_line.total_cost is NOT_COMPUTABLE
    assert "率加減算" in rate_line.reasons[0]
    total = sheet.grand_total
    assert (total.service_code, total.provider_office_no) == ("999999", "9999999999")
    assert total.managed_units == 1220 and total.within_category_limit_units == 1220
    assert total.total_cost is NOT_COMPUTABLE  # the rate add-on's money is unknown
    assert not sheet.computable


def test_short_stay_example_of_the_kisairei() -> None:
    """サービス利用票別表の記載例 33-1 (MHLW, 短期入所生活介護, 要介護3, 11.10 yen, 90%):
    単独短期生活Ⅰ3 755 × 30 = 22,650, 長期利用者提供減算 -30 × 20 = -600, 合計 22,050 →
    費用総額 244,755, 請求額 220,279, 利用者負担 24,476; サービス提供体制加算Ⅰ1 18 × 30 = 540
    outside the limit → 5,994 / 5,394 / 600."""
    records = [
        *(row("211131", 755, day) for day in range(1, 31)),
        *(row("216283", -30, day) for day in range(11, 31)),
        *(row("216100", 18, day) for day in range(1, 31)),
    ]
    (sheet,) = build_table7(
        records,
        unit_price=Decimal("11.10"),
        benefit_rate=90,
        limit=26_931,
        exempt_codes={"216100"},
    )
    assert [ln.service_code for ln in sheet.lines] == [
        "211131", "216283", "216100", "21AAAA", "999999",
    ]  # fmt: skip
    assert line(sheet, "211131").service_unit_amount == 22_650
    assert line(sheet, "216283").service_unit_amount == -600
    subtotal = line(sheet, "21AAAA")
    assert [subtotal.figure(no) for no in (17, 18, 21, 22)] == [22_050, 22_050, None, 22_050]
    assert [subtotal.figure(no) for no in (24, 26, 28)] == [244_755, 220_279, 24_476]
    add_on = line(sheet, "216100")
    assert add_on.managed_units is None and add_on.service_unit_amount == 540
    assert [add_on.figure(no) for no in (24, 26, 28)] == [5_994, 5_394, 600]
    total = sheet.grand_total
    assert [total.figure(no) for no in (18, 22, 24, 26, 28)] == [
        22_050, 22_050, 250_749, 225_673, 25_076,
    ]  # fmt: skip
    assert sheet.computable


def test_over_the_limit_is_taken_from_the_last_rows() -> None:
    records = [
        *(row("111211", 400, day) for day in (1, 2)),  # 800
        *(row("151111", 250, day, provider_office_no="1370300038") for day in (3, 4)),  # 500
    ]
    (sheet,) = build_table7(records, unit_price="10.00", benefit_rate=90, limit=1000)
    visit, day_care = line(sheet, "111211"), line(sheet, "151111")
    assert (visit.over_category_limit_units, visit.within_category_limit_units) == (None, 800)
    assert (day_care.over_category_limit_units, day_care.within_category_limit_units) == (300, 200)
    assert day_care.total_cost == 2000 and day_care.user_full_payment == 3000
    assert sheet.grand_total.over_category_limit_units == 300
    assert sheet.grand_total.within_category_limit_units == 1000


def test_service_type_limit_from_the_supplement() -> None:
    supplement = SupplementRecord(
        insurer_no="131011",
        insured_no="0000012345",
        benefit_limit=16_765,
        slot1_service_type="11",
        slot1_benefit_limit=500,
    )
    (sheet,) = build_table7(
        [row("111211", 400, 1), row("111211", 400, 2)],
        unit_price="10.00",
        supplements=[supplement],
    )
    visit = line(sheet, "111211")
    assert (visit.over_type_limit_units, visit.within_type_limit_units) == (300, 500)
    assert visit.within_category_limit_units == 500


def test_what_the_files_do_not_carry_is_not_computable() -> None:
    (sheet,) = build_table7([row("111211", 244)], benefit_rate=90)
    visit = line(sheet, "111211")
    assert visit.service_unit_amount == 244
    assert visit.within_category_limit_units is NOT_COMPUTABLE  # no 区分支給限度基準額
    assert visit.unit_price is NOT_COMPUTABLE and visit.total_cost is NOT_COMPUTABLE
    assert any("単位数単価" in reason for reason in visit.reasons)
    (mixed,) = build_table7([row("111211", 244, 1), row("111211", 250, 2)], limit=1000)
    assert line(mixed, "111211").units is NOT_COMPUTABLE
    # Written as records: required 単位数 / 回数 as 0, other figures empty.
    (rate_only,) = build_table7([row("116275", None)], unit_price="11.40", limit=1000)
    (detail, _total) = rate_only.records()
    assert isinstance(detail, Table7Record)
    assert (detail.units, detail.times, detail.service_unit_amount, detail.total_cost) == (
        0, 1, None, None,
    )  # fmt: skip


def test_counts_by_line_and_rule() -> None:
    records = [
        *(row("111211", 244, day) for day in range(1, 9)),  # 8 visits
        row("111211", 244, 9, service_count=2),  # twice that day
        row("111211", 244, 10, over_30_days="1"),  # its own line
        row("171001", 300, 1, tais_code="00001-000010"),
        row("171001", 300, 15, tais_code="00001-000010"),  # monthly: once
        row("171001", 300, 1, tais_code="00002-000020"),  # another product: another line
        row("731111", 1000, 1, prorated_days="0" * 9 + "1" * 21),  # 日割: 21 days
    ]
    (sheet,) = build_table7(records, unit_price="10.00", limit=100_000)
    details = [ln for ln in sheet.lines if ln.kind == "detail"]
    assert [(ln.service_code, ln.over_30_days, ln.tais_code, ln.times) for ln in details] == [
        ("111211", "0", None, 10),
        ("111211", "1", None, 1),
        ("171001", "0", "00001-000010", 1),
        ("171001", "0", "00002-000020", 1),
        ("731111", "0", None, 21),
    ]
    over_30 = details[1]
    assert over_30.managed_units is None and over_30.user_full_payment == 2440
    assert over_30.total_cost is None


def test_discount_and_prices_from_a_table7() -> None:
    stated = Table7Record(
        provider_office_no=OFFICE,
        service_code="111211",
        unit_price=Decimal("11.40"),
        benefit_rate=80,
    )
    (sheet,) = build_table7(
        [row("111211", 232, day) for day in (1, 2)],
        from_table7=[stated],
        discounts={"111211": Discount(units=244, rate=95)},
        limit=1000,
    )
    visit = line(sheet, "111211")
    assert (visit.units, visit.discount_rate, visit.discounted_units, visit.times) == (
        244, 95, 232, 2,
    )  # fmt: skip
    assert visit.service_unit_amount == 464
    assert (visit.unit_price, visit.benefit_rate, visit.total_cost) == (Decimal("11.40"), 80, 5289)
    assert visit.insurance_claim == 4231  # 5,289 × 80% = 4,231.2


def test_records_of_both_versions_and_bad_figure_numbers() -> None:
    (sheet,) = build_table7([row("111211", 244)], unit_price="11.40", limit=1000)
    records = sheet.records(created_date=datetime.date(2025, 3, 25), updater_office_no="1370100016")
    assert all(isinstance(r, Table7Record) for r in records)
    assert records[0].total_cost == 2781 and records[-1].service_code == "999999"
    v3 = sheet.records(csv_version="202208")
    assert all(isinstance(r, Table7V3Record) and r.csv_version == "202208" for r in v3)
    with pytest.raises(KeyError):
        sheet.lines[0].figure(9)


def test_users_are_kept_apart_in_order() -> None:
    records = [row("111211", 244), row("111211", 244, insured_no="H123456789"), row("131111", 500)]
    sheets = build_table7(records, limit=1000)
    assert [s.insured_no for s in sheets] == ["0000012345", "H123456789"]
    assert [ln.service_code for ln in sheets[0].lines] == ["111211", "131111", "999999"]
    assert build_table7([]) == ()


# -- the fast computation against the one first written -----------------------------------------

_OTHER_OFFICE = "1370300038"
# Visits, a rate add-on, day care, a monthly rental, a monthly 小規模多機能 code, a code shaped
# like a subtotal, and a code counted monthly only when `monthly_codes` says so.
_DIFF_CODES = (
    "111211",
    "112211",
    "116275",
    "131111",
    "151111",
    "171001",
    "731111",
    "11AAAA",
    "A21111",
)


def _as_v3(record: Table6PlanRecord) -> Table6PlanV3Record:
    names = [f.name for f in attrs.fields(Table6PlanV3Record) if f.name != "csv_version"]
    return Table6PlanV3Record(**{name: getattr(record, name) for name in names})


@st.composite
def _computations(draw: st.DrawFn) -> tuple[list[Any], dict[str, Any]]:
    """Random 第6表 records of a few users (interleaved, possibly two months, 202208 or mixed
    plan/実績 classes) and random `build_table7` arguments."""
    months = draw(
        st.sampled_from([(YearMonth(2025, 4),), (YearMonth(2025, 4), YearMonth(2025, 5))])
    )
    records: list[Any] = []
    supplements = []
    for user in range(draw(st.integers(1, 3))):
        insured = f"{user + 1:010d}"
        for _ in range(draw(st.integers(1, 8))):
            records.append(
                row(
                    draw(st.sampled_from(_DIFF_CODES)),
                    draw(st.sampled_from([None, 0, 50, 244, 356, -30, 9999])),
                    draw(st.integers(1, 28)),
                    insured_no=insured,
                    target_month=draw(st.sampled_from(months)),
                    service_count=draw(st.sampled_from([1, 1, 2, 0, None])),
                    provider_office_no=draw(st.sampled_from([OFFICE, _OTHER_OFFICE])),
                    satellite_no=draw(st.sampled_from([None, None, "01"])),
                    over_30_days=draw(st.sampled_from(["0", "0", "1"])),
                    provider_name=draw(st.sampled_from(["すみれ", "あおい"])),
                    prorated_days=draw(st.sampled_from([None, None, "1" * 5 + "0" * 26, "0" * 31])),
                    tais_code=draw(st.sampled_from([None, None, "00001-000010"])),
                )
            )
        if draw(st.booleans()):
            supplements.append(
                SupplementRecord(
                    insurer_no="131011",
                    insured_no=insured,
                    benefit_limit=draw(st.sampled_from([None, 0, 500, 2_000, 40_000])),
                    slot1_service_type=draw(st.sampled_from([None, "11", "13"])),
                    slot1_benefit_limit=draw(st.sampled_from([None, 300, 5_000])),
                    slot2_service_type=draw(st.sampled_from([None, "15"])),
                    slot2_benefit_limit=draw(st.sampled_from([None, 100])),
                )
            )
    records = list(draw(st.permutations(records)))
    shape = draw(st.sampled_from(["one class", "202208", "plan and 実績"]))
    if shape == "202208":
        records = [_as_v3(r) for r in records]
    elif shape == "plan and 実績":
        names = [f.name for f in attrs.fields(Table6ActualRecord)]
        records = [
            Table6ActualRecord(**{n: getattr(r, n) for n in names}) if i % 2 else r
            for i, r in enumerate(records)
        ]
    options = {
        "unit_price": draw(
            st.sampled_from(
                [None, Decimal("11.40"), "10.72", {(OFFICE, "11"): "11.10", _OTHER_OFFICE: "10.00"}]
            )
        ),
        "benefit_rate": draw(st.sampled_from([90, None, {OFFICE: 70}])),
        "supplements": supplements,
        "limit": draw(st.sampled_from([None, None, 1_500])),
        "discounts": draw(st.sampled_from([None, {"111211": Discount(units=395, rate=90)}])),
        "exempt_codes": draw(st.sampled_from([(), ("116275", "131111")])),
        "monthly_codes": draw(st.sampled_from([(), ("A21111",)])),
    }
    return records, options


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_computations())
def test_sheets_are_those_of_the_first_computation(case: tuple[list[Any], dict[str, Any]]) -> None:
    """The per-user pass over dicts gives the sheets of the step-by-step computation (kept in
    table7_calc_reference.py): every figure, reason, line and order."""
    records, options = case
    sheets = build_table7(records, **options)
    expected = table7_calc_reference.build_table7(records, **options)
    assert [s.lines for s in sheets] == [s.lines for s in expected]
    assert sheets == expected
    assert tally_lines(records) == table7_calc_reference.tally_lines(records)


def test_a_computed_line_is_a_frozen_table7_line() -> None:
    """Lines get their attributes without `__init__` (`_line`): they must still be what
    `Table7Line(...)` makes: equal, hashable, immutable, evolvable, with every attribute."""
    (sheet,) = build_table7([row("111211", 244), row("131111", 500)], unit_price="11.40", limit=600)
    visit = sheet.lines[0]
    made = Table7Line(**{f.name: getattr(visit, f.name) for f in attrs.fields(Table7Line)})
    assert type(visit) is Table7Line and visit == made and hash(visit) == hash(made)
    assert set(vars(visit)) == {f.name for f in attrs.fields(Table7Line)}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        visit.units = 1  # type: ignore[misc]
    assert attrs.evolve(visit, times=9).times == 9 and visit.times == 1
    assert visit != attrs.evolve(visit, total_cost=0)
