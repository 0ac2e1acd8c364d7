"""Timing shared by the benchmark scripts: the best of several runs (machines are noisy)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


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


def interleaved(
    runs: int, actions: dict[str, tuple[Callable[[], object], bool]]
) -> dict[str, float]:
    """The least CPU time of each action (name → (action, pause the collector?)), in seconds.

    For ratios on a shared machine: the actions take turns, run after run, so that a burst of
    load elsewhere falls on all of them rather than on whichever ran during it; and the time is
    this process's CPU time (`time.process_time`), which does not count the time the machine
    gave to other processes. Wall time on a machine shared by several busy processes moved the
    ratios by up to 2x from one run to the next; CPU time still moves them (caches are shared
    too), by about 10-20% on such a machine, so compare runs with their spread.

    Each action starts from a collected heap (untimed): an action that pauses the collector only
    for part of its work (`parse_plan` pauses it while it makes records) would otherwise pay, at
    random, for a full collection of what earlier actions and the benchmark itself left (a 1k
    parse measured 2.4x and 4.2x its floor in two runs of the same code).
    """
    best = dict.fromkeys(actions, float("inf"))
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
            best[name] = min(best[name], elapsed)
    return best
