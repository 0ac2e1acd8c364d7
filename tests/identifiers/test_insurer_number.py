"""保険者番号: shape, 都道府県番号, the 検証番号 of the 保険者番号設定要領."""

from __future__ import annotations

import pytest

from careplan_link.errors import InvalidComponent, InvalidFormat, InvalidIdentifier, InvalidLength
from careplan_link.identifiers import insurer_number


@pytest.mark.parametrize("given", ["131011", "435073", "011007", "141002", " 13-1011 "])
def test_valid_numbers(given: str) -> None:
    assert insurer_number.validate(given) == given.replace("-", "").strip()
    assert insurer_number.is_valid(given)


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ("13101", InvalidLength),
        ("1310110", InvalidLength),
        ("13101A", InvalidFormat),
        ("１３１０１１", InvalidFormat),
        ("001011", InvalidComponent),
        ("991011", InvalidComponent),
    ],
)
def test_invalid_numbers(given: str, error: type[InvalidIdentifier]) -> None:
    with pytest.raises(error) as raised:
        insurer_number.validate(given)
    assert raised.value.issues[0].item == "保険者番号"
    assert "保険者番号" in raised.value.issues[0].message_ja
    assert not insurer_number.is_valid(given)


def test_check_digit_of_published_insurer_numbers() -> None:
    # 435073 is a real 介護保険 insurer (水上村, 熊本県) in its own published code table.
    assert insurer_number.calc_check_digit("43507") == "3"
    assert insurer_number.calc_check_digit("13101") == "1"
    assert insurer_number.checksum_ok("435073")
    assert not insurer_number.checksum_ok("435074")
    assert not insurer_number.checksum_ok("131001")  # 131011 with its last digit wrong
    assert not insurer_number.checksum_ok("43507")
    with pytest.raises(ValueError):
        insurer_number.calc_check_digit("4350")
    with pytest.raises(ValueError):
        insurer_number.calc_check_digit("４３５０７")


def test_the_validation_does_not_check_the_check_digit() -> None:
    # A wrong check digit is a warning-level matter (checksum_ok), never a validation error.
    assert insurer_number.is_valid("131001") and not insurer_number.checksum_ok("131001")
