"""A hub's state in dictionaries: fast, for tests; gone when the process ends.

One lock makes each call atomic, which is all the store interface asks for.
"""

from __future__ import annotations

import bisect
import datetime
import threading
from collections.abc import Sequence

import attrs

from ..protocol import AuditEntry, Message, MessageStatus
from ._audit import GENESIS, seal
from ._store import AuditDraft, Listing, OfficeRecord, TokenRecord, message_id

__all__ = ["MemoryStore"]

_Position = tuple[datetime.datetime, str]


def matches(message: Message, listing: Listing) -> bool:
    if listing.statuses is not None and message.status.value not in listing.statuses:
        return False
    return listing.since is None or message.accepted_at >= listing.since


class MemoryStore:
    """A hub's state in memory; listings use sorted per-office indexes."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        """Forget everything (FakeHub.reset)."""
        with self._lock:
            self._offices: dict[str, OfficeRecord] = {}
            self._tokens: dict[str, TokenRecord] = {}
            self._messages: dict[str, Message] = {}
            self._contents: dict[str, bytes] = {}
            self._keys: dict[tuple[str, str], tuple[str, str]] = {}
            self._inbox: dict[str, list[_Position]] = {}
            self._outbox: dict[str, list[_Position]] = {}
            self._order: list[_Position] = []
            self._held: dict[str, datetime.datetime] = {}
            """Messages whose content is still held, in arrival order."""
            self._windows: dict[tuple[str, datetime.datetime], int] = {}
            self._audit: list[AuditEntry] = []
            self._head: tuple[int, str] = (0, GENESIS)
            self._number = 0

    # -- offices --------------------------------------------------------------------------------

    def add_office(self, office: OfficeRecord, audit: AuditDraft) -> bool:
        with self._lock:
            if office.office_no in self._offices:
                return False
            self._offices[office.office_no] = office
            self.append_audit(audit)
            return True

    def save_office(self, office: OfficeRecord, audit: AuditDraft | None = None) -> None:
        with self._lock:
            self._offices[office.office_no] = office
            if audit is not None:
                self.append_audit(audit)

    def office(self, office_no: str) -> OfficeRecord | None:
        return self._offices.get(office_no)

    def offices(self) -> list[OfficeRecord]:
        with self._lock:
            return [self._offices[number] for number in sorted(self._offices)]

    # -- tokens ---------------------------------------------------------------------------------

    def add_tokens(self, tokens: Sequence[TokenRecord]) -> None:
        with self._lock:
            for token in tokens:
                self._tokens[token.token_hash] = token

    def token(self, token_hash: str) -> TokenRecord | None:
        return self._tokens.get(token_hash)

    def take_token(self, token_hash: str) -> TokenRecord | None:
        with self._lock:
            return self._tokens.pop(token_hash, None)

    def revoke_tokens(self, office_no: str) -> int:
        with self._lock:
            gone = [h for h, t in self._tokens.items() if t.office_no == office_no]
            for token_hash in gone:
                del self._tokens[token_hash]
            return len(gone)

    def drop_expired_tokens(self, now: datetime.datetime) -> int:
        with self._lock:
            gone = [h for h, t in self._tokens.items() if t.expires_at <= now]
            for token_hash in gone:
                del self._tokens[token_hash]
            return len(gone)

    # -- messages -------------------------------------------------------------------------------

    def add_message(
        self, message: Message, content: bytes, key: str, digest: str, audit: AuditDraft
    ) -> Message | None:
        with self._lock:
            if (message.sender, key) in self._keys:
                return None
            self._number += 1
            message = attrs.evolve(message, id=message_id(self._number))
            position = (message.accepted_at, message.id)
            self._messages[message.id] = message
            self._contents[message.id] = content
            self._held[message.id] = message.accepted_at
            self._keys[(message.sender, key)] = (digest, message.id)
            # Appending keeps an index sorted while the clock does not go back; insort keeps
            # it sorted when two threads' clocks interleave.
            for index in (
                self._order,
                self._inbox.setdefault(message.receiver, []),
                self._outbox.setdefault(message.sender, []),
            ):
                if not index or index[-1] < position:
                    index.append(position)
                else:
                    bisect.insort(index, position)
            self.append_audit(attrs.evolve(audit, message_id=message.id))
            return message

    def sent_with_key(self, sender: str, key: str) -> tuple[str, Message] | None:
        with self._lock:
            found = self._keys.get((sender, key))
            return None if found is None else (found[0], self._messages[found[1]])

    def message(self, message_id: str) -> Message | None:
        return self._messages.get(message_id)

    def content(self, message_id: str) -> bytes | None:
        return self._contents.get(message_id)

    def change_message(
        self,
        expected: MessageStatus,
        message: Message,
        *,
        drop_content: bool = False,
        audit: AuditDraft | None = None,
    ) -> bool:
        with self._lock:
            stored = self._messages.get(message.id)
            if stored is None or stored.status != expected:
                return False
            self._messages[message.id] = message
            if drop_content:
                self._contents.pop(message.id, None)
                self._held.pop(message.id, None)
            if audit is not None:
                self.append_audit(audit)
            return True

    def messages(self, listing: Listing) -> list[Message]:
        with self._lock:
            if listing.idempotency_key is not None:
                found = self._keys.get((listing.sender or "", listing.idempotency_key))
                return [self._messages[found[1]]] if found else []
            if listing.receiver is not None:
                index = self._inbox.get(listing.receiver, [])
            else:
                index = self._outbox.get(listing.sender or "", [])
            start = 0 if listing.after is None else bisect.bisect_right(index, listing.after)
            found_messages = []
            for _, message_id in index[start:]:
                message = self._messages[message_id]
                if listing.sender is not None and message.sender != listing.sender:
                    continue
                if listing.receiver is not None and message.receiver != listing.receiver:
                    continue
                if matches(message, listing):
                    found_messages.append(message)
                    if len(found_messages) > listing.limit:
                        break
            return found_messages

    def holding_content(self, cutoff: datetime.datetime, limit: int) -> list[Message]:
        with self._lock:
            found: list[Message] = []
            for message_id, accepted_at in self._held.items():
                if accepted_at >= cutoff or len(found) >= limit:
                    break
                found.append(self._messages[message_id])
            return found

    def all_messages(self) -> list[Message]:
        with self._lock:
            return [self._messages[message_id] for _, message_id in self._order]

    # -- rate limits ----------------------------------------------------------------------------

    def count_request(self, office_no: str, window: datetime.datetime) -> int:
        with self._lock:
            count = self._windows.get((office_no, window), 0) + 1
            self._windows[(office_no, window)] = count
            return count

    def drop_windows(self, before: datetime.datetime) -> int:
        with self._lock:
            gone = [key for key in self._windows if key[1] < before]
            for key in gone:
                del self._windows[key]
            return len(gone)

    # -- audit ----------------------------------------------------------------------------------

    def append_audit(self, draft: AuditDraft) -> AuditEntry:
        with self._lock:
            seq, previous = self._head
            entry = seal(draft, seq + 1, previous)
            self._audit.append(entry)
            self._head = (entry.seq, entry.hash)
            return entry

    def audit_entries(
        self, office_no: str | None = None, *, after: int = 0, limit: int | None = None
    ) -> list[AuditEntry]:
        with self._lock:
            start = bisect.bisect_right(self._audit, after, key=lambda e: e.seq)
            found = []
            for entry in self._audit[start:]:
                if office_no is None or office_no in (entry.office_no, entry.counterpart):
                    found.append(entry)
                    if limit is not None and len(found) >= limit:
                        break
            return found

    def audit_head(self) -> tuple[int, str]:
        return self._head

    # -- the store itself -----------------------------------------------------------------------

    def ping(self) -> None:
        pass

    def close(self) -> None:
        pass
