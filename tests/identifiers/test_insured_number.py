"""被保険者番号: 10 digits, or H + 9 digits for 生保単独 users."""

from __future__ import annotations

import pytest

from careplan_link.errors import InvalidFormat, InvalidIdentifier, InvalidLength
from careplan_link.identifiers import insured_number


@pytest.mark.parametrize("given", ["0000012345", "1234567890", "H123456789", "H000000000"])
def test_valid_numbers(given: str) -> None:
    assert insured_number.validate(given) == given
    assert insured_number.has_shape(given)


def test_seiho_tandoku_numbers() -> None:
    assert insured_number.is_seiho_tandoku("H123456789")
    assert not insured_number.is_seiho_tandoku("0123456789")
    assert not insured_number.is_seiho_tandoku("H12345678")  # too short: not an H-number
    assert not insured_number.is_seiho_tandoku("h123456789")


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ("h123456789", InvalidFormat),  # the standard writes a capital H; not converted
        ("Ｈ123456789", InvalidFormat),  # full-width H
        ("HH23456789", InvalidFormat),
        ("12345678H9", InvalidFormat),
        ("A123456789", InvalidFormat),  # only H marks a 生保単独 user
        ("H12345678", InvalidLength),
        ("123456789", InvalidLength),
        ("12345678901", InvalidLength),
    ],
)
def test_invalid_numbers(given: str, error: type[InvalidIdentifier]) -> None:
    with pytest.raises(error) as raised:
        insured_number.validate(given)
    issue = raised.value.issues[0]
    assert issue.item == "被保険者番号"
    assert "被保険者番号" in issue.message_ja and "被保険者番号" in issue.message_en
    assert not insured_number.is_valid(given)


def test_the_format_error_mentions_the_h_numbers() -> None:
    with pytest.raises(InvalidFormat) as raised:
        insured_number.validate("A123456789")
    assert "H" in raised.value.issues[0].message_ja
    assert "H + 9 digits" in raised.value.issues[0].message_en


def test_compact_removes_separators_only() -> None:
    assert insured_number.compact(" H-1234-56789 ") == "H123456789"
    assert insured_number.compact("h123456789") == "h123456789"
