"""careplan_link.hub: the hub as a server, transport-neutral.

`Hub(store).handle(HubRequest) -> HubResponse` is the whole protocol (docs/hub-protocol.md):
its rules, over a `HubStore` (`MemoryStore`, `SqliteStore`; `open_store(url)` picks one). An
HTTP face (the ASGI app) only turns HTTP into `HubRequest` and `HubResponse` back. `Admin`
registers offices, resets passwords, rotates certificates, purges and exports the audit log
(docs/hub-operations.md). Nothing here needs a web framework.
"""

from __future__ import annotations

from ._admin import Admin, CertificateLike, OfficeInfo
from ._audit import GENESIS, OPERATOR, ChainCheck, verify_chain
from ._hub import Hub
from ._memory import MemoryStore
from ._messages import HubRequest, HubResponse
from ._open import open_store
from ._passwords import hash_password, token_hash, verify_password
from ._rules import MAX_PAGE, HubSettings, PurgeReport
from ._sqlite import SCHEMA_VERSION, SqliteStore
from ._store import AuditDraft, HubStore, Listing, OfficeRecord, TokenRecord

__all__ = [
    "GENESIS",
    "MAX_PAGE",
    "OPERATOR",
    "SCHEMA_VERSION",
    "Admin",
    "AuditDraft",
    "CertificateLike",
    "ChainCheck",
    "Hub",
    "HubRequest",
    "HubResponse",
    "HubSettings",
    "HubStore",
    "Listing",
    "MemoryStore",
    "OfficeInfo",
    "OfficeRecord",
    "PurgeReport",
    "SqliteStore",
    "TokenRecord",
    "hash_password",
    "open_store",
    "token_hash",
    "verify_chain",
    "verify_password",
]
