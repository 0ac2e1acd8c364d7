"""The strategies vendors use produce values that are valid for their layout."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careplan_link import LAYOUTS, NO_TIME, ZERO_DATE, ZERO_MONTH, Kind, Record, get_layout
from careplan_link.format._ms932 import is_encodable
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


@given(cst.free_text())
def test_free_text_is_ms932_and_non_empty(text: str) -> None:
    assert text and is_encodable(text)


@given(cst.csv_files())
def test_csv_file_names_match_their_layout(file: cst.CareplanFile) -> None:
    assert file.name.layout_id == file.layout.id
    assert file.name.naming == ("v4" if file.layout.csv_version == "202407" else "v3")
    assert all(type(r) is file.layout.record_type for r in file.records)


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
