"""Property: from a random valid 予定 unit, 実績 with known changes → exactly those differences."""

from __future__ import annotations

import calendar
import datetime
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careplan_link import (
    NO_TIME,
    Bundle,
    DifferenceKind,
    FileName,
    Table6ActualRecord,
    build_table7,
    parse_plan,
    reconcile,
    write_file,
)
from careplan_link.testing.strategies import schedule_units

_VISIT_KINDS = {
    DifferenceKind.CANCELLED,
    DifferenceKind.ADDED,
    DifferenceKind.MOVED,
    DifferenceKind.TIME,
    DifferenceKind.CODE,
    DifferenceKind.COUNT,
}
_CODES = ["111111", "112211", "131111", "151111", "161111", "781111", "A21111", "121111"]
_SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def consistent_schedule(unit: Bundle) -> tuple[Bundle, list[Any], FileName]:
    """The unit with its 第7表 computed from its 第6表 (the strategy draws the figures)."""
    files = {name: parse_plan(data, name=name) for name, data in unit.files.items()}
    table6 = next(f for f in files.values() if f.name.layout_id == "table6_plan")
    supplements = next(f for f in files.values() if f.name.layout_id == "supplement")
    table7_name = next(f.name for f in files.values() if f.name.layout_id == "table7")
    sheets = build_table7(table6.records, supplements=supplements.records)
    table7 = [r for s in sheets for r in s.records(updater_office_no=table6.name.sender.number)]
    data = {
        str(table6.name): unit.files[str(table6.name)],
        str(table7_name): write_file(table7, table7_name),
        str(supplements.name): unit.files[str(supplements.name)],
    }
    return Bundle.from_files(data), list(table6.records), table6.name


def _as_result(record: Any, **changes: Any) -> Table6ActualRecord:
    values = attrs.asdict(record, recurse=False)
    values.update(updater_office_no=record.provider_office_no, **changes)
    return Table6ActualRecord(**values)


@st.composite
def changed_months(draw: st.DrawFn) -> tuple[Bundle, Bundle, set[tuple[Any, ...]], bool]:
    """(schedule, 実績, the expected visit differences, whether units may change)."""
    schedule, records, name = consistent_schedule(draw(schedule_units(max_users=3)))
    month = records[0].target_month
    last = calendar.monthrange(month.year, month.month)[1]
    expected: set[tuple[Any, ...]] = set()
    results: list[Any] = []
    units_change = False
    by_user: dict[tuple[str, str], list[Any]] = {}
    for record in records:
        by_user.setdefault((record.insurer_no, record.insured_no), []).append(record)
    for who, user_records in by_user.items():
        used_codes = {r.service_code for r in user_records}
        leftover_days: set[int] = set()
        for record in user_records:
            day = record.service_date.day
            op = draw(st.sampled_from(["keep", "remove", "move", "recode", "count", "time"]))
            if op in ("remove", "recode") and day in leftover_days:
                op = "keep"  # one leftover per day and side keeps the pairing unambiguous
            free = [c for c in _CODES if c not in used_codes]
            if op == "recode" and not free:
                op = "keep"
            code, date = record.service_code, record.service_date
            if op == "keep":
                results.append(_as_result(record))
            elif op == "remove":
                leftover_days.add(day)
                units_change = True
                expected.add((*who, DifferenceKind.CANCELLED, code, date, None))
            elif op == "move":
                new_day = draw(st.integers(1, last).filter(lambda d, day=day: d != day))
                new_date = date.replace(day=new_day)
                results.append(_as_result(record, service_date=new_date))
                expected.add((*who, DifferenceKind.MOVED, code, date, new_date))
            elif op == "recode":
                leftover_days.add(day)
                units_change = True
                new_code = draw(st.sampled_from(free))
                used_codes.add(new_code)
                results.append(_as_result(record, service_code=new_code))
                expected.add((*who, DifferenceKind.CODE, code, date, date))
            elif op == "count":
                units_change = True
                results.append(_as_result(record, service_count=(record.service_count or 1) + 1))
                expected.add((*who, DifferenceKind.COUNT, code, date, date))
            else:
                start = record.start_time
                if start is NO_TIME or start.hour >= 22:
                    times = {"start_time": datetime.time(5, 0), "end_time": datetime.time(5, 30)}
                else:
                    times = {"start_time": NO_TIME, "end_time": NO_TIME}
                results.append(_as_result(record, **times))
                expected.add((*who, DifferenceKind.TIME, code, date, date))
        free = [c for c in _CODES if c not in used_codes]
        days = [d for d in range(1, last + 1) if d not in leftover_days]
        if free and draw(st.booleans()):
            code = draw(st.sampled_from(free))
            date = user_records[0].service_date.replace(day=draw(st.sampled_from(days)))
            results.append(_as_result(user_records[0], service_code=code, service_date=date))
            units_change = True
            expected.add((*who, DifferenceKind.ADDED, code, None, date))
    results_name = FileName.new(
        "UPJSK", sender=name.receiver, receiver=name.sender, month=month, serial=name.serial
    )
    result_unit = Bundle.from_files({str(results_name): write_file(results, results_name)})
    return schedule, result_unit, expected, units_change


@_SETTINGS
@given(changed_months())
def test_reports_exactly_the_changes_made(
    case: tuple[Bundle, Bundle, set[tuple[Any, ...]], bool],
) -> None:
    schedule, results, expected, units_change = case
    reconciliation = reconcile(schedule, results)
    found = [
        (
            d.user.insurer_no,
            d.user.insured_no,
            d.kind,
            d.service_code,
            d.planned_date,
            d.delivered_date,
        )
        for d in reconciliation.differences
        if d.kind in _VISIT_KINDS
    ]
    assert len(found) == len(set(found))
    assert set(found) == expected
    others = {d.kind for d in reconciliation.differences} - _VISIT_KINDS
    # Changed units show per provider and type, and may no longer fit the original split of
    # the units over the limit; moves and other times change neither.
    assert others <= {DifferenceKind.UNITS, DifferenceKind.OVER_LIMIT}
    if not units_change:
        assert others == set()
    for difference in reconciliation.differences:
        if difference.kind in _VISIT_KINDS - {DifferenceKind.ADDED}:
            assert difference.planned is not None
        if difference.kind in _VISIT_KINDS - {DifferenceKind.CANCELLED}:
            assert difference.delivered is not None


@_SETTINGS
@given(schedule_units(max_users=3))
def test_identical_plan_and_results_have_no_difference(unit: Bundle) -> None:
    schedule, records, name = consistent_schedule(unit)
    results_name = FileName.new(
        "UPJSK", sender=name.receiver, receiver=name.sender, month=name.month, serial=name.serial
    )
    rows = [_as_result(r) for r in records]
    results = Bundle.from_files({str(results_name): write_file(rows, results_name)})
    reconciliation = reconcile(schedule, results)
    assert reconciliation.differences == ()
    assert reconciliation.ok
    assert sum(u.matched for u in reconciliation.users) == len(records)
    assert all(u.benefit.final for u in reconciliation.users)
