"""サービス種類コード and サービスコード."""

from __future__ import annotations

import pytest

from careplan_link.errors import InvalidFormat, InvalidIdentifier, InvalidLength
from careplan_link.identifiers import service_code, service_type


@pytest.mark.parametrize("given", ["11", "43", "2A", "A1", "ZZ"])
def test_valid_service_types(given: str) -> None:
    assert service_type.validate(given) == given
    assert service_type.validate(f" {given} ") == given


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ("2a", InvalidFormat),  # lower case is not converted
        ("１１", InvalidFormat),
        ("1-", InvalidFormat),
        ("1", InvalidLength),
        ("111", InvalidLength),
        ("1-1", InvalidLength),  # a hyphen is no separator of a 2-character code
    ],
)
def test_invalid_service_types(given: str, error: type[InvalidIdentifier]) -> None:
    with pytest.raises(error) as raised:
        service_type.validate(given)
    assert raised.value.issues[0].item == "サービス種類コード"
    assert not service_type.is_valid(given)


@pytest.mark.parametrize(
    ("given", "compact"),
    [
        ("111211", "111211"),
        ("11-1211", "111211"),
        ("2A1111", "2A1111"),
        ("11AAAA", "11AAAA"),  # the 第7表's 種類別小計
        ("999999", "999999"),  # and its 全合計
    ],
)
def test_valid_service_codes(given: str, compact: str) -> None:
    assert service_code.validate(given) == compact
    assert service_code.service_type_of(given) == compact[:2]


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ("11121", InvalidLength),
        ("1112111", InvalidLength),
        ("11aaaa", InvalidFormat),
        ("１１１２１１", InvalidFormat),
        ("11_211", InvalidFormat),
    ],
)
def test_invalid_service_codes(given: str, error: type[InvalidIdentifier]) -> None:
    with pytest.raises(error) as raised:
        service_code.validate(given)
    assert raised.value.issues[0].item == "サービスコード"
    assert not service_code.is_valid(given)
    with pytest.raises(error):
        service_code.service_type_of(given)


def test_a_service_code_starts_with_a_service_type() -> None:
    # The code's shape is built from the type's: one statement of the type's format.
    assert service_code.SHAPE.pattern.startswith(service_type.SHAPE.pattern)
