"""Write the example files in examples/: one schedule unit (予定) of a care office to a provider.

Usage: python tools/make_examples.py
The files are committed; this script documents how they were made and remakes them.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from careplan_link import (
    NO_TIME,
    ZERO_DATE,
    FileName,
    Office,
    SupplementRecord,
    Table6PlanRecord,
    Table7Record,
    YearMonth,
    write_file,
)

OUT = Path(__file__).resolve().parent.parent / "examples"
CARE_OFFICE = Office("1370100016", "43")
PROVIDER = Office("1370200022", "11")
MONTH = YearMonth(2025, 4)
SERIAL = "20250325093000"
USERS = [
    ("131011", "0000012345", "ヤマダ ハナコ", "山田 花子", "2", datetime.date(1940, 5, 3)),
    ("131011", "H123456789", "タカサキ イチロウ", "髙﨑 一郎", "1", datetime.date(1938, 11, 21)),
]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    plan = FileName.new("UPPLAN", sender=CARE_OFFICE, receiver=PROVIDER, month=MONTH, serial=SERIAL)
    schedule: list[Table6PlanRecord] = []
    totals: list[Table7Record] = []
    supplements: list[SupplementRecord] = []
    for insurer, insured, kana, name, sex, birth in USERS:
        days = [datetime.date(2025, 4, d) for d in (1, 4, 8, 11, 15)]
        for day in days:
            schedule.append(
                Table6PlanRecord(
                    insurer_no=insurer,
                    insured_no=insured,
                    created_date=datetime.date(2025, 3, 25),
                    target_month=MONTH,
                    plan_office_no=CARE_OFFICE.number,
                    planner_name="佐藤 ケアマネ",
                    units=244,
                    service_date=day,
                    start_time=datetime.time(10, 0),
                    end_time=datetime.time(10, 45),
                    service_count=1,
                    service_code="111211",
                    provider_office_no=PROVIDER.number,
                    provider_name="訪問介護ステーション　すみれ",
                    over_30_days="0",
                    updater_office_no=CARE_OFFICE.number,
                )
            )
        schedule.append(
            Table6PlanRecord(
                insurer_no=insurer,
                insured_no=insured,
                created_date=datetime.date(2025, 3, 25),
                target_month=MONTH,
                plan_office_no=CARE_OFFICE.number,
                planner_name="佐藤 ケアマネ",
                units=None,
                service_date=datetime.date(2025, 4, 1),
                start_time=NO_TIME,
                end_time=NO_TIME,
                service_count=1,
                service_code="116275",
                provider_office_no=PROVIDER.number,
                provider_name="訪問介護ステーション　すみれ",
                over_30_days="0",
                updater_office_no=CARE_OFFICE.number,
            )
        )
        units = 244 * len(days)
        common: dict[str, Any] = {
            "insurer_no": insurer,
            "insured_no": insured,
            "created_date": datetime.date(2025, 3, 25),
            "target_month": MONTH,
            "over_30_days": "0",
            "updater_office_no": CARE_OFFICE.number,
        }
        totals.append(
            Table7Record(
                **common,
                provider_name="訪問介護ステーション　すみれ",
                provider_office_no=PROVIDER.number,
                service_code="111211",
                units=244,
                times=len(days),
                managed_units=units,
                within_category_limit_units=units,
                unit_price=Decimal("11.40"),
                total_cost=int(units * Decimal("11.40")),
                benefit_rate=90,
                insurance_claim=int(units * Decimal("11.40") * Decimal("0.9")),
                user_copay=int(units * Decimal("11.40"))
                - int(units * Decimal("11.40") * Decimal("0.9")),
            )
        )
        totals.append(
            Table7Record(
                **common,
                provider_office_no="9999999999",
                service_code="999999",
                units=0,
                times=0,
                managed_units=units,
                within_category_limit_units=units,
            )
        )
        supplements.append(
            SupplementRecord(
                insurer_no=insurer,
                insured_no=insured,
                plan_date=ZERO_DATE,
                user_name_kana=kana,
                user_name=name,
                user_sex=sex,
                user_birth_date=birth,
                user_postal_code="160-0023",
                user_address1="東京都新宿区西新宿二丁目８番１号",
                user_phone="03-0000-0000",
                certification_status="2",
                care_level="21",
                benefit_limit=16765,
                updater_office_no=CARE_OFFICE.number,
                target_month=MONTH,
            )
        )
    write_file(schedule, plan, to=OUT)
    write_file(totals, plan.sibling("UPSIKYU"), to=OUT)
    write_file(supplements, plan.sibling("UPHOSOKU"), to=OUT)
    for path in sorted(OUT.glob("*.CSV")):
        print(path.relative_to(OUT.parent))


if __name__ == "__main__":
    main()
