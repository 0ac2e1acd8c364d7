"""A realistic month of one care-manager office and its providers, made deterministically.

`month_units(...)` gives, for each provider, the plan unit (第1表, 第2表, 第3表, 利用者補足情報) and
the schedule unit (第6表 予定, 第7表 computed with `build_table7`, 利用者補足情報) the care office
sends, and the 実績 unit (UPJSK) the provider answers with. Everything comes from a seeded
`random.Random`, so the same arguments give the same bytes; nothing here needs hypothesis (the
demo runs on a plain `pip install ".[hub]"`). Every unit validates clean (a test checks it).
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Sequence
from typing import Any

import attrs

from ..format import (
    NO_TIME,
    ZERO_DATE,
    ZERO_MONTH,
    Bundle,
    FileName,
    Office,
    SupplementRecord,
    Table1Record,
    Table2Record,
    Table3Record,
    Table6ActualRecord,
    Table6PlanRecord,
    YearMonth,
    ZeroDate,
    ZeroMonth,
    build_table7,
    write_file,
)

__all__ = ["DemoMonth", "Service", "month_units"]

INSURER = "131011"

# (service code, provider's service type, start hour, units): home help, day care, bathing.
_SERVICES = (
    ("111211", "11", 10, 394),
    ("112111", "11", 14, 584),
    ("151111", "15", 9, 658),
    ("131111", "13", 16, 818),
)
_FAMILY = ("山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤")
_FAMILY_KANA = (
    "ヤマダ",
    "サトウ",
    "スズキ",
    "タカハシ",
    "タナカ",
    "イトウ",
    "ワタナベ",
    "ナカムラ",
    "コバヤシ",
    "カトウ",
)
_GIVEN = ("花子", "太郎", "和子", "一郎", "幸子", "正男", "節子", "清", "京子", "茂")
_GIVEN_KANA = (
    "ハナコ",
    "タロウ",
    "カズコ",
    "イチロウ",
    "サチコ",
    "マサオ",
    "セツコ",
    "キヨシ",
    "キョウコ",
    "シゲル",
)
_NEEDS = ("歩行が不安定で転倒が心配", "一人での入浴が難しい", "食事の準備ができない")


@attrs.frozen
class Service:
    """One planned visit of a user."""

    user: str
    provider: Office
    day: int
    code: str
    hour: int
    units: int


@attrs.frozen
class DemoMonth:
    """What one month exchanges: per provider the plan, schedule and results units."""

    care_office: Office
    providers: tuple[Office, ...]
    month: YearMonth
    plans: tuple[Bundle, ...]
    schedules: tuple[Bundle, ...]
    results: tuple[Bundle, ...]
    schedule_records: int
    """How many 第6表 records the schedules hold, all providers together."""


def month_units(
    *,
    care_office: Office,
    providers: Sequence[Office],
    month: YearMonth,
    users: int,
    visits_per_service: int = 8,
    services_per_provider: int = 1,
    seed: int = 2025,
) -> DemoMonth:
    """A month for `users` users, each served by one or two of `providers` (on the service
    types the providers have), `services_per_provider` services of each (as many as the
    provider offers), `visits_per_service` visits a service. Deterministic. The
    records are CSVバージョン 202407, which applies to service months from 2025-04."""
    rng = random.Random(seed)
    created = _first_day(month) - datetime.timedelta(days=5)
    days = _days_in(month)
    visits: list[Service] = []
    user_ids = [f"{n:010d}" for n in range(1001, 1001 + users)]
    for user in user_ids:
        chosen = rng.sample(list(providers), min(len(providers), rng.choice((1, 2))))
        for provider in chosen:
            offered = [s for s in _SERVICES if s[1] == provider.service_type] or list(_SERVICES[:1])
            for code, _, hour, units in rng.sample(
                offered, min(len(offered), services_per_provider)
            ):
                for day in sorted(rng.sample(range(1, days + 1), min(days, visits_per_service))):
                    visits.append(Service(user, provider, day, code, hour, units))
    plans, schedules, results = [], [], []
    count = 0
    for index, provider in enumerate(providers):
        mine = [v for v in visits if v.provider == provider]
        served = list(dict.fromkeys(v.user for v in mine))
        if not served:
            continue
        plan_serial = _serial(created, 9, index)
        schedule_serial = _serial(created, 10, index)
        results_serial = _serial(_last_day(month) + datetime.timedelta(days=1), 9, index)
        plans.append(_plan_unit(care_office, provider, served, created, plan_serial, rng))
        schedule = [v for v in visits if v.user in served]
        count += len(schedule)
        schedules.append(
            _schedule_unit(care_office, provider, served, schedule, month, created, schedule_serial)
        )
        results.append(_results_unit(care_office, provider, mine, month, created, results_serial))
    return DemoMonth(
        care_office, tuple(providers), month, tuple(plans), tuple(schedules), tuple(results), count
    )


def _first_day(month: YearMonth) -> datetime.date:
    return datetime.date(month.year, month.month, 1)


def _last_day(month: YearMonth) -> datetime.date:
    following = YearMonth(month.year + month.month // 12, month.month % 12 + 1)
    return _first_day(following) - datetime.timedelta(days=1)


def _days_in(month: YearMonth) -> int:
    return _last_day(month).day


def _serial(day: datetime.date, hour: int, index: int) -> str:
    """A ファイル連番 (YYYYMMDDhhmmss): one minute apart per provider, so each unit's is its own."""
    return f"{day:%Y%m%d}{hour:02d}{index // 60:02d}{index % 60:02d}"


def _name(user: str) -> tuple[str, str]:
    n = int(user)
    family, given = n % len(_FAMILY), (n // len(_FAMILY)) % len(_GIVEN)
    return (
        f"{_FAMILY[family]}　{_GIVEN[given]}",
        f"{_FAMILY_KANA[family]}　{_GIVEN_KANA[given]}",
    )


def _supplement(
    user: str, care: Office, *, plan_date: datetime.date | ZeroDate, month: YearMonth | ZeroMonth
) -> SupplementRecord:
    name, kana = _name(user)
    n = int(user)
    return SupplementRecord(
        insurer_no=INSURER,
        insured_no=user,
        plan_date=plan_date,
        user_name_kana=kana,
        user_name=name,
        user_sex="1" if n % 2 else "2",
        user_birth_date=datetime.date(1930 + n % 20, 1 + n % 12, 1 + n % 28),
        certification_date=datetime.date(2025, 4, 1),
        limit_start_date=datetime.date(2025, 4, 1),
        limit_end_date=datetime.date(2027, 3, 31),
        certification_status="2",
        care_level="23",
        benefit_limit=27048,
        target_month=month,
        updater_office_no=care.number,
    )


def _plan_unit(
    care: Office,
    provider: Office,
    users: list[str],
    created: datetime.date,
    serial: str,
    rng: random.Random,
) -> Bundle:
    table1, table2, table3, supplements = [], [], [], []
    for user in users:
        key: dict[str, Any] = {"insurer_no": INSURER, "insured_no": user, "plan_date": created}
        table1.append(
            Table1Record(
                **key,
                created_date=created,
                planner_name="介護　太郎",
                care_office_name="ケアプランセンターさくら",
                care_office_no=care.number,
                first_plan_date=datetime.date(2024, 4, 1),
                updater_office_no=care.number,
            )
        )
        for need_no, need in enumerate(rng.sample(_NEEDS, 2), start=1):
            table2.append(
                Table2Record(
                    **key,
                    created_date=created,
                    need_no=need_no,
                    goal_no=1,
                    support_no=1,
                    need=need,
                    updater_office_no=care.number,
                )
            )
        table3.append(
            Table3Record(
                **key,
                created_date=created,
                weekly_service="訪問介護",
                weekday=str(1 + int(user) % 5),
                service_start=datetime.time(10, 0),
                service_end=datetime.time(11, 0),
            )
        )
        supplements.append(_supplement(user, care, plan_date=created, month=ZERO_MONTH))
    name = FileName.new("UP1KYO", sender=care, receiver=provider, serial=serial)
    supplement_name = name.sibling("UPHOSOKU", month=ZERO_MONTH)
    return Bundle.from_files(
        {
            str(name): write_file(table1, name),
            str(name.sibling("UP2KYO")): write_file(table2, name.sibling("UP2KYO")),
            str(name.sibling("UP3KYO")): write_file(table3, name.sibling("UP3KYO")),
            str(supplement_name): write_file(supplements, supplement_name),
        }
    )


def _visit_fields(
    visit: Service, care: Office, month: YearMonth, created: datetime.date
) -> dict[str, Any]:
    return {
        "insurer_no": INSURER,
        "insured_no": visit.user,
        "target_month": month,
        "created_date": created,
        "plan_office_no": care.number,
        "planner_name": "介護　太郎",
        "units": visit.units,
        "service_date": datetime.date(month.year, month.month, visit.day),
        "service_count": 1,
        "service_code": visit.code,
        "provider_office_no": visit.provider.number,
        "provider_name": f"サービス事業所{visit.provider.number[-2:]}",
        "over_30_days": "0",
        "start_time": datetime.time(visit.hour, 0) if visit.hour is not None else NO_TIME,
        "end_time": datetime.time(visit.hour + 1, 0) if visit.hour is not None else NO_TIME,
    }


def _schedule_unit(
    care: Office,
    provider: Office,
    users: list[str],
    visits: list[Service],
    month: YearMonth,
    created: datetime.date,
    serial: str,
) -> Bundle:
    rows = [
        Table6PlanRecord(updater_office_no=care.number, **_visit_fields(v, care, month, created))
        for v in visits
    ]
    supplements = [_supplement(u, care, plan_date=ZERO_DATE, month=month) for u in users]
    sheets = build_table7(rows, supplements=supplements, unit_price="10.00")
    table7 = [
        r for s in sheets for r in s.records(created_date=created, updater_office_no=care.number)
    ]
    name = FileName.new("UPPLAN", sender=care, receiver=provider, month=month, serial=serial)
    return Bundle.from_files(
        {
            str(name): write_file(rows, name),
            str(name.sibling("UPSIKYU")): write_file(table7, name.sibling("UPSIKYU")),
            str(name.sibling("UPHOSOKU")): write_file(supplements, name.sibling("UPHOSOKU")),
        }
    )


def _results_unit(
    care: Office,
    provider: Office,
    visits: list[Service],
    month: YearMonth,
    created: datetime.date,
    serial: str,
) -> Bundle:
    rows = [
        Table6ActualRecord(
            updater_office_no=provider.number, **_visit_fields(v, care, month, created)
        )
        for v in visits
    ]
    name = FileName.new("UPJSK", sender=provider, receiver=care, month=month, serial=serial)
    return Bundle.from_files({str(name): write_file(rows, name)})
