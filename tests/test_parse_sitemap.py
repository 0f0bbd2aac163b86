"""Sitemaps (monitor/parse/sitemap.py) on fixtures in tests/fixtures/sitemaps."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.items import ParsedSource
from monitor.parse import parse_source
from monitor.parse.sitemap import gunzip_capped, parse_sitemap

SITEMAPS = Path(__file__).parent / "fixtures" / "sitemaps"
NOW = datetime(2024, 6, 26, 12, tzinfo=UTC)
WINDOW = timedelta(days=2)
BASE = "https://dailynation.example.co.ke/sitemap.xml"


def parse(name: str, *, window: timedelta = WINDOW, **kwargs: object) -> ParsedSource:
    return parse_sitemap(
        (SITEMAPS / name).read_bytes(),
        base_url=BASE,
        now=NOW,
        window=window,
        **kwargs,  # type: ignore[arg-type]
    )


def test_kenyan_news_sitemap() -> None:
    source = parse("news_sitemap_kenya.xml")
    assert (source.kind, source.sitemaps) == ("sitemap", ())
    assert [item.url for item in source.items] == [
        "https://dailynation.example.co.ke/news/kenyan-police-land-in-haiti-4667210",
        "https://dailynation.example.co.ke/habari/polisi-wa-kenya-wawasili-haiti-4667300",
        "https://dailynation.example.co.ke/news/ruto-addresses-officers-4667150",
    ]  # the six-day-old story is outside the window; the repeated URL is listed once
    lead, swahili, ruto = source.items
    assert lead.guid == lead.url
    assert lead.title == "Kenyan police land in Haiti as MSS mission takes off"
    assert lead.published == datetime(2024, 6, 26, 3, 45, tzinfo=UTC)
    assert lead.updated == datetime(2024, 6, 26, 5, 10, tzinfo=UTC)
    assert lead.language == "en"
    assert (swahili.language, swahili.title) == ("sw", "Polisi wa Kenya wawasili Haiti")
    assert ruto.title == "Ruto addresses officers & families at send-off"  # relative <loc>


def test_haitian_news_sitemap_keeps_undated_entries() -> None:
    source = parse("news_sitemap_haiti.xml", window=timedelta(days=1))
    titles = [item.title for item in source.items]
    assert titles == [
        "La mission kényane à Port-au-Prince : premières patrouilles",
        "Carburant : la pénurie persiste",  # dated by <lastmod> only
        "Brève sans date de publication",  # undated, kept: a news sitemap lists recent news
    ]
    assert source.items[1].published is None
    assert source.items[1].updated == datetime(2024, 6, 25, 22, tzinfo=UTC)
    assert source.items[2].published is None and source.items[2].updated is None
    assert all(item.language == "fr" for item in source.items)
    assert all(item.url and item.url.startswith("https://") for item in source.items)


def test_window_is_measured_from_now() -> None:
    narrow = parse("news_sitemap_haiti.xml", window=timedelta(hours=3))
    assert [item.title for item in narrow.items] == [
        "La mission kényane à Port-au-Prince : premières patrouilles",
        "Brève sans date de publication",
    ]
    wide = parse("news_sitemap_haiti.xml", window=timedelta(days=365))
    assert len(wide.items) == 4  # the December 2023 archive entry is back, javascript: is not


def test_plain_sitemap_drops_undated_entries() -> None:
    source = parse("sitemap_pages.xml")
    assert [item.url for item in source.items] == [
        "https://dailynation.example.co.ke/news/fresh-page"
    ]
    assert source.items[0].title == ""
    assert source.items[0].updated == datetime(2024, 6, 26, tzinfo=UTC)


def test_sitemap_index() -> None:
    source = parse("sitemap_index.xml")
    assert source.items == ()
    # Old children (2019) are skipped, duplicates listed once, newest first, undated last.
    assert source.sitemaps == (
        "https://dailynation.example.co.ke/sitemaps/news.xml",
        "https://dailynation.example.co.ke/sitemaps/2024-06.xml",
        "https://dailynation.example.co.ke/sitemaps/video.xml.gz",
    )
    assert parse("sitemap_index.xml", max_items=1).sitemaps == (
        "https://dailynation.example.co.ke/sitemaps/news.xml",
    )


def test_max_items() -> None:
    assert len(parse("news_sitemap_kenya.xml", max_items=2).items) == 2


def test_gzip_sitemap_is_decompressed() -> None:
    raw = (SITEMAPS / "news_sitemap_kenya.xml").read_bytes()
    compressed = parse_sitemap(gzip.compress(raw), base_url=BASE, now=NOW, window=WINDOW)
    assert compressed == parse("news_sitemap_kenya.xml")


def test_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"\0" * (51 * 1024 * 1024))
    assert len(bomb) < 200_000
    with pytest.raises(ParseError, match="larger than 50 MB once decompressed"):
        parse_sitemap(bomb, base_url=BASE, now=NOW, window=WINDOW)
    with pytest.raises(ParseError, match="larger than"):
        gunzip_capped(gzip.compress(b"x" * 2000), limit=1000)
    assert gunzip_capped(gzip.compress(b"x" * 1000), limit=1000) == b"x" * 1000


def test_corrupt_gzip() -> None:
    with pytest.raises(ParseError, match="invalid gzip data"):
        parse_sitemap(b"\x1f\x8b\x08\x00garbage", base_url=BASE, now=NOW, window=WINDOW)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty document"),
        (
            b"https://example.org/a\nhttps://example.org/b\n",
            "not a sitemap: the document is not XML",
        ),
        (b"<urlset><url><loc>x</loc></url>", "invalid XML at line 1"),
        (b'<rss version="2.0"><channel/></rss>', "not a sitemap: the document is a feed"),
        (b"<html><body>hi</body></html>", "not a sitemap: the document is an HTML page"),
        (b"<!DOCTYPE html><html><body><br></body></html>", "the document is an HTML page"),
        (b"<catalog/>", "unknown root element <catalog>"),
    ],
)
def test_errors(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_sitemap(body, base_url=BASE, now=NOW, window=WINDOW)


def test_entities_in_sitemaps_are_not_expanded() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://example.org/a&x;</loc><lastmod>2024-06-26</lastmod></url></urlset>"
    )
    source = parse_sitemap(body, base_url=BASE, now=NOW, window=WINDOW)
    assert [item.url for item in source.items] == ["https://example.org/a"]


def test_naive_now_is_utc() -> None:
    naive = parse_sitemap(
        (SITEMAPS / "news_sitemap_kenya.xml").read_bytes(),
        base_url=BASE,
        now=NOW.replace(tzinfo=None),
        window=WINDOW,
    )
    assert naive == parse("news_sitemap_kenya.xml")


def test_parse_source_sitemap_defaults() -> None:
    body = (SITEMAPS / "news_sitemap_kenya.xml").read_bytes()
    fixed = parse_source("sitemap", body, base_url=BASE, now=NOW, window=WINDOW)
    assert fixed == parse("news_sitemap_kenya.xml")
    # Default now (today) and window (two days): these 2024 entries are all too old.
    assert parse_source("sitemap", body, base_url=BASE).items == ()
