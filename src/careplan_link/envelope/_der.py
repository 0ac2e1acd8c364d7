"""Zero-copy access to the one large value inside a CMS structure.

asn1crypto parses and encodes every CMS structure here. But its parser copies each value's
contents at every level of nesting and its encoder concatenates at every level, so a 10 MB
payload inside ContentInfo → SignedData → EncapsulatedContentInfo → OCTET STRING would be copied
about eight times, and every copy stays alive as long as the parsed tree does. This module lets
the envelope code handle that one large value once:

* reading: `element()` and `children()` give offsets of values in a buffer (a memoryview, so
  slicing copies nothing), using asn1crypto's own header parser;
* writing: `splice()` takes a DER value that asn1crypto built with an *empty* OCTET STRING where
  the large content goes, and returns the bytes before and after that content, with the length
  of every enclosing value grown by the content's length (headers encoded by asn1crypto).

Both use two functions that asn1crypto's parser module keeps private (`_parse` in lengths-only
mode and `_dump_header`); tests/envelope/test_der.py pins their behaviour against asn1crypto's
public `parse` and `emit`, so an asn1crypto release that changed them would fail loudly.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import attrs
from asn1crypto import parser

__all__ = ["Element", "children", "element", "header", "splice"]

Buffer = bytes | bytearray | memoryview


@attrs.frozen
class Element:
    """One DER value in a buffer: its identifier octet and where its parts lie."""

    tag: int
    """The identifier octet, e.g. 0x30 for SEQUENCE, 0xA0 for [0] constructed."""
    start: int
    contents_start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.contents_start


def element(buffer: Buffer, pointer: int, limit: int) -> Element:
    """The DER value starting at `pointer`, which must end by `limit`.

    Raises ValueError for truncated input, high tag numbers (CMS uses none) and
    indefinite lengths (BER, not DER).
    """
    if pointer + 2 > limit:
        raise ValueError(f"a value is truncated at offset {pointer}")
    tag = buffer[pointer]
    if tag & 0x1F == 0x1F:
        raise ValueError(f"unexpected high tag number at offset {pointer}")
    if buffer[pointer + 1] == 0x80:
        raise ValueError(f"indefinite length (BER) at offset {pointer}")
    contents_start, end = parser._parse(buffer, limit, pointer, lengths_only=True)
    return Element(tag, pointer, contents_start, end)


def children(buffer: Buffer, parent: Element) -> list[Element]:
    """The values inside a constructed value, in order; they must fill it exactly."""
    found = []
    pointer = parent.contents_start
    while pointer < parent.end:
        child = element(buffer, pointer, parent.end)
        found.append(child)
        pointer = child.end
    return found


def header(tag: int, length: int) -> bytes:
    """The DER identifier and length octets of a value with `length` content octets."""
    # _dump_header reads only len() of the contents; a range has a length and no bytes.
    return bytes(parser._dump_header(tag >> 6, (tag >> 5) & 1, tag & 0x1F, range(length)))


def splice(der: bytes, path: Sequence[int], length: int) -> tuple[bytes, bytes]:
    """Split `der` around an empty primitive value for content of `length` bytes.

    `path` gives the child index at each level from the outermost value down to that empty
    value. Returns `(before, after)` such that `before + content + after` is the DER of the same
    structure holding the content: each enclosing header is re-encoded for its grown length.
    """
    view = memoryview(der)
    levels = [element(view, 0, len(der))]
    for index in path:
        levels.append(children(view, levels[-1])[index])
    leaf = levels[-1]
    if leaf.length != 0 or leaf.tag & 0x20:
        raise ValueError("the placeholder must be an empty primitive value")
    # Bottom up: a grown value may need a longer header, which grows its parent again.
    leaf_header = header(leaf.tag, length)
    growth = len(leaf_header) + length - (leaf.end - leaf.start)
    before = [leaf_header]
    for outer, inner in reversed(list(itertools.pairwise(levels))):
        before.append(der[outer.contents_start : inner.start])
        outer_header = header(outer.tag, outer.length + growth)
        before.append(outer_header)
        growth += len(outer_header) - (outer.contents_start - outer.start)
    return b"".join(reversed(before)), der[leaf.end :]
