"""The registry of layouts: by interface id, by file-name prefix, by CSVバージョン."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ._generated import CODE_TABLES, LAYOUT_FAMILIES
from ._layout import CodeTable, Layout

__all__ = [
    "CODE_TABLES",
    "CSV_VERSION_CURRENT",
    "CSV_VERSION_V3",
    "IMAGE_LAYOUT_ID",
    "KNOWN_CSV_VERSIONS",
    "LAYOUTS",
    "PREFIXES",
    "code_table",
    "get_layout",
    "layout_family",
]

CSV_VERSION_CURRENT = "202407"
"""CSVバージョン of v4.1, the current edition."""
CSV_VERSION_V3 = "202208"
"""CSVバージョン of v3.0–3.2, still in circulation."""

#: CSVバージョン values of the editions, with the first service month each applies to.
#: 202504 was v4.0's value before v4.1 replaced it by 202407; both mean the v4 layouts.
KNOWN_CSV_VERSIONS: Mapping[str, str] = MappingProxyType(
    {
        "201910": "202003",
        "202003": "202010",
        "202208": "202301",
        "202504": "202504",
        "202407": "202504",
    }
)

# Editions before v4 share the v3.2 layouts (the transcription has no older layouts; the earlier
# editions differ only in lengths that the v3.2 layouts accept).
_V3_FAMILY = frozenset({"201905", "201910", "202003", "202206", "202208"})

IMAGE_LAYOUT_ID = "yobo_basic_image"
"""Interface id of the family-structure JPEG images (UPKIHON_IMAGE_…), which have no layout."""

LAYOUTS: Mapping[tuple[str, str], Layout] = MappingProxyType(
    {
        (layout.id, layout.csv_version): layout
        for layouts in LAYOUT_FAMILIES.values()
        for layout in layouts
    }
)

#: File-name prefix → interface id, longest prefix first (UPKIHON_SUB1 before UPKIHON).
PREFIXES: Mapping[str, str] = MappingProxyType(
    dict(
        sorted(
            {
                **{layout.prefix: layout.id for layout in LAYOUT_FAMILIES[CSV_VERSION_CURRENT]},
                "UPKIHON_IMAGE": IMAGE_LAYOUT_ID,
            }.items(),
            key=lambda item: -len(item[0]),
        )
    )
)


def layout_family(csv_version: str | None) -> str:
    """The layout family (`202407` or `202208`) a CSVバージョン value is read with.

    Unknown values are read with the current layouts; validation reports them.
    """
    return CSV_VERSION_V3 if csv_version in _V3_FAMILY else CSV_VERSION_CURRENT


def get_layout(interface_id: str, csv_version: str | None = CSV_VERSION_CURRENT) -> Layout:
    """The layout of an interface for a CSVバージョン (the v4 layout for v4-only interfaces)."""
    family = layout_family(csv_version)
    layout = LAYOUTS.get((interface_id, family)) or LAYOUTS.get((interface_id, CSV_VERSION_CURRENT))
    if layout is None:
        raise KeyError(f"no layout for interface {interface_id!r}")
    return layout


def code_table(name: str) -> CodeTable:
    """A code table of the standard by its name (e.g. `yokaigo_jotai_kubun`)."""
    return CODE_TABLES[name]
