"""The hub's rules: offices, logins, tokens, messages, statuses, receipts, retention, audit.

No HTTP here (that is `_http_core`) and no storage detail (that is the `HubStore`). Every
refusal is a `Refusal` with one of the protocol's error codes; every status change goes through
the protocol's transition table and is stored by a conditional update, so two requests racing
on one message cannot both win; every action is appended to the audit log.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import hashlib
import hmac
from collections import Counter
from collections.abc import Callable, Sequence

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..protocol import (
    ERROR_CODES,
    TRANSITIONS,
    AuditEntry,
    InvalidTransition,
    Login,
    Message,
    MessageStatus,
    StatusChange,
    Tokens,
    directory_document,
    format_time,
    next_status,
    parse_time,
)
from ._audit import OPERATOR
from ._passwords import DEFAULT_COST, new_token, token_hash, verify_password
from ._store import AuditDraft, HubStore, Listing, OfficeRecord, TokenRecord

__all__ = ["MAX_PAGE", "HubRules", "HubSettings", "PurgeReport", "Refusal", "refusal"]

S = MessageStatus
MAX_PAGE = 500
_RACE_RETRIES = 8


class Refusal(Exception):
    """The hub refuses a request with a protocol error code (`protocol.ERROR_CODES`)."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        self.code = code
        self.status = ERROR_CODES[code].status
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"{self.status} {code}: {message}")


def refusal(code: str, message: str) -> Refusal:
    return Refusal(code, message)


@attrs.frozen
class HubSettings:
    """What an operator tunes: token lifetimes, retention, size and rate limits."""

    access_ttl: datetime.timedelta = datetime.timedelta(minutes=60)
    refresh_ttl: datetime.timedelta = datetime.timedelta(hours=8)
    retention: datetime.timedelta = datetime.timedelta(days=30)
    """How long a message's content is kept after it was accepted; then it expires."""
    max_envelope_size: int = 256 * 1024 * 1024
    """The largest envelope a send may carry (bytes)."""
    max_json_size: int = 64 * 1024
    """The largest JSON request body (bytes): logins and receipts are tiny."""
    rate_limit: int | None = 1200
    """Requests per office per `rate_window` (None: no limit); over it, 429 with Retry-After."""
    rate_window: datetime.timedelta = datetime.timedelta(minutes=1)
    password_cost: int = DEFAULT_COST

    def max_body(self, operation: str) -> int:
        """The largest body the operation reads: an HTTP face stops reading beyond it."""
        return self.max_envelope_size if operation == "send" else self.max_json_size


@attrs.frozen
class PurgeReport:
    """What one `purge` did."""

    expired: int
    """Messages whose status became `expired`."""
    contents_dropped: int
    """Envelopes deleted (expired messages, and final ones past retention)."""
    tokens_dropped: int
    windows_dropped: int


def encode_cursor(message: Message) -> str:
    raw = f"{format_time(message.accepted_at)}|{message.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime.datetime, str]:
    try:
        moment, message_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return parse_time(moment), message_id
    except (ValueError, binascii.Error, UnicodeError, OverflowError):
        raise Refusal("BAD_CURSOR", "the cursor was not made by this hub") from None


@functools.lru_cache(maxsize=1024)
def _fingerprint(pem: str) -> bytes | None:
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).digest()


def _changed(
    message: Message, event: str, at: datetime.datetime, reasons: Sequence[str] = ()
) -> Message:
    status = next_status(message.status, event)
    change = StatusChange(status, at, tuple(reasons))
    return attrs.evolve(message, status=status, history=(*message.history, change))


@attrs.define
class HubRules:
    """The hub's state machine over a store. Safe to call from several threads at once: the
    store makes each change atomic, and races on a message end in a conditional update."""

    store: HubStore
    clock: Callable[[], datetime.datetime]
    settings: HubSettings = attrs.field(factory=HubSettings)
    counts: Counter[str] = attrs.field(factory=Counter)
    """Successful operations by name (login, refresh, send, …), for tests and metrics."""

    def _audit(self, office_no: str, action: str, **fields: str | None) -> AuditDraft:
        return AuditDraft(at=self.clock(), office_no=office_no, action=action, **fields)  # type: ignore[arg-type]

    # -- sessions -------------------------------------------------------------------------------

    def login(self, login: Login, client_certificate: bytes | None = None) -> Tokens:
        office = self.store.office(login.office_no)
        if (
            office is None
            or office.disabled
            or not hmac.compare_digest(office.user_id.encode(), login.user_id.encode())
            or not verify_password(login.password, office.password_hash)
        ):
            self.store.append_audit(
                self._audit(login.office_no[:20], "login_failed", detail=login.user_id[:64])
            )
            raise Refusal("LOGIN_FAILED", "office number, user ID or password is wrong")
        self.check_certificate(office, client_certificate)
        tokens = self._issue(office.office_no)
        self.store.append_audit(self._audit(office.office_no, "login"))
        self.counts["login"] += 1
        return tokens

    def refresh(self, refresh_token: str, client_certificate: bytes | None = None) -> Tokens:
        # Single use: the token is gone whatever happens next.
        token = self.store.take_token(token_hash(refresh_token))
        if token is None or token.kind != "refresh" or token.expires_at <= self.clock():
            raise Refusal("REFRESH_TOKEN_INVALID", "the refresh token is unknown or used")
        office = self.store.office(token.office_no)
        if office is None or office.disabled:
            raise Refusal("REFRESH_TOKEN_INVALID", "the refresh token was revoked")
        self.check_certificate(office, client_certificate)
        tokens = self._issue(token.office_no)
        self.store.append_audit(self._audit(token.office_no, "refresh"))
        self.counts["refresh"] += 1
        return tokens

    def _issue(self, office_no: str) -> Tokens:
        now = self.clock()
        tokens = Tokens(
            access_token=new_token(),
            access_expires_at=now + self.settings.access_ttl,
            refresh_token=new_token(),
            refresh_expires_at=now + self.settings.refresh_ttl,
        )
        self.store.add_tokens(
            [
                TokenRecord(
                    token_hash(tokens.access_token), "access", office_no, tokens.access_expires_at
                ),
                TokenRecord(
                    token_hash(tokens.refresh_token),
                    "refresh",
                    office_no,
                    tokens.refresh_expires_at,
                ),
            ]
        )
        return tokens

    def authenticate(
        self, authorization: str | None, client_certificate: bytes | None = None
    ) -> str:
        """The office an `Authorization: Bearer …` header belongs to."""
        if not authorization or not authorization.startswith("Bearer "):
            raise Refusal("TOKEN_MISSING", "an access token is needed")
        token = self.store.token(token_hash(authorization.removeprefix("Bearer ")))
        if token is None or token.kind != "access":
            raise Refusal("TOKEN_INVALID", "the access token is unknown")
        if token.expires_at <= self.clock():
            raise Refusal("TOKEN_EXPIRED", "the access token has expired")
        if client_certificate is not None:
            office = self.store.office(token.office_no)
            if office is None or office.disabled:
                raise Refusal("TOKEN_INVALID", "the access token was revoked")
            self.check_certificate(office, client_certificate)
        return token.office_no

    def check_certificate(self, office: OfficeRecord, client_certificate: bytes | None) -> None:
        """A TLS client certificate, when the transport has one, must be the office's own."""
        if client_certificate is None:
            return
        presented = hashlib.sha256(client_certificate).digest()
        if not any(_fingerprint(pem) == presented for pem in office.certificates):
            raise Refusal(
                "CERTIFICATE_NOT_THE_OFFICES",
                f"the client certificate is not one registered for office {office.office_no}",
            )

    def check_rate(self, office_no: str) -> None:
        """Count a request of the office; over the limit, 429 until the window ends."""
        limit = self.settings.rate_limit
        if limit is None:
            return
        now = self.clock()
        window_seconds = self.settings.rate_window.total_seconds()
        start_seconds = now.timestamp() // window_seconds * window_seconds
        start = datetime.datetime.fromtimestamp(start_seconds, datetime.UTC)
        if self.store.count_request(office_no, start) > limit:
            remaining = start_seconds + window_seconds - now.timestamp()
            raise Refusal(
                "TOO_MANY_REQUESTS",
                f"more than {limit} requests in {window_seconds:g} s",
                retry_after=max(1.0, remaining),
            )

    # -- messages -------------------------------------------------------------------------------

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
            raise Refusal("IDEMPOTENCY_KEY_MISSING", "a send needs an Idempotency-Key")
        if not content:
            raise Refusal("EMPTY_ENVELOPE", "the envelope is empty")
        if len(content) > self.settings.max_envelope_size:
            raise Refusal("ENVELOPE_TOO_LARGE", "the envelope is larger than the hub takes")
        digest = hashlib.sha256(
            f"{to}\0{service_type}\0{serial}\0{unit_kind}\0".encode() + content
        ).hexdigest()
        # The insert comes first and the earlier send is read only when the key is taken
        # (`add_message` inserts nothing then): a fresh send costs no lookup of its key. A
        # replay is answered as before, whatever became of the recipient since.
        for _ in range(_RACE_RETRIES):
            recipient = self.store.office(to)
            refused: Refusal | None = None
            if recipient is None or recipient.disabled:
                refused = refusal("RECIPIENT_NOT_REGISTERED", f"office {to} is not registered")
            elif recipient.service_types and service_type not in recipient.service_types:
                refused = refusal(
                    "SERVICE_TYPE_NOT_OFFERED", f"office {to} does not offer service {service_type}"
                )
            if refused is not None:
                earlier = self.store.sent_with_key(sender, key)
                if earlier is not None:
                    return self._replay(sender, digest, *earlier), True
                raise refused
            now = self.clock()
            draft = Message(
                id="",
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
            draft = _changed(draft, "deliver", now)
            detail = f"service_type={service_type} serial={serial or ''}"
            audit = self._audit(sender, "send", counterpart=to, envelope_sha256=draft.sha256,
                                detail=detail)  # fmt: skip
            stored = self.store.add_message(draft, content, key, digest, audit)
            if stored is not None:
                self.counts["send"] += 1
                return stored, False
            # The key is taken (an earlier send, or another request that won the insert):
            # answer with its message.
            earlier = self.store.sent_with_key(sender, key)
            if earlier is not None:
                return self._replay(sender, digest, *earlier), True
            # Taken, yet gone by now (withdrawn and purged? a race): try again.
        raise Refusal("INTERNAL_ERROR", "the send could not be stored; try again")

    def _replay(self, sender: str, digest: str, earlier_digest: str, message: Message) -> Message:
        if earlier_digest != digest:
            raise Refusal("IDEMPOTENCY_KEY_REUSED", "this key was used for another envelope")
        self.store.append_audit(
            self._audit(sender, "send_replayed", message_id=message.id,
                        counterpart=message.receiver, envelope_sha256=message.sha256)
        )  # fmt: skip
        self.counts["send_replayed"] += 1
        return message

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
            raise Refusal("BAD_LIMIT", f"limit must be between 1 and {MAX_PAGE}")
        if statuses is not None and not statuses <= {s.value for s in S}:
            raise Refusal("BAD_STATUS", f"unknown status in {sorted(statuses)[:10]}")
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
        self.store.append_audit(
            self._audit(office_no, f"list_{box}", counterpart=counterpart,
                        detail=f"{len(page)} messages")
        )  # fmt: skip
        return page, next_cursor, has_more

    def _find(self, office_no: str, message_id: str) -> Message:
        message = self.store.message(message_id)
        if message is not None and message.accepted_at < self.clock() - self.settings.retention:
            # Only this message's state is answered, so the retention sweep runs only when
            # this message is past retention (before, every read swept: one more query each);
            # the others' expiries are recorded by the next listing, read or purge.
            self.sweep()
            message = self.store.message(message_id)
        if message is None:
            raise Refusal("MESSAGE_NOT_FOUND", f"no message {message_id[:64]}")
        if office_no not in (message.sender, message.receiver):
            raise Refusal("NOT_YOUR_MESSAGE", f"message {message_id} is another office's")
        return message

    def message(self, office_no: str, message_id: str) -> Message:
        message = self._find(office_no, message_id)
        self.store.append_audit(self._audit(office_no, "view", **_about(message, office_no)))
        return message

    def content(self, office_no: str, message_id: str) -> tuple[Message, bytes]:
        message = self._find(office_no, message_id)
        if message.status in (S.WITHDRAW_REQUESTED, S.WITHDRAWN) and office_no != message.sender:
            raise refusal("MESSAGE_WITHDRAWN", f"message {message_id} was withdrawn")
        content = self.store.content(message_id)
        if content is None:
            raise refusal("MESSAGE_EXPIRED", f"message {message_id} is past its retention")
        self.store.append_audit(self._audit(office_no, "download", **_about(message, office_no)))
        self.counts["download"] += 1
        return message, content

    def receipt(
        self, office_no: str, message_id: str, receipt: str, reasons: Sequence[str]
    ) -> Message:
        message = self._find(office_no, message_id)
        if office_no != message.receiver:
            raise Refusal("NOT_THE_RECEIVER", "only the receiver sends receipts")
        if receipt == "rejected" and not reasons:
            raise refusal("REASONS_REQUIRED", "a rejection needs at least one reason")
        for _ in range(_RACE_RETRIES):
            if any(change.status == receipt for change in message.history):
                return message  # a repeated receipt changes nothing
            try:
                changed = _changed(message, receipt, self.clock(), reasons)
            except InvalidTransition as error:
                raise refusal("INVALID_TRANSITION", str(error)) from None
            audit = self._audit(office_no, f"receipt_{receipt}", **_about(message, office_no),
                                detail=",".join(reasons))  # fmt: skip
            if self.store.change_message(message.status, changed, audit=audit):
                self.counts[f"receipt_{receipt}"] += 1
                return changed
            message = self._find(office_no, message_id)  # another request changed it first
        raise Refusal("INTERNAL_ERROR", "the receipt could not be stored; try again")

    def withdraw(self, office_no: str, message_id: str) -> Message:
        message = self._find(office_no, message_id)
        if office_no != message.sender:
            raise Refusal("NOT_THE_SENDER", "only the sender withdraws a message")
        for _ in range(_RACE_RETRIES):
            if message.status in (S.WITHDRAW_REQUESTED, S.WITHDRAWN):
                return message
            now = self.clock()
            try:
                changed = _changed(message, "withdraw", now)
            except InvalidTransition:
                raise refusal(
                    "ALREADY_DOWNLOADED",
                    f"message {message_id} is {message.status.value}: too late to withdraw",
                ) from None
            # This hub completes a withdrawal at once; the request is still in the history.
            changed = _changed(changed, "complete_withdrawal", now)
            audit = self._audit(office_no, "withdraw", **_about(message, office_no))
            if self.store.change_message(message.status, changed, drop_content=True, audit=audit):
                self.counts["withdraw"] += 1
                return changed
            message = self._find(office_no, message_id)
        raise Refusal("INTERNAL_ERROR", "the withdrawal could not be stored; try again")

    def directory(self, office_no: str, asked_by: str) -> dict[str, object]:
        office = self.store.office(office_no)
        self.store.append_audit(self._audit(asked_by, "office_lookup", counterpart=office_no[:20]))
        if office is None or office.disabled:
            return directory_document(office_no, registered=False, service_types=(),
                                      certificates=())  # fmt: skip
        return directory_document(
            office_no,
            registered=True,
            service_types=office.service_types,
            certificates=office.certificates,
        )

    def audit_page(
        self, office_no: str, *, after: int, limit: int
    ) -> tuple[list[AuditEntry], str | None, bool]:
        """An office's own audit entries (it acted, or it is the counterpart)."""
        if not 1 <= limit <= MAX_PAGE:
            raise Refusal("BAD_LIMIT", f"limit must be between 1 and {MAX_PAGE}")
        found = self.store.audit_entries(office_no, after=after, limit=limit + 1)
        page, has_more = found[:limit], len(found) > limit
        cursor = str(page[-1].seq) if page else (str(after) if after else None)
        return page, cursor, has_more

    # -- retention ------------------------------------------------------------------------------

    def sweep(self, *, batch: int = 200) -> tuple[int, int]:
        """Expire what outlived the retention period: status `expired` (unless final), and the
        content is dropped in every case. Returns (expired, contents dropped)."""
        now = self.clock()
        cutoff = now - self.settings.retention
        expired = dropped = 0
        while True:
            due = self.store.holding_content(cutoff, batch)
            for message in due:
                changed = message
                if (message.status, "expire") in TRANSITIONS:
                    changed = _changed(message, "expire", now)
                audit = self._audit(OPERATOR, "expire", message_id=message.id,
                                    envelope_sha256=message.sha256)  # fmt: skip
                if self.store.change_message(
                    message.status, changed, drop_content=True, audit=audit
                ):
                    dropped += 1
                    expired += changed is not message
            if len(due) < batch:
                return expired, dropped

    def purge(self) -> PurgeReport:
        """Retention and housekeeping, for the periodic task and `careplan-link hub purge`."""
        now = self.clock()
        expired, dropped = self.sweep()
        tokens = self.store.drop_expired_tokens(now)
        windows = self.store.drop_windows(now - 2 * self.settings.rate_window)
        return PurgeReport(expired, dropped, tokens, windows)


def _about(message: Message, office_no: str) -> dict[str, str | None]:
    counterpart = message.receiver if office_no == message.sender else message.sender
    return {
        "message_id": message.id,
        "counterpart": counterpart,
        "envelope_sha256": message.sha256,
    }
