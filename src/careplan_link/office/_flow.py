"""The office's workflow, written once and free of I/O.

Each step (prepare, send, receive) is a generator that yields instructions and is sent their
results, like the client's core (`careplan_link.client._core`):

    Hub(call)        → the driver runs `call(client.session)`, a flow of the hub session, on its
                       client (`Client.run` or `await AsyncClient.run`) and sends back the
                       result, or throws the client's error into the flow
    Compute(function)→ local CPU-bound or blocking work (validate, seal, open, the journal):
                       Workflow in line, AsyncWorkflow in a worker thread
    Handle(opened, message)
                     → the vendor's import handler (AsyncWorkflow awaits a coroutine)

`Workflow` and `AsyncWorkflow` (`_workflow.py`) are the two short loops that carry them out.
"""

from __future__ import annotations

import csv
import datetime
import enum
import functools
import hashlib
import io
import logging
import re
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, Literal, TypeVar

import attrs
from cryptography import x509

from .. import protocol
from ..client._core import HubSession
from ..envelope import (
    OfficeIdentity,
    OpenedEnvelope,
    TrustSettings,
    open_envelope,
    seal,
)
from ..errors import (
    AuthenticationError,
    CareplanLinkError,
    Conflict,
    FormatError,
    HubError,
    HubProtocolError,
    HubServerError,
    HubTransportError,
    InvalidBundle,
    OutcomeUnknown,
    RequestTimeout,
    SerialAlreadyUsed,
    StaleRevocationList,
    TooManyRequests,
)
from ..format import LAYOUTS, Bundle, FileName, ValidationReport, validate
from ..format._ms932 import decode
from ..protocol import (
    ALREADY_IMPORTED,
    NEVER_IMPORTED,
    OLDER_THAN_IMPORTED,
    SENDER_NOT_SIGNER,
    VALIDATION_FAILED,
    Message,
    MessageStatus,
    Page,
)
from ._imported import ImportedUnit, ImportedUnits
from ._journal import Direction, Event, Journal, JournalUnit
from ._reasons import reason_for_open_failure

__all__ = [
    "ACKNOWLEDGE",
    "INBOX_TO_RECEIVE",
    "Acknowledge",
    "Compute",
    "Flow",
    "Handle",
    "Hub",
    "ImportOrderHeld",
    "Outcome",
    "PreparedUnit",
    "Received",
    "SendOutcome",
    "Steps",
]

T = TypeVar("T")

log = logging.getLogger("careplan_link.office")

INBOX_TO_RECEIVE = ("delivered", "downloaded")

# Failures of this machine, not of the message: the message is left for a later run.
_LOCAL_FAILURES = (OSError, MemoryError, StaleRevocationList)

# Failures of the hub as a whole: stop (the next messages or units would fail the same way).
HUB_WIDE = (
    HubTransportError,
    HubServerError,
    AuthenticationError,
    TooManyRequests,
    RequestTimeout,
)


# -- instructions ------------------------------------------------------------------------------


@attrs.frozen
class Hub:
    call: Callable[[HubSession], Generator[Any, Any, Any]]


@attrs.frozen
class Compute:
    function: Callable[[], Any]


@attrs.frozen
class Handle:
    opened: OpenedEnvelope
    message: Message


Instruction = Hub | Compute | Handle
Flow = Generator[Instruction, Any, T]


# -- results -----------------------------------------------------------------------------------


class ImportOrderHeld(CareplanLinkError):
    """Recorded in `Received.error` or `SendOutcome.error` (never raised): the unit waits
    because an earlier unit between the same two offices was not done in this run, and units
    go (and are imported) in ascending ファイル連番."""


@attrs.frozen
class PreparedUnit:
    """A unit ready to go: validated, its recipient's certificates verified, sealed."""

    unit: Bundle
    envelope: bytes = attrs.field(repr=lambda e: f"<{len(e)} bytes>")
    sha256: str
    """SHA-256 of the envelope (hex)."""
    idempotency_key: str
    """The unit's key (`protocol.unit_idempotency_key`): the same for every sealing."""
    recipients: tuple[x509.Certificate, ...] = attrs.field(repr=False)
    report: ValidationReport | None
    """None when validation was skipped (`check=False`)."""
    journal_unit: JournalUnit = attrs.field(repr=False)
    pending: tuple[tuple[Event, datetime.datetime | None], ...] = attrs.field(
        default=(), repr=False
    )
    """Events of the preparation not journaled yet (`validated`, `sealed` with their times):
    `send` journals them with `sending`, in one commit. Empty unless prepared with
    `journal_with_send=True`."""


@attrs.frozen
class SendOutcome:
    """What happened to one unit given to `send` or `send_folder`."""

    unit: Bundle
    message: Message | None
    """The hub's message that carries the unit (None: not sent)."""
    already_sent: bool = False
    """The hub held this unit already from an earlier send (whose answer may have been lost,
    or the process killed): nothing new was stored, and `message` is the earlier one."""
    idempotency_key: str | None = None
    report: ValidationReport | None = None
    error: CareplanLinkError | None = None
    """Why the unit was not sent (InvalidBundle with the report, SerialAlreadyUsed,
    ImportOrderHeld, an envelope or hub error)."""

    @property
    def message_id(self) -> str | None:
        return None if self.message is None else self.message.id

    @property
    def sent(self) -> bool:
        return self.message is not None and self.error is None


class Outcome(enum.StrEnum):
    """What `receive` did with one message."""

    IMPORTED = "imported"
    """The handler imported the files; the hub has the `imported` receipt."""
    REJECTED = "rejected"
    """The message's content was refused; the hub has a `rejected` receipt with reason codes."""
    DOWNLOADED = "downloaded"
    """`acknowledge="downloaded"`: the handler took the files (into a folder the vendor's
    software imports from later) and the hub has the `downloaded` receipt; `imported` or
    `rejected` is the vendor's receipt to send (`receipt`)."""
    DEFERRED = "deferred"
    """A local failure (or a download that was not the hub's envelope answer): nothing final
    was sent, and the message is offered again next time."""


@attrs.frozen
class Received:
    """What `receive` did with one message: imported, rejected (with the reason codes sent to
    the hub), or deferred to a later run (with the local error)."""

    message: Message
    """The message after its last receipt."""
    outcome: Outcome
    reasons: tuple[str, ...] = ()
    """The reason codes sent with a rejection (docs/hub-protocol.md)."""
    opened: OpenedEnvelope | None = None
    error: BaseException | None = None
    """The detailed cause of a rejection or deferral: for the receiver's log, never the hub."""
    report: ValidationReport | None = None
    """The validation report, when the files were validated."""

    @property
    def imported(self) -> bool:
        return self.outcome is Outcome.IMPORTED


Acknowledge = Literal["imported", "downloaded"]
ACKNOWLEDGE: tuple[Acknowledge, ...] = ("imported", "downloaded")
"""The last receipt `receive` sends for a message it takes: `imported` once the handler has
imported the files, or `downloaded` once it has handed them over to be imported later."""


def _named(operation: str, flow: Flow[T]) -> Flow[T]:
    """Run `flow`, naming `operation` on any HubError that does not name one yet."""
    try:
        return (yield from flow)
    except HubError as error:
        if error.operation is None:
            error.operation = operation
        raise


def _hub(call: Callable[[HubSession], Generator[Any, Any, T]]) -> Flow[T]:
    result: T = yield Hub(call)
    return result


def _listing(
    box: str, cursor: str | None, status: Sequence[str] | None = None
) -> Callable[[HubSession], Generator[Any, Any, Page]]:
    return lambda session: session.list_page(box, cursor=cursor, status=status)


@functools.lru_cache(maxsize=4096)
def file_name(name: str) -> FileName:
    """`FileName.parse(name)`, remembered: a pass reads a unit's names several times (to group
    them, for the journal, for the users' column) and parsing one costs about 0.2 ms. A
    FileName is immutable; a name that does not parse raises every time (not remembered)."""
    return FileName.parse(name)


def journal_unit(
    bundle: Bundle,
    direction: Direction,
    *,
    key: str,
    sha256: str | None = None,
    message_id: str | None = None,
) -> JournalUnit:
    """The journal's view of a unit: its offices, 連番, kind, month and users."""
    names = [file_name(name) for name in bundle.files]
    months = sorted({n.month for n in names if n.month is not None})
    return JournalUnit(
        key=key,
        direction=direction,
        sender=bundle.sender.number,
        sender_service_type=bundle.sender.service_type or "",
        receiver=bundle.receiver.number,
        receiver_service_type=bundle.receiver.service_type or "",
        serial=bundle.serial,
        kind=bundle.kind.value,
        month=months[0] if months else None,
        insured_nos=insured_numbers(bundle),
        sha256=sha256,
        message_id=message_id,
    )


def _insured_positions() -> dict[str, int]:
    positions: dict[str, int] = {}
    for layout in LAYOUTS.values():
        for index, column in enumerate(layout.columns):
            if column.attribute == "insured_no":
                positions.setdefault(layout.id, index)
    return positions


_INSURED_POSITIONS = _insured_positions()

# A field on one line (quoted or bare); in MS932 the bytes `,` `"` CR LF are never part of a
# two-byte character, so the bytes can be matched as they are.
_FIELD = rb'(?:"[^"\r\n]*"|[^,"\r\n]*)'


@functools.cache
def _column(position: int) -> re.Pattern[bytes]:
    """Field `position` of every line (as a quoted or bare group)."""
    return re.compile(
        rb"^" + (_FIELD + rb",") * position + rb'(?:"([^"\r\n]*)"|([^,"\r\n]*))(?=,|\r?$)',
        re.MULTILINE,
    )


@functools.cache
def _bare_runs(position: int) -> re.Pattern[bytes]:
    """A run of lines whose fields up to `position` are bare (no quotes) and which share
    field `position` (group 1), followed by a comma or CR: one user's records as one match.
    Written for the speed of the regular expression engine: the fields spelt out rather than
    a repeated group, and the rest of a line as `[^\\n]*` (its fast path; `_bare_values`
    looks for a lone CR itself), each about twice as fast as the alternative."""
    bare = rb'[^,"\r\n]*'
    head = (bare + rb",") * position
    line_end = rb"[,\r][^\n]*"
    return re.compile(
        rb"(?:^|\n)" + head + rb"(" + bare + rb")" + line_end
        + rb"(?:\n" + head + rb"\1" + line_end + rb")*"
    )  # fmt: skip


_LONE_CR = re.compile(rb"\r(?!\n)")


def _bare_values(data: bytes, position: int) -> set[bytes] | None:
    """The distinct values of field `position` when every line is plainly written (ends CRLF
    or LF, has the field, no quote up to it), else None. The runs found must follow each
    other from the first byte to the last (an empty line, a line `_bare_runs` does not read,
    stops them)."""
    if _LONE_CR.search(data):
        return None
    values: set[bytes] = set()
    end = 0
    for run in _bare_runs(position).finditer(data):
        if run.start() != end:
            return None
        end = run.end()
        values.add(run.group(1))
    return values if data[end:] in (b"", b"\n") else None


def _lines(data: bytes) -> int:
    ends = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return ends + (0 if not data or data.endswith((b"\n", b"\r")) else 1)


def insured_numbers(bundle: Bundle) -> tuple[str, ...]:
    """The 被保険者番号 of the unit's users, sorted. Reads the one column that holds them
    rather than building every record (about 4 times faster, measured on a 0.6 MB unit: the
    journal reads it on every send and receive): a pattern over the bytes when it
    finds that column on every line, else (quotes escaped or spanning lines, short or empty
    lines) the csv module; first a simpler pattern (`_bare_values`), which reads every line
    when the fields up to it are not quoted, as the standard's files write them, and takes
    each user's run of records as one match (3 times faster than the general pattern on a
    3 MB 第6表). Each distinct value is decoded once, not once a line. Files that cannot be
    read add none: an invalid unit is journaled all the same."""
    found: set[str] = set()
    for name, data in bundle.files.items():
        try:
            position = _INSURED_POSITIONS.get(file_name(name).layout_id)
            if position is None:
                continue  # images, and layouts without the column
            raw = _bare_values(data, position)
            if raw is None:
                hits = _column(position).findall(data)
                if len(hits) == _lines(data):
                    raw = {quoted or bare for quoted, bare in hits}
            if raw is not None:
                values = {value.decode("cp932", "surrogateescape") for value in raw}
            else:
                rows = csv.reader(io.StringIO(decode(data), newline=""))
                values = {row[position] for row in rows if len(row) > position}
        except (FormatError, UnicodeError, csv.Error):
            continue
        for value in values:
            value = value.strip()
            if value and value.isprintable():  # not undecodable bytes (surrogates)
                found.add(value)
    return tuple(sorted(found))


class Steps:
    """The workflow's steps as flows, over one office's identity, trust and journal."""

    def __init__(
        self,
        identity: OfficeIdentity,
        trust: TrustSettings,
        journal: Journal,
        imported: ImportedUnits,
    ) -> None:
        self.identity = identity
        self.trust = trust
        self.journal = journal
        self.imported = imported

    # -- prepare -------------------------------------------------------------------------------

    def prepare(
        self,
        bundle: Bundle,
        *,
        to: Sequence[x509.Certificate] | None,
        check: bool,
        journal_with_send: bool = False,
    ) -> Flow[PreparedUnit]:
        """validate → the receiver's certificates (office directory, verified against the
        trust anchors) → seal. Raises InvalidBundle (with `.report`) for a unit with errors.

        `validated` and `sealed` are journaled in one commit; with `journal_with_send` they
        are left to the `send` that follows, which journals them with `sending` (one commit
        for the three: the way `sync` sends). A unit that goes no further (invalid, no
        certificate, sealing refused) is journaled as far as it went either way."""
        return _named("prepare", self._prepare(bundle, to, check, journal_with_send))

    def _prepare(
        self,
        bundle: Bundle,
        to: Sequence[x509.Certificate] | None,
        check: bool,
        journal_with_send: bool,
    ) -> Flow[PreparedUnit]:
        key = protocol.unit_idempotency_key(bundle)
        entry: JournalUnit = yield Compute(lambda: journal_unit(bundle, Direction.SENT, key=key))
        report: ValidationReport | None = None
        validated_at: datetime.datetime | None = None
        if check:
            report = yield Compute(lambda: validate(bundle))
            assert report is not None
            if not report.ok:
                codes = " ".join(sorted({i.code for i in report.errors}))
                yield Compute(lambda: self.journal.record(entry, Event.INVALID, detail=codes))
                raise InvalidBundle(report)
            # Journaled at its time, in one commit with `sealed` (one fsync less per unit),
            # or alone if the unit goes no further.
            validated_at = self.journal.now()
        try:
            receiver = bundle.receiver
            if to is None:
                directory = yield from _hub(lambda session: session.office(receiver.number))
                if not directory.registered or not directory.certificates:
                    raise HubError(
                        f"事業所 {receiver.number} の暗号化証明書が連携基盤にありません / office "
                        f"{receiver.number} has no encryption certificate on the hub"
                    )
                to = directory.certificates
            recipients = tuple(to)
            envelope: bytes = yield Compute(lambda: self._seal(bundle, recipients))
        except Exception:
            if validated_at is not None:
                yield Compute(lambda: self.journal.record(entry, Event.VALIDATED, at=validated_at))
            raise
        sha256 = hashlib.sha256(envelope).hexdigest()
        entry = attrs.evolve(entry, sha256=sha256)
        events: list[tuple[Event, datetime.datetime | None]] = []
        if validated_at is not None:
            events.append((Event.VALIDATED, validated_at))
        if journal_with_send:
            events.append((Event.SEALED, self.journal.now()))
            pending = tuple(events)
        else:
            events.append((Event.SEALED, None))
            yield Compute(lambda: self.journal.record_all(entry, events))
            pending = ()
        return PreparedUnit(bundle, envelope, sha256, key, recipients, report, entry, pending)

    def _seal(self, bundle: Bundle, recipients: Sequence[x509.Certificate]) -> bytes:
        # A hostile or compromised hub could hand out a key of its own: `seal` verifies every
        # certificate from the directory against the trust anchors (office profile, chain,
        # validity, revocation, the receiver's office number) and encrypts only to those that
        # hold — during a renewal the office has two — refusing when none does.
        return seal(bundle, sender=self.identity, recipients=recipients, trust=self.trust)

    # -- send ----------------------------------------------------------------------------------

    def send(self, prepared: PreparedUnit) -> Flow[SendOutcome]:
        """Send a prepared unit exactly once: journaled `sending` before it goes and `sent`
        after. The key comes from the unit, so sending it again — after OutcomeUnknown, a
        lost answer, a crash — finds the message the hub already holds (`already_sent`).
        Raises SerialAlreadyUsed when that message was withdrawn, expired or rejected."""
        return _named("send_bundle", self._send(prepared))

    def _send(self, prepared: PreparedUnit) -> Flow[SendOutcome]:
        bundle = prepared.unit
        receiver = bundle.receiver
        key = prepared.idempotency_key
        entry = prepared.journal_unit
        # The intent, committed before the envelope goes (with the preparation's events when
        # they were left to it).
        events = (*prepared.pending, (Event.SENDING, None))
        yield Compute(lambda: self.journal.record_all(entry, events))
        try:
            try:
                message: Message = yield from _hub(
                    lambda session: session.send(
                        prepared.envelope,
                        to=receiver.number,
                        service_type=receiver.service_type or "",
                        serial=bundle.serial,
                        unit_kind=bundle.kind.value,
                        key=key,
                    )
                )
            except Conflict:
                # The key is taken by another envelope: an earlier sealing of this very unit.
                found = yield from _hub(lambda session: session.find_sent(key))
                if found is None:
                    raise
                message = found
            already_sent = message.sha256 != prepared.sha256
            if already_sent and message.status in NEVER_IMPORTED:
                raise SerialAlreadyUsed(
                    f"この送信単位（ファイル連番 {bundle.serial}）はメッセージ {message.id} で"
                    f"送信済みで、{message.status.value} になっています。送り直すには新しい"
                    f"ファイル連番を付けてください / this unit (ファイル連番 {bundle.serial}) was "
                    f"sent as message {message.id}, which is {message.status.value}: send the "
                    "files again under a new ファイル連番",
                    message_id=message.id,
                    status=message.status.value,
                )
        except CareplanLinkError as error:
            if not _outcome_unknown(error):
                failed = _describe(error)
                yield Compute(lambda: self.journal.record(entry, Event.SEND_FAILED, detail=failed))
            raise
        sent = attrs.evolve(entry, message_id=message.id, sha256=message.sha256)
        yield Compute(lambda: self._journal_sent(sent, message, already_sent))
        return SendOutcome(bundle, message, already_sent, key, prepared.report)

    def _journal_sent(self, entry: JournalUnit, message: Message, already_sent: bool) -> None:
        with self.journal.transaction():
            self.journal.record(entry, Event.SENT, detail="already sent" if already_sent else None)
            record_statuses(self.journal, entry, message)

    # -- receive -------------------------------------------------------------------------------

    def receive(self, check: bool, acknowledge: Acknowledge = "imported") -> Flow[list[Received]]:
        """Take in every delivered (or downloaded, not yet taken) message, one at a time;
        see `receive_message`. Stops, raising, only when the hub as a whole fails (no answer,
        5xx, login refused): what was done until then stands on the hub."""
        if acknowledge not in ACKNOWLEDGE:
            raise ValueError(f"acknowledge is one of {', '.join(ACKNOWLEDGE)}, not {acknowledge!r}")
        return _named("receive", self._receive(check, acknowledge))

    def _receive(self, check: bool, acknowledge: Acknowledge) -> Flow[list[Received]]:
        done: list[Received] = []
        cursor: str | None = None
        seen: set[str] = set()
        # Units of one sender to one receiver are imported in order: once one is deferred,
        # the ones behind it wait with it (other partners' messages go on).
        held: dict[tuple[str, str, str], str] = {}
        while True:
            page = yield from _hub(_listing("inbox", cursor, INBOX_TO_RECEIVE))
            for message in page.messages:
                partner = (message.sender, message.receiver, message.service_type)
                if partner in held:
                    waiting = ImportOrderHeld(
                        f"message {message.id} waits for message {held[partner]} of the same "
                        "sender, deferred in this run (units are imported in order)"
                    )
                    done.append(_deferred(message, waiting))
                    continue
                if acknowledge == "downloaded":
                    handed = yield Compute(functools.partial(self._handed_over, message))
                    if handed:
                        # Waiting for the vendor's receipt. Its statuses are journaled again:
                        # a kill between two of them may have left one out.
                        yield Compute(functools.partial(self._journal_statuses, message))
                        continue
                result = yield from self.receive_message(message, check, acknowledge)
                if result.outcome is Outcome.DEFERRED:
                    held[partner] = message.id
                done.append(result)
            following = HubSession.next_cursor(page, cursor, seen, "inbox")
            if following is None:
                return done
            cursor = following

    def _handed_over(self, message: Message) -> bool:
        """A `downloaded` message whose files were handed over in an earlier run."""
        if message.status != MessageStatus.DOWNLOADED:
            return False
        entry = self.journal.unit(f"in:{message.id}")
        if entry is None:
            return False
        unit = ImportedUnit(
            entry.sender, entry.sender_service_type, entry.receiver,
            entry.receiver_service_type, entry.serial,
        )  # fmt: skip
        return self.imported.imported_by(unit) == message.id

    def _journal_statuses(self, message: Message) -> None:
        entry = self.journal.unit(f"in:{message.id}")
        if entry is not None:
            record_statuses(self.journal, entry, message)

    def receive_message(
        self, message: Message, check: bool, acknowledge: Acknowledge = "imported"
    ) -> Flow[Received]:
        """download → `downloaded` receipt → open (signing time judged at the hub's
        accepted_at) → sender is signer → not imported before, not older than the newest
        imported → validate → handler → record → `imported` receipt.

        With `acknowledge="downloaded"` the `downloaded` receipt comes last instead, after the
        handler (which writes the files for the vendor's software to import later) and the
        record, and no `imported` is sent: a crash in between leaves the message `delivered`,
        and the next run hands the same files over again (the handler finds them written)
        and only sends the receipt.

        The message's content failing any check (any exception from opening or validating,
        foreign ones included) is a rejection with one reason code (after the `downloaded`
        receipt: the hub's status table allows a rejection only then); a local failure
        (OSError, MemoryError, a stale CRL, the handler raising) or a download that is not the
        hub's envelope answer leaves the message for a later run. Either way the next message
        is taken. Every step is journaled under the message."""
        try:
            result = yield from self._receive_message(message, check, acknowledge)
        except HubError as error:
            if isinstance(error, HUB_WIDE):
                raise
            result = _deferred(message, error)
        yield Compute(lambda: self._journal_received(result))
        return result

    def _journal_received(self, result: Received) -> None:
        message = result.message
        if result.opened is not None:
            entry = journal_unit(
                result.opened.unit,
                Direction.RECEIVED,
                key=f"in:{message.id}",
                sha256=message.sha256,
                message_id=message.id,
            )
        else:
            entry = _received_entry(message)
        with self.journal.transaction():
            if result.outcome is Outcome.DEFERRED:
                self.journal.record(entry, Event.DEFERRED, detail=_describe(result.error))
            # A rejection's local cause goes with its status (the hub and the sender only
            # get the reason code).
            details = {}
            if result.outcome is Outcome.REJECTED:
                details[Event.REJECTED] = _describe(result.error) or ""
            record_statuses(self.journal, entry, message, details=details)

    def _receive_message(
        self, message: Message, check: bool, acknowledge: Acknowledge
    ) -> Flow[Received]:
        answer = yield from _hub(lambda session: session.download_answer(message.id))
        if answer.sha256 != message.sha256:
            raise HubProtocolError(
                f"message {message.id}: the downloaded envelope is not the one the hub lists"
            )
        importing = acknowledge == "imported"
        if importing and message.status == MessageStatus.DELIVERED:
            message = yield from _hub(lambda session: session.acknowledge(message.id, "downloaded"))
        accepted_at = message.accepted_at
        identity, trust, imported = self.identity, self.trust, self.imported
        try:
            opened: OpenedEnvelope = yield Compute(
                lambda: open_envelope(
                    answer.content,
                    identity=identity,
                    trust=trust,
                    at=accepted_at,
                    allow_legacy_cbc=trust.allow_legacy_cbc,
                )
            )
        except _LOCAL_FAILURES as error:
            return _deferred(message, error)
        except Exception as error:
            return (yield from self._reject(message, reason_for_open_failure(error), error))
        if opened.sender_office_no != message.sender:
            mismatch = HubProtocolError(
                f"message {message.id}: the hub names office {message.sender} as the sender, "
                f"but office {opened.sender_office_no} signed it"
            )
            return (yield from self._reject(message, SENDER_NOT_SIGNER, mismatch, opened))
        unit = ImportedUnit.of(opened.manifest)
        try:
            earlier, newest = yield Compute(
                lambda: (imported.imported_by(unit), imported.newest_serial(unit))
            )
        except Exception as error:
            return _deferred(message, error, opened)
        again = earlier == message.id
        if again and importing:
            # Imported in an earlier run whose `imported` receipt never reached the hub.
            final = yield from _hub(lambda session: session.acknowledge(message.id, "imported"))
            return Received(final, Outcome.IMPORTED, opened=opened)
        if earlier is not None and not again:
            replay = ValueError(f"unit {unit} was imported from message {earlier}")
            return (yield from self._reject(message, ALREADY_IMPORTED, replay, opened))
        if earlier is None and newest is not None and unit.serial < newest:
            older = ValueError(f"unit {unit} is older than the imported ファイル連番 {newest}")
            return (yield from self._reject(message, OLDER_THAN_IMPORTED, older, opened))
        report: ValidationReport | None = None
        if check and not again:
            try:
                report = yield Compute(lambda: validate(opened.files))
            except _LOCAL_FAILURES as error:
                return _deferred(message, error, opened)
            except Exception as error:
                return (yield from self._reject(message, VALIDATION_FAILED, error, opened))
            assert report is not None
            if not report.ok:
                invalid = InvalidBundle(report)
                return (
                    yield from self._reject(message, VALIDATION_FAILED, invalid, opened, report)
                )
        # Handed over again after a lost `downloaded` receipt: the handler finds its files.
        try:
            yield Handle(opened, message)
            yield Compute(lambda: imported.add(unit, message.id))
        except Exception as error:
            return _deferred(message, error, opened, report)
        if importing:
            final = yield from _hub(lambda session: session.acknowledge(message.id, "imported"))
            return Received(final, Outcome.IMPORTED, opened=opened, report=report)
        if message.status == MessageStatus.DELIVERED:
            message = yield from _hub(lambda session: session.acknowledge(message.id, "downloaded"))
        return Received(message, Outcome.DOWNLOADED, opened=opened, report=report)

    def _reject(
        self,
        message: Message,
        reason: str,
        error: BaseException,
        opened: OpenedEnvelope | None = None,
        report: ValidationReport | None = None,
    ) -> Flow[Received]:
        # The hub (and the sender) get the code; the cause stays here.
        log.warning("message %s rejected (%s): %r", message.id, reason, error)
        if message.status == MessageStatus.DELIVERED:
            # A rejection follows the download in the hub's status table.
            message = yield from _hub(lambda session: session.acknowledge(message.id, "downloaded"))
        final = yield from _hub(
            lambda session: session.acknowledge(message.id, "rejected", (reason,))
        )
        return Received(final, Outcome.REJECTED, (reason,), opened, error, report)

    # -- receipts and statuses -----------------------------------------------------------------

    def receipt(
        self, message_id: str, status: str, reasons: Sequence[str], detail: str | None
    ) -> Flow[Message]:
        """Send a receipt for a received message and journal it."""
        return _named("receipt", self._receipt(message_id, status, reasons, detail))

    def _receipt(
        self, message_id: str, status: str, reasons: Sequence[str], detail: str | None
    ) -> Flow[Message]:
        message: Message = yield from _hub(
            lambda session: session.acknowledge(message_id, status, tuple(reasons))
        )
        known = yield Compute(lambda: self.journal.unit(f"in:{message_id}"))
        entry = known or _received_entry(message)
        # The detail (the office's own words, never sent) goes with the status it explains,
        # in the same write: the journal keeps a hub status once.
        details = {} if detail is None else {Event(status): detail}
        yield Compute(lambda: record_statuses(self.journal, entry, message, details=details))
        return message

    def refresh_statuses(self) -> Flow[list[Message]]:
        """Walk the outbox and journal every status the hub reports for the office's sent
        units (delivered, downloaded, imported, rejected with reasons, withdrawn, expired)."""
        return _named("refresh_statuses", self._refresh_statuses())

    def _refresh_statuses(self) -> Flow[list[Message]]:
        walked: list[Message] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = yield from _hub(_listing("outbox", cursor))
            walked += page.messages

            def journal(messages: Sequence[Message] = page.messages) -> None:
                with self.journal.transaction():
                    for message in messages:
                        unit = self.journal.unit(message.id)
                        if unit is not None:
                            record_statuses(self.journal, unit, message)

            yield Compute(journal)
            following = HubSession.next_cursor(page, cursor, seen, "outbox")
            if following is None:
                return walked
            cursor = following


_STATUS_EVENTS = {
    MessageStatus.DELIVERED: Event.DELIVERED,
    MessageStatus.DOWNLOADED: Event.DOWNLOADED,
    MessageStatus.IMPORTED: Event.IMPORTED,
    MessageStatus.REJECTED: Event.REJECTED,
    MessageStatus.WITHDRAWN: Event.WITHDRAWN,
    MessageStatus.EXPIRED: Event.EXPIRED,
}


def record_statuses(
    journal: Journal,
    unit: JournalUnit,
    message: Message,
    *,
    details: Mapping[Event, str] | None = None,
) -> None:
    """Journal each status of the message's hub history once, at the hub's time, in one
    transaction; `details` are the office's own words on some of them (the local cause of a
    rejection: kept here, never sent)."""
    details = details or {}
    with journal.transaction():
        for change in message.history:
            event = _STATUS_EVENTS.get(change.status)
            if event is not None:
                journal.record(
                    unit, event, at=change.at, reasons=change.reasons, detail=details.get(event)
                )


def _received_entry(message: Message) -> JournalUnit:
    """The journal's view of a received message whose files were not opened."""
    return JournalUnit(
        key=f"in:{message.id}",
        direction=Direction.RECEIVED,
        sender=message.sender,
        sender_service_type="",
        receiver=message.receiver,
        receiver_service_type=message.service_type,
        serial=message.serial or "",
        kind=message.unit_kind or "",
        month=None,
        sha256=message.sha256,
        message_id=message.id,
    )


def _outcome_unknown(error: BaseException) -> bool:
    return isinstance(error, OutcomeUnknown)


def _describe(error: BaseException | None) -> str | None:
    if error is None:
        return None
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _deferred(
    message: Message,
    error: BaseException,
    opened: OpenedEnvelope | None = None,
    report: ValidationReport | None = None,
) -> Received:
    log.warning("message %s left for a later run: %r", message.id, error)
    return Received(message, Outcome.DEFERRED, (), opened, error, report)
