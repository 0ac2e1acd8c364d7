"""サービス種類コード: the 2-character code of a kind of service (11 訪問介護, 2A, …).

The standard's files (and v4.1 file names) hold 2 half-width characters 0-9/A-Z (upper case).
The list of codes belongs to the 介護給付費 code tables, which change with every 報酬改定 and are
not part of the standard: only the shape is checked.

>>> validate("2A")
'2A'
>>> is_valid("2a")
False
"""

from __future__ import annotations

import re
from typing import Final

from ._util import clean, raise_format, raise_length, require_ascii

__all__ = ["ITEM", "LENGTH", "SHAPE", "compact", "has_shape", "is_valid", "validate"]

ITEM: Final = "サービス種類コード"
"""The 項目名 errors name."""
LENGTH: Final = 2
SHAPE: Final = re.compile(r"[0-9A-Z]{2}")
"""What the standard's files hold: 2 characters 0-9/A-Z (the one statement of that format)."""


def compact(value: str) -> str:
    """`value` without surrounding whitespace. Case and full-width are kept (see `validate`)."""
    return clean(value, "")


def has_shape(value: str) -> bool:
    """Whether `value` is exactly of the standard's shape, as written."""
    return SHAPE.fullmatch(value) is not None


def validate(value: str) -> str:
    """The compact code; raises a subclass of `InvalidIdentifier` when it is not one.

    Checks: half-width only (`InvalidFormat`), 2 characters (`InvalidLength`), 0-9/A-Z
    (`InvalidFormat`; a lower-case letter is not converted).
    """
    code = compact(value)
    require_ascii(ITEM, code)
    if len(code) != LENGTH:
        raise_length(ITEM, code, LENGTH)
    if not has_shape(code):
        raise_format(
            ITEM,
            code,
            f"{ITEM}は2桁の半角英数字（英字は大文字）です",
            f"{ITEM} (service type) is 2 characters 0-9/A-Z",
        )
    return code


def is_valid(value: str) -> bool:
    """Whether `validate` accepts `value`."""
    try:
        validate(value)
    except ValueError:  # InvalidIdentifier is a ValueError
        return False
    return True
