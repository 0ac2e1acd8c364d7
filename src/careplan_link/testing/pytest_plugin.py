"""The careplan_link pytest plugin, registered by the `pytest11` entry point.

Fixtures:

* `fake_hub`: a fresh `FakeHub` (virtual clock, in-memory store). Configure it with the marker
  `@pytest.mark.fake_hub(store="sqlite", retention_days=7, seed=1, rate_limit=60)`, on a test,
  a class or a module (`pytestmark`): the markers are merged, the closest one winning for each
  option. At teardown the test fails if the hub received requests it could not understand
  (unknown endpoint, HTTP 400/413/415), unless a marker says `allow_protocol_errors=True`.
* `hub_offices`: a care-manager office (1370100016) and a provider (1370200022) with test
  identities from one `FakePKI` (made once per session), registered on `fake_hub`.
* `hub_client`: a `Client` logged in as the care-manager office, with its identity (TLS),
  retrying in the hub's virtual time.
* `async_hub_client`: the same as an `AsyncClient` (use it in the test's own event loop).
* `provider_client`: a `Client` logged in as the provider office (the receiving side).
* `served_hub`: the base URL of `fake_hub` served on a free loopback port (`FakeHub.serve()`,
  needs the `hub` extra), for clients that are not httpx or not Python; stopped after the test.

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

CARE_OFFICE = "1370100016"
PROVIDER_OFFICE = "1370200022"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fake_hub(store='memory'|'sqlite', retention_days=30, seed=None, rate_limit=None, "
        "allow_protocol_errors=False): configure careplan_link's fake_hub fixture "
        "(module, class and test markers merge; the closest wins per option)",
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


_FAKE_HUB_OPTIONS = frozenset(
    {"store", "retention_days", "seed", "rate_limit", "allow_protocol_errors"}
)


def fake_hub_options(node: pytest.Item) -> dict[str, Any]:
    """The `fake_hub` markers of a test merged: module, then class, then the test's own, each
    overriding what the farther one said for the same option (as pytest-httpx merges)."""
    options: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers("fake_hub"))):  # farthest first
        options.update(marker.kwargs)
    unknown = options.keys() - _FAKE_HUB_OPTIONS
    if unknown:
        raise pytest.UsageError(f"unknown fake_hub options: {sorted(unknown)}")
    return options


@pytest.fixture
def fake_hub(request: pytest.FixtureRequest) -> Iterator[FakeHub]:
    """A fresh careplan_link FakeHub: the hub in-process, virtual clock, in-memory store.

    Configure with `@pytest.mark.fake_hub(store="sqlite", retention_days=7, seed=1,
    rate_limit=None, allow_protocol_errors=False)` on the test, its class or its module. Pass
    `fake_hub.transport()` to a Client or AsyncClient. The test fails at teardown if the hub
    received a request it could not understand."""
    from careplan_link.testing import FakeHub, SqliteStore

    options = fake_hub_options(request.node)
    store = SqliteStore() if options.get("store", "memory") == "sqlite" else None
    hub = FakeHub(
        store=store,
        retention=datetime.timedelta(days=options.get("retention_days", 30)),
        seed=options.get("seed"),
        rate_limit=options.get("rate_limit"),
    )
    yield hub
    hub.store.close()
    if hub.protocol_errors and not options.get("allow_protocol_errors", False):
        pytest.fail(
            "the fake hub received requests it could not understand:\n  "
            + "\n  ".join(hub.protocol_errors),
            pytrace=False,
        )


@pytest.fixture(scope="session")
def _careplan_link_identities() -> tuple[FakePKI, OfficeIdentity, OfficeIdentity]:
    """The test CA and two office identities, made once per session (key generation is slow)."""
    from careplan_link.testing import FakePKI

    pki = FakePKI()
    return pki, pki.office(CARE_OFFICE), pki.office(PROVIDER_OFFICE)


@pytest.fixture
def hub_offices(
    fake_hub: FakeHub, _careplan_link_identities: tuple[FakePKI, OfficeIdentity, OfficeIdentity]
) -> HubOffices:
    """Two offices registered on `fake_hub`: `care` (care manager 1370100016) sends to
    `provider` (1370200022); with their identities, logins and the test CA (`pki`)."""
    pki, care, provider = _careplan_link_identities
    return HubOffices(
        pki, care, provider, fake_hub.register_office(care), fake_hub.register_office(provider)
    )


@pytest.fixture
def hub_client(fake_hub: FakeHub, hub_offices: HubOffices) -> Iterator[Client]:
    """A careplan_link Client logged in as the care-manager office of `hub_offices` on
    `fake_hub`, with its identity (its TLS certificate), retrying in the hub's
    virtual time."""
    from careplan_link.client import Client

    with Client(
        fake_hub.url,
        login=hub_offices.care_login,
        identity=hub_offices.care,
        transport=fake_hub.transport(),
        retry=fake_hub.clock.retry_policy(),
    ) as client:
        yield client


@pytest.fixture
def async_hub_client(fake_hub: FakeHub, hub_offices: HubOffices) -> Iterator[AsyncClient]:
    """The same as `hub_client`, as an AsyncClient. Use it in the test's own event loop
    (`asyncio.run(...)` in a plain test, or an async test run by pytest-asyncio or anyio's
    pytest plugin); it is closed after the test."""
    from careplan_link.client import AsyncClient

    client = AsyncClient(
        fake_hub.url,
        login=hub_offices.care_login,
        identity=hub_offices.care,
        transport=fake_hub.transport(),
        retry=fake_hub.clock.retry_policy(),
    )
    yield client
    asyncio.run(client.aclose())


@pytest.fixture
def provider_client(fake_hub: FakeHub, hub_offices: HubOffices) -> Iterator[Client]:
    """A `Client` logged in as the provider office (1370200022), the receiving side of
    `hub_client`: its identity, retrying in the hub's virtual time."""
    from careplan_link.client import Client

    with Client(
        fake_hub.url,
        login=hub_offices.provider_login,
        identity=hub_offices.provider,
        transport=fake_hub.transport(),
        retry=fake_hub.clock.retry_policy(),
    ) as client:
        yield client


@pytest.fixture
def served_hub(fake_hub: FakeHub) -> Iterator[str]:
    """The base URL (`http://127.0.0.1:PORT`) of `fake_hub` served by uvicorn in a thread on a
    free loopback port, with the test-control endpoint (`/_test/...`). The hub object is the
    test's `fake_hub`: register offices, inject faults and advance its clock directly, or over
    HTTP from another process. Needs the `hub` extra (starlette, uvicorn)."""
    with fake_hub.serve() as url:
        yield url
