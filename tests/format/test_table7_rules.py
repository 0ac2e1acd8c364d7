"""The 第7表's arithmetic and its agreement with the 第6表, through `validate` and the CLI."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careplan_link import (
    ZERO_DATE,
    FileName,
    Issue,
    SupplementRecord,
    Table6PlanRecord,
    ValidationReport,
    YearMonth,
    build_table7,
    parse_plan,
    validate,
    write_file,
)
from careplan_link.cli import main

from .unitfiles import bytes_of, edit, name_of, rows_of, schedule_unit

TOTALS, PLAN, SUPPLEMENT = "UPSIKYU", "UPPLAN", "UPHOSOKU"


def at(report: ValidationReport, code: str) -> list[tuple[str, str, int | None, int | None]]:
    """(severity, file prefix, record, column) of each issue with this code."""
    return [
        (i.severity, (i.file or "").split("_")[0], i.record, i.column)
        for i in report.issues
        if i.code == code
    ]


def test_the_example_agrees_with_its_schedule() -> None:
    report = validate(schedule_unit())
    assert report.issues == (), [str(i) for i in report.issues]


# -- the issue's examples -------------------------------------------------------------------------


def test_times_against_the_visits() -> None:
    # 5 visits in the 第6表, 回数 3 in the 第7表.
    report = validate(edit(schedule_unit(), TOTALS, 1, 16, "3"))
    assert at(report, "table7.count") == [("error", TOTALS, 1, 16)]
    issue = next(i for i in report.issues if i.code == "table7.count")
    assert "(5)" in issue.message_en and issue.value == "3" and issue.item == "回数／日数"
    # 8 visits in the 第6表 (three more), still 回数 5.
    files = schedule_unit()
    name = name_of(files, PLAN)
    rows = rows_of(files[name])
    extra = [[*rows[0][:9], f"202504{day}", *rows[0][10:]] for day in ("21", "22", "23")]
    eight = {**files, name: bytes_of([*rows[:5], *extra, *rows[5:]], "table6_plan")}
    report = validate(eight)
    assert at(report, "table7.count") == [("error", TOTALS, 1, 16)]
    assert "(8)" in next(i for i in report.issues if i.code == "table7.count").message_en


def test_a_service_code_no_schedule_record_has() -> None:
    report = validate(edit(schedule_unit(), TOTALS, 1, 9, "112211"))
    assert at(report, "table7.extra_detail") == [("warning", TOTALS, 1, 9)]
    # ... and the 第6表's 111211 has lost its line.
    assert at(report, "table7.missing_detail") == [("error", PLAN, 1, 15)]


def test_managed_units_99999() -> None:
    report = validate(edit(schedule_unit(), TOTALS, 1, 18, "99999"))
    assert at(report, "table7.managed_units") == [("warning", TOTALS, 1, 18)]
    assert at(report, "table7.total_sum") == [("error", TOTALS, 2, 18)]
    assert not report.ok


def test_total_cost_1_with_claim_5() -> None:
    files = edit(edit(schedule_unit(), TOTALS, 1, 24, "1"), TOTALS, 1, 26, "5")
    report = validate(files)
    assert at(report, "table7.total_cost") == [("warning", TOTALS, 1, 24)]
    assert at(report, "table7.claim") == [("warning", TOTALS, 1, 26)]
    assert at(report, "table7.copay") == [("warning", TOTALS, 1, 28)]
    assert "13908" in next(i for i in report.issues if i.code == "table7.total_cost").message_en
    strict = validate(files, strict=True)
    assert at(strict, "table7.claim") == [("error", TOTALS, 1, 26)] and not strict.ok


def test_a_grand_total_that_is_not_the_sum() -> None:
    report = validate(edit(schedule_unit(), TOTALS, 2, 22, "1000"))
    assert at(report, "table7.total_sum") == [("error", TOTALS, 2, 22)]
    assert "(1220)" in next(i for i in report.issues if i.code == "table7.total_sum").message_en


# -- one rule at a time -------------------------------------------------------------------------


def test_unit_amount_is_units_times_times() -> None:
    report = validate(edit(schedule_unit(), TOTALS, 1, 17, "1000"))
    assert at(report, "table7.unit_amount") == [("error", TOTALS, 1, 17)]
    assert not at(validate(edit(schedule_unit(), TOTALS, 1, 17, "1220")), "table7.unit_amount")


def test_units_copied_from_the_schedule() -> None:
    report = validate(edit(schedule_unit(), TOTALS, 3, 13, "245"))
    assert at(report, "table7.units") == [("error", TOTALS, 3, 13)]


def test_discounted_units_round_half_up() -> None:
    files = edit(edit(schedule_unit(), TOTALS, 1, 14, "90"), TOTALS, 1, 15, "219")
    report = validate(files)  # 244 × 90% = 219.6 → 220
    assert at(report, "table7.discounted_units") == [("warning", TOTALS, 1, 15)]
    fine = validate(edit(files, TOTALS, 1, 15, "220"))
    assert not at(fine, "table7.discounted_units")


def test_limit_split_and_full_payment() -> None:
    files = edit(schedule_unit(), TOTALS, 1, 21, "100")
    # Either part may be wrong: both are named.
    assert at(validate(files), "table7.limit_split") == [
        ("warning", TOTALS, 1, 21),
        ("warning", TOTALS, 1, 22),
    ]
    # 200 over, 1,020 within: the money follows, except a wrong 全額負担分.
    files = schedule_unit()
    for column, text in ((21, "200"), (22, "1020"), (24, "11628"), (26, "10465"),
                         (28, "1163"), (29, "1")):  # fmt: skip
        files = edit(files, TOTALS, 1, column, text)
    files = edit(edit(files, TOTALS, 2, 22, "1020"), TOTALS, 2, 21, "200")
    report = validate(files)
    assert at(report, "table7.full_payment") == [("warning", TOTALS, 1, 29)]
    assert "2280" in next(i for i in report.issues if i.code == "table7.full_payment").message_en
    assert not at(report, "table7.total_cost") and not at(report, "table7.total_sum")
    # 1,220 managed units, limit 16,765: nothing should be over the limit.
    assert at(report, "table7.limit") == [("warning", TOTALS, 2, 21)]


def test_within_the_limit_above_the_supplement_limit() -> None:
    report = validate(edit(schedule_unit(), SUPPLEMENT, 1, 19, "1000"))
    assert at(report, "table7.limit") == [("warning", TOTALS, 2, 22)]


def _unit_with_subtotal() -> dict[str, bytes]:
    """The example's first user with a second 訪問介護 code, its 第7表 computed."""
    files = schedule_unit()
    plan_name, totals_name = name_of(files, PLAN), name_of(files, TOTALS)
    rows = rows_of(files[plan_name])
    bath = [*rows[0][:7], "387", *rows[0][8:14], "112211", *rows[0][15:]]
    plan = [*rows[:5], bath, *rows[5:]]
    files = {**files, plan_name: bytes_of(plan, "table6_plan")}
    schedule = parse_plan(files[plan_name], name=plan_name)
    supplement = parse_plan(files[name_of(files, SUPPLEMENT)], name=name_of(files, SUPPLEMENT))
    sheets = build_table7(
        schedule.records,
        unit_price="11.40",
        benefit_rate=90,
        supplements=[r for r in supplement.records if isinstance(r, SupplementRecord)],
    )
    records = [
        r
        for sheet in sheets
        for r in sheet.records(
            created_date=datetime.date(2025, 3, 25), updater_office_no="1370100016"
        )
    ]
    return {**files, totals_name: write_file(records, totals_name)}


def test_subtotal_is_the_sum_of_its_lines() -> None:
    files = _unit_with_subtotal()
    assert validate(files).issues == ()
    rows = rows_of(files[name_of(files, TOTALS)])
    subtotal = next(n for n, row in enumerate(rows, start=1) if row[8] == "11AAAA")
    report = validate(edit(files, TOTALS, subtotal, 17, "1"))
    assert at(report, "table7.subtotal_sum") == [("error", TOTALS, subtotal, 17)]


def test_cli_json_reports_each_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = edit(edit(schedule_unit(), TOTALS, 1, 16, "3"), TOTALS, 4, 24, "5")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    assert main(["validate", "--json", str(tmp_path)]) == 1
    issues = json.loads(capsys.readouterr().out)["issues"]
    found = {(i["code"], i["record"], i["column"], i["item"]) for i in issues}
    assert ("table7.count", 1, 16, "回数／日数") in found
    assert ("table7.total_sum", 4, 24, "費用総額保険／事業対象分") in found
    assert main(["validate", "--json", "--strict", str(tmp_path)]) == 1


# -- property: a computed 第7表 validates clean, and one changed figure is found where it is ----

_CARE, _PROVIDERS = "1370100016", ("1370200022", "1370300038")
_CODES = ("111211", "112211", "131111", "151111", "161111", "781111")
_PLAN_NAME = "UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV"


@st.composite
def _schedules(draw: st.DrawFn) -> tuple[list[Table6PlanRecord], list[SupplementRecord]]:
    plan: list[Table6PlanRecord] = []
    supplements = []
    base = Table6PlanRecord(
        insurer_no="131011",
        created_date=datetime.date(2025, 3, 25),
        target_month=YearMonth(2025, 4),
        plan_office_no=_CARE,
        planner_name="佐藤",
        start_time=datetime.time(10, 0),
        end_time=datetime.time(11, 0),
        provider_name="すみれ",
        over_30_days="0",
        updater_office_no=_CARE,
    )
    for user in range(draw(st.integers(1, 3))):
        insured = f"{user + 1:010d}"
        for code in draw(st.lists(st.sampled_from(_CODES), min_size=1, max_size=4, unique=True)):
            units = draw(st.integers(1, 999))
            office = draw(st.sampled_from(_PROVIDERS))
            for day in draw(st.lists(st.integers(1, 30), min_size=1, max_size=5, unique=True)):
                plan.append(
                    attrs.evolve(
                        base,
                        insured_no=insured,
                        units=units,
                        service_date=datetime.date(2025, 4, day),
                        service_count=draw(st.integers(1, 2)),
                        service_code=code,
                        provider_office_no=office,
                    )
                )
        supplements.append(
            SupplementRecord(
                insurer_no="131011",
                insured_no=insured,
                plan_date=ZERO_DATE,
                user_name_kana="ヤマダ",
                user_name="山田",
                user_sex="1",
                user_birth_date=datetime.date(1940, 1, 1),
                benefit_limit=draw(st.integers(1000, 40000)),
                updater_office_no=_CARE,
                target_month=YearMonth(2025, 4),
            )
        )
    return plan, supplements


def _unit(
    plan: list[Table6PlanRecord], supplements: list[SupplementRecord], price: str, rate: int
) -> dict[str, bytes]:
    name = FileName.parse(_PLAN_NAME)
    sheets = build_table7(plan, unit_price=price, benefit_rate=rate, supplements=supplements)
    totals = [
        r
        for sheet in sheets
        for r in sheet.records(created_date=datetime.date(2025, 3, 25), updater_office_no=_CARE)
    ]
    return {
        str(name): write_file(plan, name),
        str(name.sibling("UPSIKYU")): write_file(totals, name.sibling("UPSIKYU")),
        str(name.sibling("UPHOSOKU")): write_file(supplements, name.sibling("UPHOSOKU")),
    }


# Figures a change of which must be reported at its own record and column.
_DETAIL_FIGURES = (13, 16, 17, 18, 21, 22, 24, 26, 28, 29)
_TOTAL_FIGURES = (17, 18, 21, 22, 24, 26, 28, 29)  # 17 is empty on the 全合計


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _schedules(),
    st.sampled_from(["10.00", "10.72", "11.40"]),
    st.sampled_from([90, 80, 70]),
    st.data(),
)
def test_computed_table7_validates_clean_and_a_changed_figure_is_found(
    schedule: tuple[list[Table6PlanRecord], list[SupplementRecord]],
    price: str,
    rate: int,
    data: st.DataObject,
) -> None:
    files = _unit(*schedule, price, rate)
    report = validate(files)
    assert report.issues == (), [str(i) for i in report.issues][:5]
    rows = rows_of(files[name_of(files, TOTALS)])
    stated = [
        (record, column)
        for record, row in enumerate(rows, start=1)
        for column in (
            _DETAIL_FIGURES if row[8][2:].isdigit() and row[8] != "999999" else _TOTAL_FIGURES
        )
        if row[column - 1] != ""
    ]
    record, column = data.draw(st.sampled_from(stated))
    changed = str(int(rows[record - 1][column - 1]) + 1)
    report = validate(edit(files, TOTALS, record, column, changed))
    located = {(i.file, i.record, i.column) for i in report.issues}
    assert (name_of(files, TOTALS), record, column) in located, (
        record, column, [str(i) for i in report.issues],
    )  # fmt: skip


def test_issue_messages_are_bilingual() -> None:
    report = validate(edit(schedule_unit(), TOTALS, 1, 16, "3"))
    issue: Issue = next(i for i in report.issues if i.code == "table7.count")
    assert "回数" in issue.message_ja and "第6表" in issue.message_en
