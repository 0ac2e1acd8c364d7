"""Small builders for hand-written test files."""

from __future__ import annotations

import datetime

from careplan_link import NO_TIME, FileName, Office, Table6PlanRecord, YearMonth
from careplan_link.format._ms932 import encode

CARE = Office("1370100016", "43")
PROVIDER = Office("1370200022", "11")
PLAN_NAME = "UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV"


def table6_row(**changes: str) -> list[str]:
    """The 25 items of a valid 第6表 record as text, with some items changed (by attribute)."""
    from careplan_link import get_layout

    values = {
        "csv_version": "202407",
        "insurer_no": "131011",
        "insured_no": "0000012345",
        "created_date": "20250325",
        "target_month": "202504",
        "plan_office_no": "1370100016",
        "planner_name": '"佐藤 花子"',
        "units": "244",
        "short_stay_days_before_month": "",
        "service_date": "20250401",
        "prorated_days": "",
        "start_time": "1000",
        "end_time": "1045",
        "service_count": "1",
        "service_code": "111211",
        "tais_code": "",
        "equipment_notification_code": "",
        "equipment_name": "",
        "detail_no": "",
        "provider_office_no": "1370200022",
        "provider_name": '"訪問介護すみれ"',
        "satellite_no": "",
        "over_30_days": "0",
        "updater_office_no": "1370100016",
        "identifier": "",
    }
    values.update(changes)
    layout = get_layout("table6_plan")
    return [values[c.attribute] for c in layout.columns]


def table6_csv(*rows: list[str], newline: str = "\r\n") -> bytes:
    text = "".join(",".join(row) + newline for row in rows)
    return encode(text)


def table6_record(**changes: object) -> Table6PlanRecord:
    values: dict[str, object] = {
        "insurer_no": "131011",
        "insured_no": "0000012345",
        "created_date": datetime.date(2025, 3, 25),
        "target_month": YearMonth(2025, 4),
        "plan_office_no": "1370100016",
        "planner_name": "佐藤 花子",
        "units": 244,
        "service_date": datetime.date(2025, 4, 1),
        "start_time": datetime.time(10, 0),
        "end_time": datetime.time(10, 45),
        "service_count": 1,
        "service_code": "111211",
        "provider_office_no": "1370200022",
        "provider_name": "訪問介護すみれ",
        "over_30_days": "0",
        "updater_office_no": "1370100016",
    }
    values.update(changes)
    return Table6PlanRecord(**values)  # type: ignore[arg-type]


def plan_name() -> FileName:
    return FileName.parse(PLAN_NAME)


__all__ = ["CARE", "NO_TIME", "PLAN_NAME", "PROVIDER", "plan_name", "table6_csv", "table6_row"]
