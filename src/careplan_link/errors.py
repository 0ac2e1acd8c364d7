"""The one exception tree of careplan_link.

    CareplanLinkError
     ├── FormatError              a file's content or name cannot be read or written (.issues)
     └── EnvelopeError            a sealed envelope cannot be made or opened
          ├── MalformedEnvelope   not a CMS envelope this library reads (garbage, BER, truncated)
          ├── DecryptionError     the content cannot be decrypted (wrong key, tampered)
          │    └── NotForThisRecipient   no recipient entry for the opening identity
          ├── SignatureError      the signature does not verify, or the envelope was altered
          ├── UntrustedSigner     the signer's certificate does not chain to the trust store,
          │    │                  breaks the office certificate profile, or is revoked
          │    └── CertificateExpired    outside its validity period at the time checked
          ├── SenderMismatch      signer, manifest and file names disagree about the sender
          ├── ManifestError       the manifest is missing, unreadable, or names another receiver
          └── PayloadError        the ZIP is unreadable, too large, or its files do not match

A vendor can catch everything the library raises with one `except CareplanLinkError`. Bad content
in a file never raises anything but `FormatError`; programming errors (a wrong argument type)
raise the usual `TypeError` / `ValueError`.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._issue import Issue

__all__ = [
    "CareplanLinkError",
    "CertificateExpired",
    "DecryptionError",
    "EnvelopeError",
    "FormatError",
    "MalformedEnvelope",
    "ManifestError",
    "NotForThisRecipient",
    "PayloadError",
    "SenderMismatch",
    "SignatureError",
    "UntrustedSigner",
]


class CareplanLinkError(Exception):
    """Base class of every error careplan_link raises on purpose."""


class FormatError(CareplanLinkError, ValueError):
    """A file (or file name) that cannot be read, or records that cannot be written.

    `.issues` holds every problem found, each with file, record, line, column and 項目名 where
    they apply, and a message in Japanese and English.
    """

    issues: tuple[Issue, ...]

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = tuple(issues)
        if not self.issues:
            raise ValueError("FormatError needs at least one issue")
        first = self.issues[0]
        more = len(self.issues) - 1
        suffix = f" (and {more} more issue{'s' if more > 1 else ''})" if more else ""
        super().__init__(f"{first}{suffix}")


class EnvelopeError(CareplanLinkError):
    """A sealed envelope that cannot be made or opened. Nothing of its content is returned."""


class MalformedEnvelope(EnvelopeError):
    """The bytes are not a CMS envelope this library reads (or are cut short)."""


class DecryptionError(EnvelopeError):
    """The content could not be decrypted: a wrong key, or an envelope altered in transit."""


class NotForThisRecipient(DecryptionError):
    """The envelope holds no recipient entry for the opening office's certificate."""


class SignatureError(EnvelopeError):
    """The signature does not verify, or signed content or the recipient list was altered."""


class UntrustedSigner(EnvelopeError):
    """The signer's certificate does not chain to the trust store, breaks the office
    certificate profile, or is revoked."""


class CertificateExpired(UntrustedSigner):
    """The signer's certificate was not valid at the time it was checked (expired or not yet
    valid)."""


class SenderMismatch(EnvelopeError):
    """The signer's office, the manifest's sender and the file names' sender disagree."""


class ManifestError(EnvelopeError):
    """The manifest is missing or unreadable, or the envelope is not addressed to the opener."""


class PayloadError(EnvelopeError):
    """The ZIP cannot be read safely, or its files differ from what the manifest lists."""
