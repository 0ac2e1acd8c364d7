"""The envelope under attack (issue 12): BER bombs, oracles, hostile ZIPs and manifests, unit
consistency, limits sized for real files, and recipient certificates checked before sealing."""

from __future__ import annotations

import datetime
import hashlib
import inspect
import io
import itertools
import os
import random
import struct
import time
import tracemalloc
import zipfile
from collections.abc import Callable

import pytest
from helpers import envelope_of, zip_of
from unitfiles import schedule_unit

from careplan_link import Bundle, errors
from careplan_link.envelope import (
    RECEIPT_REASONS,
    EnvelopeError,
    Limits,
    MalformedEnvelope,
    Manifest,
    ManifestError,
    ManifestFile,
    NotForThisRecipient,
    PayloadError,
    StaleRevocationList,
    TrustSettings,
    UntrustedRecipient,
    _cms,
    _der,
    open_envelope,
    seal,
    verify_recipient,
)
from careplan_link.format import Office, UnitKind
from conftest import CARE, PROVIDER, Offices

# -- helpers ---------------------------------------------------------------------------------


def _sealed(offices: Offices, *, cbc: bool = False) -> bytes:
    return seal(
        schedule_unit(),
        sender=offices.care,
        recipients=[offices.provider.certificate],
        trust=offices.pki.trust_store,
        cbc=cbc,
    )


def _open(offices: Offices, data: bytes, **options: object) -> object:
    return open_envelope(
        data,
        identity=offices.provider,
        trust=offices.pki.trust_store,
        **options,  # type: ignore[arg-type]
    )


def _best_of(runs: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        action()
        best = min(best, time.process_time() - started)
    return best


def _refusal_times(offices: Offices, make: Callable[[int], bytes], sizes: list[int]) -> list[float]:
    inputs = [make(size) for size in sizes]

    def refuse(data: bytes) -> None:
        with pytest.raises(MalformedEnvelope) as refused:
            _open(offices, data)
        assert refused.value.reason == "ENVELOPE_UNREADABLE"

    # CPU time (the load of other processes does not count), best of seven rounds with the
    # sizes interleaved, so that what load remains falls on every size alike.
    times = [float("inf")] * len(sizes)
    for _ in range(7):
        for index, data in enumerate(inputs):
            times[index] = min(times[index], _best_of(1, lambda data=data: refuse(data)))
    return times


def _assert_linear(times: list[float]) -> None:
    # Twice the input may cost at most three times as much (plus 5 ms of timer noise); the
    # quadratic reading this replaces took 2.9 s at 1.2 MB and 35 s at 4.8 MB.
    for smaller, larger in itertools.pairwise(times):
        assert larger <= 3 * smaller + 0.005, times


def _encrypted_content(envelope: bytes) -> _der.Element:
    """The encryptedContent [0] of an (Auth)EnvelopedData ContentInfo."""
    view = memoryview(envelope)
    level = _der.element(view, 0, len(view))
    for index in (1, 0, 2, 2):
        level = _der.children(view, level)[index]
    return level


def _length(n: int) -> bytes:
    return bytes([0x80 | 4]) + n.to_bytes(4, "big")


# -- 1. BER anywhere, refused in linear time ---------------------------------------------------


def _chunked_ciphertext(envelope: bytes, size: int) -> bytes:
    """A seal()ed envelope whose encryptedContent is replaced by `size` bytes of constructed,
    indefinite-length BER chunks nested inside the definite-length envelope."""
    content = _encrypted_content(envelope)
    chunks = b"\x24\x80" + b"\x04\x01a" * (size // 3) + b"\x00\x00"
    replacement = b"\xa0\x80" + chunks + b"\x00\x00"
    grown = bytearray(envelope[: content.start] + replacement + envelope[content.end :])
    # Re-encode the four enclosing definite lengths (all long-form here: the envelope is large).
    delta = len(replacement) - (content.end - content.start)
    view = memoryview(envelope)
    levels = [_der.element(view, 0, len(view))]
    for index in (1, 0, 2):
        levels.append(_der.children(view, levels[-1])[index])
    shift = 0
    for value in levels:
        header = _der.header(value.tag, value.length + delta)
        old = value.contents_start - value.start
        grown[value.start + shift : value.start + shift + old] = header
        shift += len(header) - old
        delta += len(header) - old
    return bytes(grown)


def test_nested_indefinite_ber_inside_a_definite_envelope_is_refused_in_linear_time(
    offices: Offices,
) -> None:
    envelope = _sealed(offices)
    sizes = [1_200_000, 2_400_000, 4_800_000]
    times = _refusal_times(offices, lambda size: _chunked_ciphertext(envelope, size), sizes)
    _assert_linear(times)


def test_definite_length_segmented_strings_are_refused_in_linear_time(offices: Offices) -> None:
    # Chunks with definite lengths: asn1crypto would still join them in quadratic time.
    chunks = b"\x04\x01a" * 400_000
    flat = b"\x30" + _length(len(chunks) + 6) + b"\xa0" + _length(len(chunks)) + chunks
    with pytest.raises(MalformedEnvelope, match="segmented"):
        _open(offices, flat)
    with pytest.raises(MalformedEnvelope, match="constructed string"):
        _open(offices, b"\x30\x07\x24\x05\x04\x03abc")


def _attacker_envelope(offices: Offices, inner: bytes) -> bytes:
    """An envelope anyone can make: `inner` encrypted to the provider's public certificate."""
    key = os.urandom(32)
    infos = _cms.recipient_infos(key, [offices.provider.certificate], oaep=True)
    return _cms.encrypt([inner], key, infos, gcm=True)


def test_ber_inside_an_attacker_encrypted_signed_data_is_refused_in_linear_time(
    offices: Offices,
) -> None:
    signed_data_oid = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"

    def make(size: int) -> bytes:
        nested = b"\x24\x80" * 1000 + b"\x04\x01a" * (size // 3) + b"\x00\x00" * 1000
        body = signed_data_oid + b"\xa0\x80" + nested + b"\x00\x00"
        return _attacker_envelope(offices, b"\x30" + _length(len(body)) + body)

    times = _refusal_times(offices, make, [1_200_000, 2_400_000, 4_800_000])
    _assert_linear(times)


def test_deep_definite_nesting_is_refused(offices: Offices) -> None:
    depth = 200_000
    inner = b""
    # Built from the inside out with long-form lengths: 200,000 nested SEQUENCEs, ~1.2 MB.
    parts = []
    for level in range(depth):
        parts.append(b"\x30" + _length(6 * (depth - level - 1)))
    inner = b"".join(parts)
    with pytest.raises(MalformedEnvelope, match="nesting deeper"):
        _open(offices, _attacker_envelope(offices, inner))


# -- 6. one reason for every cryptographic failure, legacy CBC opt-in ---------------------------


def test_the_reason_vocabulary_is_complete_and_stated_on_each_error_class() -> None:
    assert RECEIPT_REASONS == (
        "ENVELOPE_UNREADABLE",
        "NOT_ADDRESSED_TO_US",
        "SIGNER_NOT_TRUSTED",
        "SENDER_MISMATCH",
        "PAYLOAD_INVALID",
    )
    classes = [
        value
        for _, value in inspect.getmembers(errors, inspect.isclass)
        if issubclass(value, EnvelopeError)
    ]
    assert len(classes) >= 15
    assert {cls.reason for cls in classes} == set(RECEIPT_REASONS)


def _padding_oracle_probes(envelope: bytes) -> list[bytes]:
    """The classic CBC padding-oracle probe: every value of the last byte of the block before
    the last, so that some probes end in valid padding and some do not."""
    content = _encrypted_content(envelope)
    target = content.end - 17
    probes = []
    for value in range(256):
        probe = bytearray(envelope)
        probe[target] ^= value
        if value:
            probes.append(bytes(probe))
    return probes


@pytest.mark.parametrize("cbc", [True, False])
def test_every_altered_ciphertext_gives_the_same_reason(offices: Offices, cbc: bool) -> None:
    envelope = _sealed(offices, cbc=cbc)
    content = _encrypted_content(envelope)
    rng = random.Random(6)
    probes = _padding_oracle_probes(envelope) if cbc else []
    for position in rng.sample(range(content.contents_start * 8, content.end * 8), 80):
        flipped = bytearray(envelope)
        flipped[position // 8] ^= 1 << (position % 8)
        probes.append(bytes(flipped))
    reasons: dict[str, set[str]] = {}
    for probe in probes:
        with pytest.raises(EnvelopeError) as refused:
            _open(offices, probe, allow_legacy_cbc=cbc)
        reasons.setdefault(refused.value.reason, set()).add(type(refused.value).__name__)
    # Several causes (padding, not a SignedData, tag, signature), one answer.
    assert set(reasons) == {"ENVELOPE_UNREADABLE"}, reasons


def test_bit_flips_anywhere_never_reveal_more_than_unreadable_or_not_for_us(
    offices: Offices,
) -> None:
    for cbc in (True, False):
        envelope = _sealed(offices, cbc=cbc)
        rng = random.Random(7)
        for position in rng.sample(range(len(envelope) * 8), 120):
            flipped = bytearray(envelope)
            flipped[position // 8] ^= 1 << (position % 8)
            with pytest.raises(EnvelopeError) as refused:
                _open(offices, bytes(flipped), allow_legacy_cbc=cbc)
            # NOT_ADDRESSED_TO_US: the flip hit our (public) recipient identifier.
            assert refused.value.reason in ("ENVELOPE_UNREADABLE", "NOT_ADDRESSED_TO_US")


# -- 2 (envelope part). hostile ZIPs and manifests: only the library's errors ------------------


def _unit_zip(offices: Offices) -> tuple[bytes, dict[str, bytes]]:
    files = schedule_unit()
    manifest = Manifest.for_bundle(Bundle.from_files(files), created_at=offices.now)
    return zip_of([("manifest.json", manifest.to_json()), *files.items()]), files


def _patch_central(payload: bytes, offset: int, value: bytes) -> bytes:
    """Write `value` at `offset` of every central-directory header (and the local headers)."""
    data = bytearray(payload)
    local_offset = {8: 6, 10: 8}[offset]
    for signature, at in ((b"PK\x01\x02", offset), (b"PK\x03\x04", local_offset)):
        start = 0
        while (found := data.find(signature, start)) != -1:
            data[found + at : found + at + len(value)] = value
            start = found + 4
    return bytes(data)


def _payload_envelope(offices: Offices, payload: bytes) -> bytes:
    return envelope_of(
        payload,
        signer=offices.care,
        recipients=[offices.provider.certificate],
        signed_at=offices.now,
    )


@pytest.mark.parametrize(
    ("what", "offset", "value"),
    [
        ("compression method 99 (AES)", 10, struct.pack("<H", 99)),
        ("compression method 12 (bzip2)", 10, struct.pack("<H", 12)),
        ("the encrypted-entry flag", 8, struct.pack("<H", 0x0001)),
        ("the strong-encryption flag", 8, struct.pack("<H", 0x0041)),
    ],
)
def test_zip_methods_and_flags_seal_never_writes_are_payload_errors(
    offices: Offices, what: str, offset: int, value: bytes
) -> None:
    payload, _ = _unit_zip(offices)
    with pytest.raises(PayloadError, match="only stored or deflated") as refused:
        _open(offices, _payload_envelope(offices, _patch_central(payload, offset, value)))
    assert refused.value.reason == "PAYLOAD_INVALID", what


def test_a_damaged_deflate_stream_is_a_payload_error(offices: Offices) -> None:
    payload, files = _unit_zip(offices)
    name = next(iter(files)).encode()
    data = bytearray(payload)
    at = data.find(name) + len(name) + 2  # inside the first file's compressed data
    data[at : at + 8] = b"\xff" * 8
    with pytest.raises(PayloadError):
        _open(offices, _payload_envelope(offices, bytes(data)))


@pytest.mark.parametrize(
    "manifest",
    [
        b"[" * 200_000 + b"]" * 200_000,  # RecursionError in json
        b'{"format": 1, "files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "\ue000".encode(),  # a private-use character, valid UTF-8, not JSON
        b"\xff\xfe",  # not UTF-8
        b'{"format": 1e999}',
        b'{"format": ' + b"9" * 5000 + b"}",  # past int's digit limit
        b"null",
        b'{"format": 1, "sender": [], "receiver": null, "files": {}}',
    ],
)
def test_hostile_manifests_are_manifest_errors(offices: Offices, manifest: bytes) -> None:
    files = schedule_unit()
    payload = zip_of([("manifest.json", manifest), *files.items()])
    with pytest.raises(ManifestError) as refused:
        _open(offices, _payload_envelope(offices, payload))
    assert refused.value.reason == "PAYLOAD_INVALID"


def test_an_oversized_manifest_is_refused_before_it_is_read(offices: Offices) -> None:
    files = schedule_unit()
    payload = zip_of([("manifest.json", b" " * 2_000_000), *files.items()])
    with pytest.raises(ManifestError, match="limit 1048576"):
        _open(offices, _payload_envelope(offices, payload))


# -- 12. unit consistency, import order, seal refuses what open would ---------------------------


def _manifest_envelope(offices: Offices, files: dict[str, bytes], receiver: Office) -> bytes:
    manifest = Manifest(
        sender=Office(CARE, "43"),
        receiver=receiver,
        serial="20250325093000",
        unit_kind="schedule",
        files=tuple(
            ManifestFile(name, len(data), hashlib.sha256(data).hexdigest())
            for name, data in files.items()
        ),
        created_at=offices.now,
    )
    return _payload_envelope(
        offices, zip_of([("manifest.json", manifest.to_json()), *files.items()])
    )


def test_files_with_two_receiver_service_types_are_refused_at_open(offices: Offices) -> None:
    files = schedule_unit()
    first = next(iter(files))
    mixed = {
        (first.replace(f"_{PROVIDER}_11_", f"_{PROVIDER}_12_") if name == first else name): data
        for name, data in files.items()
    }
    assert len(set(mixed)) == 3 and mixed != files
    envelope = _manifest_envelope(offices, mixed, Office(PROVIDER, "11"))
    with pytest.raises(ManifestError, match="one transmission unit") as refused:
        _open(offices, envelope)
    assert refused.value.reason == "PAYLOAD_INVALID"


def test_files_come_in_import_order_whatever_the_senders_order(offices: Offices) -> None:
    files = schedule_unit()
    backwards = dict(reversed(list(files.items())))
    assert list(backwards) != list(Bundle.from_files(files).files)
    opened = _open(offices, _manifest_envelope(offices, backwards, Office(PROVIDER, "11")))
    assert list(opened.files) == list(Bundle.from_files(files).files)  # type: ignore[attr-defined]
    assert opened.bundle == Bundle.from_files(files)  # type: ignore[attr-defined]


def test_a_manifest_that_misstates_the_receivers_service_type_is_refused(
    offices: Offices,
) -> None:
    envelope = _manifest_envelope(offices, schedule_unit(), Office(PROVIDER, "12"))
    with pytest.raises(ManifestError, match="differ from the files"):
        _open(offices, envelope)


@pytest.mark.parametrize(
    "evil",
    [
        "../../Startup/evil.bat",
        "..\\..\\Startup\\evil.bat",
        "C:evil.bat",
        "UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV/../../x",
    ],
)
def test_seal_refuses_a_hand_built_bundle_with_a_path_name(offices: Offices, evil: str) -> None:
    good = Bundle.from_files(schedule_unit())
    hand_built = Bundle(
        kind=UnitKind.SCHEDULE,
        sender=good.sender,
        receiver=good.receiver,
        serial=good.serial,
        files={**good.files, evil: b"@echo owned"},
    )
    with pytest.raises(PayloadError, match=r"path traversal|not a plain|standard file name"):
        seal(
            hand_built,
            sender=offices.care,
            recipients=[offices.provider.certificate],
            trust=offices.pki.trust_store,
        )


def test_seal_refuses_a_hand_built_bundle_mixing_units(offices: Offices) -> None:
    good = Bundle.from_files(schedule_unit())
    name = next(iter(good.files))
    other = name.replace("20250325093000", "20250325093001")
    hand_built = Bundle(
        kind=good.kind,
        sender=good.sender,
        receiver=good.receiver,
        serial=good.serial,
        files={**good.files, other: good.files[name]},
    )
    with pytest.raises(PayloadError, match="does not belong to the unit"):
        seal(hand_built, sender=offices.care, recipients=[offices.provider.certificate], trust=None)


# -- 13. limits sized for real files --------------------------------------------------------------


def test_default_limits_fit_the_standards_files() -> None:
    limits = Limits()
    # A 100,000-record 第6表 is about 19 MB: it fits with room; a unit has under 20 files.
    assert 19_000_000 * 3 < limits.max_file_size <= 64 * 1024 * 1024
    assert limits.max_total_size <= 2 * limits.max_file_size
    assert 20 <= limits.max_files <= 100
    assert TrustSettings(anchors=_any_trust()).limits == limits


def _any_trust() -> object:
    from careplan_link.testing import FakePKI

    return FakePKI(key_size=1024).trust_store


def _bomb_envelope(offices: Offices, size: int) -> bytes:
    files = schedule_unit()
    name = next(iter(files))
    bomb = {**files, name: b"0" * size}
    manifest = Manifest.for_bundle(Bundle.from_files(bomb), created_at=offices.now)
    return _payload_envelope(
        offices, zip_of([("manifest.json", manifest.to_json()), *bomb.items()])
    )


def test_a_small_envelope_expanding_past_the_default_limits_is_refused(offices: Offices) -> None:
    envelope = _bomb_envelope(offices, 65 * 1024 * 1024)
    assert len(envelope) < 200_000
    started = time.perf_counter()
    with pytest.raises(PayloadError, match="limit 67108864"):
        _open(offices, envelope)
    assert time.perf_counter() - started < 2.0  # refused from the declared sizes


def test_opening_a_large_file_holds_it_about_once(offices: Offices) -> None:
    size = 32 * 1024 * 1024
    envelope = _bomb_envelope(offices, size)
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        opened = _open(offices, envelope)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert max(map(len, opened.files.values())) == size  # type: ignore[attr-defined]
    # The file itself plus working buffers: never the file twice (the 2x + 50 MB budget
    # leaves the rest to validation).
    assert peak < 1.5 * size, peak / size


# -- 14. the recipient's certificate is checked before sealing ---------------------------------


def test_a_hostile_directory_answer_is_refused_by_seal(offices: Offices) -> None:
    hostile = offices.pki.foreign(PROVIDER)  # right office number, the hub's own CA
    with pytest.raises(UntrustedRecipient, match="no valid certificate of office 1370200022"):
        seal(
            schedule_unit(),
            sender=offices.care,
            recipients=[hostile.certificate],
            trust=offices.pki.trust_store,
        )
    # Beside the genuine certificate, the hostile one is left out: it cannot open the envelope.
    envelope = seal(
        schedule_unit(),
        sender=offices.care,
        recipients=[hostile.certificate, offices.provider.certificate],
        trust=offices.pki.trust_store,
    )
    with pytest.raises(NotForThisRecipient):
        open_envelope(envelope, identity=hostile, trust=offices.pki.trust_store)
    assert _open(offices, envelope).files == schedule_unit()  # type: ignore[attr-defined]


def test_every_valid_certificate_of_a_renewal_is_used(offices: Offices) -> None:
    renewed = offices.pki.renewed(offices.provider, starting=offices.later(-1))
    expired = offices.pki.expired(PROVIDER)
    envelope = seal(
        schedule_unit(),
        sender=offices.care,
        recipients=[expired.certificate, renewed.certificate, offices.provider.certificate],
        trust=offices.pki.trust_store,
    )
    for identity in (renewed, offices.provider):
        assert open_envelope(envelope, identity=identity, trust=offices.pki.trust_store).files
    with pytest.raises(NotForThisRecipient):
        open_envelope(envelope, identity=expired, trust=offices.pki.trust_store)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda o: o.pki.foreign(PROVIDER), "does not chain"),
        (lambda o: o.pki.expired(PROVIDER), "had expired"),
        (lambda o: o.pki.not_yet_valid(PROVIDER), "not yet valid"),
        (lambda o: o.pki.office(PROVIDER, key_encipherment=False), "keyEncipherment"),
        (lambda o: o.pki.server_auth_only(PROVIDER), "emailProtection"),
        (lambda o: o.other, "belongs to office 1370300036"),
    ],
)
def test_verify_recipient_refuses_each_bad_certificate(
    offices: Offices, make: Callable[[Offices], object], message: str
) -> None:
    identity = make(offices)
    with pytest.raises(UntrustedRecipient, match=message):
        verify_recipient(
            identity.certificate,  # type: ignore[attr-defined]
            trust=offices.pki.trust_store,
            receiver_office=PROVIDER,
        )


def test_a_revoked_recipient_is_refused_and_a_stale_crl_is_not_used() -> None:
    pki = Offices().pki
    provider = pki.office(PROVIDER)
    trust = TrustSettings(anchors=pki.trust_store, crls=[pki.crl()])
    verify_recipient(provider.certificate, trust=trust, receiver_office=PROVIDER)
    pki.revoke(provider)
    revoked = TrustSettings(anchors=pki.trust_store, crls=[pki.crl()])
    with pytest.raises(UntrustedRecipient, match="revoked"):
        verify_recipient(provider.certificate, trust=revoked, receiver_office=PROVIDER)
    stale = pki.crl(next_update=pki.now - datetime.timedelta(hours=1))
    with pytest.raises(StaleRevocationList, match="nextUpdate"):
        verify_recipient(
            provider.certificate,
            trust=TrustSettings(anchors=pki.trust_store, crls=[stale]),
            receiver_office=PROVIDER,
        )


def test_a_crl_past_its_next_update_is_refused_when_opening(offices: Offices) -> None:
    stale = offices.pki.crl(next_update=offices.now - datetime.timedelta(hours=1))
    envelope = _sealed(offices)
    with pytest.raises(StaleRevocationList, match="nextUpdate"):
        _open(offices, envelope, crls=[stale])
    with pytest.raises(StaleRevocationList):
        open_envelope(
            envelope,
            identity=offices.provider,
            trust=TrustSettings(anchors=offices.pki.trust_store, crls=[stale]),
        )
    assert _open(offices, envelope, crls=[offices.pki.crl()]).files  # type: ignore[attr-defined]


def test_zip_payload_helper_sanity() -> None:
    # The patched archives above are read by zipfile as intended (guards the test helpers).
    payload = zip_of([("a.txt", b"x")])
    patched = _patch_central(payload, 10, struct.pack("<H", 99))
    with zipfile.ZipFile(io.BytesIO(patched)) as archive:
        assert archive.infolist()[0].compress_type == 99
