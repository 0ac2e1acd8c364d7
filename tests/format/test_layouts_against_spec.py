"""The package's layouts agree with the standard's facts in standard/careplan-standard.json.

That file is the transcription (../shared/spec) as extracted by tools/extract_standard.py;
tests/format/test_standard_data.py keeps the two equal whenever the transcription is present, so
these tests run on a clean clone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from careplan_link import CODE_TABLES, LAYOUTS, PREFIXES, Kind, get_layout

DATA = Path(__file__).resolve().parents[2] / "standard" / "careplan-standard.json"

INTERFACE_IDS = [
    "supplement", "table1", "table1_delete", "table2", "table3", "table6_plan", "table6_actual",
    "table6_plan_delete", "table6_actual_delete", "table7", "yobo_basic", "yobo_basic_delete",
    "yobo_basic_sub1", "yobo_basic_sub2", "yobo_plan", "yobo_plan_delete", "yobo_plan_sub",
]  # fmt: skip
V3_IDS = [
    "supplement", "table1", "table1_delete", "table2", "table6_plan", "table6_actual",
    "table6_plan_delete", "table6_actual_delete", "table7",
]  # fmt: skip


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    return data


def _interface(spec: dict[str, Any], interface_id: str, family: str = "202407") -> dict[str, Any]:
    layouts = next(f for f in spec["layout_families"] if f["family"] == family)
    return next(i for i in layouts["interfaces"] if i["id"] == interface_id)


def _code_tables(spec: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {t["name"]: dict(t["values"]) for t in spec["code_tables"]}


def test_all_17_interfaces_in_v4_and_the_v3_forms() -> None:
    assert sorted(i for i, v in LAYOUTS if v == "202407") == sorted(INTERFACE_IDS)
    assert sorted(i for i, v in LAYOUTS if v == "202208") == sorted(V3_IDS)


@pytest.mark.parametrize("interface_id", INTERFACE_IDS)
def test_v4_layout_matches_spec(spec: dict[str, Any], interface_id: str) -> None:
    interface = _interface(spec, interface_id)
    layout = get_layout(interface_id, "202407")
    assert layout.prefix == interface["prefix"]
    assert layout.name_ja == interface["name_ja"]
    assert layout.column_count == len(interface["columns"])
    for column, expected in zip(layout.columns, interface["columns"], strict=True):
        assert column.no == expected["no"]
        assert column.name_ja == expected["name_ja"]
        assert column.required == bool(expected["required"])
        assert column.uncertain == bool(expected.get("uncertain"))
        if column.no == 1:
            assert column.kind is Kind.CSV_VERSION
        else:
            assert column.kind.value == expected["kind"]
        if (interface_id, column.no) == ("table7", 30):
            # Decision (docs/decisions.md): accept the v3.2 length 5, not the OCR's 2.
            assert column.max_length == 5
        else:
            assert column.max_length == expected.get("max_length")
        table = expected["code_table"]
        if table:
            assert column.code_table is CODE_TABLES[table]
            assert dict(column.code_table.values) == _code_tables(spec)[table]
        else:
            assert column.code_table is None


@pytest.mark.parametrize("interface_id", V3_IDS)
def test_v3_layout_is_v4_minus_documented_differences(
    spec: dict[str, Any], interface_id: str
) -> None:
    v4 = get_layout(interface_id, "202407")
    v3 = get_layout(interface_id, "202208")
    names = [c["name_ja"] for c in _interface(spec, interface_id, "202208")["columns"]]
    # v3.2 lacks the 福祉用具 columns v4.0 added to 第6表 (16-18) and 第7表 (10-12).
    removed = {"table6_plan": {16, 17, 18}, "table6_actual": {16, 17, 18}, "table7": {10, 11, 12}}
    kept = [c for c in v4.columns if c.no not in removed.get(interface_id, set())]
    assert [c.name_ja for c in v3.columns] == [c.name_ja for c in kept] == names
    assert [c.no for c in v3.columns] == list(range(1, len(kept) + 1))
    if interface_id in ("table6_plan", "table6_actual"):
        assert v3.column_count == 22
    if interface_id == "table7":
        assert v3.column_count == 34
        assert v3.column("times").max_length == 2
        assert v4.column("times").max_length == 3


def test_prefixes_match_spec_longest_first(spec: dict[str, Any]) -> None:
    assert spec["file_names"]["prefixes"] == {**PREFIXES}
    ordered = list(PREFIXES)
    assert ordered.index("UPKIHON_SUB1") < ordered.index("UPKIHON")
    assert ordered.index("UPYOBO_SUB") < ordered.index("UPYOBO")


def test_record_fields_carry_column_number_and_item() -> None:
    for layout in LAYOUTS.values():
        fields = attrs.fields(layout.record_type)
        assert [f.name for f in fields] == [c.attribute for c in layout.columns]
        assert [f.metadata["no"] for f in fields] == [c.no for c in layout.columns]
        assert [f.metadata["item"] for f in fields] == [c.name_ja for c in layout.columns]


def test_records_are_frozen_and_slotted() -> None:
    for layout in LAYOUTS.values():
        record = layout.record_type()
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            record.csv_version = "x"  # type: ignore[misc]
        assert not hasattr(record, "__dict__")
        # v3 layouts identical to v4 share the v4 record class (default CSVバージョン 202407).
        shared = layout.record_type is get_layout(layout.id, "202407").record_type
        assert record.csv_version == ("202407" if shared else layout.csv_version)
