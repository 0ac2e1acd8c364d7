"""The fast searches for characters against the expressions that define them: `has_bad_characters`
(three passes in C over the UTF-16 code units, the expression deciding only for texts that might
hold one) against `bad_characters`, for every character, alone and among others, at every place
of a text; `has_bad_or_ambiguous_characters` (only quoted pieces searched when the rest is
ASCII) against its expression over the whole text."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careplan_link import FormatError, parse_plan
from careplan_link.format._ms932 import (
    _bad_or_ambiguous_pattern,
    bad_characters,
    has_bad_characters,
    has_bad_or_ambiguous_characters,
    scan_characters,
)

NAME = "UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV"
ROW = (
    '202407,131011,0000000001,20250325,202504,1370100016,"佐藤 ケアマネ",244,,20250401,,'
    '0900,1000,1,111211,,,,,1370200022,"{name}",,0,1370100016,\r\n'
)


def test_every_bmp_character_is_told_as_the_expression_tells_it() -> None:
    # Lone surrogates included: decoding with `surrogateescape` makes U+DC80-U+DCFF.
    for code in range(0x10000):
        char = chr(code)
        expected = bool(bad_characters(char))
        for text in (char, f"漢{char}", f"a{char}字", f"{char}あい"):
            assert has_bad_characters(text) is expected, (hex(code), text)


@pytest.mark.parametrize("code", [0x10000, 0x20BB7, 0x2A6D6, 0xF0000, 0x10FFFF])
def test_characters_beyond_the_bmp_are_no_bad_characters(code: int) -> None:
    # Their surrogate pairs have the high byte DC (U+DC00-U+DFFF): the expression decides.
    text = f"吉{chr(code)}野"
    assert not bad_characters(text)
    assert has_bad_characters(text) is False
    assert has_bad_characters(f"{text}\ue000") is True


@pytest.mark.parametrize(
    "char", ["\x80", "\ue000", "\ue757", "\uf8f0", "\uf8ff", "\udc80", "\udcff"]
)
def test_one_bad_character_is_found_anywhere_in_a_long_text(char: str) -> None:
    text = "訪問介護ステーション　すみれ,0900,1000\r\n" * 2000
    for place in (0, len(text) // 2, len(text) - 1, len(text)):
        assert has_bad_characters(text[:place] + char + text[place:]) is True
    assert has_bad_characters(text) is False


def test_a_file_with_a_gaiji_is_refused_by_the_reader_at_its_place() -> None:
    good = ROW.format(name="すみれ").encode("cp932")
    bad = ROW.format(name="すみ\ue000れ").encode("cp932")  # 外字 0xF040
    data = good * 3000 + bad + good * 10
    with pytest.raises(FormatError) as raised:
        parse_plan(data, name=NAME)
    (issue,) = raised.value.issues
    assert (issue.record, issue.column) == (3001, 21)
    assert parse_plan(good * 3010, name=NAME).records[-1].provider_name == "すみれ"  # type: ignore[attr-defined]


# The search of a chunk while the canonical form is checked: only the quoted pieces are
# searched when the rest is ASCII.
ALPHABET = [
    "a",
    "1",
    ",",
    '"',
    '""',
    "\r\n",
    "あ",
    "漢",
    "　",
    "髙",
    "≒",
    "①",
    "\ue000",
    "\x80",
    "\udc80",
]


def _by_the_expression(text: str) -> bool:
    return _bad_or_ambiguous_pattern().search(text) is not None


@given(st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join))
@settings(max_examples=500, deadline=None)
def test_quoted_pieces_searched_alone_find_what_the_whole_search_finds(text: str) -> None:
    assert has_bad_or_ambiguous_characters(text) is _by_the_expression(text)
    found, doubled = scan_characters(text, text.count('"'))
    assert found is _by_the_expression(text)
    assert doubled in (None, '""' in text)


@pytest.mark.parametrize(
    ("text", "doubled"),
    [
        ('"あ",1,"い"\r\n', False),  # a quote first: the empty end piece is no pair
        ('"あ",1,"', False),  # a quote first and one last
        ('"あ""い",1\r\n', True),  # a doubled quote inside a quoted item
        ('1,"",2,"あ"', True),  # an empty quoted item
        ('""あ",1\r\n', True),  # a chunk that starts with a pair
        ('1,"あ"""', True),  # and one that ends with a pair
        ("あ,1\r\n", False),  # no quote at all
    ],
)
def test_the_pieces_tell_whether_two_quotes_stand_side_by_side(text: str, doubled: bool) -> None:
    padding = "0000000001,20250401,すみれ\r\n" * 40  # not quote-dense: the text is split
    for whole in (padding + text, text + padding):
        assert scan_characters(whole, whole.count('"')) == (False, doubled)


def test_a_quote_dense_text_leaves_the_pair_question_open() -> None:
    text = '"あ",' * 1000
    assert scan_characters(text, text.count('"')) == (False, None)
    assert scan_characters(text + "髙", text.count('"')) == (True, None)


@pytest.mark.parametrize("char", ["髙", "≒", "\ue000", "\x80", "\udc80"])
@pytest.mark.parametrize(
    "shape",
    [
        '1,"{c}",2\r\n',  # inside a quoted item
        "1,{c},2\r\n",  # in an unquoted item
        '1,"a""{c}",2\r\n',  # after a doubled quote
        '{c}",1,"あ"\r\n',  # a chunk that starts inside a quoted item
        '1,"あ",2{c}\r\n"',  # after the last quote, an odd one
        "{c}",  # no quote at all
    ],
)
def test_a_bad_or_ambiguous_character_is_found_wherever_it_stands(char: str, shape: str) -> None:
    clean = '0000000001,"佐藤 ケアマネ",20250401\r\n' * 500
    text = clean + shape.format(c=char) + clean
    assert has_bad_or_ambiguous_characters(text) is True
    assert has_bad_or_ambiguous_characters(clean + shape.format(c="あ") + clean) is False


@pytest.mark.parametrize("char", ["髙", "≒", "\ue000", "\x80", "\udc80"])
def test_a_character_between_quoted_pieces_of_ascii_is_found(char: str) -> None:
    clean = '0000000001,"Sato",20250401\r\n' * 500
    assert has_bad_or_ambiguous_characters(clean + f'1,"abc",{char}\r\n' + clean) is True
    assert has_bad_or_ambiguous_characters(clean + '1,"abc",あ\r\n' + clean) is False


@pytest.mark.parametrize("unit", ['あ"', '"', '"佐藤",1,', '"' + "あ" * 12 + '"'])
def test_a_text_of_many_quotes_is_searched_whole_without_a_string_per_piece(unit: str) -> None:
    # Split at every quote, `あ"` repeated made a string per character: 23 times the text's
    # memory and ten times the search's time. Such a text is searched whole.
    text = unit * (200_000 // len(unit))
    found = text + "髙"
    _bad_or_ambiguous_pattern()  # compiled once per process, outside the measure
    tracemalloc.start()
    try:
        assert has_bad_or_ambiguous_characters(text) is False
        assert has_bad_or_ambiguous_characters(found) is True
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < text.__sizeof__()
