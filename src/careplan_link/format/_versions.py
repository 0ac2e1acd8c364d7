"""Converting files between CSVバージョン 202208 (v3.2) and 202407 (v4.1).

Up: 第6表 gains the empty v4 columns 16–18 (TAISコード, 福祉用具届出コード, 用具名称), 第7表 columns
10–12; every record's CSVバージョン becomes 202407; the name gains service types (which a v3 name
does not carry, so the caller gives them). Down: those columns are dropped, and every non-empty
value dropped is reported in `Conversion.lost`; a 第7表 回数／日数 over 99 does not fit v3's length
2 and is reported too (the value is kept: the receiver must decide). 第3表 and the 介護予防 files
exist only in v4 and cannot go down.
"""

from __future__ import annotations

from typing import Literal

import attrs

from .._issue import Issue
from ._file import CareplanFile
from ._filename import FileName, Office
from ._layout import Layout
from ._layouts import CSV_VERSION_CURRENT, CSV_VERSION_V3, LAYOUTS, get_layout
from ._reader import layout_for
from ._record import Record

__all__ = ["Conversion", "convert"]


@attrs.frozen
class Conversion:
    """The converted file and, going down, the values that were dropped (as warnings)."""

    file: CareplanFile
    lost: tuple[Issue, ...] = ()


def convert(
    file: CareplanFile,
    to: Literal["202407", "202208"] = "202407",
    *,
    service_types: tuple[str, str] | None = None,
) -> Conversion:
    """Convert a file to another CSVバージョン, with its new name.

    Going up from a v3 name, `service_types` gives the (sender, receiver) service types the
    v4.1 name needs.
    """
    if to not in (CSV_VERSION_CURRENT, CSV_VERSION_V3):
        raise ValueError(f"can convert to 202407 or 202208, not {to!r}")
    source = file.layout
    if (source.id, to) not in LAYOUTS:
        raise ValueError(f"{source.id} exists only in CSVバージョン 202407")
    target = get_layout(source.id, to)
    name = _convert_name(file.name, to, service_types)
    lost: list[Issue] = []
    records = tuple(
        _convert_record(record, index, target, str(name), lost)
        for index, record in enumerate(file.records)
    )
    converted = CareplanFile(
        name=name,
        layout=target,
        csv_version=to if records else None,
        records=records,
    )
    return Conversion(file=converted, lost=tuple(lost))


def _convert_name(name: FileName, to: str, service_types: tuple[str, str] | None) -> FileName:
    if to == CSV_VERSION_V3:
        sender, receiver = Office(name.sender.number), Office(name.receiver.number)
    elif name.naming == "v4":
        sender, receiver = name.sender, name.receiver
    else:
        if service_types is None:
            raise ValueError(
                "a v3 name has no service types: give service_types=(sender, receiver)"
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
    record: Record, index: int, target: Layout, file: str, lost: list[Issue]
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
    if target.id == "table7" and target.csv_version == CSV_VERSION_V3:
        times = values.get("times")
        if isinstance(times, int) and times > 99:
            column = target.column("times")
            lost.append(
                Issue(
                    "convert.too_long",
                    "warning",
                    "回数／日数が v3 の項目長（2桁）を超えています",
                    "回数／日数 exceeds v3's item length (2 digits)",
                    file=file,
                    record=index + 1,
                    column=column.no,
                    item=column.name_ja,
                    value=str(times),
                )
            )
    new_values = {attribute: values.get(attribute) for attribute in kept}
    new_values["csv_version"] = target.csv_version
    return target.record_type(**new_values)
