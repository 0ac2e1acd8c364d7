"""The zero-copy DER helpers, checked against asn1crypto's own encoder and parser, and the
in-place reading of envelopes, checked against the general path."""

from __future__ import annotations

import pytest
from asn1crypto import cms, parser
from helpers import recording
from unitfiles import schedule_unit

from careplan_link.envelope import DecryptionError, _cms, _der, open_envelope, seal
from conftest import Offices

# Around every boundary where a DER length needs one more octet.
LENGTHS = [0, 1, 127, 128, 129, 255, 256, 257, 65535, 65536, 65537, 16_777_216]


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("tag", [0x04, 0x30, 0xA0, 0x80])
def test_header_is_asn1cryptos_encoding(tag: int, length: int) -> None:
    contents = bytes(length)
    emitted = parser.emit(tag >> 6, (tag >> 5) & 1, tag & 0x1F, contents)
    assert _der.header(tag, length) + contents == emitted


def _signed_data(content: bytes) -> bytes:
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "data", "content": content},
            "signer_infos": [],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


@pytest.mark.parametrize("length", LENGTHS[:-1])
def test_splice_gives_what_asn1crypto_encodes_with_the_content(length: int) -> None:
    content = bytes(range(256)) * (length // 256) + bytes(length % 256)
    before, after = _der.splice(_signed_data(b""), (1, 0, 2, 1, 0), length)
    assert before + content + after == _signed_data(content)


def test_splice_refuses_a_placeholder_that_is_not_empty() -> None:
    with pytest.raises(ValueError, match="empty primitive"):
        _der.splice(_signed_data(b"x"), (1, 0, 2, 1, 0), 10)


@pytest.mark.parametrize("length", [5, 200, 70_000])
def test_element_and_children_give_asn1cryptos_offsets(length: int) -> None:
    der = _signed_data(b"z" * length)
    view = memoryview(der)
    top = _der.element(view, 0, len(der))
    assert top.end == len(der)
    oid, explicit = _der.children(view, top)
    _, _, _, header, contents, _ = parser.parse(der)
    assert der[top.contents_start : top.end] == contents and len(header) == top.contents_start
    assert bytes(view[oid.start : oid.end]) == cms.ContentInfo.load(der)["content_type"].dump()
    signed = _der.children(view, explicit)[0]
    encapsulated = _der.children(view, signed)[2]
    octets = _der.children(view, _der.children(view, encapsulated)[1])[0]
    assert bytes(view[octets.contents_start : octets.end]) == b"z" * length


def test_element_refuses_truncated_and_indefinite_values() -> None:
    der = _signed_data(b"abc")
    with pytest.raises(ValueError):
        _der.element(der, 0, len(der) - 1)
    with pytest.raises(ValueError, match="indefinite"):
        _der.element(b"\x30\x80\x04\x00\x00\x00", 0, 6)
    with pytest.raises(ValueError, match="truncated"):
        _der.element(b"\x30", 0, 1)


def test_seals_own_envelopes_are_read_in_place(
    offices: Offices, monkeypatch: pytest.MonkeyPatch
) -> None:
    general_path: list[object] = []
    monkeypatch.setattr(_cms, "decrypt", recording(_cms.decrypt, general_path))
    unit = schedule_unit()
    envelope = seal(
        unit,
        sender=offices.care,
        recipients=[offices.provider.certificate],
        trust=offices.pki.trust_store,
    )
    opened = open_envelope(envelope, identity=offices.provider, trust=offices.pki.trust_store)
    assert dict(opened.files) == dict(unit) and general_path == []
    legacy = seal(
        unit,
        sender=offices.care,
        recipients=[offices.provider.certificate],
        trust=offices.pki.trust_store,
        cbc=True,
    )
    opened = open_envelope(
        legacy, identity=offices.provider, trust=offices.pki.trust_store, allow_legacy_cbc=True
    )
    assert dict(opened.files) == dict(unit) and general_path == [legacy]


def test_an_altered_ciphertext_read_in_place_is_a_decryption_error(offices: Offices) -> None:
    envelope = bytearray(
        seal(
            schedule_unit(),
            sender=offices.care,
            recipients=[offices.provider.certificate],
            trust=offices.pki.trust_store,
        )
    )
    # Deep inside the encrypted payload: the headers still decrypt, the tag does not verify.
    envelope[len(envelope) // 2] ^= 0x01
    with pytest.raises(DecryptionError, match="authentication check"):
        open_envelope(bytes(envelope), identity=offices.provider, trust=offices.pki.trust_store)
