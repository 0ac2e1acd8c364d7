"""サービスコード: the 6-character 介護給付費単位数等サービスコード, サービス種類 (2) + 項目 (4).

The standard's files hold 6 half-width characters 0-9/A-Z: a サービス種類コード followed by a
4-character サービス項目コード (`111211`). The 第7表 also uses the subtotal codes type + `AAAA`
/ `EEEE` / `ZZZZ` and the 全合計 code `999999`, which have the same shape. The codes themselves
belong to the サービスコード表 (not part of the standard): only the shape is checked.

>>> validate("11-1211")
'111211'
>>> service_type_of("111211")
'11'
"""

from __future__ import annotations

import re
from typing import Final

from . import service_type
from ._util import clean, raise_format, raise_length, require_ascii

__all__ = [
    "ITEM",
    "LENGTH",
    "SHAPE",
    "compact",
    "has_shape",
    "is_valid",
    "service_type_of",
    "validate",
]

ITEM: Final = "サービスコード"
"""The 項目名 errors name."""
LENGTH: Final = 6
SHAPE: Final = re.compile(service_type.SHAPE.pattern + r"[0-9A-Z]{4}")
"""What the standard's files hold: a サービス種類コード + 4 characters 0-9/A-Z."""


def compact(value: str) -> str:
    """`value` without surrounding whitespace, spaces and hyphens (`11-1211` → `111211`).

    Case and full-width characters are kept, so `validate` reports them.
    """
    return clean(value, " -")


def has_shape(value: str) -> bool:
    """Whether `value` is exactly of the standard's shape, as written."""
    return SHAPE.fullmatch(value) is not None


def service_type_of(value: str) -> str:
    """The サービス種類コード of a valid service code (its first two characters)."""
    return validate(value)[: service_type.LENGTH]


def validate(value: str) -> str:
    """The compact code; raises a subclass of `InvalidIdentifier` when it is not one.

    Checks: half-width only (`InvalidFormat`), 6 characters (`InvalidLength`), 0-9/A-Z
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
            f"{ITEM}は6桁の半角英数字（種類2桁＋項目4桁、英字は大文字）です",
            f"{ITEM} (service code) is 6 characters 0-9/A-Z (type 2 + item 4)",
        )
    return code


def is_valid(value: str) -> bool:
    """Whether `validate` accepts `value`."""
    try:
        validate(value)
    except ValueError:  # InvalidIdentifier is a ValueError
        return False
    return True
