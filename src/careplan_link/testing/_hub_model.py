"""FakeHub's rules: offices, logins, tokens, messages, statuses, receipts and retention.

No HTTP here (that is `_hub_http`) and no storage details (that is `_hub_store`). Every
refusal is a `Refusal`: an HTTP error status, or `business=True` for the hub's 200-with-error
answers. Status changes go through the one transition table in `careplan_link.client._status`.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Sequence

import attrs

from ..client._protocol import Message, StatusChange, Tokens, format_time, parse_time
from ..client._status import (
    RECEIPTS,
    TRANSITIONS,
    InvalidTransition,
    MessageStatus,
    next_status,
)
from ._hub_store import HubStore, Listing, OfficeRecord, TokenRecord

__all__ = ["HubModel", "Refusal", "decode_cursor", "encode_cursor"]

S = MessageStatus
MAX_PAGE = 500


class Refusal(Exception):
    """The hub refuses a request: `status` 4xx/5xx, or a business error (HTTP 200)."""

    def __init__(self, status: int, code: str, message: str, *, business: bool = False) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.business = business
        super().__init__(f"{status} {code}: {message}")


def _business(code: str, message: str) -> Refusal:
    return Refusal(200, code, message, business=True)


def encode_cursor(message: Message) -> str:
    raw = f"{format_time(message.accepted_at)}|{message.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime.datetime, str]:
    try:
        moment, message_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return parse_time(moment), message_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Refusal(400, "BAD_CURSOR", "the cursor was not made by this hub") from None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@attrs.define
class HubModel:
    """The hub's state machine over a store. Calls are serialised by one lock."""

    store: HubStore
    clock: Callable[[], datetime.datetime]
    access_ttl: datetime.timedelta = datetime.timedelta(minutes=60)
    refresh_ttl: datetime.timedelta = datetime.timedelta(hours=8)
    retention: datetime.timedelta = datetime.timedelta(days=30)
    max_envelope_size: int = 1024 * 1024 * 1024
    counts: Counter[str] = attrs.field(factory=Counter)
    """Successful operations by name (login, refresh, send, …), for assertions."""
    lock: threading.RLock = attrs.field(factory=threading.RLock)
    _swept: str | None = None

    # -- offices and sessions ------------------------------------------------------------------

    def register(
        self,
        office_no: str,
        certificate_pem: str,
        *,
        service_types: Sequence[str],
        user_id: str,
        password: str,
    ) -> None:
        with self.lock:
            known = self.store.office(office_no)
            certificates: tuple[str, ...] = (certificate_pem,)
            if known is not None:
                certificates += tuple(c for c in known.certificates if c != certificate_pem)
            self.store.save_office(
                OfficeRecord(
                    office_no=office_no,
                    user_id=user_id,
                    password_sha256=_sha256(password),
                    service_types=tuple(service_types),
                    certificates=certificates,
                )
            )

    def login(self, office_no: str, user_id: str, password: str) -> Tokens:
        office = self.store.office(office_no)
        if (
            office is None
            or office.user_id != user_id
            or not hmac.compare_digest(office.password_sha256, _sha256(password))
        ):
            raise Refusal(401, "LOGIN_FAILED", "office number, user ID or password is wrong")
        self.counts["login"] += 1
        return self._issue(office_no)

    def refresh(self, refresh_token: str) -> Tokens:
        token = self.store.take_token(refresh_token)  # single use: gone whatever happens next
        if token is None or token.kind != "refresh" or token.expires_at <= self.clock():
            raise Refusal(401, "REFRESH_TOKEN_INVALID", "the refresh token is unknown or used")
        self.counts["refresh"] += 1
        return self._issue(token.office_no)

    def _issue(self, office_no: str) -> Tokens:
        now = self.clock()
        tokens = Tokens(
            access_token=secrets.token_urlsafe(24),
            access_expires_at=now + self.access_ttl,
            refresh_token=secrets.token_urlsafe(24),
            refresh_expires_at=now + self.refresh_ttl,
        )
        self.store.save_token(
            TokenRecord(tokens.access_token, "access", office_no, tokens.access_expires_at)
        )
        self.store.save_token(
            TokenRecord(tokens.refresh_token, "refresh", office_no, tokens.refresh_expires_at)
        )
        return tokens

    def authenticate(self, authorization: str | None) -> str:
        """The office an `Authorization: Bearer …` header belongs to."""
        if not authorization or not authorization.startswith("Bearer "):
            raise Refusal(401, "TOKEN_MISSING", "an access token is needed")
        token = self.store.token(authorization.removeprefix("Bearer "))
        if token is None or token.kind != "access":
            raise Refusal(401, "TOKEN_INVALID", "the access token is unknown")
        if token.expires_at <= self.clock():
            raise Refusal(401, "TOKEN_EXPIRED", "the access token has expired")
        return token.office_no

    # -- messages ------------------------------------------------------------------------------

    def send(
        self,
        sender: str,
        *,
        to: str,
        service_type: str,
        serial: str | None,
        unit_kind: str | None,
        key: str | None,
        content: bytes,
    ) -> tuple[Message, bool]:
        """Store and deliver an envelope; returns the message and whether it was a replay."""
        if not key:
            raise Refusal(400, "IDEMPOTENCY_KEY_MISSING", "a send needs an Idempotency-Key")
        if not content:
            raise Refusal(400, "EMPTY_ENVELOPE", "the envelope is empty")
        if len(content) > self.max_envelope_size:
            raise Refusal(413, "ENVELOPE_TOO_LARGE", "the envelope is larger than the hub takes")
        digest = hashlib.sha256(
            f"{to}\0{service_type}\0{serial}\0{unit_kind}\0".encode() + content
        ).hexdigest()
        earlier = self.store.sent_with_key(sender, key)
        if earlier is not None:
            earlier_digest, message_id = earlier
            if earlier_digest != digest:
                raise Refusal(
                    409, "IDEMPOTENCY_KEY_REUSED", "this key was used for another envelope"
                )
            message = self.store.message(message_id)
            assert message is not None
            self.counts["send_replayed"] += 1
            return message, True
        recipient = self.store.office(to)
        if recipient is None:
            raise _business("RECIPIENT_NOT_REGISTERED", f"office {to} is not registered")
        if recipient.service_types and service_type not in recipient.service_types:
            raise _business(
                "SERVICE_TYPE_NOT_OFFERED", f"office {to} does not offer service {service_type}"
            )
        now = self.clock()
        number = self.store.next_number()
        message = Message(
            id=f"msg-{number:012d}",
            sender=sender,
            receiver=to,
            service_type=service_type,
            serial=serial,
            unit_kind=unit_kind,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            status=S.ACCEPTED,
            history=(StatusChange(S.ACCEPTED, now),),
            accepted_at=now,
        )
        # This hub delivers at once: accepted and delivered share a timestamp.
        message = _changed(message, "deliver", now)
        self.store.add_message(message, content, key, digest)
        self.counts["send"] += 1
        return message, False

    def listing(
        self,
        office_no: str,
        box: str,
        *,
        cursor: str | None,
        limit: int,
        statuses: frozenset[str] | None,
        since: datetime.datetime | None,
        counterpart: str | None,
        key: str | None,
    ) -> tuple[list[Message], str | None, bool]:
        if not 1 <= limit <= MAX_PAGE:
            raise Refusal(400, "BAD_LIMIT", f"limit must be between 1 and {MAX_PAGE}")
        if statuses is not None and not statuses <= {s.value for s in S}:
            raise Refusal(400, "BAD_STATUS", f"unknown status in {sorted(statuses)}")
        self.sweep()
        inbox = box == "inbox"
        listing = Listing(
            receiver=office_no if inbox else counterpart,
            sender=counterpart if inbox else office_no,
            after=None if cursor is None else decode_cursor(cursor),
            limit=limit,
            statuses=statuses,
            since=since,
            idempotency_key=None if inbox else key,
        )
        found = self.store.messages(listing)
        page, has_more = found[:limit], len(found) > limit
        next_cursor = encode_cursor(page[-1]) if page else cursor
        return page, next_cursor, has_more

    def message(self, office_no: str, message_id: str) -> Message:
        self.sweep()
        message = self.store.message(message_id)
        if message is None:
            raise Refusal(404, "MESSAGE_NOT_FOUND", f"no message {message_id}")
        if office_no not in (message.sender, message.receiver):
            raise Refusal(403, "NOT_YOUR_MESSAGE", f"message {message_id} is another office's")
        return message

    def content(self, office_no: str, message_id: str) -> tuple[Message, bytes]:
        message = self.message(office_no, message_id)
        if message.status in (S.WITHDRAW_REQUESTED, S.WITHDRAWN) and office_no != message.sender:
            raise _business("MESSAGE_WITHDRAWN", f"message {message_id} was withdrawn")
        content = self.store.content(message_id)
        if content is None:
            raise _business("MESSAGE_EXPIRED", f"message {message_id} is past its retention")
        self.counts["download"] += 1
        return message, content

    def receipt(
        self, office_no: str, message_id: str, receipt: str, reasons: Sequence[str]
    ) -> Message:
        message = self.message(office_no, message_id)
        if office_no != message.receiver:
            raise Refusal(403, "NOT_THE_RECEIVER", "only the receiver sends receipts")
        if receipt not in RECEIPTS:
            raise Refusal(400, "BAD_RECEIPT", f"unknown receipt {receipt!r}")
        if receipt == "rejected" and not reasons:
            raise _business("REASONS_REQUIRED", "a rejection needs at least one reason")
        if any(change.status == receipt for change in message.history):
            return message  # a repeated receipt changes nothing
        try:
            message = _changed(message, receipt, self.clock(), reasons)
        except InvalidTransition as error:
            raise _business("INVALID_TRANSITION", str(error)) from None
        self.store.save_message(message)
        self.counts[f"receipt_{receipt}"] += 1
        return message

    def withdraw(self, office_no: str, message_id: str) -> Message:
        message = self.message(office_no, message_id)
        if office_no != message.sender:
            raise Refusal(403, "NOT_THE_SENDER", "only the sender withdraws a message")
        if message.status in (S.WITHDRAW_REQUESTED, S.WITHDRAWN):
            return message
        now = self.clock()
        try:
            message = _changed(message, "withdraw", now)
        except InvalidTransition:
            raise _business(
                "ALREADY_DOWNLOADED",
                f"message {message_id} is {message.status.value}: too late to withdraw",
            ) from None
        # This hub completes a withdrawal at once; the request is still in the history.
        message = _changed(message, "complete_withdrawal", now)
        self.store.save_message(message)
        self.store.drop_content(message_id)
        self.counts["withdraw"] += 1
        return message

    def directory(self, office_no: str) -> dict[str, object]:
        office = self.store.office(office_no)
        if office is None:
            return {"office_no": office_no, "registered": False, "service_types": []}
        return {
            "office_no": office_no,
            "registered": True,
            "service_types": [*office.service_types],
            "certificates": [*office.certificates],
        }

    # -- retention -----------------------------------------------------------------------------

    def sweep(self) -> None:
        """Expire what outlived the retention period: status `expired` (unless final), and the
        content is dropped in every case. Walks forward from where it stopped last time."""
        cutoff = self.clock() - self.retention
        for message in self.store.accepted_before(cutoff, self._swept):
            if (message.status, "expire") in TRANSITIONS:
                self.store.save_message(_changed(message, "expire", self.clock()))
            self.store.drop_content(message.id)
            self._swept = message.id


def _changed(
    message: Message, event: str, at: datetime.datetime, reasons: Sequence[str] = ()
) -> Message:
    status = next_status(message.status, event)
    change = StatusChange(status, at, tuple(reasons))
    return attrs.evolve(message, status=status, history=(*message.history, change))
