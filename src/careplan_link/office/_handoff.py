"""Receiving for `sync` and `careplan-link receive`: each unit goes into an inbox folder, and
the vendor's software imports it from there later.

`Workflow.receive(handler, acknowledge="downloaded")` does the work (written once in `_flow`,
so the journal and the rules are those of every receive): download → open → verify →
validate → the handler writes the unit folder → recorded → `downloaded` receipt. The vendor
then says `imported` or `rejected` through a receipt. This module only turns its results into
what the folder hand-off reports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import attrs

from ..envelope import OpenedEnvelope
from ..format import Bundle
from ..protocol import Message
from ._flow import Acknowledge, Outcome, Received
from ._workflow import Handler

__all__ = ["HandedOver", "Receives", "hand_off"]


class Receives(Protocol):
    """What the hand-off needs: `Workflow.receive`."""

    def receive(self, handler: Handler, *, acknowledge: Acknowledge = ...) -> list[Received]: ...


@attrs.frozen
class HandedOver:
    """What sync did with one inbox message: written into `folder`, or refused with
    `reason` (a rejection sent to the hub), or left for the next pass (neither)."""

    message_id: str
    folder: str | None = None
    reason: str | None = None
    error: BaseException | None = None


def hand_off(workflow: Receives, write: Callable[[Bundle], str]) -> list[HandedOver]:
    """Every new inbox message's unit written by `write(bundle) -> folder name` (which takes
    a folder already holding the same files as written: it is called again after a crash
    before the receipt). Raises only when the hub as a whole fails."""
    folders: dict[str, str] = {}

    def handler(opened: OpenedEnvelope, message: Message) -> None:
        folders[message.id] = write(opened.unit)

    outcomes = []
    for result in workflow.receive(handler, acknowledge="downloaded"):
        message_id = result.message.id
        if result.outcome is Outcome.REJECTED:
            outcomes.append(HandedOver(message_id, reason=result.reasons[0], error=result.error))
        elif result.outcome is Outcome.DOWNLOADED:
            outcomes.append(HandedOver(message_id, folder=folders[message_id]))
        else:
            outcomes.append(HandedOver(message_id, error=result.error))
    return outcomes
