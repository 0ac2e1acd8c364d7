"""careplan_link.envelope: seal a bundle so only its recipient can read it and anyone can prove
who sent it, in CMS that `openssl cms` opens (docs/envelope.md)."""

from __future__ import annotations

from ..errors import (
    CertificateExpired,
    DecryptionError,
    EnvelopeError,
    MalformedEnvelope,
    ManifestError,
    NotForThisRecipient,
    PayloadError,
    SenderMismatch,
    SignatureError,
    UntrustedSigner,
)
from ._identity import OfficeIdentity, OfficeNumberRule, TrustStore, office_number_of
from ._payload import Limits, Manifest, ManifestFile
from ._profile import check_profile
from ._seal import OpenedEnvelope, open_envelope, seal

__all__ = [
    "CertificateExpired",
    "DecryptionError",
    "EnvelopeError",
    "Limits",
    "MalformedEnvelope",
    "Manifest",
    "ManifestError",
    "ManifestFile",
    "NotForThisRecipient",
    "OfficeIdentity",
    "OfficeNumberRule",
    "OpenedEnvelope",
    "PayloadError",
    "SenderMismatch",
    "SignatureError",
    "TrustStore",
    "UntrustedSigner",
    "check_profile",
    "office_number_of",
    "open_envelope",
    "seal",
]
