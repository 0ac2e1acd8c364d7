"""The one exception tree of careplan_link.

    CareplanLinkError
     ├── FormatError              a file's content or name cannot be read or written (.issues)
     │    └── InvalidIdentifier   an identifier (事業所番号, 被保険者番号, …) is not of its form
     │         ├── InvalidFormat      a character the identifier cannot hold (full-width, letter)
     │         ├── InvalidLength      too short or too long
     │         └── InvalidComponent   a part that cannot be (a 都道府県番号 outside 01-47)
     └── EnvelopeError            a sealed envelope cannot be made or opened (.reason)
          ├── MalformedEnvelope   not a CMS envelope this library reads (garbage, BER, truncated)
          │    └── LegacyEncryptionRefused   CBC / PKCS#1 v1.5 without allow_legacy_cbc
          ├── DecryptionError     the content cannot be decrypted (wrong key, tampered)
          │    └── NotForThisRecipient   no recipient entry for the opening identity
          ├── SignatureError      the signature does not verify, or the envelope was altered
          ├── UntrustedSigner     the signer's certificate does not chain to the trust store,
          │    │                  breaks the office certificate profile, or is revoked
          │    ├── CertificateExpired    outside its validity period at the time checked
          │    ├── SigningTimeRefused    signing time outside the window around `at`
          │    └── StaleRevocationList   a CRL past its nextUpdate (the caller's configuration)
          ├── UntrustedRecipient  seal refused a recipient certificate
          ├── SenderMismatch      signer, manifest and file names disagree about the sender
          ├── ManifestError       the manifest is missing, unreadable, or names another receiver
          │    └── Misaddressed   the signed manifest names another receiver
          └── PayloadError        the ZIP is unreadable, too large, or its files do not match
     ├── InvalidBundle            send_bundle refused a unit that does not validate (.report)
     └── HubError                 talking to the hub failed
          ├── HubTransportError   no answer: connection refused or dropped, timeout
          │    └── OutcomeUnknown the request may have been carried out (answer lost)
          ├── HubHTTPError        an HTTP error status (.status, .code, .hub_message)
          │    ├── BadRequest             400 the request was wrong (a bug on our side)
          │    ├── AuthenticationError    401 login, password or token refused
          │    ├── Forbidden              403 not this office's message or operation
          │    ├── NotFound               404 no such message or office
          │    ├── RequestTimeout         408
          │    ├── Conflict               409 idempotency key reused with another envelope
          │    ├── TooManyRequests        429 (.retry_after)
          │    └── HubServerError         5xx
          │         └── ServiceUnavailable    503 (.retry_after)
          ├── HubBusinessError    HTTP 200 whose body carries an error (.code, .hub_message)
          ├── HubProtocolError    the hub's answer does not follow the protocol
          ├── SerialAlreadyUsed   send_bundle: the unit's message was withdrawn, expired or
          │                       rejected; send it again under a new ファイル連番
          └── HubAdminError       the hub's operator asked for what the store cannot do
                                  (unknown office, number taken, last certificate, newer schema)

A vendor can catch everything the library raises with one `except CareplanLinkError`. Bad content
in a file never raises anything but `FormatError`; programming errors (a wrong argument type)
raise the usual `TypeError` / `ValueError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from ._issue import Issue

if TYPE_CHECKING:
    from .format import ValidationReport

__all__ = [
    "AuthenticationError",
    "BadRequest",
    "CareplanLinkError",
    "CertificateExpired",
    "Conflict",
    "DecryptionError",
    "EnvelopeError",
    "Forbidden",
    "FormatError",
    "HubAdminError",
    "HubBusinessError",
    "HubError",
    "HubHTTPError",
    "HubProtocolError",
    "HubServerError",
    "HubTransportError",
    "InvalidBundle",
    "InvalidComponent",
    "InvalidFormat",
    "InvalidIdentifier",
    "InvalidLength",
    "LegacyEncryptionRefused",
    "MalformedEnvelope",
    "ManifestError",
    "Misaddressed",
    "NotForThisRecipient",
    "NotFound",
    "OutcomeUnknown",
    "PayloadError",
    "RequestTimeout",
    "SenderMismatch",
    "SerialAlreadyUsed",
    "ServiceUnavailable",
    "SignatureError",
    "SigningTimeRefused",
    "StaleRevocationList",
    "TooManyRequests",
    "UntrustedRecipient",
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


class InvalidIdentifier(FormatError):
    """An identifier of the standard that is not of its form (`careplan_link.identifiers`).

    Raised by the `validate` functions of `careplan_link.identifiers`: `.item` is the
    identifier's 項目名 (事業所番号, 被保険者番号, 保険者番号, サービス種類コード,
    サービスコード), `.value` the value as given, and `.issues` one `Issue` whose code
    (`identifier.format`, `identifier.length`, `identifier.component`; docs/error-codes.md)
    says which check failed.
    """

    code: ClassVar[str] = "identifier.invalid"
    item: str
    value: str

    def __init__(self, item: str, value: str, message_ja: str, message_en: str) -> None:
        self.item = item
        self.value = value
        super().__init__(
            [Issue(self.code, "error", message_ja, message_en, item=item, value=value)]
        )


class InvalidFormat(InvalidIdentifier):
    """The identifier holds a character it cannot hold (full-width, a letter, a symbol)."""

    code: ClassVar[str] = "identifier.format"


class InvalidLength(InvalidIdentifier):
    """The identifier is too short or too long."""

    code: ClassVar[str] = "identifier.length"


class InvalidComponent(InvalidIdentifier):
    """A part of the identifier cannot be (a 都道府県番号 outside 01-47)."""

    code: ClassVar[str] = "identifier.component"


class EnvelopeError(CareplanLinkError):
    """A sealed envelope that cannot be made or opened. Nothing of its content is returned.

    `reason` classifies the failure for the receipt a receiver sends to the hub, one of
    `careplan_link.envelope.RECEIPT_REASONS` (docs/envelope.md): every cryptographic and
    structural failure gives the same one, so the receipt is no decryption oracle. The message
    (the detailed cause) is for the receiver's own log only.
    """

    reason: ClassVar[str] = "ENVELOPE_UNREADABLE"


class MalformedEnvelope(EnvelopeError):
    """The bytes are not a CMS envelope this library reads (or are cut short)."""


class LegacyEncryptionRefused(MalformedEnvelope):
    """A legacy envelope (EnvelopedData with AES-CBC, or RSA PKCS#1 v1.5 key transport) that
    the caller did not allow (`allow_legacy_cbc`): its decryption errors can be an oracle."""


class DecryptionError(EnvelopeError):
    """The content could not be decrypted: a wrong key, or an envelope altered in transit."""


class NotForThisRecipient(DecryptionError):
    """The envelope holds no recipient entry for the opening office's certificate."""

    reason: ClassVar[str] = "NOT_ADDRESSED_TO_US"


class SignatureError(EnvelopeError):
    """The signature does not verify, or signed content or the recipient list was altered."""


class UntrustedSigner(EnvelopeError):
    """The signer's certificate does not chain to the trust store, breaks the office
    certificate profile, or is revoked."""

    reason: ClassVar[str] = "SIGNER_NOT_TRUSTED"


class CertificateExpired(UntrustedSigner):
    """The signer's certificate was not valid at the time it was checked (expired or not yet
    valid)."""


class SigningTimeRefused(UntrustedSigner):
    """The signing time lies outside the accepted window around the reference time (the hub's
    acceptance time, `at=`), or in the future."""


class StaleRevocationList(UntrustedSigner):
    """A CRL the caller passed is past its nextUpdate: a fault of the caller's configuration,
    raised before the envelope is read."""


class UntrustedRecipient(EnvelopeError):
    """`seal` refused a recipient certificate: not chained to the trust anchors, not valid now,
    no keyEncipherment, or of another office than the unit's receiver."""


class SenderMismatch(EnvelopeError):
    """The signer's office, the manifest's sender and the file names' sender disagree."""

    reason: ClassVar[str] = "SENDER_MISMATCH"


class ManifestError(EnvelopeError):
    """The manifest is missing or unreadable, or the envelope is not addressed to the opener."""

    reason: ClassVar[str] = "PAYLOAD_INVALID"


class Misaddressed(ManifestError):
    """The signed manifest names another receiver than the opener (forwarded or misrouted)."""

    reason: ClassVar[str] = "NOT_ADDRESSED_TO_US"


class PayloadError(EnvelopeError):
    """The ZIP cannot be read safely, or its files differ from what the manifest lists."""

    reason: ClassVar[str] = "PAYLOAD_INVALID"


class InvalidBundle(CareplanLinkError, ValueError):
    """`send_bundle` refused a transmission unit whose files do not validate; `.report` says
    why (every issue with file, record, column and 項目名)."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        errors = report.errors
        first = errors[0] if errors else "no error"
        super().__init__(f"the bundle does not validate ({len(errors)} errors); first: {first}")


class HubError(CareplanLinkError):
    """Talking to the hub failed. `.operation` names what was being done (e.g. `send`)."""

    operation: str | None = None


class HubTransportError(HubError):
    """No answer from the hub: the connection failed, was dropped, or timed out (after the
    retries the policy allows)."""


class OutcomeUnknown(HubTransportError):
    """A request that changes the hub's state may or may not have been carried out: its answer
    was lost. For a send, sending the same envelope to the same office again is safe (the
    idempotency key, `.idempotency_key`, makes the hub return the first result)."""

    idempotency_key: str | None = None


class HubHTTPError(HubError):
    """The hub answered with an HTTP error status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.hub_message = message
        super().__init__(f"HTTP {status} {code}: {message}")


class BadRequest(HubHTTPError):
    """400: the hub could not understand the request."""


class AuthenticationError(HubHTTPError):
    """401: the login, password, access token or refresh token was refused."""


class Forbidden(HubHTTPError):
    """403: the message or operation belongs to another office."""


class NotFound(HubHTTPError):
    """404: no such message, or no such office."""


class RequestTimeout(HubHTTPError):
    """408: the hub gave up waiting for the request."""


class Conflict(HubHTTPError):
    """409: the idempotency key was already used for another envelope or recipient."""


class TooManyRequests(HubHTTPError):
    """429: too many requests; `.retry_after` is the wait the hub asked for, in seconds."""

    retry_after: float | None = None


class HubServerError(HubHTTPError):
    """5xx: the hub failed."""


class ServiceUnavailable(HubServerError):
    """503: the hub is down or overloaded; `.retry_after` in seconds when it said."""

    retry_after: float | None = None


class HubBusinessError(HubError):
    """The hub answered 200 but its body carries an error (`.code`, `.hub_message`): the
    operation was refused for a business reason, e.g. the recipient is not registered."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.hub_message = message
        super().__init__(f"{code}: {message}")


class HubProtocolError(HubError):
    """The hub's answer does not follow the protocol (not JSON, fields missing)."""


class SerialAlreadyUsed(HubError):
    """`send_bundle` did not send a unit again: the hub holds it already, in a message that was
    withdrawn, expired or rejected (`.message_id`, `.status`), and a receiver will never import
    that message. To send these files again, give them a new ファイル連番."""

    def __init__(self, message: str, *, message_id: str, status: str) -> None:
        self.message_id = message_id
        self.status = status
        super().__init__(message)


class HubAdminError(HubError, ValueError):
    """A hub operator's request cannot be carried out: the office is unknown or its number is
    taken, the last certificate of an office cannot be removed, the store URL is not one the
    hub opens, or the store was written by a newer hub."""
