"""Message status: every state and every transition of a message on the hub, in one table.

Everything that changes a message's status goes through `next_status`; the client and the hub
both read this module, so they cannot disagree.

    accepted ──deliver──▶ delivered ──downloaded──▶ downloaded ──imported──▶ imported
        │                    │                          └──────rejected──▶ rejected
        └─────withdraw───────┴──▶ withdraw_requested ──complete_withdrawal──▶ withdrawn
    any state but imported, rejected, withdrawn ──expire──▶ expired   (retention ran out)

Downloading the content changes nothing; the `downloaded` receipt does. A receipt the message
already has is accepted again without a change (receipts are idempotent).
"""

from __future__ import annotations

import enum

__all__ = [
    "NEVER_IMPORTED",
    "RECEIPTS",
    "TRANSITIONS",
    "InvalidTransition",
    "MessageStatus",
    "next_status",
]


class MessageStatus(enum.StrEnum):
    """Where a message stands on the hub."""

    ACCEPTED = "accepted"
    """The hub stored the envelope."""
    DELIVERED = "delivered"
    """It is in the recipient's inbox."""
    DOWNLOADED = "downloaded"
    """The recipient confirmed it downloaded the envelope."""
    IMPORTED = "imported"
    """The recipient imported the files."""
    REJECTED = "rejected"
    """The recipient refused the files (with reasons)."""
    WITHDRAW_REQUESTED = "withdraw_requested"
    """The sender asked to withdraw it before download."""
    WITHDRAWN = "withdrawn"
    """Withdrawn: the recipient can no longer download it."""
    EXPIRED = "expired"
    """The retention period ran out; the content is gone."""


S = MessageStatus
_FINAL = frozenset({S.IMPORTED, S.REJECTED, S.WITHDRAWN, S.EXPIRED})

# (status, event) → new status. The only place transitions are written down.
TRANSITIONS: dict[tuple[MessageStatus, str], MessageStatus] = {
    (S.ACCEPTED, "deliver"): S.DELIVERED,
    (S.DELIVERED, "downloaded"): S.DOWNLOADED,
    (S.DOWNLOADED, "imported"): S.IMPORTED,
    (S.DOWNLOADED, "rejected"): S.REJECTED,
    (S.ACCEPTED, "withdraw"): S.WITHDRAW_REQUESTED,
    (S.DELIVERED, "withdraw"): S.WITHDRAW_REQUESTED,
    (S.WITHDRAW_REQUESTED, "complete_withdrawal"): S.WITHDRAWN,
    **{(status, "expire"): S.EXPIRED for status in MessageStatus if status not in _FINAL},
}

NEVER_IMPORTED = frozenset({S.REJECTED, S.WITHDRAW_REQUESTED, S.WITHDRAWN, S.EXPIRED})
"""Statuses from which a message can no longer be imported: a unit whose message ended so is
sent again only under a new ファイル連番 (docs/hub-protocol.md, "safe to send again")."""

RECEIPTS: tuple[str, ...] = ("downloaded", "imported", "rejected")
"""The receipts a recipient sends; each is also the status it leads to."""


class InvalidTransition(ValueError):
    """`event` is not allowed for a message in `status`."""

    def __init__(self, status: MessageStatus, event: str) -> None:
        self.status = status
        self.event = event
        super().__init__(f"a message that is {status.value} cannot take '{event}'")


def next_status(status: MessageStatus, event: str) -> MessageStatus:
    """The status after `event`; raises InvalidTransition when the table has no such step."""
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise InvalidTransition(status, event) from None
