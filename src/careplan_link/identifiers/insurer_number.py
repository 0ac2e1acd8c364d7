"""保険者番号: the 6-digit number of the 介護保険 insurer (a municipality or a 広域連合).

Layout, as MHLW's 保険者番号設定要領 publishes it (docs/decisions.md, "Identifiers"):

    PP NNN D    PP 都道府県番号 01-47, NNN 保険者別番号, D 検証番号 (check digit)

The standard's files hold it as 6 half-width digits, for every user (the transcription gives
生保単独 users no other form: their 被保険者番号 differs, see `insured_number`). `validate`
checks that shape and the 都道府県番号; the check digit is a separate, softer check
(`checksum_ok`), never an error.

>>> validate("131011")
'131011'
>>> checksum_ok("131011"), checksum_ok("131012")
(True, False)
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

ITEM: Final = "保険者番号"
"""The 項目名 errors name."""
LENGTH: Final = 6
SHAPE: Final = re.compile(r"[0-9]{6}")
"""What the standard's files hold: 6 half-width digits (the one statement of that format)."""


def compact(value: str) -> str:
    """`value` without surrounding whitespace, spaces and hyphens.

    Full-width characters are kept as they are, so `validate` reports them.
    """
    return clean(value, " -")


def has_shape(value: str) -> bool:
    """Whether `value` is exactly of the standard's shape (6 half-width digits), as written."""
    return SHAPE.fullmatch(value) is not None


def validate(value: str) -> str:
    """The compact number; raises a subclass of `InvalidIdentifier` when it is not one.

    Checks: half-width only (`InvalidFormat`), 6 characters (`InvalidLength`), digits only
    (`InvalidFormat`), 都道府県番号 01-47 (`InvalidComponent`). The check digit is not checked
    here (see `checksum_ok`).
    """
    number = compact(value)
    require_ascii(ITEM, number)
    if len(number) != LENGTH:
        raise_length(ITEM, number, LENGTH)
    if not has_shape(number):
        raise_format(
            ITEM, number, f"{ITEM}は6桁の半角数字です", f"{ITEM} (insurer number) is 6 digits"
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


def calc_check_digit(first_five: str) -> str:
    """The 検証番号 of the first five digits (ウェイト2・1, 積の各桁の和, 10 − 下1桁)."""
    if len(first_five) != 5 or not (first_five.isascii() and first_five.isdigit()):
        raise ValueError("calc_check_digit takes the first 5 digits of a 保険者番号")
    return str(luhn_2_1([int(char) for char in first_five]))


def checksum_ok(value: str) -> bool:
    """Whether the last digit of a valid 保険者番号 is its published 検証番号.

    False for a value `validate` rejects. A warning-level check, never an error.
    """
    if not is_valid(value):
        return False
    number = compact(value)
    return calc_check_digit(number[:5]) == number[5]
