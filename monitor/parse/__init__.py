"""The parsing stage: pure functions from fetched bytes to items.

``parse_source`` dispatches on the configured kind of source: "feed" (RSS, RDF, Atom, JSON
Feed, detected from the content), "html" (a listing page read with CSS selectors) or
"sitemap" (a news sitemap, urlset or sitemap index, gzip accepted).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.errors import ParseError
from monitor.items import Draft, ParsedSource
from monitor.parse.article import extract_article
from monitor.parse.dates import parse_date
from monitor.parse.encoding import clean_text, decode, detect_encoding, html_to_text, resolve_url
from monitor.parse.feeds import (
    draft_text,
    feed_item_digests,
    finish,
    parse_feed,
    parse_feed_changes,
)
from monitor.parse.listing import ListingSelectors, parse_listing
from monitor.parse.sitemap import parse_sitemap

DEFAULT_SITEMAP_WINDOW = timedelta(days=2)

__all__ = [
    "DEFAULT_SITEMAP_WINDOW",
    "Draft",
    "ListingSelectors",
    "clean_text",
    "decode",
    "detect_encoding",
    "draft_text",
    "extract_article",
    "feed_item_digests",
    "finish",
    "html_to_text",
    "parse_date",
    "parse_feed",
    "parse_feed_changes",
    "parse_listing",
    "parse_sitemap",
    "parse_source",
    "resolve_url",
]


def parse_source(
    kind: str,
    content: bytes,
    *,
    base_url: str,
    content_type: str | None = None,
    max_items: int = 500,
    selectors: ListingSelectors | None = None,
    now: datetime | None = None,
    window: timedelta | None = None,
    lazy: bool = False,
) -> ParsedSource:
    """Parse ``content`` as a source of ``kind`` "feed", "html" or "sitemap".

    ``selectors`` is required for "html". For "sitemap", ``now`` defaults to the current UTC
    time and ``window`` to :data:`DEFAULT_SITEMAP_WINDOW` (two days, Google News' own limit).
    ``lazy`` lets a feed leave its text to :func:`finish` (see :class:`Draft`); use
    :meth:`ParsedSource.all_drafts` to read either kind of result.
    Raises ParseError for an unknown kind, missing selectors, or an unreadable document.
    """
    if kind == "feed":
        return parse_feed(
            content, base_url=base_url, content_type=content_type, max_items=max_items, lazy=lazy
        )
    if kind == "html":
        if selectors is None:
            raise ParseError("an html source needs CSS selectors (at least 'item')")
        return parse_listing(
            content,
            base_url=base_url,
            selectors=selectors,
            content_type=content_type,
            max_items=max_items,
        )
    if kind == "sitemap":
        return parse_sitemap(
            content,
            base_url=base_url,
            now=now if now is not None else datetime.now(UTC),
            window=window if window is not None else DEFAULT_SITEMAP_WINDOW,
            max_items=max_items,
            content_type=content_type,
        )
    raise ParseError(f"unknown source kind {kind!r}: expected 'feed', 'html' or 'sitemap'")
