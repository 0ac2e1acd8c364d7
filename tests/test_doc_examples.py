"""Every Python example in README.md and docs/ runs as written.

The ```python blocks of one page run in order in one namespace (a page builds on its earlier
blocks, as a reader does), in a scratch folder holding a copy of the repository's `examples/`
folder and nothing else. A block that raises fails the page's test, naming the block's line.
Blocks that are not meant to run are marked ```text (or ```console for commands).
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """The page's ```python blocks, each with the line where its code starts."""
    text = page.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, match.start("code")) + 1, textwrap.dedent(match.group("code")))
        for match in _BLOCK.finditer(text)
    ]


def test_the_collector_finds_blocks() -> None:
    # Guards against a regex that silently matches nothing (every page test would then pass).
    assert sum(len(python_blocks(page)) for page in PAGES) >= 10
    sample = "text\n\n```python\nx = 1\n```\n\n  ```python\n  y = 2\n  ```\n"
    page = ROOT / "tests" / ".sample.md"
    try:
        page.write_text(sample, encoding="utf-8")
        assert python_blocks(page) == [(4, "x = 1\n"), (8, "y = 2\n")]
    finally:
        page.unlink()


@pytest.mark.parametrize(
    "page",
    [page for page in PAGES if python_blocks(page)],
    ids=lambda page: str(page.relative_to(ROOT)),
)
def test_examples_run_as_written(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    # Examples that read a password from the environment get the test PKI's.
    monkeypatch.setenv("CAREPLAN_LINK_PASSWORD", os.environ.get("CAREPLAN_LINK_PASSWORD", "test"))
    namespace: dict[str, object] = {"__name__": f"docs_example_{page.stem}"}
    for line, code in python_blocks(page):
        try:
            exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
        except BaseException as error:  # any failure, reported with its place
            detail = "".join(traceback.format_exception(error)[-3:])
            pytest.fail(f"{page.relative_to(ROOT)}, block at line {line} failed:\n{detail}")
