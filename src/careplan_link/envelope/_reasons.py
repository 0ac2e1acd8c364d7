"""The reason codes a receiver puts in the receipt of an envelope it refuses.

Each `EnvelopeError` subclass carries one as its class attribute `reason`; this tuple is the
whole vocabulary, in the order the checks run (docs/envelope.md, docs/hub-protocol.md). The
codes are coarse on purpose: every failure up to and including decryption and the parsing of
what was decrypted gives `ENVELOPE_UNREADABLE`, so that an uploader who reads the receipts learns
nothing about why its altered envelope failed (no padding or format oracle). The detailed
message stays in the receiver's own log.
"""

from __future__ import annotations

from ..errors import (
    EnvelopeError,
    NotForThisRecipient,
    PayloadError,
    SenderMismatch,
    UntrustedSigner,
)

__all__ = ["RECEIPT_REASONS"]

RECEIPT_REASONS: tuple[str, ...] = (
    EnvelopeError.reason,  # ENVELOPE_UNREADABLE: structure, decryption, signature, BER, legacy
    NotForThisRecipient.reason,  # NOT_ADDRESSED_TO_US: no entry for us, or another receiver
    UntrustedSigner.reason,  # SIGNER_NOT_TRUSTED: chain, validity, signing time, revocation
    SenderMismatch.reason,  # SENDER_MISMATCH: signer's office is not the files' sender
    PayloadError.reason,  # PAYLOAD_INVALID: ZIP, manifest, limits, hashes, unit consistency
)
"""Every value `EnvelopeError.reason` takes, each stated once, on its error class."""
