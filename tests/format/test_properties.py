"""Properties over generated files of every interface and version, and fuzzing.

The fuzz tests prove that only `FormatError` ever escapes the reader. They run quickly in the
suite; `HYPOTHESIS_PROFILE=fuzz python -m pytest tests/format/test_properties.py` runs them long
(docs/testing.md).
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from careplan_link import LAYOUTS, CareplanFile, FormatError, parse_plan, write_file
from careplan_link.testing import strategies as cst

from .helpers import PLAN_NAME

ALL_LAYOUTS = sorted(LAYOUTS)
# The round trips run once per layout and version (34 tests, ~500 examples together in the
# default profile): each takes a seventh of the profile's budget, so the suite stays under its
# time budget while the `fuzz` profile still runs thousands apiece.
PER_LAYOUT = settings(max_examples=max(15, settings().max_examples // 7))


@pytest.mark.parametrize(("interface_id", "csv_version"), ALL_LAYOUTS)
@PER_LAYOUT
@given(data=st.data())
def test_parse_of_write_is_identity(
    interface_id: str, csv_version: str, data: st.DataObject
) -> None:
    file: CareplanFile = data.draw(cst.csv_files(interface_id, csv_version))
    written = write_file(file.records, file.name)
    read = parse_plan(written, name=str(file.name))
    assert read.records == file.records
    assert read.layout == file.layout
    assert read.notes == ()


@pytest.mark.parametrize(("interface_id", "csv_version"), ALL_LAYOUTS)
@PER_LAYOUT
@given(data=st.data())
def test_write_of_parse_is_identity_for_canonical_bytes(
    interface_id: str, csv_version: str, data: st.DataObject
) -> None:
    file: CareplanFile = data.draw(cst.csv_files(interface_id, csv_version))
    canonical = file.to_bytes()
    assert parse_plan(canonical, name=str(file.name)).to_bytes() == canonical


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_format_error(data: bytes) -> None:
    try:
        parse_plan(data, name=PLAN_NAME)
    except FormatError as error:
        assert error.issues
        assert all(i.file == PLAN_NAME for i in error.issues)


_MUTATIONS = st.sampled_from(["flip", "insert", "delete", "replace", "truncate", "duplicate"])
_INTERESTING = st.sampled_from(
    [b",", b'"', b"\r", b"\n", b"\r\n", b"\x81", b"\x80", b"\xf0\x40", b"\xef\xbb\xbf", b"9999",
     b"00000000", b"-", b"\x00", b"\xfb\xfc"]
)  # fmt: skip


@given(cst.csv_files(max_records=4), st.lists(st.tuples(_MUTATIONS, st.integers(0, 10**6),
       _INTERESTING, st.integers(0, 255)), min_size=1, max_size=4))  # fmt: skip
def test_mutated_valid_files_raise_only_format_error(
    file: CareplanFile, mutations: list[tuple[str, int, bytes, int]]
) -> None:
    data = bytearray(file.to_bytes())
    assume(data)
    for kind, position, chunk, byte in mutations:
        at = position % (len(data) + 1)
        if kind == "flip" and at < len(data):
            data[at] ^= 1 << (byte % 8)
        elif kind == "insert":
            data[at:at] = chunk
        elif kind == "delete":
            del data[at : at + 1 + byte % 8]
        elif kind == "replace" and at < len(data):
            data[at] = byte
        elif kind == "truncate":
            del data[at:]
        elif kind == "duplicate":
            data[at:at] = data[at : at + 1 + byte]
    note(repr(bytes(data)))
    try:
        read = parse_plan(bytes(data), name=str(file.name))
    except FormatError as error:
        assert all(i.severity == "error" for i in error.issues)
        return
    # Whatever was accepted can be written again (or refused with FormatError, never corrupted).
    try:
        again = read.to_bytes()
    except FormatError:
        return
    assert parse_plan(again, name=str(file.name)).records == read.records
