"""被保険者番号: the 10-character number of an insured person.

The standard's files hold 10 half-width digits, or, for 生保単独 users (public assistance only,
no 介護保険 insurance), `H` followed by 9 digits (the transcription's
`special_values.seiho_tandoku_insured_no`). No component or check digit of it is published:
only the shape is checked.

>>> validate("0000012345")
'0000012345'
>>> is_seiho_tandoku(validate("H123456789"))
True
>>> is_valid("h123456789")  # the standard writes a capital H
False
"""

from __future__ import annotations

import re
from typing import Final

from ._util import clean, raise_format, raise_length, require_ascii

__all__ = [
    "ITEM",
    "LENGTH",
    "SEIHO_TANDOKU_PREFIX",
    "SHAPE",
    "compact",
    "has_shape",
    "is_seiho_tandoku",
    "is_valid",
    "validate",
]

ITEM: Final = "被保険者番号"
"""The 項目名 errors name."""
LENGTH: Final = 10
SEIHO_TANDOKU_PREFIX: Final = "H"
"""The first character of a 生保単独 user's number (followed by 9 digits)."""
SHAPE: Final = re.compile(r"[0-9]{10}|H[0-9]{9}")
"""What the standard's files hold: 10 half-width digits, or H + 9 digits (生保単独)."""


def compact(value: str) -> str:
    """`value` without surrounding whitespace, spaces and hyphens.

    Neither full-width characters nor a lower-case `h` are converted, so `validate` reports
    them: the standard requires half-width and a capital `H`.
    """
    return clean(value, " -")


def has_shape(value: str) -> bool:
    """Whether `value` is exactly of the standard's shape, as written."""
    return SHAPE.fullmatch(value) is not None


def is_seiho_tandoku(value: str) -> bool:
    """Whether `value` is a 生保単独 user's number (H + 9 digits)."""
    return has_shape(value) and value.startswith(SEIHO_TANDOKU_PREFIX)


def validate(value: str) -> str:
    """The compact number; raises a subclass of `InvalidIdentifier` when it is not one.

    Checks: half-width only (`InvalidFormat`), 10 characters (`InvalidLength`), 10 digits or
    H + 9 digits (`InvalidFormat`).
    """
    number = compact(value)
    require_ascii(ITEM, number)
    if len(number) != LENGTH:
        raise_length(ITEM, number, LENGTH)
    if not has_shape(number):
        raise_format(
            ITEM,
            number,
            f"{ITEM}は10桁の数字（生保単独は H＋9桁の数字）です",
            f"{ITEM} must be 10 digits (or H + 9 digits for public assistance only)",
        )
    return number


def is_valid(value: str) -> bool:
    """Whether `validate` accepts `value`."""
    try:
        validate(value)
    except ValueError:  # InvalidIdentifier is a ValueError
        return False
    return True
