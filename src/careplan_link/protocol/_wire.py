"""The protocol's conventions: version, media type, header names, times, JSON, keys.

JSON bodies in UTF-8; times as ISO 8601 UTC (`2025-03-25T09:30:00.000000Z`); envelope bytes as
`application/pkcs7-mime` bodies. A time outside 2000–8999, a number that is not a finite
integer, or a document nested too deeply is refused by whoever reads it, never a crash.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = [
    "API_VERSION",
    "CONTENT_SHA256_HEADER",
    "ENVELOPE_MEDIA_TYPE",
    "IDEMPOTENCY_HEADER",
    "JSON_MEDIA_TYPE",
    "UnitLike",
    "format_time",
    "idempotency_key",
    "parse_json",
    "parse_time",
    "unit_idempotency_key",
]

API_VERSION = "v1"
ENVELOPE_MEDIA_TYPE = "application/pkcs7-mime"
JSON_MEDIA_TYPE = "application/json"
IDEMPOTENCY_HEADER = "Idempotency-Key"
CONTENT_SHA256_HEADER = "X-Content-SHA256"

# Times the protocol can carry. Outside this range a time is refused, and arithmetic on it
# (expiry minus a margin, accepted_at minus 7 days) could overflow.
_EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
_LATEST = datetime.datetime(9000, 1, 1, tzinfo=datetime.UTC)


def format_time(moment: datetime.datetime) -> str:
    """A protocol time: UTC, microseconds, `Z`; fixed width, so the text sorts as the time."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime.datetime:
    """A protocol time; ValueError for anything else (no zone, out of 2000–8999)."""
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError(f"the time {text!r} has no time zone")
        moment = moment.astimezone(datetime.UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 lies before datetime.min in UTC
        raise ValueError(f"the time {text!r} lies outside 2000–8999") from None
    if not _EARLIEST <= moment < _LATEST:
        raise ValueError(f"the time {text!r} lies outside 2000–8999")
    return moment


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(content: bytes | str) -> Any:
    """A JSON document; ValueError (UnicodeDecodeError included) for anything that is not
    strict JSON: NaN and Infinity, invalid UTF-8, nesting too deep for the parser."""
    try:
        return json.loads(content, parse_constant=_refuse_constant)
    except RecursionError:  # a hostile document: the parser's recursion is not the peer's
        raise ValueError("the JSON document is nested too deeply") from None


def idempotency_key(envelope: bytes, to: str, service_type: str) -> str:
    """The key of one `send` of raw envelope bytes: the same envelope to the same office always
    gets the same key, so a retried or re-driven send is recognised by the hub and never
    delivered twice."""
    digest = hashlib.sha256()
    digest.update(f"careplan-link send v1\0{to}\0{service_type}\0".encode())
    digest.update(envelope)
    return digest.hexdigest()


class _PartyLike(Protocol):
    @property
    def number(self) -> str: ...
    @property
    def service_type(self) -> str | None: ...


class UnitLike(Protocol):
    """What `unit_idempotency_key` reads of a transmission unit (`careplan_link.format.Bundle`)."""

    @property
    def sender(self) -> _PartyLike: ...
    @property
    def receiver(self) -> _PartyLike: ...
    @property
    def serial(self) -> str: ...
    @property
    def files(self) -> Any: ...


def unit_idempotency_key(bundle: UnitLike) -> str:
    """The key of a `send_bundle`: derived from the transmission unit, not from its envelope
    (sealing is randomised). Sender and receiver (office and service type), ファイル連番 and
    each file's name and SHA-256: the same unit sealed twice has the same key, so the hub
    stores it once."""
    digest = hashlib.sha256(b"careplan-link unit v1\0")
    for part in (
        bundle.sender.number,
        bundle.sender.service_type or "",
        bundle.receiver.number,
        bundle.receiver.service_type or "",
        bundle.serial,
    ):
        digest.update(part.encode() + b"\0")
    files: Iterable[str] = bundle.files
    for name in sorted(files):
        digest.update(f"{name}\0{hashlib.sha256(bundle.files[name]).hexdigest()}\0".encode())
    return digest.hexdigest()
