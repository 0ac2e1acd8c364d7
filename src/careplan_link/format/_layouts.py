"""The registry of layouts: by interface id, by file-name prefix, by CSVバージョン."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ._editions import CURRENT, EDITIONS
from ._generated import CODE_TABLES, LAYOUT_FAMILIES
from ._layout import Layout

__all__ = [
    "CODE_TABLES",
    "CSV_VERSION_CURRENT",
    "CSV_VERSION_V3",
    "IMAGE_LAYOUT_ID",
    "KNOWN_CSV_VERSIONS",
    "LAYOUTS",
    "PREFIXES",
    "get_layout",
    "layout_family",
]

CSV_VERSION_CURRENT: str = CURRENT.csv_version
"""CSVバージョン of the current edition (v4.1: 202407)."""
CSV_VERSION_V3: str = EDITIONS["v3"].csv_version
"""CSVバージョン of v3.0–3.2 (202208), still in circulation."""

#: CSVバージョン values of the editions (written or superseded), with the first service month each
#: applies to (from the edition registry, `EDITIONS`).
KNOWN_CSV_VERSIONS: Mapping[str, str] = EDITIONS.known_values

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
                **{
                    layout.prefix: layout.id
                    for family in reversed(EDITIONS.families)
                    for layout in LAYOUT_FAMILIES[family]
                },
                "UPKIHON_IMAGE": IMAGE_LAYOUT_ID,
            }.items(),
            key=lambda item: -len(item[0]),
        )
    )
)


def layout_family(csv_version: str | None) -> str:
    """The layout family (`202407`, `202208`, …) a CSVバージョン value is read with.

    Unknown values are read with the current layouts; validation reports them.
    """
    return EDITIONS.family_of(csv_version)


def get_layout(interface_id: str, csv_version: str | None = CSV_VERSION_CURRENT) -> Layout:
    """The layout of an interface for a CSVバージョン (the current edition's layout for an
    interface the value's edition does not have, e.g. 第3表 for 202208)."""
    family = layout_family(csv_version)
    layout = LAYOUTS.get((interface_id, family)) or LAYOUTS.get((interface_id, CURRENT.family))
    if layout is None:
        raise KeyError(f"no layout for interface {interface_id!r}")
    return layout
