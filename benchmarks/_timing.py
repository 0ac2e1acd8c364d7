"""Timing shared by the benchmark scripts: the best of several runs, or ratios taken turn by turn
(machines are noisy)."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import attrs


def best_of(runs: int, action: Callable[[], object]) -> float:
    """The shortest wall time of `runs` calls of `action`, in seconds."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run a floor under the conditions the library gives itself.

    `parse_plan`, `validate` and `open_envelope` pause the cyclic garbage collector while they
    build many small objects; a floor measured with the collector on would be slower for a reason
    that has nothing to do with the work, and flatter the library's ratio (about 2x at 100k rows).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def best_of_paused(runs: int, action: Callable[[], object]) -> float:
    """`best_of` with the garbage collector paused inside each call, as the library does."""

    def paused() -> object:
        with gc_paused():
            return action()

    return best_of(runs, paused)


def turns(
    runs: int, actions: dict[str, tuple[Callable[[], object], bool]]
) -> dict[str, list[float]]:
    """The CPU time of each action (name → (action, pause the collector?)) in each of `runs`
    turns, in seconds.

    For ratios on a shared machine: the actions take turns, run after run, so that a burst of
    load elsewhere falls on all of them rather than on whichever ran during it; and the time is
    this process's CPU time (`time.process_time`), which does not count the time the machine
    gave to other processes. Wall time on a machine shared by several busy processes moved the
    ratios by up to 2x from one run to the next; CPU time still moves them (caches are shared
    too), so ratios are taken turn by turn (`Ratio`).

    Each action starts from a collected heap (untimed): an action that pauses the collector only
    for part of its work (`parse_plan` pauses it while it makes records) would otherwise pay, at
    random, for a full collection of what earlier actions and the benchmark itself left (a 1k
    parse measured 2.4x and 4.2x its floor in two runs of the same code).
    """
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(runs):
        for name, (action, paused) in actions.items():
            gc.collect()
            was_enabled = gc.isenabled()
            if paused:
                gc.disable()
            try:
                started = time.process_time()
                action()
                elapsed = time.process_time() - started
            finally:
                if paused and was_enabled:
                    gc.enable()
            times[name].append(elapsed)
    return times


@attrs.frozen
class Ratio:
    """One side's time over another's, from the same turns.

    `median` is the judged figure: the median of the turns' own ratios, each of two actions
    timed one right after the other, so that a change of the machine's speed between turns
    (which moved one side's time by up to a third) falls on both. `least` is the least time of
    one side over the least time of the other, as the benchmarks judged before (see
    docs/testing.md for why they changed): each side's least time may come from a different
    moment of the machine, and over the same code it moved two to five times as far from run
    to run as the median did.
    """

    median: float
    low: float  # the turns' lower quartile
    high: float  # and upper quartile
    least: float

    @classmethod
    def of(cls, numerator: list[float], denominator: list[float]) -> Ratio:
        ordered = sorted(n / d for n, d in zip(numerator, denominator, strict=True))
        quartile = len(ordered) // 4
        return cls(
            median=statistics.median(ordered),
            low=ordered[quartile],
            high=ordered[-1 - quartile],
            least=min(numerator) / min(denominator),
        )

    def spread(self) -> str:
        """The quartiles of the turns' ratios and the ratio of least times, for the report."""
        return f"turns {self.low:.2f}–{self.high:.2f}, least times {self.least:.2f}"
