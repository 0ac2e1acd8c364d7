"""`READ_ONLY_CANONICALLY`: the kinds whose every readable text is its value's canonical text.

The reader skips the canonical-form check of such texts (`_rowcode._Converter`); this holds
it to the parsers: any text of those kinds that can be read is written back as it was.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careplan_link.format._convert import READ_ONLY_CANONICALLY, format_value, parse_value
from careplan_link.format._layout import Kind
from careplan_link.format._reader import read_leniently

from .helpers import PLAN_NAME, table6_csv, table6_row

# Texts near the kinds' forms: digits of every length, signs, spaces, full-width digits.
_TEXTS = st.text(alphabet="0123456789 +-.０１", min_size=1, max_size=10) | st.sampled_from(
    ["0000", "2359", "9999", "2400", "00000000", "20250431", "20240229", "0930"]
)


@pytest.mark.parametrize("kind", sorted(READ_ONLY_CANONICALLY, key=str))
@given(text=_TEXTS)
def test_a_readable_text_of_these_kinds_is_canonical(kind: Kind, text: str) -> None:
    try:
        value = parse_value(kind, text)
    except ValueError:
        return  # not readable: reported as an error, never as a departure
    assert format_value(kind, value) == text


def test_the_other_typed_kinds_are_not_listed() -> None:
    """Integers read `0244` as 244 (written `244`): their texts need the check."""
    assert Kind.INTEGER not in READ_ONLY_CANONICALLY
    assert format_value(Kind.INTEGER, parse_value(Kind.INTEGER, "0244")) != "0244"


def test_a_non_canonical_integer_is_still_found() -> None:
    rows = [table6_row() for _ in range(3)]
    rows[1][7] = "0244"  # 単位数 with a leading zero
    reading = read_leniently(table6_csv(*rows), name=PLAN_NAME)
    (departure,) = [i for i in reading.issues if i.code == "read.not_canonical"]
    assert (departure.record, departure.column) == (2, 8)
