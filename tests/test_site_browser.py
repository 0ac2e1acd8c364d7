"""The built documentation site in a real browser (Debian's `chromium`, headless).

Every page of the site is opened over http (the search needs it: its worker and index are
fetched) and must load with no console error, no uncaught exception (in the page or its
search worker) and no failed request. The Japanese quickstart must render: its screenshot is
not blank and its Japanese characters are drawn as glyphs, not as the identical boxes a
browser shows without a Japanese font. Material's search box, typed into as a reader would,
must find 被保険者番号. Planted faults prove each check can fail.

The browser is driven over the DevTools protocol (tests/_cdp.py, no dependency); the site is
the one tests/test_site.py builds (tests/_site_build.py, built once per session).
"""

from __future__ import annotations

import functools
import json
import shutil
import struct
import subprocess
import threading
import zlib
from collections.abc import Iterator
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ._cdp import Browser
from ._site_build import built_site, needs_mkdocs

_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    needs_mkdocs,
    pytest.mark.skipif(
        _CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
    ),
]

QUERY = "被保険者番号"


class _Server(ThreadingHTTPServer):
    """Serves the built site and remembers every request that failed."""

    failures: list[str]
    # Pages served from memory, by path: the planted faults stay out of the built site, which
    # the other test process may be walking at the same time.
    planted: dict[str, bytes]


class _Handler(SimpleHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        page = self.server.planted.get(self.path)
        if page is None:
            super().do_GET()
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if isinstance(code, int) and code >= HTTPStatus.BAD_REQUEST:
            self.server.failures.append(f"{code} {self.path}")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: failures are collected above


class _Site:
    """The served site and the browser reading it."""

    def __init__(self, folder: Path, server: _Server, browser: Browser) -> None:
        self.folder, self.server, self.browser = folder, server, browser
        self.base = f"http://127.0.0.1:{server.server_address[1]}/"

    def open(self, path: str) -> list[str]:
        """Open a page and return what went wrong while it loaded and settled."""
        self.browser.errors()  # forget what came before
        self.server.failures.clear()
        self.browser.navigate(self.base + path)
        # Let what the page starts after its load event (the search worker, its index and
        # language scripts) run and report.
        self.browser.evaluate("new Promise(done => setTimeout(done, 150))")
        return self.browser.errors() + [f"request failed: {f}" for f in self.server.failures]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Site]:
    folder = built_site(tmp_path_factory)
    handler = functools.partial(_Handler, directory=str(folder))
    server = _Server(("127.0.0.1", 0), handler)
    server.failures, server.planted = [], {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert _CHROMIUM is not None
        browser = Browser(_CHROMIUM, tmp_path_factory.mktemp("chromium") / "profile")
        try:
            yield _Site(folder, server, browser)
        finally:
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _pages(folder: Path) -> list[str]:
    """Every HTML page of the built site, as the path a reader's browser asks for."""
    pages = []
    for path in sorted(folder.rglob("*.html")):
        relative = path.relative_to(folder).as_posix()
        pages.append(relative.removesuffix("index.html"))
    return pages


# The pages are opened in parts, so that the suite's two workers can share them (each opens a
# page in ~0.3 s, and one test of every page would be the suite's longest by far).
_PARTS = 3


@pytest.mark.parametrize("part", range(_PARTS))
def test_every_page_loads_without_a_console_error(served: _Site, part: int) -> None:
    pages = _pages(served.folder)
    assert {"", "ja/quickstart/", "en/quickstart/", "reference/records/", "404.html"} <= set(pages)
    problems, inert = {}, []
    for page in pages[part::_PARTS]:
        if found := served.open(page):
            problems[page] = found
        # The page really ran its scripts: Material's bundle publishes its streams on window.
        if served.browser.evaluate("typeof window.document$") != "object":
            inert.append(page)
    assert problems == {}
    assert inert == []


def test_planted_errors_are_caught(served: _Site) -> None:
    # Each kind of fault the test above must see, planted in a page of its own: a console
    # error, an uncaught exception, one in a worker (the search runs in one), a missing file.
    page = (
        # An icon of its own: without one Chromium asks for /favicon.ico on its own schedule,
        # and that 404 could land in the next page's log (the site's pages all name theirs).
        "<!doctype html><title>planted</title><link rel='icon' href='data:,'>"
        "<img src='/no-such-image.png'><script>"
        "console.error('planted console error');"
        "new Worker(URL.createObjectURL(new Blob(['throw new Error(\"planted in worker\")'])));"
        "setTimeout(() => { throw new Error('planted exception'); });"
        "</script>"
    )
    served.server.planted["/planted.html"] = page.encode()
    found = "\n".join(served.open("planted.html"))
    assert "console.error: planted console error" in found
    assert "planted exception" in found
    assert "planted in worker" in found
    assert "request failed: 404 /no-such-image.png" in found
    assert "404" in found.split("request failed", 1)[0]  # the browser's own log saw it too
    assert served.open("") == []  # and nothing is left over for the next page


def _png_pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows (RGB or RGBA, 8 bits) of a PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat = 8, b""
    width = height = channels = 0
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        body = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        row_filter, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if row_filter == 1:
                line[x] = (line[x] + left) & 0xFF
            elif row_filter == 2:
                line[x] = (line[x] + up) & 0xFF
            elif row_filter == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif row_filter == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + guess) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def _ink(png: bytes) -> tuple[int, float]:
    """How much is drawn in a screenshot: its distinct colours and the share of its pixels
    that differ from the most common one (the background)."""
    width, height, rows = _png_pixels(png)
    channels = len(rows[0]) // width
    counts: dict[bytes, int] = {}
    for row in rows:
        for x in range(0, len(row), channels):
            pixel = row[x : x + channels]
            counts[pixel] = counts.get(pixel, 0) + 1
    background = max(counts.values())
    return len(counts), 1 - background / (width * height)


# The page's text drawn one character at a time in the page's own font: without a font for
# them, a browser draws every Japanese character as the same box (".notdef"), so identical
# drawings of different characters mean boxes, not text.
_GLYPHS = r"""(() => {
  const font = getComputedStyle(document.querySelector('.md-typeset h1')).fontFamily;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 48;
  const pen = canvas.getContext('2d');
  const draw = ch => {
    pen.clearRect(0, 0, 48, 48);
    pen.font = `32px ${font}`;
    pen.fillText(ch, 4, 36);
    return canvas.toDataURL();
  };
  return {
    japanese: new Set([...'被保険者番号'].map(draw)).size,
    latin: new Set([...'careplan'].map(draw)).size,
    unassigned: new Set(['\u0378', '\u0379', '\u0380'].map(draw)).size,
  };
})()"""


def _article_clip(served: _Site) -> dict[str, float]:
    """The top of the article (its title and first paragraphs) on the current page."""
    box = served.browser.evaluate(
        "(() => { const r = document.querySelector('.md-content').getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width, height: r.height}; })()"
    )
    return {"x": box["x"], "y": box["y"], "width": min(box["width"], 720.0), "height": 360.0}


def test_the_japanese_quickstart_renders(served: _Site) -> None:
    assert served.open("ja/quickstart/") == []
    title = served.browser.evaluate("document.querySelector('.md-typeset h1').textContent")
    assert "クイックスタート" in title
    clip = _article_clip(served)
    colours, inked = _ink(served.browser.screenshot(clip))
    # Text, headings and code in several colours over a good part of the area.
    assert colours > 50 and inked > 0.03, (colours, inked)

    # Planted: a page with nothing drawn, captured the same way, is recognised as blank.
    served.browser.navigate("data:text/html,<body style='background:white'></body>")
    colours, inked = _ink(served.browser.screenshot(clip))
    assert colours <= 2 and inked == 0.0, (colours, inked)


def _has_japanese_font() -> bool:
    listed = subprocess.run(
        ["fc-list", ":lang=ja", "family"], capture_output=True, text=True, timeout=30
    )
    return bool(listed.stdout.strip())


@pytest.mark.skipif(
    shutil.which("fc-list") is not None and not _has_japanese_font(),
    reason="no Japanese font is installed (apt-get install fonts-noto-cjk): "
    "Japanese would show as boxes",
)
def test_japanese_characters_are_drawn_as_glyphs_not_boxes(served: _Site) -> None:
    assert served.open("ja/quickstart/") == []
    drawn = served.browser.evaluate(_GLYPHS)
    # Planted: characters no font has all come out as the same box; Latin letters differ.
    assert drawn["unassigned"] == 1 and drawn["latin"] == len(set("careplan")), drawn
    assert drawn["japanese"] == len("被保険者番号"), drawn


_SEARCH = """(async (query) => {
  const results = () => [...document.querySelectorAll('.md-search-result__item')].map(item => ({
    text: item.textContent,
    links: [...item.querySelectorAll('a')].map(a => new URL(a.href).pathname),
  }));
  const before = results().length;
  const box = document.querySelector('.md-search__input');
  box.focus();
  box.value = query;
  box.dispatchEvent(new Event('input', {bubbles: true}));
  for (const started = Date.now(); Date.now() - started < 15000; ) {
    if (results().some(item => item.text.includes(query))) break;
    await new Promise(done => setTimeout(done, 100));
  }
  return {before, found: results()};
})"""


def test_the_search_finds_an_item_name(served: _Site) -> None:
    assert served.open("") == []
    result = served.browser.evaluate(f"{_SEARCH}({json.dumps(QUERY)})")
    # Nothing was listed before the query was typed: what is listed now, it found.
    assert result["before"] == 0
    hits = [item for item in result["found"] if QUERY in item["text"]]
    assert hits, result["found"]
    pages = {link.split("#")[0] for item in hits for link in item["links"]}
    assert "/reference/records/" in pages, pages  # the item's own page, among the first
    assert served.browser.errors() == []  # the search worker reported nothing either
