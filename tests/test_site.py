"""The documentation site: it builds strictly, and its generated reference cannot drift.

The site is built once per run with `mkdocs build --strict` (a broken link or anchor, a page
missing from the nav's files, a warning of mkdocstrings: all fail the build) into a temporary
folder. The generated record reference is then read back from the HTML and compared, row by
row, with `careplan_link.LAYOUTS`; the command reference with the command's parser. The ja and
en quickstarts must cover the same sections with the same examples.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
from pathlib import Path

import pytest

import careplan_link as cl

from ._site_build import built_site, needs_mkdocs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once per session with --strict (shared with test_site_browser)."""
    return built_site(tmp_path_factory)


def _text(fragment: str) -> str:
    """A cell's text: tags removed, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def _sections(page: str, tag: str) -> dict[str, str]:
    """The page's sections by the id of their `tag` heading (h2, h3 …)."""
    parts = re.split(rf'<{tag} id="([^"]+)"', page)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _rows(section: str) -> list[list[str]]:
    """The table rows of a section (header rows excluded), each as its cells' text."""
    body = section.split("</table>", 1)[0]
    return [
        [_text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
        if "<td" in row
    ]


@needs_mkdocs
def test_the_record_reference_lists_every_column_with_its_item_name(site: Path) -> None:
    page = (site / "reference" / "records" / "index.html").read_text(encoding="utf-8")
    sections = _sections(page, "h3")
    assert len(cl.LAYOUTS) == 26  # 17 interfaces of v4.1, 9 of v3.2
    for (layout_id, version), layout in cl.LAYOUTS.items():
        section = sections.get(f"{layout_id}-{version}")
        assert section is not None, f"no section for {layout_id} {version}"
        assert layout.record_type.__name__ in section.split("</h3>", 1)[0]
        expected = [
            [
                str(column.no),
                column.name_ja + (" †" if column.uncertain else ""),
                column.attribute,
                column.kind.value,
                "―" if column.max_length is None else str(column.max_length),
                "○" if column.required else "",
            ]
            for column in layout.columns
        ]
        rows = [[*row[:4], row[5], row[6]] for row in _rows(section)]
        assert rows == expected, f"{layout_id} {version}"


@needs_mkdocs
def test_the_record_reference_names_code_tables(site: Path) -> None:
    page = (site / "reference" / "records" / "index.html").read_text(encoding="utf-8")
    layout = cl.get_layout("table6_plan")
    column = next(c for c in layout.columns if c.code_table is not None)
    assert column.code_table is not None
    row = next(
        row
        for row in _rows(_sections(page, "h3")[f"{layout.id}-{layout.csv_version}"])
        if row[2] == column.attribute
    )
    assert row[7] == column.code_table.name_ja


@needs_mkdocs
def test_the_command_reference_has_every_command(site: Path) -> None:
    from careplan_link import cli

    # The hook's own walk over the parser, loaded from its file (docs/hooks is no package).
    spec = importlib.util.spec_from_file_location("_site_hook", DOCS / "hooks" / "reference.py")
    assert spec is not None and spec.loader is not None
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    page = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    commands = reference._commands(cli._parser(), ("careplan-link",))
    assert len(commands) > 10
    for words, _ in commands:
        anchor = "-".join(words[1:]) or "careplan-link"
        assert f'id="{anchor}"' in page, " ".join(words)
    assert "--strict" in page and "--seed-tls" in page  # options, not only names


@needs_mkdocs
def test_the_api_reference_documents_the_public_api(site: Path) -> None:
    page = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("format.parse_plan", "format.validate", "envelope.seal", "client.Client",
                 "testing.FakeHub", "errors.FormatError"):  # fmt: skip
        assert f'id="careplan_link.{name}"' in page, name


@needs_mkdocs
def test_the_search_index_finds_japanese_item_names(site: Path) -> None:
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert "ja" in index["config"]["lang"]
    found = {
        doc["location"].split("#")[0] for doc in index["docs"] if "被保険者番号" in doc["text"]
    }
    assert "reference/records/" in found and "ja/quickstart/" in found


@needs_mkdocs
def test_every_page_is_in_the_nav() -> None:
    from mkdocs.config import load_config

    config = load_config(str(ROOT / "mkdocs.yml"))

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [page for item in node for page in pages(item)]
        if isinstance(node, dict):
            return [page for value in node.values() for page in pages(value)]
        return []

    in_nav = set(pages(config["nav"]))
    on_disk = {
        path.relative_to(DOCS).as_posix()
        for path in DOCS.rglob("*.md")
        if "hooks" not in path.relative_to(DOCS).parts
    }
    generated = {"reference/records.md", "reference/cli.md"}
    assert on_disk - in_nav == set(), "pages no reader can reach from the navigation"
    assert in_nav - on_disk - generated == set(), "nav entries without a page"


# -- the quickstarts (no mkdocs needed) ------------------------------------------------------

_HEADING = re.compile(r"^## .*\{#(?P<id>[\w-]+)\}\s*$", re.M)
_FENCE = re.compile(r"^```(?P<lang>\w+)[ \t]*\n(?P<code>.*?)^```[ \t]*$", re.M | re.S)


def _quickstart(language: str) -> dict[str, str]:
    """The quickstart's sections by heading id, in order."""
    text = (DOCS / language / "quickstart.md").read_text(encoding="utf-8")
    parts = _HEADING.split(text)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _code(section: str) -> list[tuple[str, list[str]]]:
    """The section's code blocks: language and lines without comments, blank lines or the
    message language (`--lang ja` / `--lang en`, which each page sets to its own)."""
    blocks = []
    for match in _FENCE.finditer(section):
        lines = [
            re.sub(r" --lang (ja|en)\b", "", line.split("#", 1)[0]).rstrip()
            for line in match.group("code").splitlines()
        ]
        blocks.append((match.group("lang"), [line for line in lines if line.strip()]))
    return blocks


def test_the_japanese_and_english_quickstarts_cover_the_same_sections() -> None:
    ja, en = _quickstart("ja"), _quickstart("en")
    assert list(ja) == list(en)
    assert {"install", "demo", "read-write", "validate", "send-receive", "testing"} <= set(en)
    for section in en:
        # The same examples in the same order; only comments and prose are translated.
        assert _code(ja[section]) == _code(en[section]), section
    assert "(../ja/quickstart.md)" in (DOCS / "en" / "quickstart.md").read_text(encoding="utf-8")
    assert "(../en/quickstart.md)" in (DOCS / "ja" / "quickstart.md").read_text(encoding="utf-8")


def test_a_quickstart_missing_a_section_is_caught(tmp_path: Path) -> None:
    # The comparison above must see a dropped section and a changed example.
    en = _quickstart("en")
    dropped = dict(list(en.items())[:-1])
    assert list(dropped) != list(_quickstart("ja"))
    changed = en["read-write"].replace('"insured_no"', '"insurer_no"')
    assert _code(changed) != _code(_quickstart("ja")["read-write"])
