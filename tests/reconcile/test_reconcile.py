"""Hand-written months: one test per kind of difference, the sources rules, units and limits."""

from __future__ import annotations

import datetime

import pytest

from careplan_link import (
    NOT_COMPUTABLE,
    Bundle,
    DifferenceKind,
    FileName,
    FormatError,
    Table6ActualDeleteRecord,
    Table6PlanDeleteRecord,
    UnmatchedCause,
    reconcile,
    write_file,
)
from tests.reconcile.helpers import (
    CARE,
    INSURER,
    MONTH,
    V,
    month,
    office,
    results_unit,
    schedule_unit,
    serial,
)

P1, P2 = "2710000001", "2710000002"
U1, U2 = "0000000001", "0000000002"


def _kinds(reconciliation: object) -> list[DifferenceKind]:
    return [d.kind for d in reconciliation.differences]  # type: ignore[attr-defined]


def test_identical_month_matches() -> None:
    visits = [V(U1, P1, 2), V(U1, P1, 9), V(U1, P2, 3, "151111", units=600), V(U2, P1, 4)]
    plan, results = month(visits, visits)
    result = reconcile(plan, results)
    assert result.ok and result.differences == ()
    assert result.user(INSURER, U1).matched == 3
    assert result.user(INSURER, U1).benefit.final
    assert [
        (b.provider_office_no, b.service_type, b.units)
        for b in result.user(INSURER, U1).benefit.lines
    ] == [
        (P1, "11", 500),
        (P2, "15", 600),
    ]


def test_cancelled_visit_is_located_on_the_plan_side() -> None:
    plan, results = month([V(U1, P1, 2), V(U1, P1, 9)], [V(U1, P1, 2)])
    (cancelled, units) = reconcile(plan, results).differences
    assert cancelled.kind is DifferenceKind.CANCELLED
    assert cancelled.planned is not None and cancelled.planned.record == 2
    assert cancelled.planned.file.startswith("UPPLAN_")
    assert cancelled.delivered is None
    assert cancelled.planned_date == datetime.date(2025, 6, 9)
    assert "予定のみ" in cancelled.message_ja and "planned, not delivered" in cancelled.message_en
    assert units.kind is DifferenceKind.UNITS


def test_added_visit_is_located_on_the_results_side() -> None:
    plan, results = month([V(U1, P1, 2)], [V(U1, P1, 2), V(U1, P1, 20, "112211")])
    added = reconcile(plan, results).differences[0]
    assert added.kind is DifferenceKind.ADDED
    assert added.planned is None
    assert added.delivered is not None and added.delivered.file.startswith("UPJSK_")
    assert added.delivered.record == 2
    assert added.delivered_date == datetime.date(2025, 6, 20)


def test_moved_visit_is_one_move() -> None:
    plan, results = month([V(U1, P1, 2), V(U1, P1, 9)], [V(U1, P1, 2), V(U1, P1, 11)])
    result = reconcile(plan, results)
    assert _kinds(result) == [DifferenceKind.MOVED]
    move = result.differences[0]
    assert (move.planned_date, move.delivered_date) == (
        datetime.date(2025, 6, 9),
        datetime.date(2025, 6, 11),
    )
    assert move.planned is not None and move.delivered is not None


def test_same_day_visits_pair_by_nearest_time() -> None:
    planned = [V(U1, P1, 2, hour=9), V(U1, P1, 2, hour=17)]
    delivered = [V(U1, P1, 2, hour=18), V(U1, P1, 2, hour=9)]
    result = reconcile(*month(planned, delivered))
    (time,) = result.differences
    assert time.kind is DifferenceKind.TIME
    assert time.planned is not None and time.planned.record == 2  # the 17:00 visit
    assert time.delivered is not None and time.delivered.record == 1  # delivered at 18:00
    assert "17:00-18:00" in time.message_ja and "18:00-19:00" in time.message_en


def test_code_and_count_changes_on_the_planned_day() -> None:
    planned = [V(U1, P1, 2), V(U1, P1, 5)]
    delivered = [V(U1, P1, 2, "112211"), V(U1, P1, 5, count=2)]
    kinds = _kinds(reconcile(*month(planned, delivered)))
    assert kinds.count(DifferenceKind.CODE) == 1
    assert kinds.count(DifferenceKind.COUNT) == 1
    assert DifferenceKind.CANCELLED not in kinds and DifferenceKind.ADDED not in kinds


def test_monthly_service_is_compared_per_month() -> None:
    planned = [V(U1, P2, 1, "171111", hour=None, units=1000)]
    delivered = [V(U1, P2, 15, "171111", hour=None, units=1000)]
    assert reconcile(*month(planned, delivered)).ok
    other = V(U2, P2, 1, "171111", hour=None, units=1000)
    gone = reconcile(*month([*planned, other], [other]))
    cancelled = [d for d in gone.differences if d.kind is DifferenceKind.CANCELLED]
    assert len(cancelled) == 1 and "monthly" in cancelled[0].message_en


def test_missing_results_make_the_figures_not_final() -> None:
    planned = [V(U1, P1, 2), V(U1, P2, 3, "151111")]
    plan, _ = month(planned, [])
    results = [results_unit([V(U1, P1, 2)], office(P1))]
    user = reconcile(plan, results).user(INSURER, U1)
    assert [d.kind for d in user.differences] == [DifferenceKind.RESULTS_MISSING]
    assert user.differences[0].provider_office_no == P2
    assert not user.benefit.final
    assert user.arrived == frozenset({P1})
    unit_of_p2 = next(u for u in user.units if u.provider_office_no == P2)
    assert unit_of_p2.delivered is None and unit_of_p2.difference is None


def test_a_user_without_results_from_a_reporting_provider_is_cancelled() -> None:
    plan, _ = month([V(U1, P1, 2), V(U2, P1, 3)], [])
    results = [results_unit([V(U1, P1, 2)], office(P1))]
    user = reconcile(plan, results).user(INSURER, U2)
    assert DifferenceKind.CANCELLED in [d.kind for d in user.differences]
    assert user.benefit.final


@pytest.mark.parametrize(
    ("delivered", "cause"),
    [
        (V("0000000010", P1, 2), UnmatchedCause.INSURED_NO_TYPO),  # 01 → 10 swapped
        (V("9999999999", P1, 2), UnmatchedCause.UNKNOWN_USER),
        (V(U1, "2710000009", 2), UnmatchedCause.PROVIDER_NOT_IN_PLAN),
    ],
)
def test_results_matching_no_plan_have_a_likely_cause(delivered: V, cause: UnmatchedCause) -> None:
    plan, _ = month([V(U1, P1, 2)], [])
    results = [
        results_unit([V(U1, P1, 2)], office(P1)),
        results_unit([delivered], office(delivered.provider), serial_no=serial(2, 30)),
    ]
    result = reconcile(plan, results)
    (unmatched,) = result.unmatched
    assert unmatched.cause is cause
    assert unmatched.delivered is not None and unmatched.delivered.file.startswith("UPJSK_")
    if cause is not UnmatchedCause.UNKNOWN_USER:
        assert unmatched.planned is not None  # the likely counterpart
    assert not result.ok


def test_results_of_another_month_and_office() -> None:
    plan, _ = month([V(U1, P1, 2)], [])
    other = V(U1, P1, 2)
    record = __import__("tests.reconcile.helpers", fromlist=["result_records"]).result_records(
        [other]
    )[0]
    import attrs

    from careplan_link import YearMonth

    july = attrs.evolve(
        record, target_month=YearMonth(2025, 7), service_date=datetime.date(2025, 7, 2)
    )
    name = FileName.new(
        "UPJSK", sender=office(P1), receiver=CARE, month="202507", serial=serial(2, 30)
    )
    other_month = Bundle.from_files({str(name): write_file([july], name)})
    elsewhere = attrs.evolve(record, plan_office_no="1310000099", insured_no="0000000077")
    name2 = FileName.new(
        "UPJSK",
        sender=office(P1),
        receiver=office("1310000099", "43"),
        month=MONTH,
        serial=serial(3, 30),
    )
    other_office = Bundle.from_files({str(name2): write_file([elsewhere], name2)})
    result = reconcile(plan, [results_unit([V(U1, P1, 2)], office(P1)), other_month, other_office])
    causes = sorted(d.cause.value for d in result.unmatched if d.cause)
    assert causes == ["other_month", "other_office"]


def test_copies_are_deduplicated_and_later_serial_supersedes() -> None:
    planned = [V(U1, P1, 2), V(U1, P2, 3, "151111")]
    copy_p1 = schedule_unit(planned, office(P1), serial_no=serial(1))
    copy_p2 = schedule_unit(planned, office(P2, "15"), serial_no=serial(2))
    revised = [V(U1, P1, 4), V(U1, P2, 3, "151111")]
    later_p1 = schedule_unit(revised, office(P1), serial_no=serial(3))
    results = [results_unit(revised, office(P1)), results_unit(revised, office(P2, "15"))]
    result = reconcile([copy_p1, copy_p2, later_p1], results)
    assert result.ok, [d.message_en for d in result.differences]
    assert len(result.user(INSURER, U1).planned) == 2  # each visit once, not once per copy
    earlier_only = reconcile([copy_p1, copy_p2], results)
    assert DifferenceKind.MOVED in _kinds(earlier_only)


def test_schedule_withdrawal_removes_the_providers_part() -> None:
    planned = [V(U1, P1, 2), V(U2, P1, 3)]
    plan, results = month(planned, [V(U1, P1, 2)])
    name = FileName.new("DLTPLAN", sender=CARE, receiver=office(P1), month=MONTH, serial=serial(5))
    withdrawal = Bundle.from_files(
        {
            str(name): write_file(
                [Table6PlanDeleteRecord(insurer_no=INSURER, insured_no=U2, deletion_month=MONTH)],
                name,
            )
        }
    )
    result = reconcile([*plan, withdrawal], results)
    assert [u.user.insured_no for u in result.users] == [U1]
    assert result.ok


def test_results_withdrawal_removes_what_it_names() -> None:
    plan, results = month([V(U1, P1, 2)], [V(U1, P1, 2)])
    name = FileName.new(
        "DLTJSK", sender=office(P1), receiver=CARE, month=MONTH, serial=serial(9, 30)
    )
    withdrawal = Bundle.from_files(
        {
            str(name): write_file(
                [
                    Table6ActualDeleteRecord(
                        insurer_no=INSURER,
                        insured_no=U1,
                        deletion_month=MONTH,
                        provider_office_no=P1,
                        service_type="11",
                    )
                ],
                name,
            )
        }
    )
    result = reconcile(plan, [*results, withdrawal])
    assert _kinds(result) == [DifferenceKind.RESULTS_MISSING]


def test_units_are_not_computable_where_no8_is_empty() -> None:
    planned = [V(U1, P1, 2), V(U1, P1, 3, "116275", units=None)]
    user = reconcile(*month(planned, planned)).user(INSURER, U1)
    (unit,) = user.units
    assert unit.delivered is NOT_COMPUTABLE and unit.difference is NOT_COMPUTABLE
    assert user.ok  # not computable is no difference


def test_unit_difference_per_provider_and_type() -> None:
    plan, results = month([V(U1, P1, 2), V(U1, P1, 9)], [V(U1, P1, 2), V(U1, P1, 9, count=3)])
    user = reconcile(plan, results).user(INSURER, U1)
    (unit,) = user.units
    assert (unit.planned, unit.delivered, unit.difference) == (500, 1000, 500)
    units = [d for d in user.differences if d.kind is DifferenceKind.UNITS]
    assert len(units) == 1 and units[0].planned is not None and units[0].delivered is not None
    assert units[0].planned.file.startswith("UPSIKYU_")


def test_limit_check_and_kept_allocation() -> None:
    planned = [V(U1, P1, d, units=1000) for d in (2, 3)] + [V(U1, P2, 4, "151111", units=1000)]
    plan, results = month(planned, planned, limits={U1: 2500})
    user = reconcile(plan, results).user(INSURER, U1)
    assert user.limit.limit == 2500 and user.limit.within is False
    assert user.benefit.allocation_fits is True  # same units: the original split still fits
    assert user.benefit.total == 2500
    more = [*planned, V(U1, P1, 5, units=1000)]
    changed = reconcile(plan, month(planned, more, limits={U1: 2500})[1]).user(INSURER, U1)
    assert changed.benefit.allocation_fits is False
    assert DifferenceKind.OVER_LIMIT in [d.kind for d in changed.differences]


def test_unreadable_input_raises_format_error() -> None:
    name = "UPPLAN_202506_1310000003_43_2710000001_11_20250526100001.CSV"
    with pytest.raises(FormatError):
        reconcile(
            {name: b"202407,131011,short\r\n"},
            [],
        )


def test_to_dict_and_csv_carry_every_difference() -> None:
    result = reconcile(*month([V(U1, P1, 2), V(U1, P1, 9)], [V(U1, P1, 2)]))
    data = result.to_dict()
    assert data["summary"]["differences"] == len(result.differences) == 2
    text = result.to_csv().decode("cp932")
    assert text.count("\r\n") >= 4
    assert "予定のみ" in text and "planned, not delivered" in text
