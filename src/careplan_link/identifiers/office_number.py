"""事業所番号 (介護保険事業所番号): the 10-digit number of a care office.

Layout, as MHLW publishes it (docs/decisions.md, "Identifiers"):

    PP K CC NNNN D    PP 都道府県番号 01-47, K 事業所区分, CC 郡市区番号,
                      NNNN 事業所番号, D 検証番号 (check digit)

The standard's files hold it as 10 half-width digits (file names, 第6表 サービス事業者コード,
第1表 介護支援事業者コード, …). `validate` checks that shape and the 都道府県番号; the check digit
is a separate, softer check (`checksum_ok`): a number whose check digit does not match is most
likely mistyped, but the library cannot know every number an authority assigned, so it is never
an error.

>>> validate(" 1370100016 ")
'1370100016'
>>> checksum_ok("1370100016")
True
>>> is_valid("137010001")
False
"""

from __future__ import annotations

import re
from typing import Final

from ._util import (
    PREFECTURES,
    clean,
    luhn_2_1,
    raise_component,
    raise_format,
    raise_length,
    require_ascii,
)

__all__ = [
    "ITEM",
    "LENGTH",
    "SHAPE",
    "calc_check_digit",
    "checksum_ok",
    "compact",
    "has_shape",
    "is_valid",
    "validate",
]

ITEM: Final = "事業所番号"
"""The 項目名 errors name."""
LENGTH: Final = 10
SHAPE: Final = re.compile(r"[0-9]{10}")
"""What the standard's files hold: 10 half-width digits (the one statement of that format)."""

# The published check-digit rule reads a letter of the 事業所区分 (総合事業 offices use "A") as
# a number: A=10, B=11, … Z=32, skipping I, O and Q.
_LETTER_VALUES = {
    letter: value
    for value, letter in enumerate(
        (c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in "IOQ"), start=10
    )
}


def compact(value: str) -> str:
    """`value` without surrounding whitespace, spaces and hyphens (`13-70100016` → `1370100016`).

    Full-width characters are kept as they are, so `validate` reports them.
    """
    return clean(value, " -")


def has_shape(value: str) -> bool:
    """Whether `value` is exactly of the standard's shape (10 half-width digits), as written."""
    return SHAPE.fullmatch(value) is not None


def validate(value: str) -> str:
    """The compact number; raises a subclass of `InvalidIdentifier` when it is not one.

    Checks: half-width only (`InvalidFormat`), 10 characters (`InvalidLength`), digits only
    (`InvalidFormat`), 都道府県番号 01-47 (`InvalidComponent`). The check digit is not checked
    here (see `checksum_ok`). The 第7表's 全合計 marker 9999999999 is not an office number.
    """
    number = compact(value)
    require_ascii(ITEM, number)
    if len(number) != LENGTH:
        raise_length(ITEM, number, LENGTH)
    if not has_shape(number):
        raise_format(
            ITEM, number, f"{ITEM}は10桁の半角数字です", f"{ITEM} (office number) is 10 digits"
        )
    if number[:2] not in PREFECTURES:
        raise_component(
            ITEM,
            number,
            f"{ITEM}の先頭2桁（都道府県番号 {number[:2]}）が 01～47 ではありません",
            f"the first two digits of {ITEM} (都道府県番号 {number[:2]}) are not 01-47",
        )
    return number


def is_valid(value: str) -> bool:
    """Whether `validate` accepts `value`."""
    try:
        validate(value)
    except ValueError:  # InvalidIdentifier is a ValueError
        return False
    return True


def calc_check_digit(first_nine: str) -> str:
    """The 検証番号 of the first nine characters (モジュラス10 ウェイト2・1 分割方式)."""
    if len(first_nine) != 9:
        raise ValueError("calc_check_digit takes the first 9 characters of a 事業所番号")
    values = []
    for char in first_nine:
        if char.isascii() and char.isdigit():
            values.append(int(char))
        elif char in _LETTER_VALUES:
            values.append(_LETTER_VALUES[char])
        else:
            raise ValueError(f"not a character of a 事業所番号: {char!r}")
    return str(luhn_2_1(values))


def checksum_ok(value: str) -> bool:
    """Whether the last digit of a valid 事業所番号 is its published 検証番号.

    False for a value `validate` rejects. A warning-level check: the standard's own examples
    (`0300000100`) and most made-up test numbers do not satisfy it.
    """
    if not is_valid(value):
        return False
    number = compact(value)
    return calc_check_digit(number[:9]) == number[9]
