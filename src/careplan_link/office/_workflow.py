"""Workflow and AsyncWorkflow: the office's steps (`_flow.Steps`) over a Client or AsyncClient.

Both are short loops over the same flows; they differ only in how they wait: Workflow runs
everything in line, AsyncWorkflow awaits the client and runs local work (validate, seal, open,
the journal) in a worker thread so that its event loop never blocks.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509

from ..client import AsyncClient, Client
from ..envelope import OfficeIdentity, OpenedEnvelope, TrustSettings, TrustStore
from ..errors import CareplanLinkError, InvalidBundle
from ..format import Bundle, group_units
from ..protocol import Message
from ._flow import (
    HUB_WIDE,
    Acknowledge,
    Compute,
    Flow,
    Handle,
    Hub,
    ImportOrderHeld,
    PreparedUnit,
    Received,
    SendOutcome,
    Steps,
)
from ._imported import ImportedUnits
from ._journal import Journal

__all__ = ["AsyncWorkflow", "Handler", "UnitSource", "Workflow", "units_of"]

T = TypeVar("T")

Handler = Callable[[OpenedEnvelope, Message], object]
"""The vendor's import: called with the verified files (in import order) and the message. An
AsyncWorkflow's handler may be a coroutine function."""

UnitSource = (
    Bundle | Mapping[str, bytes] | str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
)
"""A unit or files: a Bundle, file name → bytes, a folder, or file paths."""


def units_of(source: UnitSource) -> list[Bundle]:
    """The transmission units in `source` (a Bundle, a mapping, a folder or file paths), in
    ascending ファイル連番. Raises `FormatError` for a name that is not a standard file name;
    files in a folder whose names do not start like a standard file (notes, `.part` files of
    a write in progress) are left out."""
    if isinstance(source, Bundle):
        return [source]
    if isinstance(source, Mapping):
        return group_units(source)
    if isinstance(source, str | os.PathLike):
        source = [source]
    paths: list[Path] = []
    for item in map(Path, source):
        if item.is_dir():
            paths += sorted(p for p in item.iterdir() if p.is_file() and _looks_standard(p.name))
        else:
            paths.append(item)
    return group_units(paths)


def _looks_standard(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(".part") and "_" in name


def _trust(trust: TrustSettings | TrustStore) -> TrustSettings:
    return trust if isinstance(trust, TrustSettings) else TrustSettings(anchors=trust)


class _Base:
    def __init__(
        self,
        *,
        identity: OfficeIdentity,
        trust: TrustSettings | TrustStore,
        journal: Journal | None,
        imported_units: ImportedUnits | None,
    ) -> None:
        self.identity = identity
        self.trust = _trust(trust)
        self.journal = journal if journal is not None else Journal(":memory:")
        self.imported_units: ImportedUnits = (
            imported_units if imported_units is not None else self.journal
        )
        self.steps = Steps(self.identity, self.trust, self.journal, self.imported_units)

    @staticmethod
    def _one(source: UnitSource) -> Bundle:
        if isinstance(source, Bundle):
            return source
        units = units_of(source)
        if len(units) == 1:
            return units[0]
        files = {name: data for unit in units for name, data in unit.files.items()}
        return Bundle.from_files(files)  # raises FormatError unit.not_one


class Workflow(_Base):
    """One office's workflow over a `Client`: prepare, send, receive, receipts, history.

        with Client(url, login=login, identity=care) as client:
            office = Workflow(client, identity=care, trust=trust, journal=Journal("j.db"))
            outcome = office.send(office.prepare(folder))

    `identity` seals and opens; `trust` (TrustSettings or a bare TrustStore) is what the
    recipients' certificates and received envelopes are checked against; `journal` keeps the
    timeline of every unit (default: in memory); `imported_units` the record of imported
    units `receive` refuses replays with (default: the journal).
    """

    def __init__(
        self,
        client: Client,
        *,
        identity: OfficeIdentity,
        trust: TrustSettings | TrustStore,
        journal: Journal | None = None,
        imported_units: ImportedUnits | None = None,
    ) -> None:
        super().__init__(
            identity=identity, trust=trust, journal=journal, imported_units=imported_units
        )
        self.client = client

    def prepare(
        self,
        source: UnitSource,
        *,
        to: Sequence[x509.Certificate] | None = None,
        check: bool = True,
        journal_with_send: bool = False,
    ) -> PreparedUnit:
        """Group → validate → verify the receiver's certificates → seal one unit.

        Raises InvalidBundle (`.report`) when the files do not validate (journaled `invalid`),
        FormatError when they are not exactly one unit. `to` overrides the receiver's
        certificates, otherwise taken from the hub's office directory; either way each is
        verified against the trust anchors. `journal_with_send=True` leaves `validated` and
        `sealed` to be journaled by the `send` that follows, in the same commit as `sending`
        (one fsync instead of two; not journaled at all if no send follows)."""
        return self._run(
            self.steps.prepare(
                self._one(source), to=to, check=check, journal_with_send=journal_with_send
            )
        )

    def send(self, prepared: PreparedUnit) -> SendOutcome:
        """Send a prepared unit, exactly once (see `Steps.send`)."""
        return self._run(self.steps.send(prepared))

    def send_bundle(
        self,
        source: UnitSource,
        *,
        to: Sequence[x509.Certificate] | None = None,
        check: bool = True,
    ) -> SendOutcome:
        """`prepare` then `send`: safe to call again for the same unit after any failure."""
        return self.send(self.prepare(source, to=to, check=check, journal_with_send=True))

    def send_folder(self, source: UnitSource, *, check: bool = True) -> list[SendOutcome]:
        """Send every unit found (a folder, file paths or files), to each partner in ascending
        ファイル連番. A unit refused (invalid: `error` is InvalidBundle with the report) or not
        sent holds the later units to the same partner (`ImportOrderHeld`). A failure of the
        hub as a whole raises; what was sent until then is journaled."""
        outcomes: list[SendOutcome] = []
        held: dict[tuple[str, str | None], str] = {}
        for unit in units_of(source):
            partner = (unit.receiver.number, unit.receiver.service_type)
            if partner in held:
                outcomes.append(_held(unit, held[partner]))
                continue
            try:
                outcome = self.send_bundle(unit, check=check)
            except HUB_WIDE:
                raise
            except CareplanLinkError as error:
                outcome = _refused(unit, error)
            if not outcome.sent:
                held[partner] = unit.serial
            outcomes.append(outcome)
        return outcomes

    def receive(
        self, handler: Handler, *, check: bool = True, acknowledge: Acknowledge = "imported"
    ) -> list[Received]:
        """Take in every delivered message: download → `downloaded` receipt → open → validate
        → `handler(opened, message)` with the files in import order → `imported` receipt.

        `acknowledge="downloaded"` is for a handler that only hands the files over (writes
        them where the vendor's software imports from later, as `sync` does): the
        `downloaded` receipt then comes after the handler, no `imported` is sent (the vendor
        says `imported` or `rejected` through `receipt`), each such message's outcome is
        `Outcome.DOWNLOADED`, and a message handed over in an earlier run is not offered
        again. After a crash before the receipt, the handler is called again with the same
        files: it should take files it finds already written as written.

        A message whose content fails (does not open, verify or validate; a sender that is not
        its signer; a unit already imported, or older than one imported) is acknowledged
        `rejected` with one reason code (docs/hub-protocol.md) and the handler is not called.
        A local failure (the handler raising, OSError, MemoryError) or a download that is not
        the hub's envelope answer leaves the message for the next run. Each message has its
        `Received`; only a failure of the hub as a whole raises. `handler` must be a plain
        function: an `async def` handler belongs to AsyncWorkflow."""
        if _is_coroutine_function(handler):
            raise TypeError(
                "Workflow.receive には通常の関数を渡してください（async def は AsyncWorkflow で）"
                "/ Workflow.receive needs a plain function; use AsyncWorkflow for an async "
                "handler"
            )
        return self._run(self.steps.receive(check, acknowledge), handler)

    def receipt(
        self,
        message_id: str,
        status: str,
        reasons: Sequence[str] = (),
        detail: str | None = None,
    ) -> Message:
        """Send the vendor's receipt (`imported`, or `rejected` with reason codes) for a
        received message, journaled with `detail` (kept here, never sent)."""
        return self._run(self.steps.receipt(message_id, status, reasons, detail))

    def refresh_statuses(self) -> list[Message]:
        """Pull the outbox's statuses into the journal; returns the outbox's messages."""
        return self._run(self.steps.refresh_statuses())

    def _run(self, flow: Flow[T], handler: Handler | None = None) -> T:
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                instruction = flow.send(reply) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            reply, error = None, None
            result: object = None
            try:
                if isinstance(instruction, Hub):
                    reply = self.client.run(instruction.call(self.client.session))
                elif isinstance(instruction, Compute):
                    reply = instruction.function()
                elif isinstance(instruction, Handle):
                    assert handler is not None
                    result = handler(instruction.opened, instruction.message)
            except Exception as failure:
                error = failure
            if inspect.isawaitable(result):
                # A defect of the caller, not of the message: it ends the call.
                getattr(result, "close", lambda: None)()  # never awaited: no warning
                raise TypeError(
                    "the receive handler returned an awaitable; Workflow cannot await it "
                    "(the files were not imported): use AsyncWorkflow"
                )


class AsyncWorkflow(_Base):
    """Workflow over an `AsyncClient`: the same steps, awaited. Local work runs in worker
    threads; the receive handler may be a coroutine function."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        identity: OfficeIdentity,
        trust: TrustSettings | TrustStore,
        journal: Journal | None = None,
        imported_units: ImportedUnits | None = None,
    ) -> None:
        super().__init__(
            identity=identity, trust=trust, journal=journal, imported_units=imported_units
        )
        self.client = client

    async def prepare(
        self,
        source: UnitSource,
        *,
        to: Sequence[x509.Certificate] | None = None,
        check: bool = True,
        journal_with_send: bool = False,
    ) -> PreparedUnit:
        """See `Workflow.prepare`."""
        bundle = await asyncio.to_thread(self._one, source)
        return await self._run(
            self.steps.prepare(bundle, to=to, check=check, journal_with_send=journal_with_send)
        )

    async def send(self, prepared: PreparedUnit) -> SendOutcome:
        """See `Workflow.send`."""
        return await self._run(self.steps.send(prepared))

    async def send_bundle(
        self,
        source: UnitSource,
        *,
        to: Sequence[x509.Certificate] | None = None,
        check: bool = True,
    ) -> SendOutcome:
        """See `Workflow.send_bundle`."""
        return await self.send(
            await self.prepare(source, to=to, check=check, journal_with_send=True)
        )

    async def send_folder(self, source: UnitSource, *, check: bool = True) -> list[SendOutcome]:
        """See `Workflow.send_folder`."""
        outcomes: list[SendOutcome] = []
        held: dict[tuple[str, str | None], str] = {}
        for unit in await asyncio.to_thread(units_of, source):
            partner = (unit.receiver.number, unit.receiver.service_type)
            if partner in held:
                outcomes.append(_held(unit, held[partner]))
                continue
            try:
                outcome = await self.send_bundle(unit, check=check)
            except HUB_WIDE:
                raise
            except CareplanLinkError as error:
                outcome = _refused(unit, error)
            if not outcome.sent:
                held[partner] = unit.serial
            outcomes.append(outcome)
        return outcomes

    async def receive(
        self, handler: Handler, *, check: bool = True, acknowledge: Acknowledge = "imported"
    ) -> list[Received]:
        """See `Workflow.receive`; the handler may be a coroutine function, awaited before
        the last receipt."""
        return await self._run(self.steps.receive(check, acknowledge), handler)

    async def receipt(
        self,
        message_id: str,
        status: str,
        reasons: Sequence[str] = (),
        detail: str | None = None,
    ) -> Message:
        """See `Workflow.receipt`."""
        return await self._run(self.steps.receipt(message_id, status, reasons, detail))

    async def refresh_statuses(self) -> list[Message]:
        """See `Workflow.refresh_statuses`."""
        return await self._run(self.steps.refresh_statuses())

    async def _run(self, flow: Flow[T], handler: Handler | None = None) -> T:
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                instruction = flow.send(reply) if error is None else flow.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            reply, error = None, None
            try:
                if isinstance(instruction, Hub):
                    reply = await self.client.run(instruction.call(self.client.session))
                elif isinstance(instruction, Compute):
                    reply = await asyncio.to_thread(instruction.function)
                elif isinstance(instruction, Handle):
                    assert handler is not None
                    result = handler(instruction.opened, instruction.message)
                    if inspect.isawaitable(result):
                        await _awaited(result)
            except Exception as failure:
                error = failure


async def _awaited(result: Awaitable[object]) -> None:
    await result


def _refused(unit: Bundle, error: CareplanLinkError) -> SendOutcome:
    report = error.report if isinstance(error, InvalidBundle) else None
    return SendOutcome(unit, None, report=report, error=error)


def _held(unit: Bundle, blocking_serial: str) -> SendOutcome:
    waiting = ImportOrderHeld(
        f"ファイル連番 {unit.serial} は、同じ送信先への {blocking_serial} が送れなかったため送信を"
        f"保留しました / unit {unit.serial} waits: the earlier unit {blocking_serial} to the "
        "same office was not sent (units go in ascending ファイル連番)"
    )
    return SendOutcome(unit, None, error=waiting)


def _is_coroutine_function(handler: object) -> bool:
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004  (a callable object's method)
    )
