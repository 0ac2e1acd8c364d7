"""The one reason code a receiver sends when it cannot open an envelope.

The vocabulary itself is the protocol's (`careplan_link.protocol.REJECTION_REASONS`); what
this module adds is the rule that maps a failure to open to one code: the code an
`EnvelopeError` carries (`.reason`), and `ENVELOPE_UNREADABLE` for anything else, so that an
uploader reading receipts learns nothing about why its altered envelope failed. The detailed
cause goes to the receiver's own log (`Received.error`, the `careplan_link.office` logger).
"""

from __future__ import annotations

from ..errors import EnvelopeError
from ..protocol import ENVELOPE_REASONS, ENVELOPE_UNREADABLE

__all__ = ["reason_for_open_failure"]


def reason_for_open_failure(error: BaseException) -> str:
    """The one code a failure to open an envelope is reported with. An `EnvelopeError` says
    its own (`.reason`); anything else that came out of opening (a foreign exception from a
    parser) is `ENVELOPE_UNREADABLE`, like every structural or cryptographic failure."""
    if isinstance(error, EnvelopeError):
        reason = type(error).reason
        if reason in ENVELOPE_REASONS:
            return reason
    return ENVELOPE_UNREADABLE
