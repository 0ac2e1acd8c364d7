"""The audit log: every action on the hub, append-only and hash-chained.

Each entry's `hash` is the SHA-256 of the previous entry's hash and this entry's fields in a
canonical JSON form; entries are numbered from 1 without gaps, and the store keeps the last
(number, hash) apart from the entries. `verify_chain` recomputes the chain: an altered entry
breaks its own hash, a removed entry leaves a gap and breaks the next entry's link, and a
removed last entry leaves the head without its entry. (Whoever can rewrite the whole store can
rewrite the whole chain: export it regularly, or note the head's hash elsewhere, to anchor it.)

Actions: `login`, `login_failed`, `refresh`, `send`, `send_replayed`, `list_inbox`,
`list_outbox`, `view`, `download`, `receipt_downloaded`, `receipt_imported`,
`receipt_rejected`, `withdraw`, `office_lookup`, `expire`; and the operator's
`office_added`, `office_disabled`, `office_enabled`, `password_reset`, `certificate_added`,
`certificate_removed`, `purge`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from typing import Literal

import attrs

from ..protocol import AuditEntry, format_time
from ._store import AuditDraft

__all__ = ["GENESIS", "OPERATOR", "ChainCheck", "canonical", "export", "seal", "verify_chain"]

GENESIS = "0" * 64
"""The `previous_hash` of the first entry."""
OPERATOR = "operator"
"""The `office_no` of what the hub's administrator did."""

_FIELDS = (
    "seq",
    "at",
    "office_no",
    "action",
    "message_id",
    "counterpart",
    "envelope_sha256",
    "detail",
    "previous_hash",
    "hash",
)


def canonical(entry: AuditEntry) -> str:
    """The text an entry's hash is the SHA-256 of (UTF-8): its fields but `hash`, as JSON with
    sorted keys and no spaces."""
    fields = entry.to_json()
    del fields["hash"]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical(entry).encode()).hexdigest()


def seal(draft: AuditDraft, seq: int, previous_hash: str) -> AuditEntry:
    """The entry `draft` becomes as number `seq` after an entry whose hash is `previous_hash`."""
    entry = AuditEntry(
        seq=seq,
        at=draft.at,
        office_no=draft.office_no,
        action=draft.action,
        message_id=draft.message_id,
        counterpart=draft.counterpart,
        envelope_sha256=draft.envelope_sha256,
        detail=draft.detail,
        previous_hash=previous_hash,
    )
    return attrs.evolve(entry, hash=_entry_hash(entry))


@attrs.frozen
class ChainCheck:
    """What `verify_chain` found: `intact`, or the `problems` (one line each)."""

    entries: int
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_chain(entries: Iterable[AuditEntry], head: tuple[int, str] | None = None) -> ChainCheck:
    """Recompute the chain of every entry, oldest first; with the store's `head`, also check
    that the last entry is the one the store appended last."""
    problems: list[str] = []
    previous_seq, previous_hash = 0, GENESIS
    count = 0
    for entry in entries:
        count += 1
        if entry.seq != previous_seq + 1:
            problems.append(
                f"entry {entry.seq} follows entry {previous_seq}: "
                f"{entry.seq - previous_seq - 1} entries are missing"
            )
        if entry.previous_hash != previous_hash:
            problems.append(f"entry {entry.seq} does not link to the entry before it")
        if _entry_hash(entry) != entry.hash:
            problems.append(f"entry {entry.seq} was altered (its hash does not match)")
        previous_seq, previous_hash = entry.seq, entry.hash
    if head is not None and head != (previous_seq, previous_hash):
        problems.append(
            f"the log ends at entry {previous_seq}, but the store appended entry {head[0]} "
            "last: entries at the end were removed or altered"
        )
    return ChainCheck(count, tuple(problems))


def export(entries: Sequence[AuditEntry], format: Literal["csv", "json"]) -> str:
    """Every entry as CSV (a header line, then one line each) or as a JSON array."""
    if format == "json":
        return json.dumps([e.to_json() for e in entries], ensure_ascii=False, indent=1) + "\n"
    if format != "csv":
        raise ValueError(f"an audit export is csv or json, not {format!r}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_FIELDS)
    for entry in entries:
        row = entry.to_json()
        row["at"] = format_time(entry.at)
        writer.writerow(["" if row[name] is None else row[name] for name in _FIELDS])
    return out.getvalue()
