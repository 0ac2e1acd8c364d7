"""Converting files between CSVバージョン 202208 and 202407."""

from __future__ import annotations

import datetime

import attrs
import pytest

from careplan_link import (
    Bundle,
    FormatError,
    Table6PlanRecord,
    Table6PlanV3Record,
    Table7Record,
    Table7V3Record,
    UnitConversion,
    YearMonth,
    convert,
    parse_plan,
    validate,
    write_file,
)

from .unitfiles import name_of, plan_unit, schedule_unit


def _march_unit() -> dict[str, bytes]:
    """The example unit moved to service month 2025-03 (still v4.1: the wrong version then)."""
    out = {}
    for name, data in schedule_unit().items():
        file = parse_plan(data, name=name)
        records = []
        for record in file.records:
            changes: dict[str, object] = {}
            if getattr(record, "target_month", None) == YearMonth(2025, 4):
                changes["target_month"] = YearMonth(2025, 3)
            day = getattr(record, "service_date", None)
            if isinstance(day, datetime.date):
                changes["service_date"] = day.replace(month=3)
            records.append(attrs.evolve(record, **changes))
        new_name = name.replace("_202504_", "_202503_")
        out[new_name] = write_file(records, new_name)
    return out


def test_schedule_goes_down_and_up_again() -> None:
    files = _march_unit()
    name = name_of(files, "UPPLAN")
    v4 = parse_plan(files[name], name=name)
    down = convert(v4, to="202208")
    assert down.lost == ()
    assert str(down.file.name) == "UPPLAN_202503_1370100016_1370200022_20250325093000.CSV"
    assert all(isinstance(r, Table6PlanV3Record) for r in down.file.records)
    assert {r.csv_version for r in down.file.records} == {"202208"}
    data = down.file.to_bytes()
    assert parse_plan(data, name=str(down.file.name)).records == down.file.records
    up = convert(down.file, to="202407", service_types=("43", "11"), allow_month_mismatch=True)
    assert str(up.file.name) == name
    assert up.file.records == v4.records
    assert [(i.code, i.severity) for i in up.lost] == [("convert.month", "warning")]


def test_conversion_that_would_not_validate_for_its_month_is_refused() -> None:
    files = schedule_unit()  # April 2025: CSVバージョン 202407 applies
    name = name_of(files, "UPPLAN")
    v4 = parse_plan(files[name], name=name)
    with pytest.raises(FormatError) as caught:
        convert(v4, to="202208")
    (issue,) = caught.value.issues
    assert (issue.code, issue.severity, issue.value) == ("convert.month", "error", "202504")
    assert "202407" in issue.message_ja and "202407" in issue.message_en
    forced = convert(v4, to="202208", allow_month_mismatch=True)
    assert [i.code for i in forced.lost] == ["convert.month"]
    report = validate({str(forced.file.name): forced.file.to_bytes()})
    assert "version.month" in {i.code for i in report.errors}


def test_values_dropped_going_down_are_reported() -> None:
    record = Table6PlanRecord(
        insurer_no="131011",
        service_code="171111",
        tais_code="00001-000010",
        equipment_name="手すり",
        target_month=YearMonth(2025, 4),
        service_date=datetime.date(2025, 4, 1),
    )
    name = "UPPLAN_202504_1370100016_43_1370200022_17_20250325093000.CSV"
    v4 = parse_plan(write_file([record, record], name), name=name)
    down = convert(v4, to="202208", allow_month_mismatch=True)
    assert [(i.code, i.record, i.column, i.value) for i in down.lost] == [
        ("convert.month", None, None, "202504"),
        ("convert.lost", 1, 16, "00001-000010"),
        ("convert.lost", 1, 18, "手すり"),
        ("convert.lost", 2, 16, "00001-000010"),
        ("convert.lost", 2, 18, "手すり"),
    ]
    assert all(i.severity == "warning" and i.message_ja for i in down.lost)


def test_table7_times_too_long_for_v3() -> None:
    name = "UPSIKYU_202504_1370100016_43_1370200022_11_20250325093000.CSV"
    name = name.replace("_202504_", "_202503_")
    v4 = parse_plan(write_file([Table7Record(times=120)], name), name=name)
    down = convert(v4, to="202208")
    assert isinstance(down.file.records[0], Table7V3Record)
    assert [(i.code, i.column) for i in down.lost] == [("convert.too_long", 13)]


def test_v4_only_interfaces_and_missing_service_types() -> None:
    files = plan_unit()
    name = name_of(files, "UP3KYO")
    with pytest.raises(FormatError, match="only in CSVバージョン 202407") as caught:
        convert(parse_plan(files[name], name=name), to="202208")
    assert caught.value.issues[0].code == "convert.not_in_version"
    table1 = name_of(files, "UP1KYO")
    down = convert(parse_plan(files[table1], name=table1), to="202208").file
    with pytest.raises(FormatError, match="service_types") as caught:
        convert(down, to="202407")
    assert caught.value.issues[0].code == "convert.service_types"


def test_converted_unit_validates_in_its_version() -> None:
    unit = Bundle.from_files(_march_unit())
    converted = convert(unit, to="202208")
    assert isinstance(converted, UnitConversion)
    assert converted.lost == ()
    assert [f.name.prefix for f in converted.files] == ["UPPLAN", "UPSIKYU", "UPHOSOKU"]
    assert all(f.name.naming == "v3" for f in converted.files)
    assert list(converted.bundle.files) == [str(f.name) for f in converted.files]
    report = validate(converted.bundle)
    assert report.ok, [str(i) for i in report.errors]
    assert report.issues == ()
    # And back up: the unit is the one it was.
    up = convert(
        converted.bundle, to="202407", service_types=("43", "11"), allow_month_mismatch=True
    )
    assert {str(f.name) for f in up.files} == set(_march_unit())
    assert all(i.code == "convert.month" for i in up.lost)


def test_unit_conversion_refused_for_its_month_lists_every_file() -> None:
    unit = Bundle.from_files(schedule_unit())
    with pytest.raises(FormatError) as caught:
        convert(unit, to="202208")
    assert sorted(i.file or "" for i in caught.value.issues) == sorted(
        n.replace("_43_", "_").replace("_11_", "_") for n in unit.files
    )
    assert {i.code for i in caught.value.issues} == {"convert.month"}


def test_plan_unit_goes_down_without_its_table3() -> None:
    unit = Bundle.from_files(plan_unit())
    with pytest.raises(FormatError) as caught:
        convert(unit, to="202208")
    assert [(i.code, i.file) for i in caught.value.issues] == [
        ("convert.not_in_version", name_of(plan_unit(), "UP3KYO"))
    ]
    without_table3 = {n: d for n, d in plan_unit().items() if not n.startswith("UP3KYO")}
    down = convert(Bundle.from_files(without_table3), to="202208")
    assert validate(down.bundle).ok


def test_convert_rejects_what_it_cannot_convert() -> None:
    with pytest.raises(TypeError):
        convert(b"202407,...")  # type: ignore[call-overload]
    # 202504 is read as v4.1 (superseded) but no edition writes it: refused, naming the value.
    with pytest.raises(FormatError, match=r"v4\.1's value is 202407") as caught:
        convert(Bundle.from_files(schedule_unit()), to="202504")
    assert [i.code for i in caught.value.issues] == ["convert.version"]
    with pytest.raises(FormatError, match="202407, 202208, 202003 or 201910, not '209901'"):
        convert(Bundle.from_files(schedule_unit()), to="209901")
