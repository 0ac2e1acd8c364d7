"""The office workflow's send_bundle and receive: validate → seal → send, and download → open →
validate → import → receipt, through both workflows (moved from tests/client, issue 16)."""

from __future__ import annotations

import pytest
from unitfiles import edit, name_of, schedule_unit

from careplan_link import Bundle, OpenedEnvelope, seal
from careplan_link.client import Message
from careplan_link.office import InvalidBundle
from careplan_link.testing import FakeHub
from careplan_link.testing.pytest_plugin import HubOffices

from .conftest import Connect

PROVIDER = "1370200022"


def test_send_bundle_then_receive_imports_in_order(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    unit = schedule_unit()
    care = connect(
        hub_offices.care_login, identity=hub_offices.care, trust=hub_offices.pki.trust_store
    )
    sent = care.send_bundle(Bundle.from_files(unit)).message
    assert (sent.receiver, sent.service_type, sent.unit_kind) == (PROVIDER, "11", "schedule")
    assert sent.serial == Bundle.from_files(unit).serial

    provider = connect(
        hub_offices.provider_login,
        identity=hub_offices.provider,
        trust=hub_offices.pki.trust_store,
    )
    imported: list[tuple[list[str], str]] = []

    def import_files(opened: OpenedEnvelope, message: Message) -> None:
        imported.append((list(opened.files), message.id))

    (done,) = provider.receive(import_files)
    assert done.imported and done.message.status == "imported"
    assert imported == [(list(Bundle.from_files(unit).files), sent.id)]
    assert [c.status for c in fake_hub.message(sent.id).history][-2:] == ["downloaded", "imported"]
    assert provider.receive(import_files) == []  # nothing left to take in


def test_an_invalid_bundle_is_refused_with_its_report(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    unit = schedule_unit()
    plan = name_of(unit, "UPPLAN")
    broken = edit(unit, "UPPLAN", 2, 15, "171111")  # a 被保険者番号 of the wrong length
    care = connect(
        hub_offices.care_login, identity=hub_offices.care, trust=hub_offices.pki.trust_store
    )
    with pytest.raises(InvalidBundle) as refused:
        care.send_bundle(Bundle.from_files(broken))
    assert not refused.value.report.ok and refused.value.report.errors[0].file == plan
    assert fake_hub.messages() == []


def test_receive_rejects_what_does_not_open_and_keeps_what_the_handler_failed(
    connect: Connect, fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    # Changed by issue 12: the handler's failure no longer propagates out of receive (it would
    # stop every message behind it); it leaves the message `downloaded` for the next run, and
    # the rejection carries a reason code, not the exception's text.
    care = connect(hub_offices.care_login)
    unit = schedule_unit()
    bad = care.send(b"not a CMS envelope", to=PROVIDER, service_type="11")
    good = care.send(
        seal(
            unit,
            sender=hub_offices.care,
            recipients=[hub_offices.provider.certificate],
            trust=hub_offices.pki.trust_store,
        ),
        to=PROVIDER,
        service_type="11",
    )
    provider = connect(
        hub_offices.provider_login,
        identity=hub_offices.provider,
        trust=hub_offices.pki.trust_store,
    )

    def failing_import(opened: OpenedEnvelope, message: Message) -> None:
        raise RuntimeError("the vendor's database is down")

    rejected, deferred = provider.receive(failing_import)
    assert (rejected.outcome, rejected.reasons) == ("rejected", ("ENVELOPE_UNREADABLE",))
    assert fake_hub.message(bad.id).status == "rejected"
    assert fake_hub.message(bad.id).history[-1].reasons == ("ENVELOPE_UNREADABLE",)
    assert deferred.outcome == "deferred" and "database" in str(deferred.error)
    assert fake_hub.message(good.id).status == "downloaded"  # offered again next time

    (retried,) = provider.receive(lambda opened, message: None)
    assert retried.message.id == good.id and retried.message.status == "imported"


def test_the_async_client_awaits_a_coroutine_handler(
    fake_hub: FakeHub, hub_offices: HubOffices
) -> None:
    import asyncio

    from careplan_link.client import AsyncClient
    from careplan_link.office import AsyncWorkflow

    unit = schedule_unit()
    seen: list[str] = []

    async def handler(opened: OpenedEnvelope, message: Message) -> None:
        await asyncio.sleep(0)
        seen.append(message.id)

    async def scenario() -> str:
        async with AsyncClient(
            fake_hub.url,
            login=hub_offices.care_login,
            identity=hub_offices.care,
            transport=fake_hub.async_transport(),
        ) as care_client:
            care = AsyncWorkflow(
                care_client, identity=hub_offices.care, trust=hub_offices.pki.trust_store
            )
            sent = await care.send_bundle(Bundle.from_files(unit))
        async with AsyncClient(
            fake_hub.url,
            login=hub_offices.provider_login,
            identity=hub_offices.provider,
            transport=fake_hub.async_transport(),
        ) as provider_client:
            provider = AsyncWorkflow(
                provider_client, identity=hub_offices.provider, trust=hub_offices.pki.trust_store
            )
            await provider.receive(handler)
        return sent.message.id

    sent_id = asyncio.run(scenario())
    assert seen == [sent_id] and fake_hub.message(sent_id).status == "imported"
