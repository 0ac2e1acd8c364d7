"""Timing shared by the benchmark scripts: the best of several runs (machines are noisy)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(runs: int, action: Callable[[], object]) -> float:
    """The shortest wall time of `runs` calls of `action`, in seconds."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best
