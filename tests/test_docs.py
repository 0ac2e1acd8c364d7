"""The documentation lists every issue code the code can produce."""

from __future__ import annotations

import re
from pathlib import Path

from careplan_link.format._convert import TYPED_KINDS

ROOT = Path(__file__).resolve().parent.parent


def test_every_issue_code_is_documented() -> None:
    source = "\n".join(p.read_text("utf-8") for p in (ROOT / "src").rglob("*.py"))
    namespaces = (
        "name|csv|encoding|read|write|file|image|required|length|format|code|special|version"
        "|month|scope|equipment|time|office|supplement|table7|table2|unit|convert|text|json"
        "|identifier"
    )
    codes = set(re.findall(rf'"((?:{namespaces})\.[a-z0-9_]+)"', source))
    codes |= {f"value.{kind.value}" for kind in TYPED_KINDS}
    documented = set(
        re.findall(
            r"`([a-z0-9]+\.[a-z0-9_]+)`", (ROOT / "docs" / "error-codes.md").read_text("utf-8")
        )
    )
    assert codes, "no codes found"
    assert sorted(codes - documented) == []
