"""The standard's data file (standard/careplan-standard.json) against the package and the tools.

Runs on a clean clone: the generator and the package are compared with the committed data file,
which `tools/extract_standard.py` made from the transcription. Where the transcription is present
(`../shared/spec`, or the path in `CAREPLAN_LINK_SPEC`), the extractor's output is compared with
the committed data file too, so the two cannot drift.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest

from careplan_link import CODE_TABLES, LAYOUTS, PREFIXES, FileName
from careplan_link.format import _bundle, _item_rules, _scope, _table7_calc, _unit_rules
from careplan_link.format._editions import EDITIONS
from careplan_link.format._layouts import KNOWN_CSV_VERSIONS, get_layout, layout_family
from careplan_link.format._values import NO_TIME, ZERO_DATE, ZERO_MONTH

ROOT = Path(__file__).resolve().parents[2]
DATA_PATH = ROOT / "standard" / "careplan-standard.json"
GENERATED = ROOT / "src" / "careplan_link" / "format" / "_generated.py"


def _spec_path() -> Path:
    """The transcription: `CAREPLAN_LINK_SPEC` if set (point it at a missing file to test a
    clean clone), else `../shared/spec/careplan-csv-spec.json` beside the repository."""
    given = os.environ.get("CAREPLAN_LINK_SPEC")
    return Path(given) if given else ROOT.parent / "shared" / "spec" / "careplan-csv-spec.json"


@cache
def _tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DATA_PATH.read_text(encoding="utf-8"))
    return loaded


def _family(data: dict[str, Any], family: str) -> dict[str, Any]:
    return next(f for f in data["layout_families"] if f["family"] == family)


# --- the tools -----------------------------------------------------------------------------


def test_generator_output_equals_committed_file(tmp_path: Path) -> None:
    output = tmp_path / "_generated.py"
    _tool("generate_layouts").main(["--data", str(DATA_PATH), "--output", str(output)])
    assert output.read_text("utf-8") == GENERATED.read_text("utf-8")


def test_extractor_output_equals_committed_data(tmp_path: Path) -> None:
    """With the transcription: its extraction is the committed file. Without it (a clean
    clone): the extractor says the transcription is missing instead of writing anything."""
    output = tmp_path / "standard.json"
    spec = _spec_path()
    if spec.is_file():
        _tool("extract_standard").main([str(spec), "--output", str(output)])
        assert output.read_text("utf-8") == DATA_PATH.read_text("utf-8")
    else:
        with pytest.raises(SystemExit, match="no transcription"):
            _tool("extract_standard").main([str(spec), "--output", str(output)])
        assert not output.exists()


def test_data_file_is_in_its_stable_form(data: dict[str, Any]) -> None:
    # Sorted keys and one line per container of scalars: a re-extraction diffs line by line.
    assert DATA_PATH.read_text("utf-8") == _tool("extract_standard").dumps(data) + "\n"


def _with_family(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of the data with a made-up family 202604: the current one plus a 第6表 column."""
    changed = copy.deepcopy(data)
    family = copy.deepcopy(_family(data, "202407"))
    family.update(family="202604", class_suffix="V202604", edition="v9.9")
    table6 = next(i for i in family["interfaces"] if i["id"] == "table6_plan")
    table6["columns"].append(
        {**table6["columns"][-1], "no": 26, "name_ja": "新項目", "attribute": "new_item"}
    )
    changed["layout_families"].append(family)
    return changed


def test_generator_makes_any_family_listed_in_the_data(data: dict[str, Any]) -> None:
    text = _tool("generate_layouts").generate(_with_family(data))
    classes = re.findall(r"^class (\w+)\(Record\):", text, re.MULTILINE)
    # Only the interface whose columns differ gets a class of its own, named with the suffix.
    assert [c for c in classes if "V202604" in c] == ["Table6PlanV202604Record"]
    assert "'Table6PlanV202604Record'," in text
    assert "    '202604': (" in text
    assert "new_item: str | None" in text
    assert text.count("record_type=Table6PlanV202604Record") == 1
    assert text.count("record_type=Table7Record") == 2  # 202407 and 202604 share it


def test_generator_refuses_a_first_family_with_a_suffix(data: dict[str, Any]) -> None:
    changed = copy.deepcopy(data)
    changed["layout_families"].reverse()  # 202208 (suffix V3) first
    with pytest.raises(SystemExit, match="empty class suffix"):
        _tool("generate_layouts").generate(changed)


def test_generator_source_names_no_family() -> None:
    source = (ROOT / "tools" / "generate_layouts.py").read_text("utf-8")
    code = source.split('"""', 2)[2]  # after the module docstring, which gives an example
    assert not re.search(r"20\d{4}", code)
    assert "V3" not in code


def test_decisions_point_to_sections_of_docs_decisions(data: dict[str, Any]) -> None:
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
        for line in (ROOT / "docs" / "decisions.md").read_text("utf-8").splitlines()
        if line.startswith("## ")
    }
    found = re.findall(r"docs/decisions\.md#([\w-]+)", DATA_PATH.read_text("utf-8"))
    assert found
    assert set(found) <= headings
    # Every column, code table and family says where it came from.
    for family in data["layout_families"]:
        assert family["source"]["documents"]
        for interface in family["interfaces"]:
            assert interface["source"]["transcription"].startswith("interfaces[")
    assert all(t["source"]["documents"] for t in data["code_tables"])


# --- the package against the data ----------------------------------------------------------


def test_layout_families_are_those_of_the_data(data: dict[str, Any]) -> None:
    assert {(i["id"], f["family"]) for f in data["layout_families"] for i in f["interfaces"]} == (
        set(LAYOUTS)
    )


@pytest.mark.parametrize("family", ["202407", "202208"])
def test_layouts_equal_the_data(data: dict[str, Any], family: str) -> None:
    for interface in _family(data, family)["interfaces"]:
        layout = LAYOUTS[(interface["id"], family)]
        assert layout.csv_version == family
        assert (layout.name_ja, layout.prefix) == (interface["name_ja"], interface["prefix"])
        assert list(layout.key_columns) == interface["key_columns"]
        assert layout.has_month == interface["has_month"]
        got = [
            {
                "no": c.no,
                "name_ja": c.name_ja,
                "attribute": c.attribute,
                "kind": c.kind.value,
                "max_length": c.max_length,
                "required": c.required,
                "code_table": c.code_table.name if c.code_table else None,
                "uncertain": c.uncertain,
            }
            for c in layout.columns
        ]
        expected = [{k: v for k, v in c.items() if k != "decision"} for c in interface["columns"]]
        assert got == expected
        base = interface["class_name"]
        suffix = _family(data, family)["class_suffix"]
        assert layout.record_type.__name__ in (base, base.replace("Record", f"{suffix}Record"))


def test_code_tables_equal_the_data(data: dict[str, Any]) -> None:
    assert list(CODE_TABLES) == [t["name"] for t in data["code_tables"]]
    for table in data["code_tables"]:
        got = CODE_TABLES[table["name"]]
        assert got.name_ja == table["name_ja"]
        assert [list(v) for v in got.values] == table["values"]
    for layout in LAYOUTS.values():
        for column in layout.columns:
            if column.code_table is not None:
                assert column.code_table is CODE_TABLES[column.code_table.name]


def test_prefixes_equal_the_data_longest_first(data: dict[str, Any]) -> None:
    assert dict(PREFIXES) == data["file_names"]["prefixes"]
    lengths = [len(p) for p in PREFIXES]
    assert lengths == sorted(lengths, reverse=True)


_SAMPLE_FIELDS = {
    "service_month": "202504",
    "target_month": "202504",
    "sender_office_no": "0300000100",
    "sender_service_type": "43",
    "receiver_office_no": "0300000005",
    "receiver_service_type": "11",
    "timestamp": "20250401120000",
    "branch_no": "0001",
}


def _name_from(pattern: str, **fields: str) -> str:
    values = {**_SAMPLE_FIELDS, **fields}
    return re.sub(r"\{(\w+):\d+\}", lambda m: values[m.group(1)], pattern)


@pytest.mark.parametrize(("rule", "naming"), [("v4_1", "v4"), ("v3_x", "v3")])
def test_file_name_patterns_of_the_data_parse_as_their_interface(
    data: dict[str, Any], rule: str, naming: str
) -> None:
    checked = 0
    for interface_id, entry in data["file_names"]["interfaces"].items():
        if rule not in entry:
            continue
        name = _name_from(entry[rule]["pattern"])
        assert re.fullmatch(entry[rule]["regex"], name), name
        parsed = FileName.parse(name)
        assert (parsed.layout_id, parsed.naming, str(parsed)) == (interface_id, naming, name)
        checked += 1
    assert checked == (18 if rule == "v4_1" else 9)


def _unit_files(data: dict[str, Any], unit: list[str], rule: str, plan: bool) -> dict[str, bytes]:
    # A supplement belongs to a plan by its month 000000, to a schedule by the service month.
    month = "000000" if plan else "202504"
    names = data["file_names"]["interfaces"]
    return {_name_from(names[i][rule]["pattern"], service_month=month): b"" for i in unit}


def _units(data: dict[str, Any], rule: str) -> list[list[str]]:
    given = data["transmission_units"]
    if rule == "v3_x":
        units: list[list[str]] = given["v3_x"]
        return units
    return [
        *given["v4_1_kyotaku_from_care_office"],
        *given["v4_1_kyotaku_from_provider"],
        *given["v4_1_yobo"],
    ]


@pytest.mark.parametrize("rule", ["v4_1", "v3_x"])
def test_transmission_units_of_the_data_are_complete_units(data: dict[str, Any], rule: str) -> None:
    for unit in _units(data, rule):
        plan = "table1" in unit
        bundle = _bundle.Bundle.from_files(_unit_files(data, unit, rule, plan))
        assert bundle.kind is not _bundle.UnitKind.UNKNOWN
        assert bundle.missing == ()
        assert set(bundle.layout_ids) == set(unit)
        units = {frozenset(u) for u in _units(data, rule)}
        for dropped in unit:
            # A unit without one of its files (unless that is a unit too: 支援計画書 alone) is
            # reported missing exactly that file.
            rest = [i for i in unit if i != dropped]
            if rest and frozenset(rest) not in units:
                partial = _bundle.Bundle.from_files(_unit_files(data, rest, rule, plan))
                assert partial.missing == (dropped,), (unit, dropped)


def test_the_package_knows_no_unit_the_data_lacks(data: dict[str, Any]) -> None:
    required = {frozenset(r) for r in _bundle._REQUIRED.values() if r}
    assert required == {frozenset(u) for u in _units(data, "v4_1")}


def _names_of(layout_id: str, attributes: tuple[str, ...]) -> list[str]:
    layout = get_layout(layout_id)
    return [layout.column(a).name_ja for a in attributes]


def test_parent_relations_and_their_keys_equal_the_data(data: dict[str, Any]) -> None:
    layouts = {i for i, _ in LAYOUTS}
    single: dict[str, str] = {}
    for relation in data["relations"]["relations"]:
        owner = relation.get("parent") or relation["delete"]
        if "keys_ja" in relation:
            layout = get_layout(owner)
            assert [layout.column(n).name_ja for n in layout.key_columns] == relation["keys_ja"]
        for child in relation.get("children", ()):
            if child in layouts and child != "supplement":
                single[child] = owner
    assert {c: p for c, (p, _, _) in _unit_rules._PARENTS.items()} == single
    for child, (parent, child_keys, parent_keys) in _unit_rules._PARENTS.items():
        keys_ja = next(
            r["keys_ja"] for r in data["relations"]["relations"] if r.get("parent") == parent
        )
        assert _names_of(child, child_keys) == _names_of(parent, parent_keys) == keys_ja
    for parent, keys in _unit_rules._SUPPLEMENT_PARENT.values():
        keys_ja = next(
            r["keys_ja"] for r in data["relations"]["relations"] if r.get("parent") == parent
        )
        assert _names_of("supplement", keys) == keys_ja


def test_scope_equals_the_data(data: dict[str, Any]) -> None:
    scope = data["service_types"]["scope"]
    assert set(scope["kyotaku_in_scope"]) == _scope.KYOTAKU_IN_SCOPE
    assert set(scope["kyotaku_out_of_scope"]) == _scope.KYOTAKU_OUT_OF_SCOPE
    assert set(scope["yobo_in_scope"]) == _scope.YOBO_IN_SCOPE
    assert set(scope["yobo_out_of_scope"]) == _scope.YOBO_OUT_OF_SCOPE
    assert set(scope["sogo_jigyo_in_scope"]) == _scope.SOGO_JIGYO_IN_SCOPE
    assert dict(_scope.SERVICE_TYPE_NAMES) == data["service_types"]["names"]
    assert "81" in _scope.OUT_OF_SCOPE and "11" in _scope.IN_SCOPE


def test_special_values_equal_the_data(data: dict[str, Any]) -> None:
    special = data["special_values"]
    for value, entry in (
        (ZERO_DATE, "zero_date"),
        (ZERO_MONTH, "zero_month"),
        (NO_TIME, "no_time"),
    ):
        assert value.value == special[entry]["value"]
        places = {(i, get_layout(i).column(no).attribute) for i, no in special[entry]["columns"]}
        assert _item_rules._SPECIAL_ALLOWED[value] == places
    assert special["zero_month"]["file_name_month"] == ZERO_MONTH.value
    assert special["table7_grand_total_service_code"] == _table7_calc.GRAND_TOTAL_SERVICE_CODE
    assert special["table7_grand_total_office_code"] == _table7_calc.GRAND_TOTAL_OFFICE
    assert list(_table7_calc.SUBTOTAL_SUFFIXES) == special["table7_subtotal_suffixes"]


def test_csv_version_history_equals_the_edition_registry(data: dict[str, Any]) -> None:
    history = data["csv_versions"]["history"]
    first_month: dict[str, str] = {}
    for entry in history:
        first_month.setdefault(entry["csv_version"], entry["applies_from"])
    assert dict(KNOWN_CSV_VERSIONS) == dict(EDITIONS.known_values) == first_month
    assert EDITIONS.current.csv_version == data["csv_versions"]["current"]
    assert str(EDITIONS.current.first_month) == data["csv_versions"]["current_applies_from"]
    for entry in [*history, *data["csv_versions"]["body_history"]]:
        assert layout_family(entry["csv_version"]) == entry["layout_family"], entry
        assert EDITIONS.family_of(entry["csv_version"]) == entry["layout_family"], entry


def test_record_classes_are_frozen_and_slotted() -> None:
    for layout in LAYOUTS.values():
        record = layout.record_type()
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            record.csv_version = "x"  # type: ignore[misc]
        assert not hasattr(record, "__dict__")
