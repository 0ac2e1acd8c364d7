"""Converting files between CSVバージョン 202208 and 202407."""

from __future__ import annotations

import datetime

import pytest

from careplan_link import (
    Table6PlanRecord,
    Table6PlanV3Record,
    Table7Record,
    Table7V3Record,
    YearMonth,
    convert,
    parse_plan,
    validate,
    write_file,
)

from .unitfiles import name_of, plan_unit, schedule_unit


def test_schedule_goes_down_and_up_again() -> None:
    files = schedule_unit()
    name = name_of(files, "UPPLAN")
    v4 = parse_plan(files[name], name=name)
    down = convert(v4, to="202208")
    assert down.lost == ()
    assert str(down.file.name) == "UPPLAN_202504_1370100012_1370200028_20250325093000.CSV"
    assert all(isinstance(r, Table6PlanV3Record) for r in down.file.records)
    assert {r.csv_version for r in down.file.records} == {"202208"}
    data = down.file.to_bytes()
    assert parse_plan(data, name=str(down.file.name)).records == down.file.records
    up = convert(down.file, to="202407", service_types=("43", "11"))
    assert str(up.file.name) == name
    assert up.file.records == v4.records


def test_values_dropped_going_down_are_reported() -> None:
    record = Table6PlanRecord(
        insurer_no="131001",
        service_code="171111",
        tais_code="00001-000010",
        equipment_name="手すり",
        target_month=YearMonth(2025, 4),
        service_date=datetime.date(2025, 4, 1),
    )
    name = "UPPLAN_202504_1370100012_43_1370200028_17_20250325093000.CSV"
    v4 = parse_plan(write_file([record, record], name), name=name)
    down = convert(v4, to="202208")
    assert [(i.code, i.record, i.column, i.value) for i in down.lost] == [
        ("convert.lost", 1, 16, "00001-000010"),
        ("convert.lost", 1, 18, "手すり"),
        ("convert.lost", 2, 16, "00001-000010"),
        ("convert.lost", 2, 18, "手すり"),
    ]
    assert all(i.severity == "warning" and i.message_ja for i in down.lost)


def test_table7_times_too_long_for_v3() -> None:
    name = "UPSIKYU_202504_1370100012_43_1370200028_11_20250325093000.CSV"
    v4 = parse_plan(write_file([Table7Record(times=120)], name), name=name)
    down = convert(v4, to="202208")
    assert isinstance(down.file.records[0], Table7V3Record)
    assert [(i.code, i.column) for i in down.lost] == [("convert.too_long", 13)]


def test_v4_only_interfaces_and_missing_service_types() -> None:
    files = plan_unit()
    name = name_of(files, "UP3KYO")
    with pytest.raises(ValueError, match="only in CSVバージョン 202407"):
        convert(parse_plan(files[name], name=name), to="202208")
    table1 = name_of(files, "UP1KYO")
    down = convert(parse_plan(files[table1], name=table1), to="202208").file
    with pytest.raises(ValueError, match="service_types"):
        convert(down, to="202407")


def test_converted_unit_validates_in_its_version() -> None:
    files = schedule_unit()
    converted = {}
    for name, data in files.items():
        file = convert(parse_plan(data, name=name), to="202208").file
        converted[str(file.name)] = file.to_bytes()
    report = validate(converted)
    # April 2025 is a v4.1 month: the converted files are complete and consistent, but their
    # CSVバージョン no longer fits the service month.
    assert {i.code for i in report.errors} == {"version.month"}
