"""Small value types for the standard's dates, months, times and special values.

The standard writes some items with sentinel values that are not dates or times at all:
`00000000` in 利用者補足情報 No.4 when the supplement belongs to a schedule, `000000` in No.63 (and
in the file name) when it belongs to a plan, and time `9999` in 第6表 for services without a
time. They get their own singleton types rather than `None` or a magic date, so that a record read
and written back gives the same bytes, and so that code handling them has to say so.
"""

from __future__ import annotations

import enum
from typing import Final

import attrs

__all__ = [
    "NO_TIME",
    "ZERO_DATE",
    "ZERO_MONTH",
    "NoTime",
    "YearMonth",
    "ZeroDate",
    "ZeroMonth",
]


class ZeroDate(enum.Enum):
    """The date `00000000` (利用者補足情報 No.4 of a supplement that belongs to a 第6表)."""

    ZERO_DATE = "00000000"

    def __str__(self) -> str:
        return self.value


class ZeroMonth(enum.Enum):
    """The month `000000` (利用者補足情報 No.63 and the file-name month of a plan supplement)."""

    ZERO_MONTH = "000000"

    def __str__(self) -> str:
        return self.value


class NoTime(enum.Enum):
    """The time `9999` of a 第6表 service that has no time display (時間表示なし)."""

    NO_TIME = "9999"

    def __str__(self) -> str:
        return self.value


ZERO_DATE: Final = ZeroDate.ZERO_DATE
ZERO_MONTH: Final = ZeroMonth.ZERO_MONTH
NO_TIME: Final = NoTime.NO_TIME


def _check_month(instance: YearMonth, attribute: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= 12:
        raise ValueError(f"month must be 1..12, not {value}")


def _check_year(instance: YearMonth, attribute: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= 9999:
        raise ValueError(f"year must be 1..9999, not {value}")


# cache_hash: months are dictionary keys throughout validation (user-month keys of 第6表,
# 第7表 and 補足), and the same few month objects are shared by every record of a file.
@attrs.frozen(order=True, cache_hash=True)
class YearMonth:
    """A calendar month written YYYYMM (対象年月, 削除対象年月)."""

    year: int = attrs.field(validator=_check_year)
    month: int = attrs.field(validator=_check_month)

    @classmethod
    def parse(cls, text: str) -> YearMonth:
        """Parse `YYYYMM`; raises ValueError for anything else (including `000000`)."""
        if len(text) != 6 or not text.isascii() or not text.isdigit():
            raise ValueError(f"not YYYYMM: {text!r}")
        return cls(int(text[:4]), int(text[4:]))

    def __str__(self) -> str:
        return f"{self.year:04d}{self.month:02d}"

    def next(self) -> YearMonth:
        """The following month."""
        if self.month == 12:
            return YearMonth(self.year + 1, 1)
        return YearMonth(self.year, self.month + 1)
