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

from ..errors import ManifestError, SenderMismatch, SignatureError, UntrustedSigner
from ..format import Bundle, FileName
from . import _cms
from ._identity import OfficeIdentity, OfficeNumberRule, TrustStore, office_number_of
from ._payload import Limits, Manifest, build_payload, read_payload
from ._profile import verify_signer

__all__ = ["OpenedEnvelope", "open_envelope", "seal"]

# A signing time further ahead than this is refused: clocks drift, but not by hours.
_CLOCK_SKEW = datetime.timedelta(minutes=10)


@attrs.frozen
class OpenedEnvelope:
    """A verified envelope: the files in import order and what the signature proves."""

    files: Mapping[str, bytes] = attrs.field(repr=lambda f: f"<{len(f)} files: {', '.join(f)}>")
    manifest: Manifest
    sender_office_no: str
    signer_certificate: x509.Certificate
    signed_at: datetime.datetime
    payload: bytes = attrs.field(repr=False)
    """The ZIP exactly as signed."""

    @property
    def bundle(self) -> Bundle:
        return Bundle.from_files(self.files)


def seal(
    files_or_bundle: Bundle | Mapping[str, bytes],
    *,
    sender: OfficeIdentity,
    recipients: Sequence[x509.Certificate],
    cbc: bool = False,
    rule: OfficeNumberRule = office_number_of,
    now: datetime.datetime | None = None,
) -> bytes:
    """Sign `files_or_bundle` (one transmission unit) as `sender` and encrypt it to each
    recipient certificate and to the sender's own (so it can reread its outbox).

    The result is DER: AuthEnvelopedData (AES-256-GCM, RSA-OAEP-SHA256), or with `cbc=True`
    EnvelopedData (AES-256-CBC, RSA PKCS#1 v1.5) for receivers whose tools need it. Raises
    `SenderMismatch` when the sender is not the unit's sender, and ValueError when a recipient
    certificate belongs to another office than the unit's receiver.
    """
    bundle = (
        files_or_bundle
        if isinstance(files_or_bundle, Bundle)
        else Bundle.from_files(files_or_bundle)
    )
    if bundle.sender.number != sender.office_no:
        raise SenderMismatch(
            f"the files are sent by office {bundle.sender.number}, but the sealing identity is "
            f"office {sender.office_no}"
        )
    if not recipients:
        raise ValueError("seal needs at least one recipient certificate")
    for recipient in recipients:
        office_no = rule(recipient)
        if office_no != bundle.receiver.number:
            raise ValueError(
                f"a recipient certificate belongs to office {office_no}, but the files are "
                f"addressed to office {bundle.receiver.number}"
            )
    signed_at = (now or datetime.datetime.now(datetime.UTC)).replace(microsecond=0)
    manifest = Manifest.for_bundle(bundle, created_at=signed_at)
    payload = build_payload(bundle, manifest)
    key = os.urandom(32)
    everyone = [*recipients]
    if all(r != sender.certificate for r in everyone):
        everyone.append(sender.certificate)
    infos = _cms.recipient_infos(key, everyone, oaep=not cbc)
    digest = hashlib.sha256(infos.dump()).digest()
    pieces = _cms.sign(payload, sender, signed_at=signed_at, recipients_digest=digest)
    del payload  # encrypt() frees each piece once encrypted: the payload is not kept twice
    return _cms.encrypt(pieces, key, infos, gcm=not cbc)


def open_envelope(
    data: bytes,
    *,
    identity: OfficeIdentity,
    trust: TrustStore,
    crls: Sequence[x509.CertificateRevocationList] = (),
    check_validity_now: bool = False,
    limits: Limits = Limits(),  # noqa: B008  (frozen value)
    rule: OfficeNumberRule = office_number_of,
    now: datetime.datetime | None = None,
) -> OpenedEnvelope:
    """Decrypt and verify an envelope; return its files only when every check passes.

    Checks, in order: decryption with `identity`; the signature; that the recipient list is the
    one the sender signed (for envelopes made by `seal`); the signer's certificate against the
    office profile and its chain to `trust` at the signing time (and now, with
    `check_validity_now`), revocation in `crls`; that the signer's office is the manifest's
    sender and every file name's sender; that `identity` is the manifest's receiver (or its
    sender, rereading its outbox); every file's size and SHA-256. Raises an `EnvelopeError`.
    """
    current = now or datetime.datetime.now(datetime.UTC)
    opened = _cms.open_signed(bytes(data), identity)
    signed = opened.signed
    if signed.recipients_digest is not None:
        actual = hashlib.sha256(opened.recipients_der).digest()
        if not hmac.compare_digest(actual, signed.recipients_digest):
            raise SignatureError(
                "the envelope's recipient list differs from the one its sender signed "
                "(recipients added, removed or altered)"
            )
    signed_at = signed.signed_at or current
    if signed_at > current + _CLOCK_SKEW:
        raise SignatureError(f"the signing time {signed_at.isoformat()} lies in the future")
    others = [c for c in signed.certificates if c != signed.signer]
    verify_signer(signed.signer, others, trust, at=signed_at, crls=crls)
    if check_validity_now:
        verify_signer(signed.signer, others, trust, at=current, crls=crls)
    sender_no = rule(signed.signer)
    if sender_no is None:
        raise UntrustedSigner("the signer's certificate carries no office number")
    manifest, files = _read_payload(signed.content, limits)
    _check_parties(manifest, files, sender_no, identity)
    return OpenedEnvelope(
        files=files,
        manifest=manifest,
        sender_office_no=sender_no,
        signer_certificate=signed.signer,
        signed_at=signed_at,
        payload=signed.content,
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
) -> None:
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
        raise ManifestError(
            f"the envelope is addressed to office {manifest.receiver.number}, not to office "
            f"{identity.office_no} (forwarded or misrouted)"
        )
