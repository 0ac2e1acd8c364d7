"""What the identifier modules share: separators, the half-width rule, raising the errors."""

from __future__ import annotations

from typing import NoReturn

from ..errors import InvalidComponent, InvalidFormat, InvalidLength

__all__ = [
    "PREFECTURES",
    "clean",
    "luhn_2_1",
    "raise_component",
    "raise_format",
    "raise_length",
    "require_ascii",
]

PREFECTURES = frozenset(f"{code:02d}" for code in range(1, 48))
"""The 都道府県番号 01 (北海道) … 47 (沖縄県) of JIS X 0401, the first two digits of the
事業所番号 and of the 保険者番号."""


def clean(value: str, separators: str) -> str:
    """`value` without surrounding whitespace and without the ASCII `separators`.

    Only ASCII separators go: a full-width space or hyphen (U+3000, U+FF0D) stays, so that
    `validate` reports it. Full-width digits are never converted (the standard requires
    half-width, and a silent conversion would hide what a receiver's import rejects).
    """
    if not isinstance(value, str):
        raise TypeError(f"an identifier is a str, not {type(value).__name__}")
    text = value.strip(" \t\r\n")
    for separator in separators:
        text = text.replace(separator, "")
    return text


def raise_format(item: str, value: str, message_ja: str, message_en: str) -> NoReturn:
    raise InvalidFormat(item, value, message_ja, message_en)


def raise_length(item: str, value: str, length: int) -> NoReturn:
    raise InvalidLength(
        item,
        value,
        f"{item}は{length}桁です（{len(value)}桁あります）",
        f"{item} must be {length} characters long (it has {len(value)})",
    )


def raise_component(item: str, value: str, message_ja: str, message_en: str) -> NoReturn:
    raise InvalidComponent(item, value, message_ja, message_en)


def require_ascii(item: str, value: str) -> None:
    """Raise `InvalidFormat` when `value` holds a character that is not ASCII (full-width)."""
    if value.isascii():
        return
    odd = ", ".join(f"U+{ord(c):04X}" for c in sorted({c for c in value if not c.isascii()}))
    raise_format(
        item,
        value,
        f"{item}に全角文字などの半角でない文字があります（{odd}）。半角英数字で書いてください",
        f"{item} holds characters that are not half-width ASCII ({odd}): the standard "
        "requires half-width",
    )


def luhn_2_1(values: list[int]) -> int:
    """The check digit of the モジュラス10 ウェイト2・1 分割方式 over `values`.

    From the rightmost value leftwards the weights are 2, 1, 2, 1, …; a product of two digits
    counts as the sum of its digits (分割方式); the check digit is 10 minus the last digit of
    the total, and 0 when that digit is 0.
    """
    total = 0
    for position, value in enumerate(reversed(values)):
        product = value * (2 if position % 2 == 0 else 1)
        total += sum(int(digit) for digit in str(product))
    return (10 - total % 10) % 10
