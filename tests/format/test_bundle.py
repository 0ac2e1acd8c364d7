"""Transmission units: grouping, kinds, import order, what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from careplan_link import Bundle, FormatError, Office, UnitKind, group_units

CARE, PROV = "1370100016_43", "1370200022_11"


def names(*prefixes: str, serial: str = "20250325093000", pair: str = f"{CARE}_{PROV}") -> dict:  # type: ignore[type-arg]
    out = {}
    for prefix in prefixes:
        out[f"{prefix}_{pair}_{serial}.CSV"] = prefix.encode()
    return out


def test_schedule_unit_in_import_order() -> None:
    files = names("UPHOSOKU_202504", "UPSIKYU_202504", "UPPLAN_202504")
    (unit,) = group_units(files)
    assert unit.kind is UnitKind.SCHEDULE
    assert unit.sender == Office("1370100016", "43")
    assert unit.receiver == Office("1370200022", "11")
    assert unit.serial == "20250325093000"
    assert [n.split("_")[0] for n in unit.files] == ["UPPLAN", "UPSIKYU", "UPHOSOKU"]
    assert unit.missing == ()
    assert unit.files[next(iter(unit.files))] == b"UPPLAN_202504"


def test_plan_unit_and_missing_files() -> None:
    (unit,) = group_units(names("UPHOSOKU_000000", "UP2KYO", "UP1KYO"))
    assert unit.kind is UnitKind.PLAN
    assert [n.split("_")[0] for n in unit.files] == ["UP1KYO", "UP2KYO", "UPHOSOKU"]
    assert unit.missing == ("table3",)
    v3 = names("UP1KYO", "UP2KYO", "UPHOSOKU_000000", pair="1370100016_1370200022")
    (v3_unit,) = group_units(v3)
    assert v3_unit.missing == () and v3_unit.naming == "v3"


def test_units_sorted_by_serial_and_separated_by_pair() -> None:
    files = {
        **names("UPPLAN_202505", serial="20250425000000"),
        **names("UPPLAN_202504", serial="20250325093000"),
        **names("UPJSK_202504", serial="20250325093000", pair=f"{PROV}_{CARE}"),
        **names("DLTPLAN_202504", serial="20250401000000"),
    }
    units = group_units(files)
    assert [(u.serial, u.kind) for u in units] == [
        ("20250325093000", UnitKind.SCHEDULE),
        ("20250325093000", UnitKind.RESULTS),
        ("20250401000000", UnitKind.SCHEDULE_WITHDRAWAL),
        ("20250425000000", UnitKind.SCHEDULE),
    ]
    assert units[0].missing == ("table7", "supplement")


@pytest.mark.parametrize(
    ("prefixes", "kind"),
    [
        (["DLT1KYO"], UnitKind.PLAN_WITHDRAWAL),
        (["DLTJSK_202504"], UnitKind.RESULTS_WITHDRAWAL),
        (["UPKIHON", "UPKIHON_SUB1", "UPKIHON_SUB2"], UnitKind.YOBO_BASIC),
        (["UPYOBO", "UPYOBO_SUB"], UnitKind.YOBO_PLAN),
        (["UPYOBO", "UPKIHON"], UnitKind.YOBO_PLAN_AND_BASIC),
        (["DLTKIHON"], UnitKind.YOBO_BASIC_WITHDRAWAL),
        (["DLTYOBO"], UnitKind.YOBO_PLAN_WITHDRAWAL),
        (["UP1KYO", "UPPLAN_202504"], UnitKind.UNKNOWN),
    ],
)
def test_unit_kinds(prefixes: list[str], kind: UnitKind) -> None:
    (unit,) = group_units(names(*prefixes))
    assert unit.kind is kind


def test_yobo_order_basic_before_children_and_images() -> None:
    files = names("UPYOBO_SUB", "UPKIHON_SUB2", "UPYOBO", "UPKIHON_SUB1", "UPKIHON")
    files[f"UPKIHON_IMAGE_{CARE}_{PROV}_20250325093000_0001.jpg"] = b"\xff\xd8"
    (unit,) = group_units(files)
    assert [n.split("_1370100016")[0] for n in unit.files] == [
        "UPKIHON",
        "UPKIHON_SUB1",
        "UPKIHON_SUB2",
        "UPKIHON_IMAGE",
        "UPYOBO",
        "UPYOBO_SUB",
    ]


def test_from_paths(tmp_path: Path) -> None:
    for name, data in names("UPPLAN_202504", "UPSIKYU_202504").items():
        (tmp_path / name).write_bytes(data)
    (unit,) = group_units(sorted(tmp_path.iterdir()))
    assert len(unit.files) == 2


def test_one_path_is_a_folder_or_a_file_never_its_characters(tmp_path: Path) -> None:
    for name, data in names("UPPLAN_202504", "UPSIKYU_202504").items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / ".DS_Store").write_bytes(b"debris")
    (tmp_path / "sub").mkdir()  # not descended
    for folder in (str(tmp_path), tmp_path):
        (unit,) = group_units(folder)
        assert sorted(name.split("_")[0] for name in unit.files) == ["UPPLAN", "UPSIKYU"]
    plan = next(tmp_path.glob("UPPLAN_*"))
    (unit,) = group_units(str(plan))
    assert [name.split("_")[0] for name in unit.files] == ["UPPLAN"]


def test_bad_names_are_all_reported() -> None:
    with pytest.raises(FormatError) as caught:
        group_units({"readme.txt": b"", "UPPLAN_2025_x.CSV": b"", **names("UP1KYO")})
    assert [i.file for i in caught.value.issues] == ["readme.txt", "UPPLAN_2025_x.CSV"]


def test_bundle_from_files_and_immutability() -> None:
    unit = Bundle.from_files(names("UPJSK_202504", pair=f"{PROV}_{CARE}"))
    assert unit.kind is UnitKind.RESULTS
    with pytest.raises(TypeError):
        unit.files["x"] = b""  # type: ignore[index]
    with pytest.raises(FormatError, match="2 transmission units") as caught:
        Bundle.from_files({**names("UP1KYO"), **names("UP1KYO", serial="20250325093001")})
    assert [i.code for i in caught.value.issues] == ["unit.not_one"]
    assert "20250325093001" in caught.value.issues[0].message_ja


def test_bundle_from_no_files_is_the_librarys_error() -> None:
    with pytest.raises(FormatError) as caught:
        Bundle.from_files({})
    assert [i.code for i in caught.value.issues] == ["unit.not_one"]
