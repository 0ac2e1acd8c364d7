"""The documentation site, built once per test session and shared by the tests that read it.

`tests/test_site.py` (the HTML read back) and `tests/test_site_browser.py` (the site in a real
browser) both need the built site; building it takes seconds, so the first to ask builds it
with `mkdocs build --strict` and the others get the same folder.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _missing_docs_packages() -> list[str]:
    """The `docs` extra's packages that are not installed."""
    missing = []
    for name in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers"):
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


MISSING = _missing_docs_packages()
needs_mkdocs = pytest.mark.skipif(
    bool(MISSING),
    reason=f"the docs extra is not installed ({', '.join(MISSING)}): pip install -e '.[docs]'",
)


def built_site(factory: pytest.TempPathFactory) -> Path:
    """The site, built with --strict by the first test of the run that asks for it.

    The test run's worker processes (pytest-xdist) share one build: it goes to the run's
    common temporary folder, and a file lock makes the others wait for the first.
    """
    base = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above each worker's own
    folder, done = base / "site", base / "site.built"
    with (base / "site.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                _build(folder)
                done.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


def _build(folder: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-5000:]
    # The strict build is meant to stay cheap enough to run in every test run (< 30 s here;
    # generous for a loaded CI machine).
    assert elapsed < 120, f"the site took {elapsed:.0f} s to build"
