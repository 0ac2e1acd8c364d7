"""Transmission units: the files one office sends another under one ファイル連番.

Files that share sender, receiver and ファイル連番 form a unit; receivers import units in ascending
ファイル連番 order, and the files of a unit parents first. This module gives that structure;
completeness and the cross-file rules are checked by validation.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

import attrs

from .._issue import Issue
from ..errors import FormatError
from ._editions import EDITIONS
from ._filename import FileName, Office
from ._layouts import LAYOUTS

__all__ = ["Bundle", "UnitKind", "group_units"]


class UnitKind(enum.Enum):
    """What a transmission unit carries."""

    PLAN = "plan"
    """居宅サービス計画: 第1表 + 第2表 + 第3表 (v4) + 利用者補足情報."""
    SCHEDULE = "schedule"
    """予定 (サービス利用票): 第6表 + 第7表 + 利用者補足情報 (also for 介護予防)."""
    PLAN_WITHDRAWAL = "plan_withdrawal"
    """第1表_削除."""
    SCHEDULE_WITHDRAWAL = "schedule_withdrawal"
    """第6表予定_削除."""
    RESULTS = "results"
    """実績 (UPJSK)."""
    RESULTS_WITHDRAWAL = "results_withdrawal"
    """実績_削除 (DLTJSK)."""
    YOBO_BASIC = "yobo_basic"
    """介護予防: 利用者基本情報 (with its 別表1, 別表2 and images)."""
    YOBO_PLAN = "yobo_plan"
    """介護予防サービス・支援計画書 (with its 別表)."""
    YOBO_PLAN_AND_BASIC = "yobo_plan_and_basic"
    """介護予防サービス・支援計画書 together with 利用者基本情報."""
    YOBO_BASIC_WITHDRAWAL = "yobo_basic_withdrawal"
    YOBO_PLAN_WITHDRAWAL = "yobo_plan_withdrawal"
    UNKNOWN = "unknown"
    """A mix of files that is no unit of the standard."""


# The unit each file points to on its own (利用者補足情報 by its month: 000000 → plan).
_KIND_OF_LAYOUT = {
    "table1": UnitKind.PLAN,
    "table2": UnitKind.PLAN,
    "table3": UnitKind.PLAN,
    "table6_plan": UnitKind.SCHEDULE,
    "table7": UnitKind.SCHEDULE,
    "table1_delete": UnitKind.PLAN_WITHDRAWAL,
    "table6_plan_delete": UnitKind.SCHEDULE_WITHDRAWAL,
    "table6_actual": UnitKind.RESULTS,
    "table6_actual_delete": UnitKind.RESULTS_WITHDRAWAL,
    "yobo_basic": UnitKind.YOBO_BASIC,
    "yobo_basic_sub1": UnitKind.YOBO_BASIC,
    "yobo_basic_sub2": UnitKind.YOBO_BASIC,
    "yobo_basic_image": UnitKind.YOBO_BASIC,
    "yobo_plan": UnitKind.YOBO_PLAN,
    "yobo_plan_sub": UnitKind.YOBO_PLAN,
    "yobo_basic_delete": UnitKind.YOBO_BASIC_WITHDRAWAL,
    "yobo_plan_delete": UnitKind.YOBO_PLAN_WITHDRAWAL,
}

# The files a unit must hold (validation reports what is missing).
_REQUIRED = {
    UnitKind.PLAN: ("table1", "table2", "table3", "supplement"),
    UnitKind.SCHEDULE: ("table6_plan", "table7", "supplement"),
    UnitKind.PLAN_WITHDRAWAL: ("table1_delete",),
    UnitKind.SCHEDULE_WITHDRAWAL: ("table6_plan_delete",),
    UnitKind.RESULTS: ("table6_actual",),
    UnitKind.RESULTS_WITHDRAWAL: ("table6_actual_delete",),
    UnitKind.YOBO_BASIC: ("yobo_basic",),
    UnitKind.YOBO_PLAN: ("yobo_plan",),
    UnitKind.YOBO_PLAN_AND_BASIC: ("yobo_basic", "yobo_plan"),
    UnitKind.YOBO_BASIC_WITHDRAWAL: ("yobo_basic_delete",),
    UnitKind.YOBO_PLAN_WITHDRAWAL: ("yobo_plan_delete",),
    UnitKind.UNKNOWN: (),
}

# Import order inside a unit: parents before children.
_IMPORT_ORDER = {
    layout_id: rank
    for rank, layout_id in enumerate(
        (
            "table1",
            "table2",
            "table3",
            "table6_plan",
            "table6_actual",
            "table7",
            "supplement",
            "table1_delete",
            "table6_plan_delete",
            "table6_actual_delete",
            "yobo_basic",
            "yobo_basic_sub1",
            "yobo_basic_sub2",
            "yobo_basic_image",
            "yobo_plan",
            "yobo_plan_sub",
            "yobo_basic_delete",
            "yobo_plan_delete",
        )
    )
}


def _kind_of(names: Iterable[FileName]) -> UnitKind:
    kinds = set()
    for name in names:
        if name.layout_id == "supplement":
            kinds.add(UnitKind.PLAN if name.month == "000000" else UnitKind.SCHEDULE)
        else:
            kinds.add(_KIND_OF_LAYOUT[name.layout_id])
    if len(kinds) == 1:
        return kinds.pop()
    if kinds == {UnitKind.YOBO_BASIC, UnitKind.YOBO_PLAN}:
        return UnitKind.YOBO_PLAN_AND_BASIC
    return UnitKind.UNKNOWN


def _frozen_files(files: Mapping[str, bytes]) -> Mapping[str, bytes]:
    return MappingProxyType(dict(files))


def _files_repr(files: Mapping[str, bytes]) -> str:
    return f"<{len(files)} files: {', '.join(files)}>"


def _import_key(name: FileName) -> tuple[int, str]:
    return (_IMPORT_ORDER[name.layout_id], str(name))


@attrs.frozen
class Bundle:
    """One transmission unit: files sharing sender, receiver and ファイル連番."""

    kind: UnitKind
    sender: Office
    receiver: Office
    serial: str
    """The ファイル連番 shared by every file."""
    files: Mapping[str, bytes] = attrs.field(converter=_frozen_files, repr=_files_repr)
    """File name → bytes, in the order a receiver imports them (parents first)."""

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> Bundle:
        """The unit made of exactly these files.

        Raises `FormatError` (`unit.not_one`) if they form several units or none, and for
        names that are not standard file names.
        """
        units = group_units(files)
        if len(units) != 1:
            serials = ", ".join(f"{u.sender} → {u.receiver} {u.serial}" for u in units)
            raise FormatError(
                [
                    Issue(
                        "unit.not_one",
                        "error",
                        f"ファイルが1つの送信単位になりません（{len(units)}単位: {serials}）",
                        f"the files form {len(units)} transmission units, not one"
                        + (f": {serials}" if serials else ""),
                    )
                ]
            )
        return units[0]

    @property
    def names(self) -> tuple[FileName, ...]:
        return tuple(FileName.parse(name) for name in self.files)

    @property
    def layout_ids(self) -> tuple[str, ...]:
        return tuple(name.layout_id for name in self.names)

    @property
    def naming(self) -> str:
        """`v4` or `v3` file-name rule (from the sender's service type)."""
        return "v4" if self.sender.service_type is not None else "v3"

    @property
    def missing(self) -> tuple[str, ...]:
        """Interface ids the unit should hold but does not (第3表 only for v4 units)."""
        required = _REQUIRED[self.kind]
        # Only what the layouts of the name's edition have (no 第3表 under v3 names).
        family = EDITIONS.for_naming(self.naming).family
        required = tuple(r for r in required if (r, family) in LAYOUTS)
        present = set(self.layout_ids)
        return tuple(r for r in required if r not in present)


def group_units(
    files: Mapping[str, bytes] | str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> list[Bundle]:
    """Group files into transmission units, in the order a receiver imports them.

    `files` is a mapping of file name → bytes, paths (read here), or one path: a folder (its
    files, not its subfolders nor hidden files) or a single file. Units come in ascending
    ファイル連番 (then sender and receiver, for a stable order); each unit's files parents first.
    Raises `FormatError` listing every name that is not a standard file name.
    """
    contents = _read(files)
    parsed: dict[str, FileName] = {}
    issues: list[Issue] = []
    for name in contents:
        try:
            parsed[name] = FileName.parse(name)
        except FormatError as error:
            issues += error.issues
    if issues:
        raise FormatError(issues)
    groups: dict[tuple[str, str | None, str, str | None, str], list[FileName]] = {}
    for file_name in parsed.values():
        groups.setdefault(file_name.unit_key, []).append(file_name)
    units = []
    for key in sorted(groups, key=lambda k: (k[4], k[0], k[1] or "", k[2], k[3] or "")):
        names = sorted(groups[key], key=_import_key)
        first = names[0]
        units.append(
            Bundle(
                kind=_kind_of(names),
                sender=first.sender,
                receiver=first.receiver,
                serial=first.serial,
                files={str(n): contents[str(n)] for n in names},
            )
        )
    return units


def _read(
    files: Mapping[str, bytes] | str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> dict[str, bytes]:
    if isinstance(files, Mapping):
        return {Path(name).name: bytes(data) for name, data in files.items()}
    if isinstance(files, str | os.PathLike):
        # One path, never an iterable of its characters.
        one = Path(files)
        files = (
            sorted(p for p in one.iterdir() if p.is_file() and not p.name.startswith("."))
            if one.is_dir()
            else [one]
        )
    contents: dict[str, bytes] = {}
    for path in map(Path, files):
        if path.name in contents:
            raise ValueError(f"two files named {path.name}")
        contents[path.name] = path.read_bytes()
    return contents
