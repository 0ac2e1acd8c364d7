"""The acceptance example of the hub issue, as written."""

from __future__ import annotations

import asyncio


def test_the_acceptance_example_works_as_written() -> None:
    from careplan_link import AsyncClient, Client
    from careplan_link.testing import FakeHub, FakePKI

    pki = FakePKI()
    care, provider = pki.office("1370100016"), pki.office("1370200022")
    hub = FakeHub()
    care_login = hub.register_office(care)  # returns the login credentials
    provider_login = hub.register_office(provider)
    with Client(hub.url, transport=hub.transport(), login=care_login) as c:  # no socket
        sent = c.send(b"...envelope bytes...", to="1370200022", service_type="11")
    with Client(hub.url, transport=hub.transport(), login=provider_login) as p:
        (msg,) = list(p.inbox())
        assert p.download(msg.id) == b"...envelope bytes..."
        p.acknowledge(msg.id, "downloaded")
    assert hub.message(sent.id).status == "downloaded"

    downloaded: list[bytes] = []

    async def provider_side() -> None:
        async with AsyncClient(hub.url, transport=hub.async_transport(), login=provider_login) as p:
            async for msg in p.inbox():
                downloaded.append(await p.download(msg.id))

    asyncio.run(provider_side())
    assert downloaded == [b"...envelope bytes..."]
