"""careplan_link.envelope: seal a bundle so only its recipient can read it and anyone can prove
who sent it, in CMS that `openssl cms` opens (docs/envelope.md)."""

from __future__ import annotations

from ..errors import (
    CertificateExpired,
    DecryptionError,
    EnvelopeError,
    LegacyEncryptionRefused,
    MalformedEnvelope,
    ManifestError,
    Misaddressed,
    NotForThisRecipient,
    PayloadError,
    SenderMismatch,
    SignatureError,
    SigningTimeRefused,
    StaleRevocationList,
    UntrustedRecipient,
    UntrustedSigner,
)
from ._identity import OfficeIdentity, OfficeNumberRule, TrustStore, office_number_of
from ._payload import Limits, Manifest, ManifestFile
from ._profile import check_profile
from ._reasons import RECEIPT_REASONS
from ._seal import OpenedEnvelope, open_envelope, seal
from ._trust import TrustSettings, verify_recipient

__all__ = [
    "RECEIPT_REASONS",
    "CertificateExpired",
    "DecryptionError",
    "EnvelopeError",
    "LegacyEncryptionRefused",
    "Limits",
    "MalformedEnvelope",
    "Manifest",
    "ManifestError",
    "ManifestFile",
    "Misaddressed",
    "NotForThisRecipient",
    "OfficeIdentity",
    "OfficeNumberRule",
    "OpenedEnvelope",
    "PayloadError",
    "SenderMismatch",
    "SignatureError",
    "SigningTimeRefused",
    "StaleRevocationList",
    "TrustSettings",
    "TrustStore",
    "UntrustedRecipient",
    "UntrustedSigner",
    "check_profile",
    "office_number_of",
    "open_envelope",
    "seal",
    "verify_recipient",
]
