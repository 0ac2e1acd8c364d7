"""careplan_link.testing: what vendors use in their own test suites.

`careplan_link.testing.strategies` holds hypothesis strategies for valid records and files of
every interface and version (it needs the `testing` extra: hypothesis). `FakePKI` is a test
certification authority issuing office identities. `FakeHub` is the hub in-process (with
`MemoryStore` or `SqliteStore`, a `VirtualClock` and injected `Fault`s); the pytest plugin
(`careplan_link.testing.pytest_plugin`, loaded automatically) gives the fixtures `fake_hub`,
`hub_offices`, `hub_client` and `async_hub_client`. Importing this package itself imports
neither hypothesis nor pytest.
"""

from __future__ import annotations

from ._clock import VirtualClock
from ._hub import FAULT_KINDS, FakeHub, Fault
from ._hub_http import HubRequest, HubResponse
from ._hub_store import HubStore, MemoryStore, SqliteStore
from ._pki import FakePKI

__all__ = [
    "FAULT_KINDS",
    "FakeHub",
    "FakePKI",
    "Fault",
    "HubRequest",
    "HubResponse",
    "HubStore",
    "MemoryStore",
    "SqliteStore",
    "VirtualClock",
]
