"""Issue 12's hardening of the workflow, now the office layer's (moved from tests/client by
issue 16): receive and send exactly once, receipts that are no oracle, replays — each through
both workflows (`connect`), in the hub's virtual time."""

from __future__ import annotations

import asyncio
import datetime
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from careplan_link import Bundle, OpenedEnvelope, TrustSettings, seal
from careplan_link.client import (
    REJECTION_REASONS,
    AsyncClient,
    Client,
    HubProtocolError,
    HubTransportError,
    Message,
    OutcomeUnknown,
)
from careplan_link.envelope import RECEIPT_REASONS as ENVELOPE_REASONS
from careplan_link.office import (
    AsyncWorkflow,
    ImportOrderHeld,
    SerialAlreadyUsed,
    SqliteImportedUnits,
    Workflow,
)
from careplan_link.protocol import unit_idempotency_key
from careplan_link.testing import FakeHub
from careplan_link.testing.pytest_plugin import HubOffices
from tests.client.soak import poison_envelope, run_bundle_soak, run_poison_soak, unit

from .conftest import Blocking, Connect

PROVIDER = "1370200022"
OTHER = "1370300038"
NoneType = type(None)
DOCS = Path(__file__).resolve().parents[2] / "docs"


def sender(connect: Connect, offices: HubOffices, **options: Any) -> Blocking:
    return connect(
        offices.care_login, identity=offices.care, trust=offices.pki.trust_store, **options
    )


def receiver(connect: Connect, offices: HubOffices, **options: Any) -> Blocking:
    options.setdefault("trust", offices.pki.trust_store)
    return connect(offices.provider_login, identity=offices.provider, **options)


def sealed(offices: HubOffices, bundle: Bundle, **options: Any) -> bytes:
    options.setdefault("sender", offices.care)
    options.setdefault("trust", offices.pki.trust_store)
    return seal(bundle, recipients=[offices.provider.certificate], **options)


def post(care: Blocking, envelope: bytes, bundle: Bundle | None = None) -> Message:
    serial = bundle.serial if bundle is not None else None
    message: Message = care.send(envelope, to=PROVIDER, service_type="11", serial=serial)
    return message


def accept_all(opened: OpenedEnvelope, message: Message) -> None:
    pass


def reasons_of(hub: FakeHub, message_id: str) -> tuple[str, ...]:
    return hub.message(message_id).history[-1].reasons


# -- 2. one bad message does not stall receive ------------------------------------------------


def test_a_poison_message_is_rejected_and_every_other_imported(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login)
    poison = post(
        care,
        poison_envelope(
            unit(0),
            sender=hub_offices.care,
            recipient=hub_offices.provider,
            trust=hub_offices.pki.trust_store,
        ),
    )
    good = [post(care, sealed(hub_offices, unit(n)), unit(n)).id for n in range(1, 6)]
    done = receiver(connect, hub_offices).receive(accept_all)
    outcomes = {r.message.id: r.outcome for r in done}
    assert outcomes == {poison.id: "rejected", **dict.fromkeys(good, "imported")}
    (reason,) = reasons_of(fake_hub, poison.id)
    assert reason in REJECTION_REASONS
    assert [fake_hub.message(i).status for i in good] == ["imported"] * 5


def test_a_foreign_exception_from_validation_is_a_rejection_not_a_stall(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injection where validate met content it could not handle (the 200k-deep
    # manifest or private-use character): any exception, of any type.
    from careplan_link.office import _flow as _core

    real = _core.validate

    def fragile(files: Any) -> Any:
        if unit(1).serial in next(iter(files)):
            raise RecursionError("maximum recursion depth exceeded")
        return real(files)

    monkeypatch.setattr(_core, "validate", fragile)
    care = connect(hub_offices.care_login)
    bad = post(care, sealed(hub_offices, unit(1)), unit(1))
    fine = post(care, sealed(hub_offices, unit(2)), unit(2))
    first, second = receiver(connect, hub_offices).receive(accept_all)
    assert (first.message.id, first.outcome, first.reasons) == (
        bad.id,
        "rejected",
        ("VALIDATION_FAILED",),
    )
    assert isinstance(first.error, RecursionError)  # the cause, kept locally
    assert (second.message.id, second.outcome) == (fine.id, "imported")


def test_a_local_failure_leaves_the_message_for_a_later_run(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login)
    other = hub_offices.pki.office(OTHER)
    other_login = fake_hub.register_office(other)
    ids = [post(care, sealed(hub_offices, unit(n)), unit(n)).id for n in range(1, 4)]
    elsewhere = post(connect(other_login), sealed(hub_offices, unit(1, sender=OTHER), sender=other))
    failures: dict[str, BaseException] = {
        ids[0]: OSError("disk full"),
        ids[1]: MemoryError(),
    }

    def flaky_import(opened: OpenedEnvelope, message: Message) -> None:
        if message.id in failures:
            raise failures.pop(message.id)

    provider = receiver(connect, hub_offices)
    done = provider.receive(flaky_import, check=False)
    # The care office's later units wait behind its first (units are imported in order);
    # the other office's message is not held up.
    assert [r.outcome for r in done] == ["deferred", "deferred", "deferred", "imported"]
    assert [type(r.error) for r in done] == [OSError, ImportOrderHeld, ImportOrderHeld, NoneType]
    assert [fake_hub.message(i).status for i in ids] == ["downloaded", "delivered", "delivered"]
    assert fake_hub.message(elsewhere.id).status == "imported"
    assert fake_hub.counts["receipt_rejected"] == 0
    later = provider.receive(flaky_import, check=False)  # the disk has room again
    assert [(r.message.id, r.outcome) for r in later] == [
        (ids[0], "imported"),
        (ids[1], "deferred"),  # MemoryError this time
        (ids[2], "deferred"),
    ]
    assert [r.outcome for r in provider.receive(flaky_import, check=False)] == ["imported"] * 2


# -- 3. send_bundle stores a unit once ---------------------------------------------------------


def test_sending_a_unit_twice_stores_it_once(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = sender(connect, hub_offices)
    first = care.send_bundle(unit(1))
    again = care.send_bundle(unit(1))  # sealed anew: another envelope, the same unit
    assert not first.already_sent and again.already_sent
    assert again.message.id == first.message.id and len(fake_hub.messages()) == 1
    assert again.idempotency_key == first.idempotency_key == unit_idempotency_key(unit(1))


@pytest.mark.parametrize("kind", ["lost_response", "garbled_response"])
def test_sending_again_after_a_lost_or_garbled_answer_stores_the_unit_once(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices, kind: str
) -> None:
    care = sender(connect, hub_offices, retry=fake_hub.clock.retry_policy(attempts=2))
    if kind == "lost_response":  # every answer lost, the outbox check's too
        fake_hub.inject(kind, operations={"send", "outbox"}, times=3)
    else:  # the 201 of the stored send arrives mangled
        fake_hub.inject("garbled_response", operations={"send"}, times=1)
    with pytest.raises(OutcomeUnknown if kind == "lost_response" else HubProtocolError):
        care.send_bundle(unit(1))
    assert len(fake_hub.messages()) == 1  # the hub stored it; the sender cannot know
    resent = care.send_bundle(unit(1))  # the caller's only way to retry: seal and send again
    assert resent.already_sent and [m.id for m in fake_hub.messages()] == [resent.message.id]


def test_a_withdrawn_unit_goes_again_only_under_a_new_serial(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = sender(connect, hub_offices)
    first = care.send_bundle(unit(1))
    care.withdraw(first.message.id)
    with pytest.raises(SerialAlreadyUsed, match="ファイル連番") as refused:
        care.send_bundle(unit(1))
    assert (refused.value.message_id, refused.value.status) == (first.message.id, "withdrawn")
    assert refused.value.operation == "send_bundle"
    renumbered = care.send_bundle(unit(2))  # the same files under a new ファイル連番
    assert not renumbered.already_sent and len(fake_hub.messages()) == 2


def test_the_unit_key_is_the_units_not_the_envelopes() -> None:
    assert unit_idempotency_key(unit(1)) == unit_idempotency_key(unit(1))
    assert unit_idempotency_key(unit(1)) != unit_idempotency_key(unit(2))  # another serial
    files = dict(unit(1).files)
    assert unit_idempotency_key(Bundle.from_files(files)) == unit_idempotency_key(unit(1))
    name = next(iter(files))
    files[name] = files[name][:-2] + b"X\r\n"  # one file changed: another unit
    assert unit_idempotency_key(Bundle.from_files(files)) != unit_idempotency_key(unit(1))


# -- 4. a download that is not the hub's envelope answer --------------------------------------


def through(fake_hub: FakeHub, craft: Callable[[httpx.Request], httpx.Response | None]) -> Any:
    """A transport that answers what `craft` answers, and passes the rest to the hub."""
    hub = fake_hub.transport()

    def handle(request: httpx.Request) -> httpx.Response:
        crafted = craft(request)
        return crafted if crafted is not None else hub.handle_request(request)

    return httpx.MockTransport(handle)


def content_only(
    answer: Callable[[], httpx.Response],
) -> Callable[[httpx.Request], httpx.Response | None]:
    """Craft every download's answer anew (a response's body can be read once)."""
    return lambda request: answer() if request.url.path.endswith("/content") else None


PROXY_ANSWERS: dict[str, Callable[[], httpx.Response]] = {
    "200 text/html": lambda: httpx.Response(200, html="<html>proxy: please log in</html>"),
    "204": lambda: httpx.Response(204),
    "302 empty": lambda: httpx.Response(302, headers={"Location": "https://proxy.example/"}),
    "no hash header": lambda: httpx.Response(
        200, content=b"0\x80", headers={"Content-Type": "application/pkcs7-mime"}
    ),
    "wrong hash": lambda: httpx.Response(
        200,
        content=b"0\x80",
        headers={"Content-Type": "application/pkcs7-mime", "X-Content-SHA256": "0" * 64},
    ),
}


@pytest.mark.parametrize("answer", list(PROXY_ANSWERS))
def test_a_download_that_is_no_envelope_answer_is_retried_and_never_rejected(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices, answer: str
) -> None:
    care = connect(hub_offices.care_login)
    message = post(care, sealed(hub_offices, unit(1)), unit(1))
    transport = through(fake_hub, content_only(PROXY_ANSWERS[answer]))
    provider = receiver(connect, hub_offices, transport=transport)
    with pytest.raises(HubProtocolError, match="not an envelope answer") as failed:
        provider.download(message.id)
    assert failed.value.operation == "download"
    (done,) = provider.receive(accept_all)
    assert done.outcome == "deferred" and isinstance(done.error, HubProtocolError)
    assert fake_hub.message(message.id).status == "delivered"  # nothing final was said
    assert fake_hub.counts["receipt_rejected"] == 0
    (later,) = receiver(connect, hub_offices).receive(accept_all)  # the proxy has gone
    assert later.outcome == "imported"


# -- 5 and 6. trust settings, the hub's time, receipts that are no oracle ----------------------


def test_the_signing_time_is_judged_at_the_hubs_acceptance_time(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    now = fake_hub.clock.now()
    older = hub_offices.pki.office("1370100016", not_before=now - datetime.timedelta(days=30))
    care = connect(hub_offices.care_login)
    backdated = now - datetime.timedelta(days=8)  # a signing time the signer chose
    # (trust=None: the recipient's certificate was not yet valid at that time)
    first = post(care, sealed(hub_offices, unit(1), sender=older, now=backdated, trust=None))
    (refused,) = receiver(connect, hub_offices).receive(accept_all)
    assert (refused.message.id, refused.reasons) == (first.id, ("SIGNER_NOT_TRUSTED",))
    second = post(care, sealed(hub_offices, unit(2), sender=older, now=backdated, trust=None))
    wide = TrustSettings(
        anchors=hub_offices.pki.trust_store, signing_time_before=datetime.timedelta(days=10)
    )
    (taken,) = receiver(connect, hub_offices, trust=wide).receive(accept_all)
    assert (taken.message.id, taken.outcome) == (second.id, "imported")


def test_every_cryptographic_failure_gives_the_same_code_and_cbc_needs_opting_in(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login)
    legacy = sealed(hub_offices, unit(1), cbc=True)
    # The last byte of the second-to-last CBC block decides the padding of the last one: the
    # classic padding oracle. Every variant must be answered alike.
    position = len(legacy) - 17
    altered = [
        post(care, legacy[:position] + bytes([value]) + legacy[position + 1 :])
        for value in range(0, 256, 9)
        if value != legacy[position]
    ]
    cut_gcm = sealed(hub_offices, unit(1))
    altered.append(post(care, cut_gcm[:-20] + bytes(20)))
    opted_in = TrustSettings(anchors=hub_offices.pki.trust_store, allow_legacy_cbc=True)
    done = receiver(connect, hub_offices, trust=opted_in).receive(accept_all)
    assert {r.reasons for r in done} == {("ENVELOPE_UNREADABLE",)}
    assert {reasons_of(fake_hub, m.id) for m in altered} == {("ENVELOPE_UNREADABLE",)}

    plain = post(care, legacy, unit(1))
    (refused,) = receiver(connect, hub_offices).receive(accept_all)  # CBC not allowed
    assert (refused.message.id, refused.reasons) == (plain.id, ("ENVELOPE_UNREADABLE",))
    again = post(care, sealed(hub_offices, unit(1), cbc=True), unit(1))
    (taken,) = receiver(connect, hub_offices, trust=opted_in).receive(accept_all)
    assert (taken.message.id, taken.outcome) == (again.id, "imported")


def test_every_reason_code_is_published_with_japanese_and_english_text() -> None:
    assert set(ENVELOPE_REASONS) <= set(REJECTION_REASONS)
    text = (DOCS / "hub-protocol.md").read_text(encoding="utf-8")
    section = text.split("### Rejection reasons", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0].strip("` "): (cells[1].strip(), cells[2].strip())
        for line in section.splitlines()
        if line.startswith("| `")
        for cells in [[c.strip() for c in line.strip().strip("|").split("|")]]
    }
    assert rows == {code: (t.ja, t.en) for code, t in REJECTION_REASONS.items()}


# -- 7. replays and sender mismatch ------------------------------------------------------------


def test_a_sender_that_is_not_the_signer_is_refused(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    third = fake_hub.register_office(hub_offices.pki.office("1370300038"))
    forwarded = post(connect(third), sealed(hub_offices, unit(1)), unit(1))
    (refused,) = receiver(connect, hub_offices).receive(accept_all)
    assert (refused.message.id, refused.reasons) == (forwarded.id, ("SENDER_NOT_SIGNER",))
    assert reasons_of(fake_hub, forwarded.id) == ("SENDER_NOT_SIGNER",)


def test_a_replayed_unit_and_an_older_unit_are_refused_each_with_its_code(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices, tmp_path: Path
) -> None:
    care = connect(hub_offices.care_login)
    record = SqliteImportedUnits(str(tmp_path / "imported.db"))
    post(care, sealed(hub_offices, unit(5)), unit(5))
    (first,) = receiver(connect, hub_offices, imported=record).receive(accept_all)
    assert first.imported
    record.close()
    replay = post(care, sealed(hub_offices, unit(5)), unit(5))  # the same unit, sealed again
    older = post(care, sealed(hub_offices, unit(4)), unit(4))
    newer = post(care, sealed(hub_offices, unit(6)), unit(6))
    reopened = SqliteImportedUnits(str(tmp_path / "imported.db"))  # a later run
    done = receiver(connect, hub_offices, imported=reopened).receive(accept_all)
    assert [(r.message.id, r.outcome, r.reasons) for r in done] == [
        (replay.id, "rejected", ("ALREADY_IMPORTED",)),
        (older.id, "rejected", ("OLDER_THAN_IMPORTED",)),
        (newer.id, "imported", ()),
    ]
    reopened.close()


def test_an_import_whose_receipt_was_lost_is_not_imported_twice(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    care = connect(hub_offices.care_login)
    message = post(care, sealed(hub_offices, unit(1)), unit(1))
    calls: list[str] = []
    lost: list[int] = []

    def lose_the_imported_receipt(request: httpx.Request) -> httpx.Response | None:
        imported = request.url.path.endswith("/receipts") and b'"imported"' in request.content
        if imported and len(lost) < 2:
            lost.append(1)
            raise httpx.RemoteProtocolError("connection closed", request=request)
        return None

    provider = receiver(
        connect,
        hub_offices,
        retry=fake_hub.clock.retry_policy(attempts=2),
        transport=through(fake_hub, lose_the_imported_receipt),
    )
    with pytest.raises(HubTransportError):
        provider.receive(lambda opened, m: calls.append(m.id))
    assert calls == [message.id] and fake_hub.message(message.id).status == "downloaded"
    (done,) = provider.receive(lambda opened, m: calls.append(m.id))
    assert done.imported and calls == [message.id]  # acknowledged, not imported again


# -- 8. hostile or broken hub answers (the workflow's part) ---------------------------------


def answer_for(operation_path: str, response: Callable[[], httpx.Response]) -> Any:
    def craft(request: httpx.Request) -> httpx.Response | None:
        return response() if request.url.path.endswith(operation_path) else None

    return craft


def test_a_hostile_directory_answer_is_a_protocol_error(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    office = {"office_no": PROVIDER, "registered": True, "certificates": [5]}
    for document in ({"office": office}, {"somewhere": "else"}):
        transport = through(
            fake_hub,
            answer_for(f"/offices/{PROVIDER}", lambda d=document: httpx.Response(200, json=d)),
        )
        care = sender(connect, hub_offices, transport=transport)
        with pytest.raises(HubProtocolError) as failed:
            care.office(PROVIDER)
        assert failed.value.operation == "office"
        with pytest.raises(HubProtocolError):
            care.send_bundle(unit(1))
    assert fake_hub.messages() == []


# -- 9. client defects -------------------------------------------------------------------------


def test_workflow_receive_refuses_an_async_handler(
    fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    async def handler(opened: OpenedEnvelope, message: Message) -> None:
        pass

    with Client(fake_hub.url, login=hub_offices.care_login, transport=fake_hub.transport()) as care:
        sent = care.send(sealed(hub_offices, unit(1)), to=PROVIDER, service_type="11")
    with Client(
        fake_hub.url,
        login=hub_offices.provider_login,
        identity=hub_offices.provider,
        transport=fake_hub.transport(),
    ) as provider_client:
        provider = Workflow(
            provider_client, identity=hub_offices.provider, trust=hub_offices.pki.trust_store
        )
        with pytest.raises(TypeError, match="AsyncWorkflow"):
            provider.receive(handler)
        with pytest.raises(TypeError, match="awaitable"):
            provider.receive(lambda opened, message: handler(opened, message))
    assert fake_hub.message(sent.id).status != "imported"
    assert fake_hub.counts["receipt_imported"] == 0


# -- 11. AsyncWorkflow does not block its event loop ---------------------------------------------


def test_async_workflow_seals_opens_and_validates_off_the_event_loop(
    fake_hub: FakeHub, hub_offices: HubOffices, monkeypatch: pytest.MonkeyPatch
) -> None:
    from careplan_link.office import _flow as _core

    where: dict[str, set[bool]] = {}

    def watched(name: str) -> None:
        real = getattr(_core, name)

        def run(*arguments: Any, **keywords: Any) -> Any:
            on_loop = threading.current_thread() is threading.main_thread()
            where.setdefault(name, set()).add(on_loop)
            return real(*arguments, **keywords)

        monkeypatch.setattr(_core, name, run)

    for name in ("validate", "seal", "open_envelope"):
        watched(name)

    async def scenario() -> None:
        async with AsyncClient(
            fake_hub.url,
            login=hub_offices.care_login,
            identity=hub_offices.care,
            transport=fake_hub.async_transport(),
        ) as care_client:
            care = AsyncWorkflow(
                care_client, identity=hub_offices.care, trust=hub_offices.pki.trust_store
            )
            await care.send_bundle(unit(1))
        async with AsyncClient(
            fake_hub.url,
            login=hub_offices.provider_login,
            identity=hub_offices.provider,
            transport=fake_hub.async_transport(),
        ) as provider_client:
            provider = AsyncWorkflow(
                provider_client, identity=hub_offices.provider, trust=hub_offices.pki.trust_store
            )
            (done,) = await provider.receive(accept_all)
            assert done.imported

    asyncio.run(scenario())
    assert where == {"validate": {False}, "seal": {False}, "open_envelope": {False}}


# -- the soaks, small ----------------------------------------------------------------------------


def test_the_send_bundle_soak_stores_every_unit_exactly_once(hub_offices: HubOffices) -> None:
    result = run_bundle_soak(100, pki=hub_offices.pki)
    assert result.stored == result.distinct == 100
    assert result.redriven > 0 and sum(result.faults.values()) > 0


def test_the_poison_soak_imports_every_other_message(hub_offices: HubOffices) -> None:
    result = run_poison_soak(100, pki=hub_offices.pki)
    assert result.rejected == (result.poison,) and result.imported == 99
