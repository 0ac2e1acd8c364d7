"""seal / open_envelope: round trips, every refusal with its specific error, tampering."""

from __future__ import annotations

import datetime
import json
import random
import time
import zipfile

import pytest
from helpers import envelope_of, zip_of
from hypothesis import given, settings
from unitfiles import schedule_unit

from careplan_link import Bundle
from careplan_link.envelope import (
    CertificateExpired,
    DecryptionError,
    EnvelopeError,
    LegacyEncryptionRefused,
    Limits,
    MalformedEnvelope,
    Manifest,
    ManifestError,
    Misaddressed,
    NotForThisRecipient,
    PayloadError,
    SenderMismatch,
    SignatureError,
    SigningTimeRefused,
    TrustSettings,
    UntrustedRecipient,
    UntrustedSigner,
    _cms,
    open_envelope,
    seal,
)
from careplan_link.envelope._payload import build_payload
from careplan_link.testing import strategies as cst
from conftest import CARE, OTHER, PROVIDER, Offices


def sealed(offices: Offices, **options: object) -> bytes:
    return seal(
        schedule_unit(),
        sender=offices.care,
        recipients=[offices.provider.certificate],
        trust=offices.pki.trust_store,
        **options,  # type: ignore[arg-type]
    )


def test_round_trip_gives_the_files_in_import_order(offices: Offices) -> None:
    files = schedule_unit()
    envelope = seal(
        files,
        sender=offices.care,
        recipients=[offices.provider.certificate],
        trust=offices.pki.trust_store,
    )
    opened = open_envelope(envelope, identity=offices.provider, trust=offices.pki.trust_store)
    assert dict(opened.files) == files
    assert list(opened.files) == list(Bundle.from_files(files).files)
    assert opened.sender_office_no == CARE
    assert opened.signer_certificate == offices.care.certificate
    assert abs(opened.signed_at - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(
        minutes=1
    )
    manifest = opened.manifest
    assert (manifest.sender.number, manifest.receiver.number) == (CARE, PROVIDER)
    assert manifest.unit_kind == "schedule" and manifest.serial == "20250325093000"
    assert [f.name for f in manifest.files] == list(opened.files)
    assert opened.bundle == Bundle.from_files(files)


def test_the_sender_can_reread_its_outbox(offices: Offices) -> None:
    opened = open_envelope(sealed(offices), identity=offices.care, trust=offices.pki.trust_store)
    assert dict(opened.files) == schedule_unit()


def test_cbc_and_pkcs1_v15_for_older_receivers_only_when_allowed(offices: Offices) -> None:
    envelope = sealed(offices, cbc=True)
    with pytest.raises(LegacyEncryptionRefused, match="allow_legacy_cbc") as refused:
        open_envelope(envelope, identity=offices.provider, trust=offices.pki.trust_store)
    assert refused.value.reason == "ENVELOPE_UNREADABLE"
    opened = open_envelope(
        envelope, identity=offices.provider, trust=offices.pki.trust_store, allow_legacy_cbc=True
    )
    assert dict(opened.files) == schedule_unit()
    settings = TrustSettings(anchors=offices.pki.trust_store, allow_legacy_cbc=True)
    assert open_envelope(envelope, identity=offices.provider, trust=settings).files == opened.files


def test_seal_refuses_a_sender_that_is_not_the_units_sender(offices: Offices) -> None:
    with pytest.raises(SenderMismatch, match="sent by office 1370100016"):
        seal(
            schedule_unit(),
            sender=offices.other,
            recipients=[offices.provider.certificate],
            trust=offices.pki.trust_store,
        )


def test_seal_refuses_a_recipient_of_another_office(offices: Offices) -> None:
    for trust in (offices.pki.trust_store, None):
        with pytest.raises(UntrustedRecipient, match="belongs to office 1370300036"):
            seal(
                schedule_unit(),
                sender=offices.care,
                recipients=[offices.other.certificate],
                trust=trust,
            )


def test_an_office_not_addressed_cannot_open(offices: Offices) -> None:
    with pytest.raises(NotForThisRecipient, match="1370300036"):
        open_envelope(sealed(offices), identity=offices.other, trust=offices.pki.trust_store)


def test_forwarding_by_re_encrypting_is_refused(offices: Offices) -> None:
    # The provider decrypts and re-encrypts the signed content to a third office.
    decrypted = _cms.decrypt(sealed(offices), offices.provider)
    import os

    key = os.urandom(32)
    infos = _cms.recipient_infos(key, [offices.other.certificate], oaep=True)
    forwarded = _cms.encrypt([decrypted.inner], key, infos, gcm=True)
    with pytest.raises(SignatureError, match="recipient list differs"):
        open_envelope(forwarded, identity=offices.other, trust=offices.pki.trust_store)


def test_a_payload_addressed_to_another_office_is_refused(offices: Offices) -> None:
    # Signed by the real sender and encrypted to OTHER, but the manifest names PROVIDER.
    bundle = Bundle.from_files(schedule_unit())
    manifest = Manifest.for_bundle(bundle, created_at=offices.now)
    envelope = envelope_of(
        build_payload(bundle, manifest),
        signer=offices.care,
        recipients=[offices.other.certificate],
        signed_at=offices.now,
    )
    with pytest.raises(Misaddressed, match="not to office 1370300036") as refused:
        open_envelope(envelope, identity=offices.other, trust=offices.pki.trust_store)
    assert isinstance(refused.value, ManifestError)
    assert refused.value.reason == "NOT_ADDRESSED_TO_US"


def test_a_manifest_claiming_another_sender_is_refused(offices: Offices) -> None:
    # OTHER holds a valid certificate and signs a payload that claims to come from CARE.
    bundle = Bundle.from_files(schedule_unit())
    manifest = Manifest.for_bundle(bundle, created_at=offices.now)
    envelope = envelope_of(
        build_payload(bundle, manifest),
        signer=offices.other,
        recipients=[offices.provider.certificate],
        signed_at=offices.now,
    )
    with pytest.raises(SenderMismatch, match="signed by office 1370300036"):
        open_envelope(envelope, identity=offices.provider, trust=offices.pki.trust_store)


def test_file_names_naming_another_sender_are_refused(offices: Offices) -> None:
    bundle = Bundle.from_files(schedule_unit())
    manifest = Manifest.for_bundle(bundle, created_at=offices.now)
    honest_sender = manifest.sender.__class__(OTHER, "43")
    lying = Manifest(
        honest_sender, manifest.receiver, manifest.serial, manifest.unit_kind,
        manifest.files, manifest.created_at,
    )  # fmt: skip
    envelope = envelope_of(
        build_payload(bundle, lying),
        signer=offices.other,
        recipients=[offices.provider.certificate],
        signed_at=offices.now,
    )
    with pytest.raises(SenderMismatch, match="names office 1370100016 as its sender"):
        open_envelope(envelope, identity=offices.provider, trust=offices.pki.trust_store)


@pytest.mark.parametrize(
    ("variant", "error", "message"),
    [
        ("expired", CertificateExpired, "had expired"),
        ("not_yet_valid", CertificateExpired, "not yet valid"),
        ("foreign", UntrustedSigner, "does not chain to a trusted CA"),
        ("without_digital_signature", UntrustedSigner, "digitalSignature"),
        ("server_auth_only", UntrustedSigner, "emailProtection and clientAuth"),
    ],
)
def test_signers_outside_the_profile_or_trust_are_refused(
    offices: Offices, variant: str, error: type[Exception], message: str
) -> None:
    signer = getattr(offices.pki, variant)(CARE)
    envelope = seal(
        schedule_unit(),
        sender=signer,
        recipients=[offices.provider.certificate],
        trust=offices.pki.trust_store,
    )
    with pytest.raises(error, match=message) as refused:
        open_envelope(envelope, identity=offices.provider, trust=offices.pki.trust_store)
    assert refused.value.reason == "SIGNER_NOT_TRUSTED"


def test_an_expired_signer_is_accepted_only_near_the_reference_time(offices: Offices) -> None:
    old = offices.pki.office(
        CARE, not_before=offices.later(-400), not_after=offices.later(-10)
    )  # replaced by a renewed certificate ten days ago
    envelope = seal(
        schedule_unit(),
        sender=old,
        recipients=[offices.provider.certificate],
        trust=None,  # the provider's certificate was not yet valid 20 days ago
        now=offices.later(-20),
    )
    # Without a reference time the signer's certificate must be valid now: a key whose
    # certificate expired cannot sign (with a backdated signing time) forever.
    with pytest.raises(CertificateExpired, match="had expired"):
        open_envelope(envelope, identity=offices.provider, trust=offices.pki.trust_store)
    # The hub accepted it a day after it was signed (an old inbox message, reread): it opens,
    # the certificate judged at the signing time.
    opened = open_envelope(
        envelope,
        identity=offices.provider,
        trust=offices.pki.trust_store,
        at=offices.later(-19),
    )
    assert opened.signed_at == offices.later(-20).replace(microsecond=0)
    # The same envelope handed to the hub today: signed 20 days before it was accepted.
    with pytest.raises(SigningTimeRefused, match="outside") as refused:
        open_envelope(
            envelope, identity=offices.provider, trust=offices.pki.trust_store, at=offices.now
        )
    assert refused.value.reason == "SIGNER_NOT_TRUSTED"
    with pytest.raises(CertificateExpired, match="had expired"):
        open_envelope(
            envelope,
            identity=offices.provider,
            trust=offices.pki.trust_store,
            at=offices.later(-19),
            check_validity_now=True,
        )


def test_the_signing_time_window_around_the_reference_time(offices: Offices) -> None:
    envelope = sealed(offices, now=offices.now)
    signed = offices.now.replace(microsecond=0)
    minute = datetime.timedelta(minutes=1)
    settings = TrustSettings(anchors=offices.pki.trust_store)
    for at in (signed, signed + 7 * datetime.timedelta(days=1), signed - 5 * minute):
        open_envelope(envelope, identity=offices.provider, trust=settings, at=at)
    for at in (signed + datetime.timedelta(days=7) + minute, signed - 6 * minute):
        with pytest.raises(SigningTimeRefused):
            open_envelope(envelope, identity=offices.provider, trust=settings, at=at)
    narrow = TrustSettings(
        anchors=offices.pki.trust_store, signing_time_before=datetime.timedelta(hours=1)
    )
    with pytest.raises(SigningTimeRefused):
        open_envelope(
            envelope, identity=offices.provider, trust=narrow, at=signed + 2 * 60 * minute
        )


def test_a_renewed_certificate_signs_and_receives(offices: Offices) -> None:
    renewed = offices.pki.renewed(offices.provider, starting=offices.later(-1))
    envelope = seal(
        schedule_unit(),
        sender=offices.care,
        recipients=[renewed.certificate, offices.provider.certificate],  # newest first
        trust=offices.pki.trust_store,
    )
    for identity in (renewed, offices.provider):
        opened = open_envelope(envelope, identity=identity, trust=offices.pki.trust_store)
        assert dict(opened.files) == schedule_unit()


def test_a_revoked_signer_is_refused_with_the_callers_crl() -> None:
    pki = Offices().pki
    care, provider = pki.office(CARE), pki.office(PROVIDER)
    envelope = seal(
        schedule_unit(), sender=care, recipients=[provider.certificate], trust=pki.trust_store
    )
    open_envelope(envelope, identity=provider, trust=pki.trust_store, crls=[pki.crl()])
    pki.revoke(care)
    with pytest.raises(UntrustedSigner, match="revoked"):
        open_envelope(envelope, identity=provider, trust=pki.trust_store, crls=[pki.crl()])
    settings = TrustSettings(anchors=pki.trust_store, crls=[pki.crl()])
    with pytest.raises(UntrustedSigner, match="revoked"):
        open_envelope(envelope, identity=provider, trust=settings)


def test_a_signing_time_in_the_future_is_refused(offices: Offices) -> None:
    envelope = sealed(offices, now=offices.now + datetime.timedelta(minutes=6))
    with pytest.raises(SigningTimeRefused, match="future"):
        open_envelope(envelope, identity=offices.provider, trust=offices.pki.trust_store)


def _payload_envelope(offices: Offices, entries: list[tuple[str, bytes]]) -> bytes:
    return envelope_of(
        zip_of(entries),
        signer=offices.care,
        recipients=[offices.provider.certificate],
        signed_at=offices.now,
    )


def _manifest_for(files: dict[str, bytes], offices: Offices) -> bytes:
    bundle = Bundle.from_files(files)
    return Manifest.for_bundle(bundle, created_at=offices.now).to_json()


def test_a_zip_bomb_is_refused_before_it_is_expanded(offices: Offices) -> None:
    files = schedule_unit()
    name = next(iter(files))
    bomb = {**files, name: b"0" * 5_000_000}
    entries = [("manifest.json", _manifest_for(bomb, offices)), *bomb.items()]
    envelope = _payload_envelope(offices, entries)
    assert len(envelope) < 100_000
    with pytest.raises(PayloadError, match="limit 1000000"):
        open_envelope(
            envelope,
            identity=offices.provider,
            trust=offices.pki.trust_store,
            limits=Limits(max_file_size=1_000_000),
        )
    with pytest.raises(PayloadError, match="expands to"):
        open_envelope(
            envelope,
            identity=offices.provider,
            trust=offices.pki.trust_store,
            limits=Limits(max_total_size=2_000_000),
        )
    with pytest.raises(PayloadError, match="holds 4 files"):
        open_envelope(
            envelope,
            identity=offices.provider,
            trust=offices.pki.trust_store,
            limits=Limits(max_files=2),
        )


@pytest.mark.parametrize(
    "bad_name",
    [
        "../UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV",
        "sub/UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV",
        "..\\UPPLAN_202504_1370100016_43_1370200022_11_20250325093000.CSV",
        "/etc/passwd",
    ],
)
def test_a_path_traversal_name_is_refused(offices: Offices, bad_name: str) -> None:
    files = schedule_unit()
    entries = [("manifest.json", _manifest_for(files, offices)), *files.items()]
    entries.append((bad_name, b"x"))
    with pytest.raises(PayloadError, match=r"path traversal|not a plain"):
        open_envelope(
            _payload_envelope(offices, entries),
            identity=offices.provider,
            trust=offices.pki.trust_store,
        )


def test_duplicate_names_are_refused(offices: Offices) -> None:
    files = schedule_unit()
    name = next(iter(files))
    entries = [("manifest.json", _manifest_for(files, offices)), *files.items(), (name, b"x")]
    with pytest.warns(UserWarning, match="Duplicate name"):
        envelope = _payload_envelope(offices, entries)
    with pytest.raises(PayloadError, match="two entries named"):
        open_envelope(envelope, identity=offices.provider, trust=offices.pki.trust_store)


def test_files_that_differ_from_the_manifest_are_refused(offices: Offices) -> None:
    files = schedule_unit()
    name = next(iter(files))
    changed = {**files, name: files[name] + b"\r\n"}
    entries = [("manifest.json", _manifest_for(files, offices)), *changed.items()]
    with pytest.raises(PayloadError, match="SHA-256 differs"):
        open_envelope(
            _payload_envelope(offices, entries),
            identity=offices.provider,
            trust=offices.pki.trust_store,
        )
    missing = [("manifest.json", _manifest_for(files, offices)), *list(files.items())[1:]]
    with pytest.raises(PayloadError, match="missing"):
        open_envelope(
            _payload_envelope(offices, missing),
            identity=offices.provider,
            trust=offices.pki.trust_store,
        )


def test_a_payload_without_or_with_a_broken_manifest_is_refused(offices: Offices) -> None:
    files = schedule_unit()
    with pytest.raises(ManifestError, match=r"no manifest\.json"):
        open_envelope(
            _payload_envelope(offices, list(files.items())),
            identity=offices.provider,
            trust=offices.pki.trust_store,
        )
    broken = json.loads(_manifest_for(files, offices))
    broken["files"][0]["size"] = "12"
    entries = [("manifest.json", json.dumps(broken).encode()), *files.items()]
    with pytest.raises(ManifestError, match="cannot be read"):
        open_envelope(
            _payload_envelope(offices, entries),
            identity=offices.provider,
            trust=offices.pki.trust_store,
        )


def test_a_payload_that_is_no_zip_is_refused(offices: Offices) -> None:
    envelope = envelope_of(
        b"not a zip",
        signer=offices.care,
        recipients=[offices.provider.certificate],
        signed_at=offices.now,
    )
    with pytest.raises(PayloadError, match="not a readable ZIP"):
        open_envelope(envelope, identity=offices.provider, trust=offices.pki.trust_store)


def test_every_single_bit_flip_is_refused(offices: Offices) -> None:
    envelope = sealed(offices)
    rng = random.Random(5652)
    refused: dict[str, int] = {}
    for position in rng.sample(range(len(envelope) * 8), 1000):
        flipped = bytearray(envelope)
        flipped[position // 8] ^= 1 << (position % 8)
        with pytest.raises(EnvelopeError) as caught:
            open_envelope(bytes(flipped), identity=offices.provider, trust=offices.pki.trust_store)
        refused[type(caught.value).__name__] = refused.get(type(caught.value).__name__, 0) + 1
    # Flips land in the structure, in the other recipient's entry, in this recipient's
    # entry and in the ciphertext: each part is refused by its own check.
    assert {"MalformedEnvelope", "DecryptionError", "SignatureError"} <= set(refused), refused


def test_every_truncation_is_refused(offices: Offices) -> None:
    envelope = sealed(offices)
    for hundredth in range(100):
        cut = envelope[: len(envelope) * hundredth // 100]
        with pytest.raises(MalformedEnvelope):
            open_envelope(cut, identity=offices.provider, trust=offices.pki.trust_store)


def test_garbage_is_refused(offices: Offices) -> None:
    for data in (b"", b"\x00" * 10, b"PK\x03\x04", b"-----BEGIN PKCS7-----"):
        with pytest.raises(MalformedEnvelope):
            open_envelope(data, identity=offices.provider, trust=offices.pki.trust_store)


def test_indefinite_length_ber_is_refused_at_once_with_how_to_make_der(offices: Offices) -> None:
    envelope = sealed(offices)
    ber = b"\x30\x80" + envelope[4:] + b"\x00\x00"  # the outer SEQUENCE as -stream writes it
    started = time.perf_counter()
    with pytest.raises(MalformedEnvelope, match="without -stream"):
        open_envelope(ber, identity=offices.provider, trust=offices.pki.trust_store)
    assert time.perf_counter() - started < 1.0


def test_decryption_failures_are_decryption_errors(offices: Offices) -> None:
    # The provider's certificate with another key: its entry is found, the key does not fit.
    impostor = offices.pki.office(PROVIDER)
    from careplan_link.envelope import OfficeIdentity

    mixed = OfficeIdentity(offices.provider.certificate, impostor.private_key, PROVIDER)
    with pytest.raises(DecryptionError):
        open_envelope(sealed(offices), identity=mixed, trust=offices.pki.trust_store)


@settings(max_examples=15)
@given(cst.units())
def test_open_of_seal_is_the_bundle(offices: Offices, bundle: Bundle) -> None:
    sender = offices.identity(bundle.sender.number)
    receiver = offices.identity(bundle.receiver.number)
    if sender.office_no == receiver.office_no:
        return  # a unit an office sends itself: covered by the outbox test
    envelope = seal(
        bundle, sender=sender, recipients=[receiver.certificate], trust=offices.pki.trust_store
    )
    opened = open_envelope(envelope, identity=receiver, trust=offices.pki.trust_store)
    assert opened.files == bundle.files and list(opened.files) == list(bundle.files)
    assert opened.bundle == bundle


def test_the_payload_is_a_plain_zip_with_the_manifest_first(offices: Offices) -> None:
    opened = open_envelope(
        sealed(offices), identity=offices.provider, trust=offices.pki.trust_store
    )
    import io

    with zipfile.ZipFile(io.BytesIO(opened.payload)) as archive:
        names = archive.namelist()
        assert names[0] == "manifest.json" and names[1:] == list(opened.files)
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in archive.infolist())
