"""The HTML calendar: self-contained, and right in a real headless browser (Debian `chromium`)."""

from __future__ import annotations

import datetime
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from careplan_link import reconcile
from tests.reconcile.helpers import V, month

P1 = "2710000001"
U1, U2 = "0000000001", "0000000002"
PLANNED = [V(U1, P1, 2), V(U1, P1, 9, hour=14), V(U2, P1, 4)]
DELIVERED = [V(U1, P1, 2), V(U1, P1, 11, hour=14), V(U2, P1, 4)]

_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _Cells(HTMLParser):
    """Day cells of the calendars: date → (classes, planned codes, delivered codes), per user."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[dict[str, tuple[str, list[str], list[str]]]] = []
        self.cell: str | None = None
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and (a.get("class") or "") == "user":
            self.sections.append({})
        for name in ("src", "href"):
            if a.get(name):
                self.external.append(str(a[name]))
        if tag == "td" and a.get("data-date"):
            self.cell = str(a["data-date"])
            self.sections[-1][self.cell] = (a.get("class") or "", [], [])
        if tag == "li" and self.cell is not None and a.get("data-code"):
            _, planned, delivered = self.sections[-1][self.cell]
            side = planned if a.get("class") == "planned" else delivered
            side.append(str(a["data-code"]))


def _page(tmp_path: Path) -> Path:
    page = tmp_path / "month.html"
    page.write_text(reconcile(*month(PLANNED, DELIVERED)).to_html(), encoding="utf-8")
    return page


def _check_cells(html: str) -> None:
    cells = _Cells()
    cells.feed(html)
    assert cells.external == []  # nothing fetched from anywhere
    first, second = cells.sections
    assert len(first) == 30  # June 2025
    assert first["2025-06-02"] == ("", ["111111"], ["111111"])
    assert first["2025-06-09"] == ("diff", ["111111"], [])
    assert first["2025-06-11"] == ("diff", [], ["111111"])
    assert all(c[0] == "" for d, c in first.items() if d not in ("2025-06-09", "2025-06-11"))
    assert second["2025-06-04"] == ("", ["111111"], ["111111"])
    assert not any(c[0] for c in second.values())


def test_page_is_self_contained_and_marks_differing_days(tmp_path: Path) -> None:
    html = _page(tmp_path).read_text(encoding="utf-8")
    assert "default-src 'none'" in html and "<script" not in html
    _check_cells(html)


def _png_is_not_blank(path: Path) -> bool:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat = 8, b""
    width = height = 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    raw = zlib.decompress(idat)
    assert width > 0 and height > 0 and raw
    return len(set(raw)) > 16  # a blank page decodes to a handful of byte values


@pytest.mark.skipif(
    _CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)
def test_in_headless_chromium(tmp_path: Path) -> None:
    page = _page(tmp_path)
    profile = tmp_path / "profile"
    assert _CHROMIUM is not None
    base = [_CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]
    dumped = subprocess.run(
        [*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert ":CONSOLE(" not in dumped.stderr, dumped.stderr[-2000:]  # no console message at all
    _check_cells(dumped.stdout)
    shot = tmp_path / "shot.png"
    taken = subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    assert _png_is_not_blank(shot)


def test_blank_png_is_recognised(tmp_path: Path) -> None:
    """The blank check itself: a uniform image is blank."""
    row = b"\x00" + b"\xff\xff\xff" * 50
    body = zlib.compress(row * 50)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 50, 50, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", body) + chunk(b"IEND", b"")
    path = tmp_path / "blank.png"
    path.write_bytes(png)
    assert not _png_is_not_blank(path)
    assert datetime.date(2025, 6, 1).weekday() == 6  # the calendar's first row starts on Monday
