"""The crash test inside the suite: 5 runs (the separate command runs 50: crash_sync.py)."""

from __future__ import annotations

from .crash_sync import run_crash_test


def test_sync_killed_at_random_points_delivers_every_unit_exactly_once() -> None:
    lines: list[str] = []
    run_crash_test(5, seed=11, out=lines.append)
    assert len(lines) == 5 and all(": ok," in line for line in lines)
