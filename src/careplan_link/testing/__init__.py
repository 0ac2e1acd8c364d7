"""careplan_link.testing: what vendors use in their own test suites.

`careplan_link.testing.strategies` holds hypothesis strategies for valid records and files of
every interface and version (it needs the `testing` extra: hypothesis). `FakePKI` is a test
certification authority issuing office identities. `FakeHub` is the hub in-process: the same
core as `careplan_link.hub.Hub` (over a `MemoryStore` or `SqliteStore`), with a `VirtualClock`
and injected `Fault`s; the pytest plugin (`careplan_link.testing.pytest_plugin`, loaded
automatically) gives the fixtures `fake_hub`, `hub_offices`, `hub_client` and
`async_hub_client`. Importing this package itself imports neither hypothesis nor pytest.
"""

from __future__ import annotations

from ..hub import HubRequest, HubResponse, HubStore, MemoryStore, SqliteStore
from ._clock import VirtualClock
from ._hub import FAULT_KINDS, FakeHub, FakeHubTransport, Fault
from ._pki import FakePKI

__all__ = [
    "FAULT_KINDS",
    "FakeHub",
    "FakeHubTransport",
    "FakePKI",
    "Fault",
    "HubRequest",
    "HubResponse",
    "HubStore",
    "MemoryStore",
    "SqliteStore",
    "VirtualClock",
]
