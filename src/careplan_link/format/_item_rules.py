"""Rules about one item on its own: required, length, format, code tables, special values.

They are checked once per distinct value of a column (a 第6表 repeats the same few values on
every line), then reported at every record holding a bad value.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from decimal import Decimal
from typing import Any

from .._issue import Severity
from ._columns import Columns
from ._file import CareplanFile
from ._findings import Findings
from ._layout import Column, Kind, Layout
from ._values import NO_TIME, ZERO_DATE, ZERO_MONTH

__all__ = ["check_items"]

Problem = tuple[str, Severity, str, str]

_INSURED_NO = re.compile(r"\d{10}|H\d{9}")
_ALPHANUMERIC = re.compile(r"[0-9A-Za-z\-]+")
_SERVICE_TYPE = re.compile(r"[0-9A-Z]{2}")
_SERVICE_CODE = re.compile(r"[0-9A-Z]{6}")
_POSTAL_CODE = re.compile(r"\d{3}-\d{4}")
_PHONE = re.compile(r"[0-9\-()+]+")
_FLAG31 = re.compile(r"[01]{31}")

# Where the standard uses its special values; anywhere else they are errors.
_SPECIAL_ALLOWED = {
    ZERO_DATE: {("supplement", "plan_date")},
    ZERO_MONTH: {("supplement", "target_month")},
    NO_TIME: {("table6_plan", "start_time"), ("table6_plan", "end_time"),
              ("table6_actual", "start_time"), ("table6_actual", "end_time")},
}  # fmt: skip


def check_items(file: CareplanFile, findings: Findings, columns: Columns) -> None:
    """Report every item of the file that breaks a rule of its column."""
    layout = file.layout
    for column in layout.columns:
        if column.kind is Kind.CSV_VERSION:
            continue  # checked with the file's version rules
        distinct = columns.distinct(column.attribute)
        if column.kind is Kind.FREE_TEXT and column.max_length is None:
            # Free text of any length: only emptiness can be wrong, and only if required.
            distinct = {None} if column.required and None in distinct else set()
        for value in distinct:
            problems = _problems(layout, column, value)
            if not problems:
                continue
            kind_of_value = type(value)
            for index, held in enumerate(columns[column.attribute]):
                if held == value and type(held) is kind_of_value:
                    for code, severity, ja, en in problems:
                        findings.add(
                            code,
                            severity,
                            ja,
                            en,
                            index=index,
                            column=column,
                            value=value,
                            single_item=True,
                        )


def _problems(layout: Layout, column: Column, value: Any) -> list[Problem]:
    if value is None:
        return _missing(layout, column)
    if value in _SPECIAL_ALLOWED and not isinstance(value, str | int):
        if (layout.id, column.attribute) not in _SPECIAL_ALLOWED[value]:
            return [
                (
                    "special.not_allowed",
                    "error",
                    f"特別な値 {value} はこの項目では使えません",
                    f"the special value {value} is not allowed in this item",
                )
            ]
        return []
    if isinstance(value, str):
        return _text_problems(layout, column, value)
    if isinstance(value, int):
        digits = len(str(abs(value)))
        if column.max_length is not None and digits > column.max_length:
            return [_too_long(column, digits)]
        return _range_problems(layout, column, value)
    if isinstance(value, Decimal):
        return _decimal_problems(column, value)
    if isinstance(value, datetime.date) and not 1900 <= value.year <= 2099:
        return [
            (
                "format.date_range",
                "warning",
                "日付の年が1900～2099年の範囲外です",
                "the year of this date is outside 1900-2099",
            )
        ]
    return []


def _missing(layout: Layout, column: Column) -> list[Problem]:
    if not column.required:
        return []
    if column.uncertain:
        # The standard's 必須 mark for this item is unclear (docs/decisions.md): a sender that
        # leaves it empty may still conform, so this is a warning, not an error.
        return [
            (
                "required.missing",
                "warning",
                "必須項目が空です（この項目の必須指定は仕様書上あいまいなため警告とします）",
                "a required item is empty (a warning: the standard's required mark for this "
                "item is unclear)",
            )
        ]
    return [("required.missing", "error", "必須項目が空です", "a required item is empty")]


def _too_long(column: Column, length: int) -> Problem:
    return (
        "length.too_long",
        "error",
        f"項目長 {column.max_length} を超えています（{length}）",
        f"longer than the item length {column.max_length} ({length})",
    )


def _text_problems(layout: Layout, column: Column, value: str) -> list[Problem]:
    kind = column.kind
    if kind is Kind.FREE_TEXT:
        if column.max_length is not None and len(value) > column.max_length:
            return [_too_long(column, len(value))]
        return []
    if not value.isascii():
        return [_full_width(value)]
    if kind is Kind.DIGITS:
        if value.isdigit() and len(value) == column.max_length:
            return []
        hint_ja = hint_en = ""
        if value.isdigit() and column.max_length == 10 and len(value) == 9:
            hint_ja = "（9桁です。先頭の0が落ちていないか確認してください）"
            hint_en = " (9 digits: a leading zero was probably lost)"
        return [
            (
                "format.digits",
                "error",
                f"{column.max_length}桁の数字ではありません{hint_ja}",
                f"not {column.max_length} digits{hint_en}",
            )
        ]
    if kind is Kind.ALPHANUMERIC:
        if column.attribute == "insured_no":
            if _INSURED_NO.fullmatch(value):
                return []
            return [
                (
                    "format.insured_no",
                    "error",
                    "被保険者番号は10桁の数字（生保単独は H＋9桁の数字）です",
                    "被保険者番号 must be 10 digits (or H + 9 digits for public assistance only)",
                )
            ]
        if not _ALPHANUMERIC.fullmatch(value):
            return [
                (
                    "format.alphanumeric",
                    "error",
                    "半角英数字（とハイフン）ではありません",
                    "not ASCII letters, digits and hyphens",
                )
            ]
    elif kind is Kind.CODE:
        return _code_problems(column, value)
    elif kind is Kind.SERVICE_CODE:
        if not _SERVICE_CODE.fullmatch(value):
            return [
                (
                    "format.service_code",
                    "error",
                    "サービスコードは6桁の半角英数字（種類2桁＋項目4桁）です",
                    "a service code is 6 characters 0-9/A-Z (type 2 + item 4)",
                )
            ]
    elif kind is Kind.POSTAL_CODE:
        if not _POSTAL_CODE.fullmatch(value):
            hint_ja = "（ハイフンがありません）" if value.isdigit() and len(value) == 7 else ""
            hint_en = " (the hyphen is missing)" if hint_ja else ""
            return [
                (
                    "format.postal_code",
                    "error",
                    f"郵便番号は XXX-XXXX の形式です{hint_ja}",
                    f"a postal code is written XXX-XXXX{hint_en}",
                )
            ]
    elif kind is Kind.PHONE:
        if not _PHONE.fullmatch(value):
            return [
                (
                    "format.phone",
                    "error",
                    "電話番号は半角数字とハイフンで書きます",
                    "a phone number holds ASCII digits and hyphens",
                )
            ]
    elif kind is Kind.FLAG31 and not _FLAG31.fullmatch(value):
        return [
            (
                "format.prorated_days",
                "error",
                "日割対象日は 0 と 1 の31文字です",
                "日割対象日 is 31 characters of 0 and 1",
            )
        ]
    if column.max_length is not None and len(value) > column.max_length:
        return [_too_long(column, len(value))]
    return []


def _code_problems(column: Column, value: str) -> list[Problem]:
    if column.attribute == "identifier":
        return [
            (
                "code.not_used",
                "warning",
                "識別子は使用しない項目です（空にしてください）",
                "識別子 is not used by the standard and should be empty",
            )
        ]
    table = column.code_table
    if table is None:
        if _SERVICE_TYPE.fullmatch(value):
            return []
        return [
            (
                "format.service_type",
                "error",
                "サービス種類コードは2桁の半角英数字です",
                "a service type code is 2 characters 0-9/A-Z",
            )
        ]
    if value in table:
        return []
    allowed = ", ".join(f"{code}={meaning}" for code, meaning in table.values)
    return [
        (
            "code.unknown",
            "error",
            f"{table.name_ja}にないコードです（{allowed}）",
            f"not a code of {table.name_ja} ({allowed})",
        )
    ]


def _full_width(value: str) -> Problem:
    odd = sorted({c for c in value if not c.isascii()})
    shown = ", ".join(f"U+{ord(c):04X}" for c in odd)
    if any(unicodedata.east_asian_width(c) in "FW" for c in odd):
        return (
            "format.full_width",
            "error",
            f"全角文字があります（{shown}）。半角英数字で書いてください",
            f"full-width characters ({shown}): write half-width ASCII",
        )
    return (
        "format.full_width",
        "error",
        f"半角英数字以外の文字があります（{shown}）",
        f"non-ASCII characters ({shown}) in an item that holds ASCII only",
    )


def _range_problems(layout: Layout, column: Column, value: int) -> list[Problem]:
    numbering = layout.id == "table2" and column.attribute in ("need_no", "goal_no", "support_no")
    if numbering and not 1 <= value <= 99:
        return [
            (
                "format.range",
                "error",
                "番号は 1～99 です",
                "numbers (NO) are 1 to 99",
            )
        ]
    if value < 0 and column.attribute not in ("units", "discounted_units"):
        return [
            (
                "format.negative",
                "warning",
                "負の値です",
                "a negative value",
            )
        ]
    return []


def _decimal_problems(column: Column, value: Decimal) -> list[Problem]:
    text = format(value, "f")
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > 2 or (column.max_length is not None and len(text) > column.max_length):
        return [
            (
                "format.decimal",
                "error",
                "99.99 の形式（小数点以下2桁まで）ではありません",
                "not of the form 99.99 (at most 2 decimals)",
            )
        ]
    return []
