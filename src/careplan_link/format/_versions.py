"""Converting files and whole units between the editions of `EDITIONS` (202208 ⇄ 202407 today).

What changes is read from the layouts of the two editions' families, never from a version check:

Up: 第6表 gains the empty v4 columns 16–18 (TAISコード, 福祉用具届出コード, 用具名称), 第7表 columns
10–12; every record's CSVバージョン becomes 202407; the name gains service types (which a v3 name
does not carry, so the caller gives them). Down: those columns are dropped, and every non-empty
value dropped is reported in `Conversion.lost`; a 第7表 回数／日数 over 99 does not fit v3's length
2 and is reported too (the value is kept: the receiver must decide). 第3表 and the 介護予防 files
exist only in v4 and cannot go down.

A file of a service month must carry the CSVバージョン that applies to that month (202208 up to
service month 2025-03, 202407 from 2025-04): a conversion whose result would break that rule is
refused (`convert.month`), because the receiver would reject the file. `allow_month_mismatch=True`
converts anyway and lists the mismatch in `lost` (for test data, or a receiver known to accept it).
"""

from __future__ import annotations

import functools
from typing import overload

import attrs

from .._issue import Issue
from ..errors import FormatError
from ._bundle import Bundle
from ._editions import EDITIONS, Edition
from ._file import CareplanFile
from ._filename import FileName, Office
from ._layout import Column, Kind, Layout
from ._layouts import CSV_VERSION_CURRENT, IMAGE_LAYOUT_ID, LAYOUTS, get_layout
from ._reader import layout_for, parse_plan
from ._record import Record
from ._values import YearMonth

__all__ = ["Conversion", "UnitConversion", "convert"]

# The family-structure images belong to the 利用者基本情報 (UPKIHON) they are attached to.
_IMAGE_PARENT = "yobo_basic"

Version = str
"""A CSVバージョン value that an edition of `EDITIONS` writes (202407, 202208, …)."""


@attrs.frozen
class Conversion:
    """The converted file and what did not carry over (values dropped, as warnings)."""

    file: CareplanFile
    lost: tuple[Issue, ...] = ()


@attrs.frozen
class UnitConversion:
    """A converted transmission unit: its files (typed, and as a `Bundle`) and what was lost."""

    bundle: Bundle
    """The converted unit, its files in canonical form under their new names."""
    files: tuple[CareplanFile, ...]
    lost: tuple[Issue, ...] = ()


@overload
def convert(
    source: CareplanFile,
    to: Version = ...,
    *,
    service_types: tuple[str, str] | None = ...,
    allow_month_mismatch: bool = ...,
) -> Conversion: ...


@overload
def convert(
    source: Bundle,
    to: Version = ...,
    *,
    service_types: tuple[str, str] | None = ...,
    allow_month_mismatch: bool = ...,
) -> UnitConversion: ...


def convert(
    source: CareplanFile | Bundle,
    to: Version = CSV_VERSION_CURRENT,
    *,
    service_types: tuple[str, str] | None = None,
    allow_month_mismatch: bool = False,
) -> Conversion | UnitConversion:
    """Convert a file, or every file of a unit, to another CSVバージョン, with new names.

    Going up from a v3 name, `service_types` gives the (sender, receiver) service types the
    v4.1 name needs. `to` is the value an edition of `EDITIONS` writes. Raises `FormatError` when
    the conversion cannot be made or its result would not validate: a value no edition writes
    (`convert.version`), an interface the target version does not have (`convert.not_in_version`), a
    v3 name without `service_types` (`convert.service_types`), a service month whose CSVバージョン
    is not `to` (`convert.month`, unless `allow_month_mismatch`); for a unit, every file's
    problems at once.
    """
    if not isinstance(source, (CareplanFile, Bundle)):
        raise TypeError(f"convert takes a CareplanFile or a Bundle, not {type(source).__name__}")
    edition = _target(to)
    if isinstance(source, Bundle):
        return _convert_unit(source, edition, service_types, allow_month_mismatch)
    return _convert_file(source, edition, service_types, allow_month_mismatch)


def _target(to: object) -> Edition:
    edition = EDITIONS.by_value(to) if isinstance(to, str) else None
    if edition is not None and edition.csv_version == to:
        return edition
    written = [e.csv_version for e in reversed(list(EDITIONS))]
    listed = ", ".join(written[:-1]) + f" or {written[-1]}"
    hint_ja = hint_en = ""
    if edition is not None:  # a value read as an edition, but not the one it writes
        hint_ja = f"。{edition.name} の値は {edition.csv_version} です"
        hint_en = f"; {edition.name}'s value is {edition.csv_version}"
    raise FormatError(
        [
            Issue(
                "convert.version",
                "error",
                f"CSVバージョン {to} には変換できません（変換先は {'、'.join(written)}）{hint_ja}",
                f"can convert to {listed}, not {to!r}{hint_en}",
                value=str(to),
            )
        ]
    )


def _convert_unit(
    unit: Bundle, to: Edition, service_types: tuple[str, str] | None, allow_month_mismatch: bool
) -> UnitConversion:
    issues: list[Issue] = []
    converted: list[Conversion] = []
    images: dict[str, bytes] = {}
    for name, data in unit.files.items():
        file_name = FileName.parse(name)
        try:
            if file_name.is_image:
                # Images belong to 介護予防 units (from v4.1): they keep their name, so they go
                # only to an edition that has those files and names them by the same rule.
                if (_IMAGE_PARENT, to.family) not in LAYOUTS or file_name.naming != to.naming:
                    raise FormatError([_not_in_version(name, IMAGE_LAYOUT_ID, _IMAGE_PARENT, to)])
                images[name] = data
                continue
            file = parse_plan(data, name=file_name)
            converted.append(_convert_file(file, to, service_types, allow_month_mismatch))
        except FormatError as error:
            issues += error.issues
    if issues:
        raise FormatError(issues)
    contents = {str(c.file.name): c.file.to_bytes() for c in converted}
    bundle = Bundle.from_files({**contents, **images})
    order = list(bundle.files)
    files = sorted((c.file for c in converted), key=lambda f: order.index(str(f.name)))
    return UnitConversion(
        bundle=bundle,
        files=tuple(files),
        lost=tuple(issue for c in converted for issue in c.lost),
    )


def _convert_file(
    file: CareplanFile,
    to: Edition,
    service_types: tuple[str, str] | None,
    allow_month_mismatch: bool,
) -> Conversion:
    source = file.layout
    if (source.id, to.family) not in LAYOUTS:
        raise FormatError([_not_in_version(str(file.name), source.id, source.id, to)])
    target = get_layout(source.id, to.family)
    name = _convert_name(file.name, to, service_types)
    lost: list[Issue] = []
    month_issue = _month_issue(name, to, allow_month_mismatch) if file.records else None
    if month_issue is not None:
        if month_issue.is_error:
            raise FormatError([month_issue])
        lost.append(month_issue)
    records = tuple(
        _convert_record(record, index, target, to, str(name), lost)
        for index, record in enumerate(file.records)
    )
    converted = CareplanFile(
        name=name,
        layout=target,
        csv_version=to.csv_version if records else None,
        records=records,
    )
    return Conversion(file=converted, lost=tuple(lost))


def _not_in_version(name: str, layout_id: str, has_layout: str, to: Edition) -> Issue:
    # The editions (by the value each writes, newest first) whose layouts have the interface.
    have = [e.csv_version for e in reversed(list(EDITIONS)) if (has_layout, e.family) in LAYOUTS]
    return Issue(
        "convert.not_in_version",
        "error",
        f"{layout_id} は CSVバージョン {'、'.join(have)} にしかありません"
        f"（{to.csv_version} に変換できません）",
        f"{layout_id} exists only in CSVバージョン {', '.join(have)} "
        f"(it cannot go down to {to.csv_version})",
        file=name,
    )


def _month_issue(name: FileName, to: Edition, allow: bool) -> Issue | None:
    month = name.service_month
    if not isinstance(month, YearMonth):
        return None  # 第1表–第3表 and a plan's 補足 carry no month: any version applies
    expected = EDITIONS.for_month(month).csv_version
    if expected == to.csv_version:
        return None
    return Issue(
        "convert.month",
        "warning" if allow else "error",
        f"サービス提供年月 {month} に適用される CSVバージョン は {expected} です。"
        f"{to.csv_version} に変換したファイルは受け取り側で検査に通りません",
        f"CSVバージョン {expected} applies to service month {month}: a file converted to "
        f"{to.csv_version} "
        "would not validate at the receiver",
        file=str(name),
        value=str(month),
    )


def _convert_name(name: FileName, to: Edition, service_types: tuple[str, str] | None) -> FileName:
    if not to.names_carry_service_types:
        sender, receiver = Office(name.sender.number), Office(name.receiver.number)
    elif name.naming == to.naming:
        sender, receiver = name.sender, name.receiver
    else:
        if service_types is None:
            raise FormatError(
                [
                    Issue(
                        "convert.service_types",
                        "error",
                        "v3 のファイル名にはサービス種類がありません。"
                        "service_types=(送信元, 送信先) を指定してください",
                        "a v3 name has no service types: give service_types=(sender, receiver)",
                        file=str(name),
                    )
                ]
            )
        sender = Office(name.sender.number, service_types[0])
        receiver = Office(name.receiver.number, service_types[1])
    return FileName.new(
        name.prefix,
        sender=sender,
        receiver=receiver,
        month=name.month,
        serial=name.serial,
        branch=name.branch,
    )


def _convert_record(
    record: Record, index: int, target: Layout, to: Edition, file: str, lost: list[Issue]
) -> Record:
    source = layout_for(record)
    values = dict(zip((c.attribute for c in source.columns), record.values(), strict=True))
    kept = {column.attribute for column in target.columns}
    for column in source.columns:
        value = values[column.attribute]
        if column.attribute not in kept and value is not None:
            lost.append(
                Issue(
                    "convert.lost",
                    "warning",
                    f"CSVバージョン {target.csv_version} にない項目のため値を削除しました",
                    f"dropped: CSVバージョン {target.csv_version} has no such item",
                    file=file,
                    record=index + 1,
                    column=column.no,
                    item=column.name_ja,
                    value=str(value),
                )
            )
    for column in _shorter_integers(source, target):
        value = values.get(column.attribute)
        if isinstance(value, int) and len(str(value)) > (column.max_length or 0):
            lost.append(
                Issue(
                    "convert.too_long",
                    "warning",
                    f"{column.name_ja}が {to.name} の項目長（{column.max_length}桁）を超えています",
                    f"{column.name_ja} exceeds {to.name}'s item length "
                    f"({column.max_length} digits)",
                    file=file,
                    record=index + 1,
                    column=column.no,
                    item=column.name_ja,
                    value=str(value),
                )
            )
    new_values = {attribute: values.get(attribute) for attribute in kept}
    new_values["csv_version"] = to.csv_version
    return target.record_type(**new_values)


@functools.cache
def _shorter_integers(source: Layout, target: Layout) -> tuple[Column, ...]:
    """The target's integer columns shorter than the source's (第7表 回数／日数: 3 digits in
    v4.1, 2 in v3): a value too long is kept, and reported, since the receiver must decide."""
    lengths = {column.attribute: column.max_length for column in source.columns}
    return tuple(
        column
        for column in target.columns
        if column.kind is Kind.INTEGER
        and column.max_length is not None
        and (lengths.get(column.attribute) or 0) > column.max_length
    )
