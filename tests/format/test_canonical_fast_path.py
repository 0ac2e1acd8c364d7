"""The structural canonical-form check's fast path (the file's delimiters only) against the
full check (`canonical_line_pattern` over the text).

`delimiters_are_canonical` may only say True where the full check finds nothing; where it says
False the full check runs anyway. Every kind of departure the full check knows — and the one
the delimiters alone cannot see, a non-empty free text without quotes — is planted in files
that are canonical otherwise, alone and together (a quoted item that is not free text in the
same record as an unquoted free text keeps the number of quotes), and `read_leniently` must
report the same `read.not_canonical` issue with and without the fast path.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careplan_link.format import _canonical, _reader
from careplan_link.format._canonical import delimiters_are_canonical, delimiters_of
from careplan_link.format._layouts import get_layout
from careplan_link.format._reader import read_leniently

from .helpers import PLAN_NAME, table6_csv, table6_row

LAYOUT = get_layout("table6_plan")
PLANNER, UNITS, PROVIDER = 6, 7, 20  # indices of 計画作成者氏名, 単位数, サービス事業所名


def _row(n: int) -> list[str]:
    return table6_row(planner_name=f'"佐藤 花子{n}"', provider_name=f'"すみれ{n}"')


# Each plants one departure (or a canonical oddity) in a row, by position.
_PLANTS: dict[str, Callable[[list[str]], None]] = {
    "quoted_bare": lambda row: row.__setitem__(UNITS, f'"{row[UNITS]}"'),
    "unquoted_free": lambda row: row.__setitem__(PLANNER, row[PLANNER].strip('"')),
    "empty_quoted": lambda row: row.__setitem__(PROVIDER, '""'),
    "swap": lambda row: (
        row.__setitem__(UNITS, f'"{row[UNITS]}"'),
        row.__setitem__(PLANNER, row[PLANNER].strip('"')),
    ),
    # Balanced: one quoted item too many (an empty one), one too few. Only the `""` in the
    # bytes tells the fast path that the count and the pattern cannot be trusted.
    "empty_quoted_and_unquoted_free": lambda row: (
        row.__setitem__(PROVIDER, '""'),
        row.__setitem__(PLANNER, row[PLANNER].strip('"')),
    ),
    "inner_quote": lambda row: row.__setitem__(PLANNER, '"佐藤 ""花子"""'),  # canonical
    "comma_inside": lambda row: row.__setitem__(PLANNER, '"佐藤, 花子"'),  # canonical
    "line_break_inside": lambda row: row.__setitem__(PLANNER, '"佐藤\r\n花子"'),  # canonical
}
_NEWLINES = {"crlf": "\r\n", "lf": "\n"}


def _issues(data: bytes, fast: bool, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    if not fast:
        monkeypatch.setattr(_reader, "delimiters_are_canonical", lambda *_: False)
    try:
        reading = read_leniently(data, name=PLAN_NAME)
    finally:
        monkeypatch.undo()
    return [issue for issue in reading.issues if issue.code == "read.not_canonical"]


def _file(rows: list[list[str]], last_newline: str = "\r\n") -> bytes:
    data = table6_csv(*rows[:-1]) if len(rows) > 1 else b""
    return data + table6_csv(rows[-1], newline=last_newline)


@pytest.mark.parametrize("plant", sorted(_PLANTS))
@pytest.mark.parametrize("where", [0, 7, 19])
def test_each_departure_is_found_the_same_with_the_fast_path(
    plant: str, where: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [_row(n) for n in range(20)]
    _PLANTS[plant](rows[where])
    data = _file(rows)
    fast, full = _issues(data, True, monkeypatch), _issues(data, False, monkeypatch)
    assert fast == full
    canonical = plant in ("inner_quote", "comma_inside", "line_break_inside")
    assert (fast == []) is canonical
    if not canonical:
        assert fast[0].record == where + 1  # type: ignore[attr-defined]


def test_the_swap_keeps_the_quote_count_but_not_the_delimiter_pattern() -> None:
    """The case counting alone would miss: one item quoted too many, one too few."""
    rows = [_row(n) for n in range(3)]
    _PLANTS["swap"](rows[1])
    data = _file(rows)
    canonical = _file([_row(n) for n in range(3)])
    assert data.count(b'"') == canonical.count(b'"')
    column = read_leniently(data, name=PLAN_NAME).columns.__getitem__
    assert not delimiters_are_canonical(LAYOUT, delimiters_of(data), column)


def test_an_unquoted_free_text_is_caught_by_the_count() -> None:
    rows = [_row(n) for n in range(3)]
    _PLANTS["unquoted_free"](rows[2])
    data = _file(rows)
    column = read_leniently(data, name=PLAN_NAME).columns.__getitem__
    assert _canonical._delimiter_pattern(LAYOUT).fullmatch(delimiters_of(data))
    assert not delimiters_are_canonical(LAYOUT, delimiters_of(data), column)


def test_a_canonical_file_is_proven_by_its_delimiters() -> None:
    rows = [_row(n) for n in range(5)]
    _PLANTS["comma_inside"](rows[1])
    _PLANTS["line_break_inside"](rows[3])
    data = _file(rows)
    column = read_leniently(data, name=PLAN_NAME).columns.__getitem__
    assert delimiters_are_canonical(LAYOUT, delimiters_of(data), column)


def test_the_last_line_without_crlf_is_found_with_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _file([_row(n) for n in range(4)], last_newline="")
    fast, full = _issues(data, True, monkeypatch), _issues(data, False, monkeypatch)
    assert fast == full
    assert len(fast) == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plants=st.lists(st.tuples(st.sampled_from(sorted(_PLANTS)), st.integers(0, 29)), max_size=3),
    newline=st.sampled_from(sorted(_NEWLINES)),
    lf_at=st.integers(0, 29),
)
def test_fast_and_full_paths_report_the_same(
    plants: list[tuple[str, int]], newline: str, lf_at: int
) -> None:
    rows = [_row(n) for n in range(30)]
    for plant, where in plants:
        _PLANTS[plant](rows[where])
    lines = [
        ",".join(row) + ("\r\n" if n != lf_at else _NEWLINES[newline]) for n, row in enumerate(rows)
    ]
    data = table6_csv(*[]) + "".join(lines).encode("cp932")
    with pytest.MonkeyPatch.context() as patch:
        fast = _issues(data, True, patch)
    with pytest.MonkeyPatch.context() as patch:
        full = _issues(data, False, patch)
    assert fast == full


@pytest.mark.parametrize("plant", sorted(_PLANTS))
def test_a_departure_on_every_record_is_found_the_same_with_the_fast_path(
    plant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every record the same (the usual file): the delimiters are one record's, repeated, and
    the fast path matches the first record only; a departure repeated on every record is
    still one the first record shows."""
    rows = [_row(n) for n in range(12)]
    for row in rows:
        _PLANTS[plant](row)
    data = _file(rows)
    fast, full = _issues(data, True, monkeypatch), _issues(data, False, monkeypatch)
    assert fast == full
    canonical = plant in ("inner_quote", "comma_inside", "line_break_inside")
    assert (fast == []) is canonical
    if not canonical:
        assert fast[0].record == 1  # type: ignore[attr-defined]


def test_records_with_a_line_break_inside_are_proven_by_their_delimiters() -> None:
    """The first CRLF of the delimiters lies inside a quoted text on every record: the part
    before it is no record, and the whole is matched instead (proven canonical, not merely
    handed to the full check)."""
    rows = [_row(n) for n in range(6)]
    for row in rows:
        _PLANTS["line_break_inside"](row)
    data = _file(rows)
    column = read_leniently(data, name=PLAN_NAME).columns.__getitem__
    assert delimiters_are_canonical(LAYOUT, delimiters_of(data), column)


def test_the_repeated_record_must_itself_be_canonical() -> None:
    """Identical delimiters on every record prove nothing by themselves: a bare item quoted on
    every record repeats as well as a canonical record does."""
    rows = [_row(n) for n in range(4)]
    for row in rows:
        _PLANTS["quoted_bare"](row)
    data = _file(rows)
    column = read_leniently(data, name=PLAN_NAME).columns.__getitem__
    delimiters = delimiters_of(data)
    assert delimiters == delimiters[: delimiters.index(b"\r\n") + 2] * 4
    assert not delimiters_are_canonical(LAYOUT, delimiters, column)


def _two_kinds(count: int) -> list[list[str]]:
    """Rows of two delimiter skeletons, as a 第7表's details and 全合計 lines: every third
    row leaves its provider's name empty (a canonical empty item has no quotes)."""
    rows = [_row(n) for n in range(count)]
    for row in rows[::3]:
        row[PROVIDER] = ""
    return rows


def test_records_of_a_few_skeletons_are_proven_by_each_skeleton() -> None:
    data = _file(_two_kinds(9))
    column = read_leniently(data, name=PLAN_NAME).columns.__getitem__
    delimiters = delimiters_of(data)
    assert not _canonical._repeats_one_record(LAYOUT, delimiters)
    assert _canonical._few_records_all_match(LAYOUT, delimiters)
    assert delimiters_are_canonical(LAYOUT, delimiters, column)


@pytest.mark.parametrize("plant", sorted(_PLANTS))
@pytest.mark.parametrize("where", [0, 1, 8])
def test_a_departure_among_few_skeletons_is_found_the_same_with_the_fast_path(
    plant: str, where: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _two_kinds(9)
    _PLANTS[plant](rows[where])
    data = _file(rows)
    fast, full = _issues(data, True, monkeypatch), _issues(data, False, monkeypatch)
    assert fast == full
    canonical = plant in ("inner_quote", "comma_inside", "line_break_inside")
    assert (fast == []) is canonical
    if not canonical:
        assert fast[0].record == where + 1  # type: ignore[attr-defined]


def test_a_line_break_inside_quotes_leaves_the_skeletons_to_the_whole_match() -> None:
    """The piece before a CRLF inside quotes has an odd number of quotes: no record pattern
    matches it, and the whole match proves the file instead."""
    rows = _two_kinds(6)
    _PLANTS["line_break_inside"](rows[4])
    data = _file(rows)
    column = read_leniently(data, name=PLAN_NAME).columns.__getitem__
    delimiters = delimiters_of(data)
    assert not _canonical._few_records_all_match(LAYOUT, delimiters)
    assert delimiters_are_canonical(LAYOUT, delimiters, column)


def test_many_skeletons_are_matched_as_a_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """More distinct skeletons than `_FEW_SKELETONS`: the cut is not worth it; the result is
    the whole match's."""
    monkeypatch.setattr(_canonical, "_FEW_SKELETONS", 1)
    rows = _two_kinds(9)
    data = _file(rows)
    column = read_leniently(data, name=PLAN_NAME).columns.__getitem__
    delimiters = delimiters_of(data)
    assert not _canonical._few_records_all_match(LAYOUT, delimiters)
    assert delimiters_are_canonical(LAYOUT, delimiters, column)
    _PLANTS["quoted_bare"](rows[5])
    bad = delimiters_of(_file(rows))
    assert not delimiters_are_canonical(LAYOUT, bad, column)


def test_a_last_record_without_crlf_is_not_proven_by_the_skeletons() -> None:
    data = _file(_two_kinds(4), last_newline="")
    assert not _canonical._few_records_all_match(LAYOUT, delimiters_of(data))


# A file of many chunks: `max_record_bytes` bounds the chunk to half of it. The chunks' texts
# are decoded again only to locate a departure, and must be the whole file's, in order.
_SMALL_RECORDS = 2048


@pytest.mark.parametrize("where", [3, 120, 239])
@pytest.mark.parametrize("plant", ["quoted_bare", "unquoted_free", "duplicate_code"])
def test_a_departure_in_a_later_chunk_is_located_as_in_one_chunk(plant: str, where: int) -> None:
    rows = [_row(n) for n in range(240)]
    if plant == "duplicate_code":
        rows[where][PLANNER] = '"佐藤 ≒ 花子"'
    else:
        _PLANTS[plant](rows[where])
    data = _file(rows)
    if plant == "duplicate_code":
        # NEC row 13's code for ≒, which Windows never writes (it writes JIS 0x81E0).
        assert data.count(b"\x81\xe0") == 1
        data = data.replace(b"\x81\xe0", b"\x87\x90")
    small = read_leniently(data, name=PLAN_NAME, max_record_bytes=_SMALL_RECORDS)
    whole = read_leniently(data, name=PLAN_NAME)
    assert len(data) > 15 * _SMALL_RECORDS  # many chunks
    (found,) = [i for i in small.issues if i.code == "read.not_canonical"]
    assert [found] == [i for i in whole.issues if i.code == "read.not_canonical"]
    assert (found.record, found.line) == (where + 1, where + 1)
