"""The strategies vendors use yield what their names say, checked by `validate` itself."""

from __future__ import annotations

import datetime

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careplan_link import (
    LAYOUTS,
    NO_TIME,
    ZERO_DATE,
    ZERO_MONTH,
    Bundle,
    CareplanFile,
    Issue,
    Kind,
    Office,
    Record,
    ValidationReport,
    YearMonth,
    get_layout,
    validate,
)
from careplan_link.format._item_rules import _IDENTIFIER_COLUMNS
from careplan_link.format._ms932 import is_encodable
from careplan_link.identifiers import office_number
from careplan_link.testing import strategies as cst


@pytest.mark.parametrize(("interface_id", "csv_version"), sorted(LAYOUTS))
@settings(max_examples=30)
@given(data=st.data())
def test_records_fit_their_layout(interface_id: str, csv_version: str, data: st.DataObject) -> None:
    layout = get_layout(interface_id, csv_version)
    record: Record = data.draw(cst.records(layout))
    assert type(record) is layout.record_type
    assert record.csv_version == layout.csv_version
    for column, value in zip(layout.columns, attrs.astuple(record, recurse=False), strict=True):
        if column.required:
            assert value is not None, column.name_ja
        if value is None:
            continue
        if column.code_table is not None:
            assert value in column.code_table, (column.name_ja, value)
        if isinstance(value, str):
            assert value, column.name_ja
            assert is_encodable(value)
            if column.max_length and column.kind is not Kind.FREE_TEXT:
                assert len(value) <= column.max_length, (column.name_ja, value)
        if value in (ZERO_DATE, ZERO_MONTH, NO_TIME):
            assert (interface_id, column.attribute) in {
                ("supplement", "plan_date"),
                ("supplement", "target_month"),
                ("table6_plan", "start_time"),
                ("table6_plan", "end_time"),
                ("table6_actual", "start_time"),
                ("table6_actual", "end_time"),
            }


@pytest.mark.parametrize("interface_id", ["table1", "table6_plan", "table7", "supplement"])
@settings(max_examples=30)
@given(data=st.data())
def test_office_and_insurer_numbers_carry_their_check_digits(
    interface_id: str, data: st.DataObject
) -> None:
    # The items whose check digit validation warns about: the strategies must give them valid
    # numbers, or every drawn file would carry warnings.
    layout = get_layout(interface_id, "202407")
    record: Record = data.draw(cst.records(layout))
    checked = 0
    for column, value in zip(layout.columns, attrs.astuple(record, recurse=False), strict=True):
        identifier = _IDENTIFIER_COLUMNS.get(column.attribute)
        if identifier is None or value is None or value == "9999999999":  # 第7表's 全合計
            continue
        assert identifier.checksum_ok(value), (column.name_ja, value)
        checked += 1
    assert checked  # each of these layouts holds such items, the 保険者番号 at least


@settings(max_examples=30)
@given(cst.offices(), cst.offices(with_service_type=False))
def test_offices_have_valid_numbers(with_type: Office, without: Office) -> None:
    assert office_number.checksum_ok(with_type.number) and with_type.service_type
    assert office_number.checksum_ok(without.number)


@given(cst.free_text())
def test_free_text_is_ms932_and_non_empty(text: str) -> None:
    assert text and is_encodable(text)


@settings(max_examples=30)
@given(cst.csv_files())
def test_csv_file_names_match_their_layout(file: CareplanFile) -> None:
    assert file.name.layout_id == file.layout.id
    assert file.name.naming == ("v4" if file.layout.csv_version == "202407" else "v3")
    assert all(type(r) is file.layout.record_type for r in file.records)


def _issues(report: ValidationReport) -> list[Issue]:
    return list(report.issues)


def _codes_of_lone_file(file: CareplanFile) -> list[tuple[str, int | None, int | None]]:
    """Every issue of the file validated on its own, except the unit.* ones a lone file has."""
    report = validate({str(file.name): file.to_bytes()})
    return [(i.code, i.record, i.column) for i in _issues(report) if not i.code.startswith("unit.")]


# Every layout of both versions, a few examples each (about 170 files), and any layout below.
@pytest.mark.parametrize(("interface_id", "csv_version"), sorted(LAYOUTS))
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_csv_files_validate_with_only_the_unit_issues_of_a_lone_file(
    interface_id: str, csv_version: str, data: st.DataObject
) -> None:
    file = data.draw(cst.csv_files(interface_id, csv_version))
    assert file.records
    assert _codes_of_lone_file(file) == []


@settings(max_examples=30, deadline=None)
@given(cst.csv_files())
def test_csv_files_of_any_layout_validate(file: CareplanFile) -> None:
    assert _codes_of_lone_file(file) == []


@settings(max_examples=25, deadline=None)
@given(cst.csv_files("table6_plan"))
def test_schedule_files_keep_their_month(file: CareplanFile) -> None:
    # The case reported in issue 11: month mismatches and service days outside 対象年月.
    month = file.name.service_month
    for record in file.records:
        assert record.target_month == month  # type: ignore[attr-defined]
        day = record.service_date  # type: ignore[attr-defined]
        assert (day.year, day.month) == (month.year, month.month)  # type: ignore[union-attr]
    assert _codes_of_lone_file(file) == []


@settings(max_examples=20, deadline=None)
@given(cst.units())
def test_units_validate_clean(unit: Bundle) -> None:
    report = validate(unit)
    assert _issues(report) == [], [str(i) for i in _issues(report)]
    assert [dict(u.files) for u in report.units] == [dict(unit.files)]


@pytest.mark.parametrize("strategy", [cst.plan_units, cst.schedule_units, cst.results_units])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_each_unit_strategy_validates_clean(strategy: object, data: st.DataObject) -> None:
    unit: Bundle = data.draw(strategy())  # type: ignore[operator]
    report = validate(unit)
    assert _issues(report) == [], [str(i) for i in _issues(report)]
    assert unit.missing == ()


@settings(max_examples=5, deadline=None)
@given(cst.csv_files("table6_plan"))
def test_a_planted_fault_is_seen_by_the_same_check(file: CareplanFile) -> None:
    # The check above is not vacuous: a file the old strategy could yield (a 第6表 line of
    # another month) fails it.
    bad_record = attrs.evolve(file.records[0], target_month=YearMonth(2099, 1))
    bad = attrs.evolve(file, records=(bad_record, *file.records[1:]))
    assert ("month.mismatch", 1, 5) in _codes_of_lone_file(bad)
    moved = attrs.evolve(file.records[0], service_date=datetime.date(2099, 1, 1))
    bad = attrs.evolve(file, records=(moved,))
    assert "month.service_date" in {code for code, _, _ in _codes_of_lone_file(bad)}


def test_strategy_module_exports() -> None:
    assert set(cst.__all__) == {
        "csv_files",
        "file_names",
        "free_text",
        "layouts",
        "ms932_characters",
        "offices",
        "plan_units",
        "records",
        "results_units",
        "schedule_units",
        "units",
    }
