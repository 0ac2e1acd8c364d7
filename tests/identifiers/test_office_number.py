"""事業所番号: shape, 都道府県番号, the published check digit."""

from __future__ import annotations

import pytest

from careplan_link.errors import (
    FormatError,
    InvalidComponent,
    InvalidFormat,
    InvalidIdentifier,
    InvalidLength,
)
from careplan_link.identifiers import office_number


@pytest.mark.parametrize(
    ("given", "compact"),
    [
        ("1370100016", "1370100016"),
        (" 1370100016\t", "1370100016"),
        ("13-70100-016", "1370100016"),
        ("13 701 00016", "1370100016"),
        ("0100000007", "0100000007"),
        ("4790000000", "4790000000"),
    ],
)
def test_valid_numbers_give_their_compact_form(given: str, compact: str) -> None:
    assert office_number.compact(given) == compact
    assert office_number.validate(given) == compact
    assert office_number.is_valid(given)


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ("137010001", InvalidLength),  # a leading zero lost
        ("13701000160", InvalidLength),
        ("", InvalidLength),
        ("13A0100016", InvalidFormat),  # 総合事業 numbers are not what the files hold
        ("137010001x", InvalidFormat),
        ("１３７０１０００１６", InvalidFormat),  # full-width: never converted
        ("1370100016\u3000", InvalidFormat),  # a full-width space is not a separator
        ("0070100016", InvalidComponent),  # 都道府県番号 00
        ("4870100016", InvalidComponent),  # 48
        ("9999999999", InvalidComponent),  # the 第7表 全合計 marker is not an office number
    ],
)
def test_invalid_numbers_raise_the_matching_error(
    given: str, error: type[InvalidIdentifier]
) -> None:
    with pytest.raises(error) as raised:
        office_number.validate(given)
    assert isinstance(raised.value, InvalidIdentifier)
    assert isinstance(raised.value, FormatError)
    assert not office_number.is_valid(given)


def test_the_error_names_the_item_in_both_languages() -> None:
    with pytest.raises(InvalidLength) as raised:
        office_number.validate("137010001")
    (issue,) = raised.value.issues
    assert issue.code == "identifier.length"
    assert issue.severity == "error"
    assert issue.item == "事業所番号" == raised.value.item
    assert issue.value == "137010001" == raised.value.value
    assert "事業所番号" in issue.message_ja and "10桁" in issue.message_ja
    assert "事業所番号" in issue.message_en and "10 characters" in issue.message_en


def test_full_width_digits_are_reported_not_converted() -> None:
    value = "１３７０１０００１６"
    assert office_number.compact(value) == value
    with pytest.raises(InvalidFormat) as raised:
        office_number.validate(value)
    assert "U+FF11" in raised.value.issues[0].message_en
    assert "半角" in raised.value.issues[0].message_ja


def test_has_shape_takes_the_value_exactly_as_written() -> None:
    assert office_number.has_shape("1370100016")
    assert not office_number.has_shape(" 1370100016")
    assert not office_number.has_shape("13-70100016")
    assert not office_number.has_shape("１３７０１０００１６")  # \d would match these


@pytest.mark.parametrize(
    ("first_nine", "check"),
    [
        ("137010001", "6"),
        ("137020002", "2"),
        ("030000010", "6"),
        ("010000000", "9"),  # the 1 stands at an odd place from the right: weight 1
        ("000000000", "0"),  # 10 - 0 gives 0, not 10
    ],
)
def test_check_digit(first_nine: str, check: str) -> None:
    assert office_number.calc_check_digit(first_nine) == check


def test_check_digit_of_a_letter_follows_the_published_values() -> None:
    # A=10 at weight 2 gives 20, counted 2+0; J=18 (I is skipped) at weight 2 gives 36, 3+6.
    assert office_number.calc_check_digit("00000000A") == "8"  # 10 - 2
    assert office_number.calc_check_digit("00000000J") == "1"  # 10 - 9
    with pytest.raises(ValueError):
        office_number.calc_check_digit("00000000I")  # I, O and Q are never used
    with pytest.raises(ValueError):
        office_number.calc_check_digit("1370100")


def test_checksum_ok() -> None:
    assert office_number.checksum_ok("1370100016")
    assert office_number.checksum_ok("13-70100-016")
    assert not office_number.checksum_ok("1370100012")  # 1370100016 with its last digit wrong
    assert not office_number.checksum_ok("0300000100")  # the standard's own example
    assert not office_number.checksum_ok("137010001")  # not a valid number at all
    assert not office_number.checksum_ok("9999999999")
