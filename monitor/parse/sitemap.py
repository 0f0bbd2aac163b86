"""Parse XML sitemaps (plain and gzip-compressed): news sitemaps, urlsets and sitemap indexes.

A sitemap index yields the child sitemaps still to fetch, in ``ParsedSource.sitemaps``. A
urlset yields one item per ``<url>`` published or modified within ``window`` of ``now``.

Undated entries: kept in a Google News sitemap, dropped from a plain one. A news sitemap
may list only articles of the last two days (Google's rule), so whatever it lists is recent;
a plain sitemap usually lists a whole site archive, and keeping its undated pages would flood
the monitor with years-old articles on every poll.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

from lxml import etree

from monitor.errors import ParseError
from monitor.items import Item, ParsedSource
from monitor.parse.dates import parse_date
from monitor.parse.encoding import (
    LANGUAGE_MAX,
    TITLE_MAX,
    cap,
    decode,
    html_to_text,
    resolve_url,
)
from monitor.parse.feeds import element_text, looks_like_html, parse_xml

NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
MAX_DECOMPRESSED = 50 * 1024 * 1024  # the sitemap protocol's own limit for one file
GZIP_MAGIC = b"\x1f\x8b"


def gunzip_capped(content: bytes, limit: int = MAX_DECOMPRESSED) -> bytes:
    """Decompress gzip bytes, refusing output larger than ``limit`` (a zip bomb guard)."""
    inflater = zlib.decompressobj(wbits=31)  # gzip header, any window size
    try:
        out = inflater.decompress(content, limit + 1)
    except zlib.error as exc:
        raise ParseError(f"invalid gzip data: {exc}") from None
    if len(out) > limit:
        size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
        raise ParseError(f"sitemap larger than {size} once decompressed: refused")
    if not inflater.eof:
        raise ParseError("invalid gzip data: the stream is truncated")
    return out


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _children(el: etree._Element) -> dict[str, etree._Element]:
    """Direct children by local name (first one wins), ignoring the namespace."""
    out: dict[str, etree._Element] = {}
    for child in el:
        name = _local(child.tag)
        if name and name not in out:
            out[name] = child
    return out


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    return element_text(el).strip() or None


def parse_sitemap(
    content: bytes,
    *,
    base_url: str,
    now: datetime,
    window: timedelta,
    max_items: int = 500,
    content_type: str | None = None,
) -> ParsedSource:
    """Parse a sitemap or sitemap index (kind ``"sitemap"``); gzip input is decompressed.

    Items: ``url``/``guid`` from ``<loc>``, ``title``, ``published`` and ``language`` from
    Google News tags, ``updated`` from ``<lastmod>``. Entries dated before ``now - window``
    are dropped (see the module docstring for undated ones). Index children whose
    ``<lastmod>`` is older than the window are skipped, since they cannot hold a newer page;
    the rest are listed newest first, at most ``max_items``.
    """
    if content[:2] == GZIP_MAGIC:
        content = gunzip_capped(content)
    if not content or content.isspace():
        raise ParseError("empty document: the server sent no content")
    text, _codec = decode(content, content_type)
    if looks_like_html(text):
        raise ParseError("not a sitemap: the document is an HTML page")
    if not text.lstrip().startswith("<"):
        raise ParseError("not a sitemap: the document is not XML")
    try:
        root = parse_xml(text, base_url or None)
    except etree.XMLSyntaxError as exc:
        line = f" at line {exc.lineno}" if exc.lineno else ""
        message = (exc.msg or str(exc)).split(" (<string>")[0]
        raise ParseError(f"invalid XML{line}: {message}") from None
    name = _local(root.tag)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)  # a naive "now" is UTC, like every date here
    cutoff = now - window
    if name == "sitemapindex":
        return _parse_index(root, base_url, cutoff, max_items)
    if name == "urlset":
        return _parse_urlset(root, base_url, cutoff, max_items)
    if name in ("rss", "feed", "RDF"):
        raise ParseError(
            f"not a sitemap: the document is a feed (<{name}>); configure the source as a feed"
        )
    if name.lower() == "html":
        raise ParseError("not a sitemap: the document is an HTML page")
    raise ParseError(f"not a sitemap: unknown root element <{name}>")


def _parse_index(
    root: etree._Element, base_url: str, cutoff: datetime, max_items: int
) -> ParsedSource:
    children: list[tuple[datetime | None, str]] = []
    seen: set[str] = set()
    for el in root:
        if _local(el.tag) != "sitemap":
            continue
        fields = _children(el)
        url = resolve_url(_text(fields.get("loc")), base_url)
        if url is None or url in seen:
            continue
        seen.add(url)
        lastmod = parse_date(_text(fields.get("lastmod")))
        if lastmod is not None and lastmod < cutoff:
            continue
        children.append((lastmod, url))
    # Newest first, undated last; sorted() is stable so document order breaks ties.
    children = sorted(children, key=lambda c: -c[0].timestamp() if c[0] else float("inf"))
    return ParsedSource(
        kind="sitemap", items=(), sitemaps=tuple(url for _, url in children[:max_items])
    )


def _parse_urlset(
    root: etree._Element, base_url: str, cutoff: datetime, max_items: int
) -> ParsedSource:
    is_news = any(ns == NEWS_NS for ns in (root.nsmap or {}).values()) or (
        root.find(f".//{{{NEWS_NS}}}news") is not None
    )
    items: list[Item] = []
    seen: set[str] = set()
    for el in root:
        if len(items) >= max_items:
            break
        if _local(el.tag) != "url":
            continue
        fields = _children(el)
        url = resolve_url(_text(fields.get("loc")), base_url)
        if url is None or url in seen:
            continue
        updated = parse_date(_text(fields.get("lastmod")))
        news = fields.get("news")
        title = ""
        published = None
        language = None
        if news is not None:
            nf = _children(news)
            title = cap(html_to_text(_text(nf.get("title")) or "", multiline=False), TITLE_MAX)
            published = parse_date(_text(nf.get("publication_date")))
            publication = nf.get("publication")
            if publication is not None:
                raw = _text(_children(publication).get("language"))
                language = raw.replace("_", "-").lower()[:LANGUAGE_MAX] if raw else None
        date = published or updated
        if date is None and not is_news:
            continue
        if date is not None and date < cutoff:
            continue
        seen.add(url)
        items.append(
            Item(
                guid=url,
                url=url,
                title=title,
                language=language,
                published=published,
                updated=updated,
            )
        )
    return ParsedSource(kind="sitemap", items=tuple(items))
