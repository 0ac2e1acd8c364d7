"""The reasons a receiver gives the hub when it rejects a message: codes only, one published
list (docs/hub-protocol.md), each with its Japanese and English text.

The sender reads these receipts; a receipt must tell it what to fix, and nothing an attacker
could use. So a receipt carries one code and never the text of an exception: every failure to
decrypt, parse or verify the envelope gives the same `ENVELOPE_UNREADABLE` (no padding or
format oracle), and the detailed cause goes to the receiver's own log (`Received.error`, the
`careplan_link.client` logger).

The envelope's codes are the `reason` class attributes of its errors
(`careplan_link.envelope.RECEIPT_REASONS`); the receiver's own checks add theirs here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from ..envelope import RECEIPT_REASONS as ENVELOPE_REASONS
from ..errors import (
    EnvelopeError,
    NotForThisRecipient,
    PayloadError,
    SenderMismatch,
    UntrustedSigner,
)

__all__ = [
    "ALREADY_IMPORTED",
    "ENVELOPE_UNREADABLE",
    "OLDER_THAN_IMPORTED",
    "REJECTION_REASONS",
    "SENDER_NOT_SIGNER",
    "VALIDATION_FAILED",
    "ReasonText",
    "reason_for_open_failure",
]


@attrs.frozen
class ReasonText:
    """What a reason code means, for people: Japanese and English."""

    ja: str
    en: str


ENVELOPE_UNREADABLE = EnvelopeError.reason
SENDER_NOT_SIGNER = "SENDER_NOT_SIGNER"
VALIDATION_FAILED = "VALIDATION_FAILED"
ALREADY_IMPORTED = "ALREADY_IMPORTED"
OLDER_THAN_IMPORTED = "OLDER_THAN_IMPORTED"

REJECTION_REASONS: Mapping[str, ReasonText] = MappingProxyType(
    {
        # The envelope's checks, in the order open_envelope runs them.
        EnvelopeError.reason: ReasonText(
            "暗号化データを復号・解析・署名検証できません。",
            "The envelope cannot be decrypted, parsed or its signature verified.",
        ),
        NotForThisRecipient.reason: ReasonText(
            "この事業所宛てではありません（宛先の事業所番号が違います）。",
            "The envelope is not addressed to this office.",
        ),
        UntrustedSigner.reason: ReasonText(
            "署名者の証明書を信頼できません（認証局・有効期間・失効・署名日時）。",
            "The signer's certificate is not trusted (CA, validity, revocation or signing time).",
        ),
        SenderMismatch.reason: ReasonText(
            "署名した事業所とファイルの送信元事業所が一致しません。",
            "The signing office is not the sender named in the files.",
        ),
        PayloadError.reason: ReasonText(
            "同封のファイルが壊れているか、マニフェストと一致しません。",
            "The files inside are damaged or differ from the manifest.",
        ),
        # The receiver's own checks, in the order receive runs them.
        SENDER_NOT_SIGNER: ReasonText(
            "連携基盤上の送信元と署名した事業所が一致しません。",
            "The sender the hub names is not the office that signed the envelope.",
        ),
        ALREADY_IMPORTED: ReasonText(
            "同じ送信単位（送信元・送信先・ファイル連番）を取込済みです。",
            "This transmission unit (sender, receiver, file serial) was already imported.",
        ),
        OLDER_THAN_IMPORTED: ReasonText(
            "同じ送信元から、より新しいファイル連番の送信単位を取込済みです。",
            "A unit with a later file serial from the same sender was already imported.",
        ),
        VALIDATION_FAILED: ReasonText(
            "ファイルが標準仕様の検証に合格しません。",
            "The files do not pass validation against the standard.",
        ),
    }
)
"""Every code a receipt may carry, in the order the checks run (a test checks that every
envelope reason is here)."""


def reason_for_open_failure(error: BaseException) -> str:
    """The one code a failure to open an envelope is reported with. An `EnvelopeError` says
    its own (`.reason`); anything else that came out of opening (a foreign exception from a
    parser) is `ENVELOPE_UNREADABLE`, like every structural or cryptographic failure."""
    if isinstance(error, EnvelopeError):
        reason = type(error).reason
        if reason in ENVELOPE_REASONS:
            return reason
    return ENVELOPE_UNREADABLE
