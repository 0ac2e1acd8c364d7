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
