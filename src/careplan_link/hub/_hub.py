"""`Hub`: the hub's transport-neutral core, ready for any HTTP face."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from ._http_core import respond
from ._messages import HubRequest, HubResponse
from ._rules import HubRules, HubSettings, PurgeReport
from ._store import HubStore

__all__ = ["Hub"]


def _system_clock() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Hub:
    """The hub over a store: `handle(HubRequest) -> HubResponse`, never raising.

        hub = Hub(open_store("sqlite:///var/lib/careplan-link/hub.sqlite"))
        answer = hub.handle(HubRequest("GET", "/v1/health", {}, {}))

    `clock` gives the current time (UTC); the system clock by default, a `VirtualClock.now` in
    tests. Safe to call from several threads at once.
    """

    def __init__(
        self,
        store: HubStore,
        clock: Callable[[], datetime.datetime] | None = None,
        *,
        settings: HubSettings | None = None,
    ) -> None:
        self.store = store
        self.rules = HubRules(store, clock or _system_clock, settings or HubSettings())

    @property
    def settings(self) -> HubSettings:
        return self.rules.settings

    @property
    def clock(self) -> Callable[[], datetime.datetime]:
        return self.rules.clock

    def handle(self, request: HubRequest) -> HubResponse:
        """Answer one request (see docs/hub-protocol.md). Never raises."""
        return respond(self.rules, request)

    def purge(self) -> PurgeReport:
        """Expire messages past retention (dropping their content), forget expired tokens and
        old rate-limit windows. Run it periodically; running it twice does nothing more."""
        return self.rules.purge()

    def close(self) -> None:
        self.store.close()
