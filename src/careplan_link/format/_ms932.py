"""MS932 as Windows writes it: decoding with precise error locations, canonical encoding.

Python's `cp932` codec decodes MS932 correctly but, where MS932 has two codes for one character,
it does not always encode the one Windows encodes: Windows prefers JIS X 0208, then NEC row 13,
then the IBM extensions (0xFA40–0xFC4B), and only last the NEC-selected IBM extensions
(0xED40–0xEEFC). Python writes 髙 as 0xEEE0 where Windows writes 0xFBFC. Receiving software that
compares names byte-wise then sees two different people, so the writer corrects those characters.

Some bytes decode in Python to private-use characters that are not MS932 characters at all: 0x80,
0xA0, 0xFD–0xFF and the user-defined area 0xF040–0xF9FC (外字). The standard forbids them; they
are reported, never passed through.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Mapping

import attrs

__all__ = [
    "COMMON_SUBSTITUTES",
    "Substitution",
    "bad_characters",
    "decode",
    "encode",
    "is_encodable",
]

# Characters a decoded text may hold that are not MS932 characters: U+0080 (byte 0x80), the
# private-use area (0xA0, 0xFD-0xFF and 外字 0xF040-0xF9FC decode there) and the lone surrogates
# that `surrogateescape` makes of undecodable bytes.
_BAD_DECODED = re.compile("[\x80\ue000-\uf8ff\udc80-\udcff]")

# Characters that are never written: the same private-use characters (Python's codec would encode
# them into the forbidden areas), surrogates, and the six characters Python's cp932 encoder maps
# one way onto other characters (¢ £ ¬ ‖ − 〜 → ￠ ￡ ￢ ∥ － ～): writing them silently would
# change the text, so they are errors unless a `Substitution` says otherwise.
_NOT_WRITABLE = re.compile("[\x80\ue000-\uf8ff\ud800-\udfff\u00a2\u00a3\u00ac\u2016\u2212\u301c]")

#: Well-known characters outside MS932 and the MS932 character users mean by them: the JIS/Mac
#: forms of 〜 ‖ − ¢ £ ¬ — ¦, and 𠮷 (つちよし), common in names. Opt in with `Substitution`.
COMMON_SUBSTITUTES: Mapping[str, str] = {
    "\u301c": "\uff5e",  # 〜 WAVE DASH → ～ FULLWIDTH TILDE
    "\u2016": "\u2225",  # ‖ DOUBLE VERTICAL LINE → ∥ PARALLEL TO
    "\u2212": "\uff0d",  # − MINUS SIGN → － FULLWIDTH HYPHEN-MINUS
    "\u00a2": "\uffe0",  # ¢ → ￠
    "\u00a3": "\uffe1",  # £ → ￡
    "\u00ac": "\uffe2",  # ¬ → ￢
    "\u2014": "\u2015",  # — EM DASH → ― HORIZONTAL BAR
    "\u00a6": "\uffe4",  # ¦ → ￤
    "\U00020bb7": "\u5409",  # 𠮷 → 吉
}


@attrs.frozen
class Substitution:
    """Opt-in replacement of characters that MS932 cannot encode, used when writing.

    `mapping` replaces known characters (by default `COMMON_SUBSTITUTES`); `fallback`, if given,
    replaces every other one (the traditional choice is 〓, the geta mark). A character neither
    covers stays an error.
    """

    mapping: Mapping[str, str] = attrs.field(factory=lambda: dict(COMMON_SUBSTITUTES))
    fallback: str | None = None

    def replacement(self, char: str) -> str | None:
        replacement = self.mapping.get(char, self.fallback)
        if replacement is not None and not is_encodable(replacement):
            raise ValueError(f"substitute {replacement!r} is not an MS932 character")
        return replacement


def _rank(code: int) -> int:
    """Windows' preference among duplicate codes (lower wins)."""
    lead = code >> 8
    if lead == 0x87:
        return 1  # NEC row 13
    if 0xFA <= lead <= 0xFC:
        return 2  # IBM extensions
    if 0xED <= lead <= 0xEE:
        return 3  # NEC-selected IBM extensions
    return 0  # JIS X 0208


@functools.cache
def _codes() -> dict[str, list[int]]:
    """Every MS932 double-byte character with all the codes that decode to it."""
    codes: dict[str, list[int]] = {}
    leads = [*range(0x81, 0xA0), *range(0xE0, 0xFD)]
    trails = [*range(0x40, 0x7F), *range(0x80, 0xFD)]
    for lead in leads:
        for trail in trails:
            try:
                char = bytes((lead, trail)).decode("cp932")
            except UnicodeDecodeError:
                continue
            if _BAD_DECODED.search(char):
                continue
            codes.setdefault(char, []).append(lead << 8 | trail)
    return codes


@functools.cache
def _corrections() -> dict[str, bytes]:
    """Characters Python's cp932 encodes differently from Windows, with the Windows bytes."""
    corrections: dict[str, bytes] = {}
    for char, candidates in _codes().items():
        best = min(candidates, key=lambda code: (_rank(code), code))
        wanted = best.to_bytes(2, "big")
        if char.encode("cp932") != wanted:
            corrections[char] = wanted
    return corrections


@functools.cache
def _corrections_pattern() -> re.Pattern[str]:
    return re.compile("[" + "".join(sorted(_corrections())) + "]")


@functools.cache
def _bad_or_ambiguous_pattern() -> re.Pattern[str]:
    ambiguous = "".join(sorted(char for char, codes in _codes().items() if len(codes) > 1))
    return re.compile("[" + _BAD_DECODED.pattern[1:-1] + ambiguous + "]")


def has_bad_or_ambiguous_characters(text: str) -> bool:
    """Whether a decoded text holds characters that are no MS932 characters or that have
    several codes.

    A decoded text with neither came from exactly the bytes its encoding gives back, so the
    canonical-form check need not compare bytes (the NEC and IBM extensions hold duplicates
    of JIS characters and of each other: ≒ is 0x81E0 and 0x8790, 髙 0xFBFC and 0xEEE0).
    `scan_characters` says how it is searched.
    """
    return scan_characters(text, text.count('"'))[0]


def scan_characters(text: str, quotes: int) -> tuple[bool, bool | None]:
    """`has_bad_or_ambiguous_characters` of a text with `quotes` double quotes, and whether
    two quotes stand side by side in it (None when the search did not find out).

    Both kinds of character are outside ASCII, and a standard file's text outside ASCII is
    its quoted free text: when the text between the quoted pieces is ASCII (one pass in C),
    only the quoted pieces are searched, which halves the time or better (the expression
    tests every character it is given in about 5 ns). Splitting at every quote also splits
    at a doubled quote or where a chunk starts inside a quoted item; that only moves text
    between the two kinds of piece, and every character is still either searched or known
    ASCII. The pieces also tell, for free, whether the text holds `""` (an empty piece
    between two others), which the reader would otherwise search its bytes for (a
    millisecond a megabyte).

    The caller gives the count of quotes: the reader counts them in the chunk's delimiters,
    a fifth of its text.
    """
    pattern = _bad_or_ambiguous_pattern()
    if not quotes:
        return pattern.search(text) is not None, False
    # A string per piece: a text of quotes every few characters (a file made to be slow, or
    # short items all quoted) would cost up to ten times the search and twenty times the
    # text's memory, so it is searched whole. At the limit, one quote in 16 characters, a
    # text all in quotes costs twice the search and three times its memory; standard files
    # have one quote in 28 (補足) to 120 (第7表) characters.
    if quotes * _CHARACTERS_PER_QUOTE > len(text):
        return pattern.search(text) is not None, None
    pieces = text.split('"')
    doubled = "" in itertools.islice(pieces, 1, len(pieces) - 1)
    if "".join(pieces[0::2]).isascii():
        del pieces[0::2]
        text = "".join(pieces)
    return pattern.search(text) is not None, doubled


_CHARACTERS_PER_QUOTE = 16


def decode(data: bytes) -> str:
    """Decode MS932; undecodable bytes become lone surrogates, found by `bad_characters`."""
    return data.decode("cp932", "surrogateescape")


def bad_characters(text: str) -> list[tuple[int, str]]:
    """Offsets and characters of a decoded text that are not MS932 characters."""
    return [(m.start(), m.group()) for m in _BAD_DECODED.finditer(text)]


# The bad characters other than U+0080 have the high byte (in UTF-16) DC (the lone surrogates
# U+DC80-U+DCFF) or E0-F8 (the private-use area): `has_bad_characters` deletes every other
# byte from a text's high bytes.
_NOT_BAD_HIGH_BYTES = bytes(
    byte for byte in range(256) if byte != 0xDC and not 0xE0 <= byte <= 0xF8
)


def has_bad_characters(text: str) -> bool:
    """Whether a decoded text holds a character that is no MS932 character.

    The regular expression alone tests every character in 5-7 ns, up to a fifth of a parse
    (123 of ~650 ms for 100k 第6表 records). Three passes in C over the text's UTF-16 code
    units cost a third to a half of that (59 ms there): U+0080 is looked for directly, and
    every other bad character has one of a few high bytes (DC, E0-F8). Only a text that has
    one (the second half of a surrogate pair may have DC too) is searched by the expression,
    which decides.
    """
    if "\x80" in text:
        return True
    high = text.encode("utf-16-le", "surrogatepass")[1::2].translate(None, _NOT_BAD_HIGH_BYTES)
    return bool(high) and _BAD_DECODED.search(text) is not None


def describe_bad_character(char: str, *, utf8: bool = False) -> str:
    """How a bad decoded character looked in the file, e.g. `byte 0x80` or `外字 0xF040`.

    In a file read as UTF-8 (it had a BOM), a private-use character is no MS932 code at all
    (U+E758–U+F8FF have none; cp932 maps only U+E000–U+E757 to 外字), so it is shown by its
    code point, never encoded.
    """
    if "\udc80" <= char <= "\udcff":
        return f"byte 0x{ord(char) - 0xDC00:02X}"
    if utf8:
        return f"U+{ord(char):04X}（私用領域 / private use）"
    try:
        raw = char.encode("cp932")
    except UnicodeEncodeError:
        return f"U+{ord(char):04X}"
    if 0xF0 <= raw[0] <= 0xF9:
        return f"外字 0x{raw.hex().upper()}"
    return f"byte 0x{raw.hex().upper()}"


def is_encodable(text: str) -> bool:
    """True when every character of `text` is an MS932 character (no 外字)."""
    if _NOT_WRITABLE.search(text):
        return False
    try:
        text.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


def unencodable_characters(text: str) -> list[str]:
    """The characters of `text` that MS932 cannot encode (or that are 外字), in order."""
    return [c for c in text if _NOT_WRITABLE.match(c) or not _encodes(c)]


def _encodes(char: str) -> bool:
    try:
        char.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


def encode(text: str) -> bytes:
    """Encode as Windows encodes MS932; ValueError if a character is not writable.

    One scan finds both the characters that are never written and those Windows encodes
    differently from Python; text with neither (nearly all) is encoded by the C codec directly.
    """
    if _special_pattern().search(text) is None:
        try:
            return text.encode("cp932")
        except UnicodeEncodeError as error:
            raise ValueError("text is not encodable in MS932") from error
    if not is_encodable(text):
        raise ValueError("text is not encodable in MS932")
    return _encode_corrected(text, _corrections_pattern(), _corrections())


def has_special_characters(text: str) -> bool:
    """Characters that plain cp932 encoding gets wrong: not writable, or encoded otherwise
    by Windows."""
    return _special_pattern().search(text) is not None


@functools.cache
def _special_pattern() -> re.Pattern[str]:
    corrected = "".join(sorted(_corrections()))
    return re.compile("[" + _NOT_WRITABLE.pattern[1:-1] + corrected + "]")


def _encode_corrected(text: str, pattern: re.Pattern[str], corrections: dict[str, bytes]) -> bytes:
    out = bytearray()
    position = 0
    for match in pattern.finditer(text):
        out += text[position : match.start()].encode("cp932")
        out += corrections[match.group()]
        position = match.end()
    out += text[position:].encode("cp932")
    return bytes(out)
