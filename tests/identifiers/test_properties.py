"""What every identifier module promises: the same verbs, and they agree with one another."""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careplan_link import identifiers
from careplan_link.errors import InvalidIdentifier
from careplan_link.identifiers import (
    insured_number,
    insurer_number,
    office_number,
    service_code,
    service_type,
)

MODULES = [office_number, insurer_number, insured_number, service_type, service_code]

# Values near the identifiers' shapes (digits, capitals, H, separators, full-width digits).
_CHARS = st.sampled_from("0123456789ABHZah -\u3000１")
_NEAR = st.text(_CHARS, max_size=12)
_VALID = {
    office_number: st.from_regex(r"(0[1-9]|[1-3][0-9]|4[0-7])[0-9]{8}", fullmatch=True),
    insurer_number: st.from_regex(r"(0[1-9]|[1-3][0-9]|4[0-7])[0-9]{4}", fullmatch=True),
    insured_number: st.from_regex(r"[0-9]{10}|H[0-9]{9}", fullmatch=True),
    service_type: st.from_regex(r"[0-9A-Z]{2}", fullmatch=True),
    service_code: st.from_regex(r"[0-9A-Z]{6}", fullmatch=True),
}


def test_the_package_lists_every_module() -> None:
    assert sorted(identifiers.__all__) == sorted(m.__name__.rsplit(".", 1)[1] for m in MODULES)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_module_has_the_same_verbs(module: ModuleType) -> None:
    for verb in ("compact", "validate", "is_valid", "has_shape", "SHAPE", "ITEM", "LENGTH"):
        assert hasattr(module, verb), verb
        assert verb in module.__all__
    for name in module.__all__:
        value = getattr(module, name)
        if callable(value):
            assert value.__doc__, name


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
@settings(max_examples=50)
@given(data=st.data())
def test_validate_and_is_valid_agree(module: ModuleType, data: st.DataObject) -> None:
    value = data.draw(st.one_of(_NEAR, _VALID[module]))
    try:
        result = module.validate(value)
    except InvalidIdentifier as error:
        assert not module.is_valid(value)
        assert error.item == module.ITEM
        assert error.issues[0].code.startswith("identifier.")
    else:
        assert module.is_valid(value)
        # What validate returns is the compact form, exactly of the files' shape, and stable.
        assert result == module.compact(value)
        assert module.has_shape(result)
        assert module.validate(result) == result


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
@settings(max_examples=50)
@given(data=st.data())
def test_valid_values_round_trip_through_compact(module: ModuleType, data: st.DataObject) -> None:
    value = data.draw(_VALID[module])
    assert module.validate(module.compact(value)) == value
    assert module.validate(f" {value} ") == value


@pytest.mark.parametrize("module", [office_number, insurer_number], ids=lambda m: m.__name__)
@settings(max_examples=50)
@given(data=st.data())
def test_exactly_one_last_digit_passes_the_checksum(
    module: ModuleType, data: st.DataObject
) -> None:
    number = data.draw(_VALID[module])
    passing = [d for d in "0123456789" if module.checksum_ok(number[:-1] + d)]
    assert passing == [module.calc_check_digit(number[:-1])]
