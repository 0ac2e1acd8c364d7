"""Rules across the files of a transmission unit, and across units."""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from itertools import compress
from typing import Any

from .._issue import Issue
from ._bundle import Bundle, UnitKind
from ._columns import ColumnsOf, uniform
from ._file import CareplanFile
from ._findings import Findings
from ._generated import PARENT_CHILDREN
from ._layouts import get_layout
from ._record_rules import IdentityNumbers, hashable_column

__all__ = ["check_units"]


def _key_attributes(child_id: str, parent_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The key items that tie a child's records to its parent's, from the layouts' key columns.

    The parent's key columns, and for each the child's key column of the same 項目名 (利用者補足情報
    has the keys of both its possible parents among its key columns).
    """
    parent = get_layout(parent_id)
    child = get_layout(child_id)
    child_keys = {c.name_ja: c.attribute for c in map(child.column, child.key_columns)}
    parent_columns = [parent.column(no) for no in parent.key_columns]
    return (
        tuple(child_keys[c.name_ja] for c in parent_columns),
        tuple(c.attribute for c in parent_columns),
    )


def _parents_of() -> dict[str, list[str]]:
    """The parents of each child interface, from the standard's relations (generated)."""
    parents: dict[str, list[str]] = defaultdict(list)
    for parent_id, children in PARENT_CHILDREN.items():
        for child_id in children:
            parents[child_id].append(parent_id)
    return parents


# child interface → (parent interface, key attributes of the child, key attributes of the parent),
# for the children that have one parent.
_PARENTS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    child_id: (parents[0], *_key_attributes(child_id, parents[0]))
    for child_id, parents in _parents_of().items()
    if len(parents) == 1
}

# 利用者補足情報 links to 第1表 (plan) or 第6表 (schedule) depending on the unit.
_SUPPLEMENT_PARENT = {
    kind: (parent_id, _key_attributes("supplement", parent_id)[0])
    for kind, parent_id in ((UnitKind.PLAN, "table1"), (UnitKind.SCHEDULE, "table6_plan"))
}

_PREFIX_OF = {layout_id: get_layout(layout_id).prefix for layout_id in
              ("table1", "table2", "table3", "supplement", "table6_plan", "table7",
               "table1_delete", "table6_plan_delete", "table6_actual", "table6_actual_delete",
               "yobo_basic", "yobo_plan", "yobo_basic_delete", "yobo_plan_delete")}  # fmt: skip


# A file (by identity) and the key items whose keys are compared.
_Compared = tuple[int, tuple[str, ...]]


class _Keys:
    """Each file's record keys, computed once: several rules compare the same keys.

    Keys are compared as sets, in C. Their items are made to hash in C too (`hashable_column`:
    a 対象年月 is a YearMonth, whose hash is a Python function), numbered alike in every file
    of the run; and an item that holds one and the same value in every file compared (a
    unit's 対象年月, often its 保険者番号) is left out, which tells no key from another.
    """

    def __init__(self, columns_of: ColumnsOf) -> None:
        self.columns_of = columns_of
        self._identity = IdentityNumbers()
        self._keys: dict[tuple[int, tuple[str, ...]], Sequence[Any]] = {}
        self._sets: dict[tuple[tuple[int, ...], tuple[str, ...]], set[Any]] = {}
        self._same: dict[tuple[_Compared, _Compared], bool] = {}

    def telling(self, compared: list[tuple[CareplanFile, tuple[str, ...]]]) -> list[int]:
        """The positions of the key items that may tell `compared` files' keys apart (each
        file with its key attributes, position for position): all but those whose column
        holds one value, the same, in every file (an empty file holds none)."""
        positions = []
        for position in range(len(compared[0][1])):
            values: list[Any] = []
            for file, attributes in compared:
                column = self.columns_of(file)[attributes[position]]
                if column and not self._one_value(file, attributes[position]):
                    values = []
                    break
                values += column[:1]
            if not values or any(value != values[0] for value in values):
                positions.append(position)
        return positions

    def _one_value(self, file: CareplanFile, attribute: str) -> bool:
        """Whether the file's column holds one value throughout: its set's size where a rule
        has made it (the item rules, mostly), else counted in C (`uniform`: equal values are
        one object, mostly)."""
        columns = self.columns_of(file)
        made = columns.made_distinct(attribute)
        if made is not None:
            return len(made) == 1
        return uniform(columns[attribute])

    def same(
        self,
        file: CareplanFile,
        attributes: tuple[str, ...],
        other: CareplanFile,
        other_attributes: tuple[str, ...],
    ) -> bool:
        """`_same` of the two files' keys, compared once for both ways (a 補足 against its
        第6表, then the 第6表 against its 補足)."""
        one, two = (id(file), attributes), (id(other), other_attributes)
        key = (one, two) if one <= two else (two, one)
        same = self._same.get(key)
        if same is None:
            same = self._same[key] = _same(
                self.of(file, attributes), self.of(other, other_attributes)
            )
        return same

    def of(self, file: CareplanFile, attributes: tuple[str, ...]) -> Sequence[Any]:
        """The file's keys of these items, in record order (a key of one item is its value)."""
        key = (id(file), attributes)
        keys = self._keys.get(key)
        if keys is None:
            # The keys zipped from the file's columns (in C).
            columns = self.columns_of(file)
            values = [
                hashable_column(file.layout, columns, attribute, self._identity)
                for attribute in attributes
            ]
            if len(values) == 1:
                keys = values[0]
            else:
                keys = list(zip(*values, strict=True)) if values else [()] * len(file.records)
            self._keys[key] = keys
        return keys

    def union(self, files: list[CareplanFile], attributes: tuple[str, ...]) -> set[Any]:
        key = (tuple(map(id, files)), attributes)
        if key not in self._sets:
            if len(files) == 1 and self._plain(files[0], attributes):
                # The keys are a column's values: its distinct values are the set (made
                # once for every rule; the item rules have often made it already).
                self._sets[key] = self.columns_of(files[0]).distinct(attributes[0])
            else:
                self._sets[key] = set().union(*(self.of(f, attributes) for f in files))
        return self._sets[key]

    def few(self, file: CareplanFile, attributes: tuple[str, ...]) -> Collection[Any]:
        """The file's keys (`of`), or their distinct values where a rule has made them
        already (a 第6表's 被保険者番号: twenty records a user), for telling whether each
        key is among others: the same answer for fewer lookups."""
        if self._plain(file, attributes):
            made = self.columns_of(file).made_distinct(attributes[0])
            if made is not None:
                return made
        return self.of(file, attributes)

    def _plain(self, file: CareplanFile, attributes: tuple[str, ...]) -> bool:
        """Whether the file's keys of these items are one column's values, as they are."""
        return (
            len(attributes) == 1
            and self.of(file, attributes) is self.columns_of(file)[attributes[0]]
        )


def _at(items: tuple[str, ...], positions: list[int]) -> tuple[str, ...]:
    return tuple(items[position] for position in positions)


def _same(keys: Sequence[Any], others: Sequence[Any]) -> bool:
    """Whether the keys are the others, in order: then each is known to them, told without a
    set (a unit of one record a user whose files list the users alike: compared in C)."""
    if len(keys) != len(others):
        return False
    if type(keys) is type(others):
        return keys == others
    return list(keys) == list(others)


def _missing(keys: Sequence[Any], known: set[Any]) -> list[int]:
    """Indices of the keys not in `known`, found in C."""
    return list(compress(range(len(keys)), map(operator.not_, map(known.__contains__, keys))))


def check_units(
    units: list[Bundle], parsed: Mapping[str, CareplanFile], columns_of: ColumnsOf | None = None
) -> list[Issue]:
    """Issues of each unit (companions, parent keys) and between units (shared 連番);
    `columns_of` gives the files' columns when the caller shares them with other rules."""
    issues: list[Issue] = []
    keys = _Keys(columns_of or ColumnsOf())
    for unit in units:
        issues += _check_unit(unit, parsed, keys)
    issues += _check_shared_serials(units)
    return issues


def _describe(unit: Bundle) -> str:
    return f"{unit.sender} → {unit.receiver} {unit.serial}"


def _check_unit(unit: Bundle, parsed: Mapping[str, CareplanFile], keys: _Keys) -> list[Issue]:
    first_file = next(iter(unit.files))
    issues = []
    if unit.kind is UnitKind.UNKNOWN:
        kinds = ", ".join(sorted({name.prefix for name in unit.names}))
        issues.append(
            Issue(
                "unit.mixed",
                "error",
                f"同じ送受信事業所・ファイル連番に、別々の送信単位のファイルが混ざっています（{kinds}）",
                f"files of different transmission units share this office pair and ファイル連番 "
                f"({kinds}): {_describe(unit)}",
                file=first_file,
            )
        )
        return issues
    for layout_id in unit.missing:
        prefix = _PREFIX_OF.get(layout_id, layout_id)
        issues.append(
            Issue(
                "unit.missing_file",
                "error",
                f"送信単位（{unit.kind.value}）に {prefix} のファイルがありません",
                f"the {unit.kind.value} unit {_describe(unit)} has no {prefix} file",
                file=first_file,
                value=prefix,
            )
        )
    by_layout: dict[str, list[CareplanFile]] = defaultdict(list)
    for name in unit.files:
        if name in parsed:
            by_layout[parsed[name].layout.id].append(parsed[name])
            issues += _partly_checked(name, parsed[name])
    for child_id, (parent_id, child_keys, parent_keys) in _PARENTS.items():
        issues += _check_parent_keys(keys, by_layout, child_id, parent_id, child_keys, parent_keys)
    if unit.kind in _SUPPLEMENT_PARENT:
        parent_id, key_items = _SUPPLEMENT_PARENT[unit.kind]
        issues += _check_parent_keys(keys, by_layout, "supplement", parent_id, key_items, key_items)
        issues += _check_every_parent_has_supplement(keys, by_layout, parent_id, key_items)
    return issues


def _check_parent_keys(
    keys: _Keys,
    by_layout: Mapping[str, list[CareplanFile]],
    child_id: str,
    parent_id: str,
    child_keys: tuple[str, ...],
    parent_keys: tuple[str, ...],
) -> list[Issue]:
    if child_id not in by_layout or parent_id not in by_layout:
        return []  # a missing parent file is reported as such
    compared = [(file, child_keys) for file in by_layout[child_id]]
    compared += [(file, parent_keys) for file in by_layout[parent_id]]
    telling = keys.telling(compared)
    parent_files = by_layout[parent_id]
    parent_attributes = _at(parent_keys, telling)
    parent_prefix = by_layout[parent_id][0].layout.prefix
    unread_ja = unread_en = ""
    if any(_unread_numbers(parent) for parent in by_layout[parent_id]):
        unread_ja = "（親ファイルに読めなかったレコードがあります）"
        unread_en = " (some records of the parent file could not be read)"
    issues: list[Issue] = []
    for file in by_layout[child_id]:
        findings = Findings(file)
        column = file.layout.column(child_keys[-1])
        child_attributes = _at(child_keys, telling)
        child_keys_of_file = keys.of(file, child_attributes)
        if len(parent_files) == 1 and keys.same(
            file, child_attributes, parent_files[0], parent_attributes
        ):
            continue
        known = keys.union(parent_files, parent_attributes)
        if known.issuperset(keys.few(file, child_attributes)):
            continue
        reported = keys.columns_of(file)[child_keys[-1]]
        for index in _missing(child_keys_of_file, known):
            findings.add(
                "unit.orphan",
                "error",
                f"親レコード（{parent_prefix}）に同じキー（保険者番号・被保険者番号・"
                f"{column.name_ja}）のレコードがありません{unread_ja}",
                f"no {parent_prefix} record has this key (保険者番号, 被保険者番号, "
                f"{column.name_ja}){unread_en}",
                index=index,
                column=column,
                value=reported[index],
            )
        issues += findings.finish()
    return issues


def _check_every_parent_has_supplement(
    keys: _Keys,
    by_layout: Mapping[str, list[CareplanFile]],
    parent_id: str,
    key_items: tuple[str, ...],
) -> list[Issue]:
    if "supplement" not in by_layout or parent_id not in by_layout:
        return []
    compared = [(file, key_items) for file in by_layout["supplement"] + by_layout[parent_id]]
    telling = _at(key_items, keys.telling(compared))
    supplements = by_layout["supplement"]
    issues: list[Issue] = []
    for file in by_layout[parent_id]:
        findings = Findings(file)
        column = file.layout.column(key_items[-1])
        parents = keys.of(file, telling)
        if len(supplements) == 1 and keys.same(file, telling, supplements[0], telling):
            continue
        supplied = keys.union(supplements, telling)
        if supplied.issuperset(keys.few(file, telling)):
            continue
        values = keys.columns_of(file)[key_items[-1]]
        reported: set[object] = set()
        for index in _missing(parents, supplied):
            parent = parents[index]
            if parent not in reported:
                reported.add(parent)
                findings.add(
                    "unit.no_supplement",
                    "error",
                    "この利用者の利用者補足情報（UPHOSOKU）のレコードがありません",
                    "the unit's 利用者補足情報 (UPHOSOKU) has no record for this user",
                    index=index,
                    column=column,
                    value=values[index],
                )
        issues += findings.finish()
    return issues


def _unread_numbers(file: CareplanFile) -> list[int]:
    """Record numbers of `file` that could not be read, whole or in part."""
    gaps = file.gaps
    if gaps is None:
        return []
    partly = (gaps.numbers[index] for index in gaps.unread_items)
    return sorted({*gaps.unread_records, *partly})


# How many unread record numbers a `unit.partly_checked` warning lists.
_SHOWN_UNREAD = 10


def _partly_checked(name: str, file: CareplanFile) -> list[Issue]:
    """Unit rules compare what could be read; say which records of a file could not be."""
    unread = _unread_numbers(file)
    if not unread:
        return []
    shown = ", ".join(map(str, unread[:_SHOWN_UNREAD]))
    if len(unread) > _SHOWN_UNREAD:
        shown += f" … ({len(unread)})"
    return [
        Issue(
            "unit.partly_checked",
            "warning",
            f"送信単位の照合（親子のキー、第6表と第7表の突き合わせ）は、レコード {shown} の"
            "読めなかった部分を除いて行いました。直して再度検査してください",
            "the unit's checks (parent keys, 第6表 against 第7表) used only what could be read "
            f"of these records, which could not be read whole: {shown}; fix them and validate "
            "again",
            file=name,
            value=shown,
        )
    ]


def _check_shared_serials(units: list[Bundle]) -> list[Issue]:
    issues = []
    by_sender_serial: dict[tuple[str, str], list[Bundle]] = defaultdict(list)
    for unit in units:
        by_sender_serial[(unit.sender.number, unit.serial)].append(unit)
    for (sender, serial), sharing in by_sender_serial.items():
        for unit in sharing[1:]:
            issues.append(
                Issue(
                    "unit.serial_shared",
                    "warning",
                    f"事業所 {sender} のファイル連番 {serial} が、別の送信先の送信単位にも"
                    "使われています",
                    f"office {sender} used ファイル連番 {serial} for units to several receivers "
                    f"({', '.join(str(u.receiver) for u in sharing)})",
                    file=next(iter(unit.files)),
                    value=serial,
                )
            )
    return issues
