"""The package's layouts agree with the transcription of the standard in ../shared/spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from careplan_link import CODE_TABLES, LAYOUTS, PREFIXES, Kind, get_layout

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "careplan-csv-spec.json"

pytestmark = pytest.mark.skipif(not SPEC.is_file(), reason="../shared/spec is not present")

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
    data: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return data


def _interface(spec: dict[str, Any], interface_id: str) -> dict[str, Any]:
    return next(i for i in spec["interfaces"] if i["id"] == interface_id)


def test_all_17_interfaces_in_v4_and_the_v3_forms() -> None:
    assert sorted(i for i, v in LAYOUTS if v == "202407") == sorted(INTERFACE_IDS)
    assert sorted(i for i, v in LAYOUTS if v == "202208") == sorted(V3_IDS)


@pytest.mark.parametrize("interface_id", INTERFACE_IDS)
def test_v4_layout_matches_spec(spec: dict[str, Any], interface_id: str) -> None:
    interface = _interface(spec, interface_id)
    layout = get_layout(interface_id, "202407")
    assert layout.prefix == interface["file_name"]["prefix"]
    assert layout.name_ja == interface["name_ja"]
    assert layout.column_count == interface["column_count"] == len(interface["columns"])
    for column, expected in zip(layout.columns, interface["columns"], strict=True):
        assert column.no == expected["no"]
        assert column.name_ja == expected["name_ja"]
        assert column.required == bool(expected["required"])
        assert column.uncertain == bool(expected.get("uncertain"))
        if column.no == 1:
            assert column.kind is Kind.CSV_VERSION
        else:
            assert column.kind.value == expected["type"]
        if (interface_id, column.no) == ("table7", 30):
            # Decision (docs/decisions.md): accept the v3.2 length 5, not the OCR's 2.
            assert column.max_length == 5
        else:
            assert column.max_length == expected.get("max_length")
        table = (expected.get("codes") or {}).get("table")
        if table:
            assert column.code_table is CODE_TABLES[table]
            assert dict(column.code_table.values) == {
                str(k): v for k, v in expected["codes"]["values"].items()
            }
        else:
            assert column.code_table is None


@pytest.mark.parametrize("interface_id", V3_IDS)
def test_v3_layout_is_v4_minus_documented_differences(
    spec: dict[str, Any], interface_id: str
) -> None:
    interface = _interface(spec, interface_id)
    v4 = get_layout(interface_id, "202407")
    v3 = get_layout(interface_id, "202208")
    removed = set((interface.get("v3_differences") or {}).get("removed_in_v3", []))
    kept = [c for c in v4.columns if c.no not in removed]
    assert [c.name_ja for c in v3.columns] == [c.name_ja for c in kept]
    assert [c.no for c in v3.columns] == list(range(1, len(kept) + 1))
    if interface_id in ("table6_plan", "table6_actual"):
        assert v3.column_count == 22
    if interface_id == "table7":
        assert v3.column_count == 34
        assert v3.column("times").max_length == 2
        assert v4.column("times").max_length == 3


def test_prefixes_match_spec_longest_first(spec: dict[str, Any]) -> None:
    assert {p: i.split(" ")[0] for p, i in spec["file_naming_common"]["prefixes"].items()} == {
        **PREFIXES
    }
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


def test_generated_file_is_up_to_date(spec: dict[str, Any]) -> None:
    import importlib.util
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    spec_module = importlib.util.spec_from_file_location(
        "generate_layouts", root / "tools" / "generate_layouts.py"
    )
    assert spec_module and spec_module.loader
    module = importlib.util.module_from_spec(spec_module)
    spec_module.loader.exec_module(module)
    generated = module.generate(spec)
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", "_generated.py", "-"],
        input=generated,
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout
    committed = (root / "src" / "careplan_link" / "format" / "_generated.py").read_text("utf-8")
    assert formatted == committed
