"""The digest page in a real browser: headless Chromium renders it, on a phone and a desktop.

The DOM Chromium builds must hold the hostile titles as text and nothing that runs or leaves the
page; the screenshots must show a page (not a blank one) that fits a phone's width. Without
Chromium the tests skip on a laptop and fail in CI (CI=true), where .ci/run installs it.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import lxml.html
import pytest
from sqlalchemy import Engine

from monitor.digest import DigestFiles, write_digest
from monitor.store.db import make_engine, upgrade
from tests.conftest import IN_CI
from tests.test_digest import HOSTILE_TITLES, add_article, add_copy, add_source, make_config, utc

pytestmark = pytest.mark.browser

DAY = date(2026, 11, 20)
PAGE_TITLE = "Coverage digest, 2026-11-20"
EXECUTED_TITLE = "<script>document.title='pwned'</script> Haiti"
LONG_TITLE = "Haiti " + "Supercalifragilisticexpialidocious" * 4 + " and Kenya"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def chromium() -> str:
    """The Chromium binary; skip without it, except in CI where it is required."""
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found:
        return found
    if IN_CI:
        pytest.fail("CI requires Chromium for the browser tests: apt-get install -y chromium")
    pytest.skip("Chromium is not installed (apt-get install -y chromium): browser tests skipped")


def run_chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.fixture
def digest(tmp_path: Path) -> Iterator[DigestFiles]:
    """A digest of a realistic day with hostile and very long titles."""
    engine: Engine = make_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    upgrade(engine)
    paper = add_source(engine, "Le Nouvelliste")
    nation = add_source(engine, "Daily Nation")
    evil = add_source(engine, '<img src=x onerror=alert("source")>')
    stories = [
        ("Kenyan police arrive in Haiti", {"haiti": (0.9, ["Haiti"]), "kenya": (0.6, ["Kenyan(s)"])}),
        ("Haiti: the transitional council meets", {"haiti": (0.7, ["Haiti"])}),
        ("Nairobi court hears the deployment case", {"kenya": (0.8, ["Nairobi"])}),
        ("Multinational Security Support mission renewed", {"mss": (0.75, ["Multinational Security Support"])}),
        ("Gang Suppression Force gets its first commander", {"gsf": (0.85, ["Gang Suppression Force"])}),
        (LONG_TITLE, {"haiti": (0.5, ["Haiti"]), "kenya": (0.2, ["Kenya"])}),
        *((title, {"haiti": (0.3, ["Haiti"])}) for title in (*HOSTILE_TITLES, EXECUTED_TITLE)),
    ]  # fmt: skip
    for n, (title, topics) in enumerate(stories):
        article = add_article(
            engine,
            title=title,
            url=f"https://news.example/{n}/" + "very-long-path-segment" * (3 if n == 5 else 0),
            discovered_at=utc(2026, 11, 20, 6 + n),
            topics=topics,
            source_id=evil if title in HOSTILE_TITLES else (paper if n % 2 else nation),
            summary=(
                f"{title}. Officers from Kenya patrolled Port-au-Prince while the council in Haiti"
                " discussed the security situation and the timetable for elections; residents"
                " said gangs still controlled several roads leading to the airport."
            ),
        )
        if n < 2:
            add_copy(engine, article, url=f"https://copies.example/{n}", source_id=paper,
                     seen_at=utc(2026, 11, 20, 20), reason="near", similarity=0.82)  # fmt: skip
            add_copy(engine, article, url="javascript:alert('copy')", source_id=evil,
                     seen_at=utc(2026, 11, 20, 21), reason="content")  # fmt: skip
    files = write_digest(engine, make_config(tmp_path / "digests"), DAY, None)
    engine.dispose()
    yield files


def test_the_rendered_dom_shows_hostile_titles_as_text(digest: DigestFiles, tmp_path: Path) -> None:
    dom = run_chromium(digest.html, tmp_path / "profile", "--dump-dom").stdout
    page = lxml.html.fromstring(dom)
    assert page.findtext(".//title") == PAGE_TITLE  # no script ran to change it
    assert page.xpath("//script") == []
    assert page.xpath("//img") == [] and page.xpath("//*[@onerror]") == []
    assert page.xpath("//*[@src]") == [] and page.xpath("//link") == []  # nothing to fetch
    hrefs = [h.strip().lower() for h in page.xpath("//a/@href")]
    assert hrefs and not [h for h in hrefs if h.startswith(("javascript:", "data:", "vbscript:"))]
    assert all(h.startswith(("https://", "#topic-")) for h in hrefs)
    titles = {" ".join(h.text_content().split()) for h in page.xpath("//article//h3")}
    assert {*HOSTILE_TITLES, EXECUTED_TITLE, LONG_TITLE, "Kenyan police arrive in Haiti"} <= titles
    assert len(page.xpath("//article")) == 10
    assert "Kenyan police arrive in Haiti" in page.xpath("string(//section[1]//article[1])")
    assert page.xpath("//article[1]//mark/text()")[:2] == ["Kenyan", "Haiti"]


@pytest.mark.parametrize(("name", "width", "height"), [("phone", 390, 844), ("desktop", 1280, 900)])
def test_screenshots_show_a_page_that_fits_the_screen(
    digest: DigestFiles, tmp_path: Path, name: str, width: int, height: int
) -> None:
    shot = tmp_path / f"digest-{name}.png"
    run_chromium(
        digest.html, tmp_path / "profile", f"--screenshot={shot}", f"--window-size={width},{height}"
    )
    png_width, png_height, pixels = decode_png(shot.read_bytes())
    assert (png_width, png_height) == (width, height)
    counts = Counter(pixel for row in pixels for pixel in row)
    _, most = counts.most_common(1)[0]
    assert len(counts) > 1, "the screenshot is blank: every pixel has the same colour"
    assert 1 - most / (width * height) > 0.02, "almost nothing is drawn on the page"
    page_colour = pixels[0][0]  # the body's background, above the heading
    right_edge = {pixel for row in pixels for pixel in row[-6:]}
    assert right_edge == {page_colour}, "something runs off the right edge of the screen"


# --- PNG, with the standard library only -----------------------------------------------------


def decode_png(data: bytes) -> tuple[int, int, list[list[bytes]]]:
    """(width, height, rows of pixels) of an 8-bit, non-interlaced PNG; pixels as bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    position, chunks = 8, []
    header = b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0, f"unsupported PNG: depth {depth}, interlace {interlace}"
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        unfilter(kind, line, previous, bpp)
        rows.append([bytes(line[x : x + bpp]) for x in range(0, stride, bpp)])
        previous = line
    return width, height, rows


def unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    """Undo one scanline's PNG filter in place (RFC 2083, section 6)."""
    if kind == 1:  # Sub
        for i in range(bpp, len(line)):
            line[i] = (line[i] + line[i - bpp]) & 0xFF
    elif kind == 2:  # Up
        line[:] = bytes((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
    elif kind == 3:  # Average
        for i in range(len(line)):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
    elif kind == 4:  # Paeth
        for i in range(len(line)):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + predictor) & 0xFF
    else:
        assert kind == 0, f"unknown PNG filter {kind}"
