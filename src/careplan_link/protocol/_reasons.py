"""The reasons a receiver gives the hub when it rejects a message: codes only, one published
list (docs/hub-protocol.md), each with its Japanese and English text.

The sender reads these receipts; a receipt must tell it what to fix, and nothing an attacker
could use. So a receipt carries one code and never the text of an exception: every failure to
decrypt, parse or verify the envelope gives the same `ENVELOPE_UNREADABLE` (no padding or
format oracle), and the detailed cause stays in the receiver's own log.

The first five codes are the envelope's: each `EnvelopeError` subclass carries one as its
`reason` class attribute (`careplan_link.envelope.RECEIPT_REASONS`); a test checks that the
two agree. The protocol states the strings here, without importing the envelope package, so
that the hub needs no cryptography to know the vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

__all__ = [
    "ALREADY_IMPORTED",
    "ENVELOPE_REASONS",
    "ENVELOPE_UNREADABLE",
    "NOT_ADDRESSED_TO_US",
    "OLDER_THAN_IMPORTED",
    "PAYLOAD_INVALID",
    "REJECTION_REASONS",
    "SENDER_MISMATCH",
    "SENDER_NOT_SIGNER",
    "SIGNER_NOT_TRUSTED",
    "VALIDATION_FAILED",
    "ReasonText",
]


@attrs.frozen
class ReasonText:
    """What a reason code means, for people: Japanese and English."""

    ja: str
    en: str


# The envelope's checks, in the order open_envelope runs them.
ENVELOPE_UNREADABLE = "ENVELOPE_UNREADABLE"
NOT_ADDRESSED_TO_US = "NOT_ADDRESSED_TO_US"
SIGNER_NOT_TRUSTED = "SIGNER_NOT_TRUSTED"
SENDER_MISMATCH = "SENDER_MISMATCH"
PAYLOAD_INVALID = "PAYLOAD_INVALID"
# The receiver's own checks, in the order receive runs them.
SENDER_NOT_SIGNER = "SENDER_NOT_SIGNER"
ALREADY_IMPORTED = "ALREADY_IMPORTED"
OLDER_THAN_IMPORTED = "OLDER_THAN_IMPORTED"
VALIDATION_FAILED = "VALIDATION_FAILED"

ENVELOPE_REASONS: tuple[str, ...] = (
    ENVELOPE_UNREADABLE,
    NOT_ADDRESSED_TO_US,
    SIGNER_NOT_TRUSTED,
    SENDER_MISMATCH,
    PAYLOAD_INVALID,
)
"""The codes of a failure to open an envelope: equal, in order, to
`careplan_link.envelope.RECEIPT_REASONS` (the `reason` of each `EnvelopeError` class)."""

REJECTION_REASONS: Mapping[str, ReasonText] = MappingProxyType(
    {
        ENVELOPE_UNREADABLE: ReasonText(
            "暗号化データを復号・解析・署名検証できません。",
            "The envelope cannot be decrypted, parsed or its signature verified.",
        ),
        NOT_ADDRESSED_TO_US: ReasonText(
            "この事業所宛てではありません（宛先の事業所番号が違います）。",
            "The envelope is not addressed to this office.",
        ),
        SIGNER_NOT_TRUSTED: ReasonText(
            "署名者の証明書を信頼できません（認証局・有効期間・失効・署名日時）。",
            "The signer's certificate is not trusted (CA, validity, revocation or signing time).",
        ),
        SENDER_MISMATCH: ReasonText(
            "署名した事業所とファイルの送信元事業所が一致しません。",
            "The signing office is not the sender named in the files.",
        ),
        PAYLOAD_INVALID: ReasonText(
            "同封のファイルが壊れているか、マニフェストと一致しません。",
            "The files inside are damaged or differ from the manifest.",
        ),
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
"""Every code a receipt may carry, in the order the checks run."""
