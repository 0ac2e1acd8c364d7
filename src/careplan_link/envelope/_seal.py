"""seal() and open_envelope(): a bundle in, signed-and-encrypted bytes out, and back."""

from __future__ import annotations

import datetime
import gc
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence

import attrs
from cryptography import x509

from ..errors import (
    CertificateExpired,
    FormatError,
    ManifestError,
    Misaddressed,
    PayloadError,
    SenderMismatch,
    SignatureError,
    SigningTimeRefused,
    UntrustedRecipient,
    UntrustedSigner,
)
from ..format import Bundle, FileName
from . import _cms
from ._identity import OfficeIdentity, OfficeNumberRule, TrustStore, office_number_of
from ._payload import Limits, Manifest, build_payload, check_sealable, read_payload
from ._profile import check_crls_current, verify_signer
from ._trust import TrustSettings, settings_of, verify_recipient

__all__ = ["OpenedEnvelope", "open_envelope", "seal"]

# Without a reference time, a signing time further ahead of the clock than this is refused.
_CLOCK_SKEW = datetime.timedelta(minutes=5)


@attrs.frozen
class OpenedEnvelope:
    """A verified envelope: the files in import order and what the signature proves."""

    files: Mapping[str, bytes] = attrs.field(repr=lambda f: f"<{len(f)} files: {', '.join(f)}>")
    """File name → bytes, in the order a receiver imports them (parents first)."""
    manifest: Manifest
    sender_office_no: str
    signer_certificate: x509.Certificate
    signed_at: datetime.datetime
    payload: bytes = attrs.field(repr=False)
    """The ZIP exactly as signed."""
    unit: Bundle = attrs.field(repr=False)
    """The transmission unit the files form (checked when opening)."""

    @property
    def bundle(self) -> Bundle:
        """The files as one transmission unit (the same as `unit`)."""
        return self.unit


def seal(
    files_or_bundle: Bundle | Mapping[str, bytes],
    *,
    sender: OfficeIdentity,
    recipients: Sequence[x509.Certificate],
    trust: TrustStore | TrustSettings | None,
    cbc: bool = False,
    rule: OfficeNumberRule = office_number_of,
    now: datetime.datetime | None = None,
    limits: Limits | None = None,
) -> bytes:
    """Sign `files_or_bundle` (one transmission unit) as `sender` and encrypt it to each
    recipient certificate and to the sender's own (so it can reread its outbox).

    `trust` must be given: each recipient certificate is verified against its anchors first
    (`verify_recipient`: office profile with keyEncipherment, valid now, chain, revocation,
    office number = the unit's receiver). Several valid certificates of the receiver (a renewal)
    are all used; invalid ones are left out, and `UntrustedRecipient` is raised when none is
    valid. `trust=None` skips the chain check (only the office number is compared), for callers
    who verified the certificates themselves.

    The unit is refused (`PayloadError`) when opening would refuse it: file names that are not
    bare standard names, files of another unit, more or larger files than `limits` (by default
    those of `trust`, else `Limits()`).

    The result is DER: AuthEnvelopedData (AES-256-GCM, RSA-OAEP-SHA256), or with `cbc=True`
    EnvelopedData (AES-256-CBC, RSA PKCS#1 v1.5) for receivers whose tools need it. Raises
    `SenderMismatch` when the sender is not the unit's sender.
    """
    try:
        bundle = (
            files_or_bundle
            if isinstance(files_or_bundle, Bundle)
            else Bundle.from_files(files_or_bundle)
        )
    except (FormatError, ValueError) as error:
        raise PayloadError(f"the files are not one transmission unit: {error}") from None
    settings = None if trust is None else settings_of(trust)
    check_sealable(bundle, limits or (settings.limits if settings else Limits()))
    if bundle.sender.number != sender.office_no:
        raise SenderMismatch(
            f"the files are sent by office {bundle.sender.number}, but the sealing identity is "
            f"office {sender.office_no}"
        )
    current = now or datetime.datetime.now(datetime.UTC)
    usable = _usable_recipients(recipients, settings, bundle.receiver.number, current, rule)
    signed_at = current.replace(microsecond=0)
    manifest = Manifest.for_bundle(bundle, created_at=signed_at)
    payload = build_payload(bundle, manifest)
    key = os.urandom(32)
    everyone = [*usable]
    if all(r != sender.certificate for r in everyone):
        everyone.append(sender.certificate)
    infos = _cms.recipient_infos(key, everyone, oaep=not cbc)
    digest = hashlib.sha256(infos.dump()).digest()
    pieces = _cms.sign(payload, sender, signed_at=signed_at, recipients_digest=digest)
    del payload  # encrypt() frees each piece once encrypted: the payload is not kept twice
    return _cms.encrypt(pieces, key, infos, gcm=not cbc)


def _usable_recipients(
    recipients: Sequence[x509.Certificate],
    settings: TrustSettings | None,
    receiver: str,
    now: datetime.datetime,
    rule: OfficeNumberRule,
) -> list[x509.Certificate]:
    if not recipients:
        raise UntrustedRecipient("seal needs at least one recipient certificate")
    usable = []
    problems = []
    for recipient in recipients:
        if settings is None:
            office_no = rule(recipient)
            if office_no != receiver:
                raise UntrustedRecipient(
                    f"a recipient certificate belongs to office {office_no}, but the files are "
                    f"addressed to office {receiver}"
                )
            usable.append(recipient)
            continue
        try:
            verify_recipient(recipient, trust=settings, receiver_office=receiver, at=now, rule=rule)
        except UntrustedRecipient as error:
            problems.append(str(error))
        else:
            usable.append(recipient)
    if not usable:
        raise UntrustedRecipient(
            f"事業所 {receiver} の有効な証明書がありません / no valid certificate of office "
            f"{receiver}: {'; '.join(problems)}"
        )
    return usable


def open_envelope(
    data: bytes,
    *,
    identity: OfficeIdentity,
    trust: TrustStore | TrustSettings,
    crls: Sequence[x509.CertificateRevocationList] = (),
    check_validity_now: bool = False,
    limits: Limits | None = None,
    rule: OfficeNumberRule = office_number_of,
    now: datetime.datetime | None = None,
    at: datetime.datetime | None = None,
    allow_legacy_cbc: bool | None = None,
) -> OpenedEnvelope:
    """Decrypt and verify an envelope; return its files only when every check passes.

    `trust` is a `TrustStore` or `TrustSettings`; `crls` given here are used beside the
    settings' CRLs, `limits` and `allow_legacy_cbc` given here replace the settings' values.

    Signing-time policy (docs/envelope.md): with a reference time `at` (the hub's accepted_at,
    a clock the sender does not control), the signingTime must lie within
    `[at - signing_time_before, at + signing_time_after]` (7 days, 5 minutes by default) and the
    signer's certificate is judged at the signing time (`check_validity_now=True` also requires
    validity now). Without `at`, the certificate must be valid now and the signingTime not more
    than 5 minutes ahead of now. `now` replaces the clock (tests).

    Checks, in order: the DER structure (no BER anywhere: `MalformedEnvelope`); legacy forms
    (`LegacyEncryptionRefused` unless allowed); decryption with `identity`; the signature and
    that the recipient list is the one the sender signed (for envelopes made by `seal`); the
    signing time (`SigningTimeRefused`); the signer's certificate against the office profile,
    its chain to the anchors, and revocation; the payload's ZIP, limits and manifest; that the
    signer's office is the manifest's sender and every file name's sender; that `identity` is
    the manifest's receiver (or its sender, rereading its outbox); that the files form the
    manifest's one unit; every file's size and SHA-256. Raises an `EnvelopeError`, whose
    `reason` is the reason code for the receipt.
    """
    settings = settings_of(trust)
    all_crls = (*settings.crls, *crls)
    use_limits = limits or settings.limits
    legacy = settings.allow_legacy_cbc if allow_legacy_cbc is None else allow_legacy_cbc
    current = now or datetime.datetime.now(datetime.UTC)
    # A stale CRL is the caller's fault: refused before the envelope is read.
    check_crls_current(all_crls, current)
    opened = _cms.open_signed(bytes(data), identity, allow_legacy=legacy)
    signed = opened.signed
    if signed.recipients_digest is not None:
        actual = hashlib.sha256(opened.recipients_der).digest()
        if not hmac.compare_digest(actual, signed.recipients_digest):
            raise SignatureError(
                "the envelope's recipient list differs from the one its sender signed "
                "(recipients added, removed or altered)"
            )
    signed_at = signed.signed_at or at or current
    _check_signing_time(signed_at, at, current, settings)
    try:
        _check_signer(signed, signed_at, at, current, check_validity_now, settings, all_crls)
    except UntrustedSigner as error:
        if opened.authenticated:
            raise
        # CBC is malleable and the certificates lie outside the signature: an altered
        # certificate must not answer differently from an altered signature (no oracle).
        raise SignatureError(f"legacy CBC envelope, signer refused: {error}") from None
    sender_no = rule(signed.signer)
    if sender_no is None:
        raise UntrustedSigner("the signer's certificate carries no office number")
    manifest, files = _read_payload(signed.content, use_limits)
    unit = _check_parties(manifest, files, sender_no, identity)
    return OpenedEnvelope(
        files=unit.files,
        manifest=manifest,
        sender_office_no=sender_no,
        signer_certificate=signed.signer,
        signed_at=signed_at,
        payload=signed.content,
        unit=unit,
    )


def _check_signer(
    signed: _cms.Signed,
    signed_at: datetime.datetime,
    at: datetime.datetime | None,
    current: datetime.datetime,
    check_validity_now: bool,
    settings: TrustSettings,
    crls: Sequence[x509.CertificateRevocationList],
) -> None:
    others = [c for c in signed.certificates if c != signed.signer]
    if at is None:
        verify_signer(signed.signer, others, settings.anchors, at=current, crls=crls)
        _check_within_validity(signed.signer, signed_at)
    else:
        verify_signer(signed.signer, others, settings.anchors, at=signed_at, crls=crls)
        if check_validity_now:
            verify_signer(signed.signer, others, settings.anchors, at=current, crls=crls)


def _check_signing_time(
    signed_at: datetime.datetime,
    at: datetime.datetime | None,
    current: datetime.datetime,
    settings: TrustSettings,
) -> None:
    if at is None:
        if signed_at > current + _CLOCK_SKEW:
            raise SigningTimeRefused(
                f"署名時刻 {signed_at.isoformat()} が未来です / the signing time "
                f"{signed_at.isoformat()} lies in the future"
            )
        return
    earliest, latest = at - settings.signing_time_before, at + settings.signing_time_after
    if not earliest <= signed_at <= latest:
        raise SigningTimeRefused(
            f"署名時刻 {signed_at.isoformat()} が基準時刻 {at.isoformat()} の許容範囲外です / "
            f"the signing time {signed_at.isoformat()} lies outside [{earliest.isoformat()}, "
            f"{latest.isoformat()}] around the reference time {at.isoformat()}"
        )


def _check_within_validity(certificate: x509.Certificate, signed_at: datetime.datetime) -> None:
    if not (certificate.not_valid_before_utc <= signed_at <= certificate.not_valid_after_utc):
        raise CertificateExpired(
            f"certificate {certificate.subject.rfc4514_string()} was not valid at the signing "
            f"time {signed_at.isoformat()}"
        )


def _read_payload(payload: bytes, limits: Limits) -> tuple[Manifest, Mapping[str, bytes]]:
    # Decompressing makes many short-lived buffers; none form cycles.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return read_payload(payload, limits)
    finally:
        if was_enabled:
            gc.enable()


def _check_parties(
    manifest: Manifest, files: Mapping[str, bytes], sender_no: str, identity: OfficeIdentity
) -> Bundle:
    """The files as the manifest's one unit, in import order, after the parties are checked."""
    if manifest.sender.number != sender_no:
        raise SenderMismatch(
            f"signed by office {sender_no}, but the manifest names office "
            f"{manifest.sender.number} as the sender"
        )
    for name in files:
        file_name = FileName.parse(name)
        if file_name.sender.number != sender_no:
            raise SenderMismatch(
                f"{name} names office {file_name.sender.number} as its sender, but the envelope "
                f"is signed by office {sender_no}"
            )
        if file_name.receiver.number != manifest.receiver.number:
            raise ManifestError(
                f"{name} is addressed to office {file_name.receiver.number}, the manifest to "
                f"office {manifest.receiver.number}"
            )
        if file_name.serial != manifest.serial:
            raise ManifestError(f"{name} has another ファイル連番 than the manifest")
    if identity.office_no not in (manifest.receiver.number, manifest.sender.number):
        raise Misaddressed(
            f"the envelope is addressed to office {manifest.receiver.number}, not to office "
            f"{identity.office_no} (forwarded or misrouted)"
        )
    try:
        unit = Bundle.from_files(files)
    except (FormatError, ValueError) as error:
        raise ManifestError(f"the files do not form one transmission unit: {error}") from None
    declared = (manifest.sender, manifest.receiver, manifest.serial, manifest.unit_kind)
    if (unit.sender, unit.receiver, unit.serial, unit.kind.value) != declared:
        raise ManifestError(
            "the manifest's sender, receiver, service types, 連番 or unit kind differ from the "
            "files'"
        )
    return unit
