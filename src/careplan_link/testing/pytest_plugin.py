"""The careplan_link pytest plugin, registered by the `pytest11` entry point.

Fixtures:

* `fake_hub`: a fresh `FakeHub` (virtual clock, in-memory store). Configure it with the marker
  `@pytest.mark.fake_hub(store="sqlite", retention_days=7, seed=1)`. At teardown the test fails
  if the hub received requests it could not understand (unknown endpoint, HTTP 400/415), unless
  the marker says `allow_protocol_errors=True`.
* `hub_offices`: a care-manager office (1370100012) and a provider (1370200028) with test
  identities from one `FakePKI` (made once per session), registered on `fake_hub`.
* `hub_client`: a `Client` logged in as the care-manager office, with its identity and the test
  CA as trust store, retrying in the hub's virtual time.
* `async_hub_client`: the same as an `AsyncClient` (use it in the test's own event loop).

The plugin loads in every suite where careplan_link is installed, so it imports nothing but
pytest at load time; the fixtures import what they need.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from careplan_link.client import AsyncClient, Client, Login
    from careplan_link.envelope import OfficeIdentity
    from careplan_link.testing import FakeHub, FakePKI

CARE_OFFICE = "1370100012"
PROVIDER_OFFICE = "1370200028"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fake_hub(store='memory'|'sqlite', retention_days=30, seed=None, "
        "allow_protocol_errors=False): configure careplan_link's fake_hub fixture",
    )


class HubOffices:
    """Two offices registered on a FakeHub: `care` sends plans to `provider`."""

    def __init__(
        self,
        pki: FakePKI,
        care: OfficeIdentity,
        provider: OfficeIdentity,
        care_login: Login,
        provider_login: Login,
    ) -> None:
        self.pki = pki
        self.care = care
        self.provider = provider
        self.care_login = care_login
        self.provider_login = provider_login


@pytest.fixture
def fake_hub(request: pytest.FixtureRequest) -> Iterator[FakeHub]:
    from careplan_link.testing import FakeHub, SqliteStore

    marker = request.node.get_closest_marker("fake_hub")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    allow_errors = bool(options.pop("allow_protocol_errors", False))
    store = SqliteStore() if options.pop("store", "memory") == "sqlite" else None
    retention = datetime.timedelta(days=options.pop("retention_days", 30))
    if options.keys() - {"seed"}:
        raise pytest.UsageError(f"unknown fake_hub options: {sorted(options.keys() - {'seed'})}")
    hub = FakeHub(store=store, retention=retention, seed=options.get("seed"))
    yield hub
    hub.store.close()
    if hub.protocol_errors and not allow_errors:
        pytest.fail(
            "the fake hub received requests it could not understand:\n  "
            + "\n  ".join(hub.protocol_errors),
            pytrace=False,
        )


@pytest.fixture(scope="session")
def _careplan_link_identities() -> tuple[FakePKI, OfficeIdentity, OfficeIdentity]:
    from careplan_link.testing import FakePKI

    pki = FakePKI()
    return pki, pki.office(CARE_OFFICE), pki.office(PROVIDER_OFFICE)


@pytest.fixture
def hub_offices(
    fake_hub: FakeHub, _careplan_link_identities: tuple[FakePKI, OfficeIdentity, OfficeIdentity]
) -> HubOffices:
    pki, care, provider = _careplan_link_identities
    return HubOffices(
        pki, care, provider, fake_hub.register_office(care), fake_hub.register_office(provider)
    )


@pytest.fixture
def hub_client(fake_hub: FakeHub, hub_offices: HubOffices) -> Iterator[Client]:
    from careplan_link.client import Client

    with Client(
        fake_hub.url,
        login=hub_offices.care_login,
        identity=hub_offices.care,
        trust=hub_offices.pki.trust_store,
        transport=fake_hub.transport(),
        retry=fake_hub.clock.retry_policy(),
    ) as client:
        yield client


@pytest.fixture
def async_hub_client(fake_hub: FakeHub, hub_offices: HubOffices) -> Iterator[AsyncClient]:
    from careplan_link.client import AsyncClient

    client = AsyncClient(
        fake_hub.url,
        login=hub_offices.care_login,
        identity=hub_offices.care,
        trust=hub_offices.pki.trust_store,
        transport=fake_hub.async_transport(),
        retry=fake_hub.clock.retry_policy(),
    )
    yield client
    asyncio.run(client.aclose())
