"""The hub's store interface: every state change one atomic call.

The rules (`_rules`) speak only to `HubStore`. Each method that changes state is one statement
or one transaction, so that several threads (and, with PostgreSQL, several processes) can call
a store at once with no lock held by the hub:

* `add_office` relies on the office number being unique; `add_message` on the pair (sender,
  idempotency key) being unique: a second send with the same key inserts nothing and returns
  None, and the caller reads the first.
* `change_message` is a conditional update: it applies only while the message still has the
  status the caller read (`expected`); False means another request changed it first.
* `take_token` deletes and returns in one step (a refresh token is used once).
* `append_audit` is serialised by the store (one transaction that reads the chain's head and
  writes the entry and the new head), and the state changes that are audited take their entry
  with them in the same transaction (`audit=` arguments).

Messages are listed in the order (accepted_at, id); ids are `msg-` and a 12-digit number the
store assigns in arrival order.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Protocol

import attrs

from ..protocol import AuditEntry, Message, MessageStatus

__all__ = [
    "AuditDraft",
    "HubStore",
    "Listing",
    "OfficeRecord",
    "TokenRecord",
    "message_id",
]


def message_id(number: int) -> str:
    """The id of the `number`-th message a store accepted."""
    return f"msg-{number:012d}"


@attrs.frozen
class OfficeRecord:
    """A registered office: its login, what it offers, its certificates."""

    office_no: str
    user_id: str
    password_hash: str = attrs.field(repr=False)
    """scrypt (`careplan_link.hub._passwords`); never the password."""
    service_types: tuple[str, ...]
    """Empty: any service type is accepted."""
    certificates: tuple[str, ...]
    """PEM, newest first (several while a certificate is renewed)."""
    disabled: bool = False


@attrs.frozen
class TokenRecord:
    """An issued token, kept by its SHA-256 (the token itself is only in the office's hands)."""

    token_hash: str
    kind: str
    """`access` or `refresh`."""
    office_no: str
    expires_at: datetime.datetime


@attrs.frozen
class Listing:
    """What to list: one office's inbox (receiver) or outbox (sender), after a position."""

    receiver: str | None = None
    sender: str | None = None
    after: tuple[datetime.datetime, str] | None = None
    limit: int = 100
    statuses: frozenset[str] | None = None
    since: datetime.datetime | None = None
    idempotency_key: str | None = None


@attrs.frozen
class AuditDraft:
    """An audit entry before the store numbers and chains it."""

    at: datetime.datetime
    office_no: str
    action: str
    message_id: str | None = None
    counterpart: str | None = None
    envelope_sha256: str | None = None
    detail: str = ""


class HubStore(Protocol):
    """The state of a hub (see the module docstring for what each call guarantees)."""

    # -- offices --------------------------------------------------------------------------------
    def add_office(self, office: OfficeRecord, audit: AuditDraft) -> bool:
        """Register a new office; False when the number is taken (nothing changed)."""
        ...

    def save_office(self, office: OfficeRecord, audit: AuditDraft | None = None) -> None:
        """Replace an office's record (password, certificates, disabled)."""
        ...

    def office(self, office_no: str) -> OfficeRecord | None: ...
    def offices(self) -> list[OfficeRecord]:
        """Every office, by number."""
        ...

    # -- tokens ---------------------------------------------------------------------------------
    def add_tokens(self, tokens: Sequence[TokenRecord]) -> None: ...
    def token(self, token_hash: str) -> TokenRecord | None: ...
    def take_token(self, token_hash: str) -> TokenRecord | None:
        """Delete and return a token in one step (a refresh token is used once)."""
        ...

    def revoke_tokens(self, office_no: str) -> int:
        """Delete every token of an office; how many there were."""
        ...

    def drop_expired_tokens(self, now: datetime.datetime) -> int: ...

    # -- messages -------------------------------------------------------------------------------
    def add_message(
        self, message: Message, content: bytes, key: str, digest: str, audit: AuditDraft
    ) -> Message | None:
        """Store a new message under the next id (the given `id` is replaced) with its audit
        entry; None when (sender, key) is taken (nothing changed: read `sent_with_key`)."""
        ...

    def sent_with_key(self, sender: str, key: str) -> tuple[str, Message] | None:
        """(request digest, message) of the send that used this idempotency key."""
        ...

    def message(self, message_id: str) -> Message | None: ...
    def content(self, message_id: str) -> bytes | None:
        """The envelope, or None once withdrawn or past retention."""
        ...

    def change_message(
        self,
        expected: MessageStatus,
        message: Message,
        *,
        drop_content: bool = False,
        audit: AuditDraft | None = None,
    ) -> bool:
        """Store `message`'s new status and history (and drop its content) only if the stored
        status is still `expected`; False when it is not (nothing changed)."""
        ...

    def messages(self, listing: Listing) -> list[Message]:
        """Up to `listing.limit + 1` messages (one more tells whether more are waiting)."""
        ...

    def holding_content(self, cutoff: datetime.datetime, limit: int) -> list[Message]:
        """Messages accepted before `cutoff` whose content is still held, oldest first."""
        ...

    def all_messages(self) -> list[Message]: ...

    # -- rate limits ----------------------------------------------------------------------------
    def count_request(self, office_no: str, window: datetime.datetime) -> int:
        """Count one request of an office in the window starting at `window`; the count so
        far, this one included."""
        ...

    def drop_windows(self, before: datetime.datetime) -> int: ...

    # -- audit ----------------------------------------------------------------------------------
    def append_audit(self, draft: AuditDraft) -> AuditEntry:
        """Number, chain and append one entry (serialised with every other append)."""
        ...

    def audit_entries(
        self, office_no: str | None = None, *, after: int = 0, limit: int | None = None
    ) -> list[AuditEntry]:
        """Entries after number `after`, oldest first: every entry (`office_no` None), or
        those where the office acted or is the counterpart."""
        ...

    def audit_head(self) -> tuple[int, str]:
        """(number, hash) of the last entry the store appended, kept apart from the entries:
        a removed last entry shows as a head without its entry."""
        ...

    # -- the store itself -----------------------------------------------------------------------
    def ping(self) -> None:
        """Raise when the store cannot be reached (the health check)."""
        ...

    def close(self) -> None: ...
