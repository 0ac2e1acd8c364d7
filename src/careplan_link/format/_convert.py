"""Text ↔ typed value, per column kind. The only place values are typed."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ._layout import Kind
from ._values import NO_TIME, ZERO_DATE, ZERO_MONTH, NoTime, YearMonth, ZeroDate, ZeroMonth

__all__ = [
    "READ_ONLY_CANONICALLY",
    "TYPED_KINDS",
    "format_value",
    "parse_value",
    "type_error_message",
]

_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DIGITS = re.compile(r"[0-9]+")


def _parse_integer(text: str) -> int:
    # int() would also take spaces, '+', '_' and full-width digits: the standard allows none.
    if not _INTEGER.fullmatch(text):
        raise ValueError(text)
    return int(text)


def _parse_decimal(text: str) -> Decimal:
    if not _DECIMAL.fullmatch(text):
        raise ValueError(text)
    return Decimal(text)


def _parse_date(text: str) -> datetime.date | ZeroDate:
    if len(text) != 8 or not _DIGITS.fullmatch(text):
        raise ValueError(text)
    if text == "00000000":
        return ZERO_DATE
    return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))


# One object per month text, shared by every file read: months are in the keys the unit rules
# compare across files (user, month), and tuples compare equal items by identity first, without
# a call to YearMonth's __eq__. Frozen, so sharing is safe; bounded, though files hold few.
_MONTHS: dict[str, YearMonth] = {}
_MONTHS_KEPT = 1024


def _parse_month(text: str) -> YearMonth | ZeroMonth:
    month = _MONTHS.get(text)
    if month is not None:
        return month
    if text == "000000":
        return ZERO_MONTH
    month = YearMonth.parse(text)
    if len(_MONTHS) < _MONTHS_KEPT:
        _MONTHS[text] = month
    return month


def _parse_time(text: str) -> datetime.time | NoTime:
    if len(text) != 4 or not _DIGITS.fullmatch(text):
        raise ValueError(text)
    if text == "9999":
        return NO_TIME
    return datetime.time(int(text[:2]), int(text[2:]))


_PARSERS: dict[Kind, Callable[[str], Any]] = {
    Kind.INTEGER: _parse_integer,
    Kind.DECIMAL: _parse_decimal,
    Kind.YYYYMMDD: _parse_date,
    Kind.YYYYMM: _parse_month,
    Kind.HHMM: _parse_time,
}

#: Kinds whose items are converted from text (all others stay `str`).
TYPED_KINDS = frozenset(_PARSERS)
#: Kinds whose parser reads only their canonical text (a fixed number of ASCII digits, each
#: value written back with as many): a text that can be read needs no canonical-form check.
READ_ONLY_CANONICALLY = frozenset({Kind.YYYYMMDD, Kind.HHMM})

_MESSAGES: dict[Kind, tuple[str, str]] = {
    Kind.INTEGER: ("整数（半角数字）ではありません", "not an integer (ASCII digits)"),
    Kind.DECIMAL: ("数値（99.99 形式）ではありません", "not a decimal number (99.99)"),
    Kind.YYYYMMDD: (
        "存在する日付（YYYYMMDD）ではありません",
        "not an existing date (YYYYMMDD)",
    ),
    Kind.YYYYMM: (
        "年月（YYYYMM、月は01～12）ではありません",
        "not a month (YYYYMM with month 01-12)",
    ),
    Kind.HHMM: (
        "時刻（HHMM、0000～2359、または時間表示なしの9999）ではありません",
        "not a time (HHMM 0000-2359, or 9999 for no time)",
    ),
}


def parse_value(kind: Kind, text: str) -> Any:
    """The typed value of a non-empty item; raises ValueError if it cannot be typed."""
    parser = _PARSERS.get(kind)
    return parser(text) if parser else text


def type_error_message(kind: Kind) -> tuple[str, str]:
    """(Japanese, English) message for an item of `kind` that cannot be typed."""
    return _MESSAGES[kind]


def format_value(kind: Kind, value: Any) -> str:
    """The text of a typed value (None → empty). Raises TypeError for a value of the wrong type."""
    if value is None:
        return ""
    if isinstance(value, ZeroDate | ZeroMonth | NoTime):
        expected = {Kind.YYYYMMDD: ZeroDate, Kind.YYYYMM: ZeroMonth, Kind.HHMM: NoTime}
        if not isinstance(value, expected.get(kind, ())):
            raise TypeError(f"{value!r} is not a value for a {kind.value} item")
        return str(value)
    if kind is Kind.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected int, got {type(value).__name__}")
        return str(value)
    if kind is Kind.DECIMAL:
        if not isinstance(value, Decimal | int) or isinstance(value, bool):
            raise TypeError(f"expected Decimal, got {type(value).__name__}")
        return format(Decimal(value), "f")
    if kind is Kind.YYYYMMDD:
        if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
            raise TypeError(f"expected datetime.date, got {type(value).__name__}")
        return f"{value.year:04d}{value.month:02d}{value.day:02d}"
    if kind is Kind.YYYYMM:
        if not isinstance(value, YearMonth):
            raise TypeError(f"expected YearMonth, got {type(value).__name__}")
        return str(value)
    if kind is Kind.HHMM:
        if not isinstance(value, datetime.time):
            raise TypeError(f"expected datetime.time, got {type(value).__name__}")
        if value.second or value.microsecond:
            raise ValueError(f"HHMM items have no seconds: {value.isoformat()}")
        return f"{value.hour:02d}{value.minute:02d}"
    if not isinstance(value, str):
        raise TypeError(f"expected str, got {type(value).__name__}")
    return value
