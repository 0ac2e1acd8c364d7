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

Before asn1crypto parses anything of an envelope, `check_der()` walks every value in it (one
pass, no recursion) and refuses what asn1crypto would read slowly: indefinite lengths and
constructed (segmented) strings, whose chunks it joins in time growing with the square of their
number, and nesting deeper than any CMS structure needs.

`element()` and `splice()` use two functions that asn1crypto's parser module keeps private
(`_parse` in lengths-only mode and `_dump_header`); tests/envelope/test_der.py pins their
behaviour against asn1crypto's public `parse` and `emit`, so an asn1crypto release that
changed them would fail loudly.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import attrs
from asn1crypto import parser

__all__ = ["MAX_DEPTH", "Element", "NotDer", "check_der", "children", "element", "header", "splice"]

Buffer = bytes | bytearray | memoryview

MAX_DEPTH = 64
"""Nesting allowed by `check_der`: an envelope with a certificate inside needs about 15."""

# Universal tags of the string types: DER encodes them primitive only.
_STRING_TAGS = frozenset({0x03, 0x04, 0x0C, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
                          0x1A, 0x1B, 0x1C, 0x1E})  # fmt: skip


class NotDer(ValueError):
    """The input is not DER in the sense `check_der` checks; `offset` says where."""

    def __init__(self, message: str, offset: int, *, indefinite: bool = False) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.offset = offset
        self.indefinite = indefinite


def check_der(buffer: Buffer, start: int = 0, end: int | None = None) -> None:
    """Walk every value in `buffer[start:end]` (a sequence of values filling it exactly) and
    raise `NotDer` at the first indefinite length, constructed string, high tag number,
    length running past its enclosing value, or nesting deeper than `MAX_DEPTH`.

    Primitive values are not looked into (the payload inside the signature is one). Time is
    linear in the number of values, memory in the depth: no recursion.
    """
    limit = len(buffer) if end is None else end
    pointer = start
    # One frame per open constructed value: (its end, the enclosing limit, context-class?,
    # its children so far, all of them primitive strings?).
    frames: list[list[int]] = []
    while True:
        if pointer == limit:
            if not frames:
                return
            _, limit, context, count, strings = frames.pop()
            if context and count >= 2 and strings:
                # [n] IMPLICIT OCTET STRING sent in segments: asn1crypto would merge them.
                raise NotDer("a constructed (segmented) string", pointer)
            continue
        if pointer + 2 > limit:
            raise NotDer("a value is truncated", pointer)
        tag = buffer[pointer]
        if tag & 0x1F == 0x1F:
            raise NotDer("a high tag number (none in CMS)", pointer)
        if tag == 0:
            raise NotDer("an end-of-contents marker (BER)", pointer)
        first = buffer[pointer + 1]
        if first == 0x80:
            raise NotDer("an indefinite length (BER)", pointer, indefinite=True)
        if first < 0x80:
            contents = pointer + 2
            length = first
        else:
            count_octets = first & 0x7F
            contents = pointer + 2 + count_octets
            if count_octets > 8 or contents > limit:
                raise NotDer("a length is truncated or too long", pointer)
            length = int.from_bytes(buffer[pointer + 2 : contents], "big")
        value_end = contents + length
        if value_end > limit:
            raise NotDer("a value runs past its enclosing value", pointer)
        if frames:
            parent = frames[-1]
            parent[3] += 1
            if tag not in _STRING_TAGS:  # constructed and non-universal tags are not in it
                parent[4] = 0
        if tag & 0x20:
            if tag & 0xC0 == 0 and tag not in (0x30, 0x31):
                raise NotDer("a constructed string (BER)", pointer)
            if len(frames) >= MAX_DEPTH:
                raise NotDer(f"nesting deeper than {MAX_DEPTH} levels", pointer)
            frames.append([value_end, limit, int(tag & 0xC0 == 0x80), 0, 1])
            limit = value_end
            pointer = contents
        else:
            pointer = value_end


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
