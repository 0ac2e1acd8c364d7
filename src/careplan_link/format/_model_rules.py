"""The rules of the standard's model: what every file's records must be, however encoded.

They run on a `CareplanFile` of typed records, whichever codec (`_codec`) decoded it: the
items one by one (`_item_rules`), the records of a file together (`_record_rules`), and the
characters free text may hold. The rules across the files of a unit (`_unit_rules`,
`_table7_rules`) likewise take decoded files.
"""

from __future__ import annotations

import re

from .._issue import Issue
from ._columns import Columns, uniform
from ._file import CareplanFile
from ._findings import Findings
from ._item_rules import check_items
from ._layout import Kind
from ._record_rules import check_file_rules

__all__ = ["check_records"]


def check_records(
    file: CareplanFile,
    label: str,
    *,
    identifier_checks: bool = True,
    columns: Columns | None = None,
) -> list[Issue]:
    """The issues of one file's records (items, cross-item and file rules); `label` names the
    file in them. `identifier_checks=False` leaves out the check-digit and 都道府県番号
    warnings of 事業所番号 and 保険者番号 (`validate`'s opt-out). `columns` is the file's
    `Columns` when the caller keeps it for other rules."""
    findings = Findings(file, label)
    if columns is None:
        columns = Columns(file)
    check_items(file, findings, columns, identifier_checks=identifier_checks)
    check_file_rules(file, findings, columns)
    _check_control_characters(file, findings, columns)
    return findings.finish()


# C0 controls except CR and LF (which free text may hold, quoted), and DEL: a receiver's
# database or printer may cut the text at NUL or act on ESC; none is text a person wrote.
_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")


def _check_control_characters(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    for column in file.layout.columns:
        if column.kind is not Kind.FREE_TEXT:
            continue  # other kinds allow no control character by their own format rules
        # One search over the whole column first (joining makes no control character), so a
        # clean column costs no set of its values and no search per value; over its one value
        # when it holds one throughout (a 第6表's provider and planner names, mostly).
        values = columns[column.attribute]
        if uniform(values):
            text = "".join(filter(None, values[:1]))
        else:
            # The column joined once for the rules (by line feeds, which are no control
            # character here), or its texts when it holds an empty item.
            joined = columns.joined(column.attribute)
            text = "".join(filter(None, values)) if joined is None else joined
        if not _holds_control(text):
            continue
        for index in columns.where(column.attribute, _has_control):
            text = columns[column.attribute][index]
            found = [
                f"{_describe_control(match.group())} ({match.start() + 1})"
                for match in _CONTROL.finditer(text)
            ]
            shown = ", ".join(found[:5]) + (", …" if len(found) > 5 else "")
            findings.add(
                "text.control_character",
                "error",
                f"制御文字があります: {shown}（括弧内は何文字目か）。"
                "改行（CR・LF）以外の制御文字は使えません",
                f"control characters: {shown} (character positions in brackets); no control "
                "character other than a line break (CR, LF) is allowed",
                index=index,
                column=column,
                value=text,
            )


# Every byte but the controls': what `_holds_control` deletes. In UTF-8 a character other than
# the ASCII ones is bytes of 0x80 and up, so a control byte is a control character.
_NOT_CONTROL_BYTES = bytes(byte for byte in range(256) if not _CONTROL.match(chr(byte)))


def _holds_control(text: str) -> bool:
    """`_CONTROL.search(text) is not None`, told by deleting every other byte of the text in
    UTF-8, in C: a third of the search's cost over a column of names."""
    return bool(text.encode("utf-8", "surrogatepass").translate(None, _NOT_CONTROL_BYTES))


def _has_control(value: object) -> bool:
    return isinstance(value, str) and _CONTROL.search(value) is not None


_CONTROL_NAMES = {0x00: "NUL", 0x09: "TAB", 0x1B: "ESC", 0x7F: "DEL"}


def _describe_control(char: str) -> str:
    code = ord(char)
    name = _CONTROL_NAMES.get(code)
    return f"U+{code:04X}" + (f" {name}" if name else "")
