"""Hand-made months for the reconciliation tests: schedules and results that validate clean.

`month_files` writes a care office's schedule (one unit per provider, each copy listing every
provider's services, its 第7表 computed by the month's arithmetic) and the providers' 実績.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from careplan_link import (
    NO_TIME,
    ZERO_DATE,
    Bundle,
    FileName,
    Office,
    SupplementRecord,
    Table6ActualRecord,
    Table6PlanRecord,
    YearMonth,
    build_table7,
    write_file,
)

CARE = Office("1310000003", "43")
MONTH = YearMonth(2025, 6)
INSURER = "131011"


@attrs.frozen
class V:
    """A visit: user, provider, day, service code, start hour (None: no time), count, units."""

    user: str
    provider: str
    day: int
    code: str = "111111"
    hour: int | None = 10
    count: int = 1
    units: int | None = 250

    def fields(self) -> dict[str, Any]:
        times: dict[str, Any] = (
            {"start_time": NO_TIME, "end_time": NO_TIME}
            if self.hour is None
            else {
                "start_time": datetime.time(self.hour, 0),
                "end_time": datetime.time(self.hour + 1, 0),
            }
        )
        return {
            "insurer_no": INSURER,
            "insured_no": self.user,
            "target_month": MONTH,
            "created_date": datetime.date(2025, 5, 25),
            "plan_office_no": CARE.number,
            "planner_name": "介護　太郎",
            "units": self.units,
            "service_date": datetime.date(MONTH.year, MONTH.month, self.day),
            "service_count": self.count,
            "service_code": self.code,
            "provider_office_no": self.provider,
            "provider_name": f"事業所{self.provider[-2:]}",
            "over_30_days": "0",
            **times,
            **(
                {"tais_code": "00170-000001", "equipment_name": "車いす"}
                if self.code[:2] in ("17", "67")
                else {}
            ),
        }


def supplement(user: str, limit: int = 16765) -> SupplementRecord:
    return SupplementRecord(
        insurer_no=INSURER,
        insured_no=user,
        plan_date=ZERO_DATE,
        user_name_kana="カイゴ　ハナコ",
        user_name="介護　花子",
        user_sex="2",
        user_birth_date=datetime.date(1940, 4, 1),
        certification_date=datetime.date(2025, 4, 1),
        limit_start_date=datetime.date(2025, 4, 1),
        limit_end_date=datetime.date(2026, 3, 31),
        certification_status="2",
        care_level="12",
        benefit_limit=limit,
        target_month=MONTH,
        updater_office_no=CARE.number,
    )


def plan_records(visits: Iterable[V]) -> list[Table6PlanRecord]:
    return [Table6PlanRecord(updater_office_no=CARE.number, **v.fields()) for v in visits]


def result_records(visits: Iterable[V]) -> list[Table6ActualRecord]:
    return [Table6ActualRecord(updater_office_no=v.provider, **v.fields()) for v in visits]


def office(provider: str, code: str = "11") -> Office:
    return Office(provider, code)


def serial(n: int, day: int = 26) -> str:
    return f"202505{day:02d}1000{n:02d}"


def schedule_unit(
    visits: Sequence[V],
    receiver: Office,
    *,
    serial_no: str = serial(1),
    limits: Mapping[str, int] | None = None,
) -> Bundle:
    """The schedule sent to `receiver`: every provider's services of the users `receiver`
    serves (the copy lists every provider of those users)."""
    users = list(dict.fromkeys(v.user for v in visits if v.provider == receiver.number))
    rows = plan_records(v for v in visits if v.user in users)
    supplements = [supplement(u, (limits or {}).get(u, 16765)) for u in users]
    sheets = build_table7(rows, supplements=supplements, unit_price="10.00")
    table7 = [
        r
        for s in sheets
        for r in s.records(created_date=datetime.date(2025, 5, 25), updater_office_no=CARE.number)
    ]
    name = FileName.new("UPPLAN", sender=CARE, receiver=receiver, month=MONTH, serial=serial_no)
    return Bundle.from_files(
        {
            str(name): write_file(rows, name),
            str(name.sibling("UPSIKYU")): write_file(table7, name.sibling("UPSIKYU")),
            str(name.sibling("UPHOSOKU")): write_file(supplements, name.sibling("UPHOSOKU")),
        }
    )


def results_unit(visits: Sequence[V], sender: Office, *, serial_no: str = serial(1, 30)) -> Bundle:
    rows = result_records(v for v in visits if v.provider == sender.number)
    name = FileName.new("UPJSK", sender=sender, receiver=CARE, month=MONTH, serial=serial_no)
    return Bundle.from_files({str(name): write_file(rows, name)})


def month(
    planned: Sequence[V],
    delivered: Sequence[V],
    providers: Mapping[str, str] | None = None,
    **options: Any,
) -> tuple[list[Bundle], list[Bundle]]:
    """The schedules (one per provider) and 実績 (one per provider that delivered anything)."""
    codes = dict(providers or {})
    for v in [*planned, *delivered]:
        codes.setdefault(v.provider, v.code[:2])
    plan = [
        schedule_unit(planned, office(p, codes[p]), **options)
        for p in dict.fromkeys(v.provider for v in planned)
    ]
    results = [
        results_unit(delivered, office(p, codes[p]))
        for p in dict.fromkeys(v.provider for v in delivered)
    ]
    return plan, results
