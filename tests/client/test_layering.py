"""The design's one-way arrows (docs and DESIGN.md): `client` moves envelopes and knows neither
CSV files nor keys; the workflow lives in `office`, above it."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[2] / "src/careplan_link"


def imports_of(package: str, *, leave_out: str = "") -> set[str]:
    """Every module a package's own files import (careplan_link/__init__ imports everything,
    so the import lines are what tells a layer's floor). Relative imports are made absolute."""
    found: set[str] = set()
    for path in (SRC / package).glob("*.py"):
        if leave_out and path.name.startswith(leave_out):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ["careplan_link", package][: 3 - node.level]
                    found.add(".".join([*base, node.module] if node.module else base))
                else:
                    found.add(node.module or "")
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
    return found


def layers(modules: set[str]) -> set[str]:
    return {m.split(".")[1] for m in modules if m.startswith("careplan_link.") and "." in m}


def test_the_client_imports_neither_format_nor_envelope_nor_the_office() -> None:
    imported = imports_of("client")
    assert layers(imported) <= {"protocol", "errors", "client"}, layers(imported)
    assert "careplan_link.protocol" in imported  # it is built on the protocol package
    assert not {"cryptography", "zipfile", "csv"} & {m.split(".")[0] for m in imported}


def test_the_office_sits_above_the_client_and_below_the_hub_and_testing() -> None:
    # The demo (`careplan-link demo`) starts a hub of its own: it is a top-level program that
    # lives with the office commands, not part of the workflow.
    found = layers(imports_of("office", leave_out="_demo"))
    assert {"client", "format", "envelope"} <= found
    assert not {"hub", "testing", "cli"} & found


def test_the_check_sees_a_forbidden_import() -> None:
    # The check itself: a relative import of ..format from a client module is caught.
    tree = ast.parse("from ..format import Bundle\nfrom . import _core\n")
    names = {
        ".".join(["careplan_link", "client"][: 3 - n.level] + ([n.module] if n.module else []))
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom)
    }
    assert layers(names) == {"format", "client"}
