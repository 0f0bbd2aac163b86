"""Parse an HTML listing page (a section front, a search result page) into items.

Sites without a feed still list their latest articles on a page. The source configuration
gives CSS selectors: one matching each article block, and inside it the link, title,
summary and date. Links are resolved against the page's ``<base href>`` and URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urldefrag

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from monitor.errors import ParseError
from monitor.items import Item, ParsedSource
from monitor.parse.dates import parse_date
from monitor.parse.encoding import (
    LANGUAGE_MAX,
    SUMMARY_MAX,
    TITLE_MAX,
    cap,
    clean_text,
    decode,
    html_to_text,
    resolve_url,
)


@dataclass(frozen=True, slots=True)
class ListingSelectors:
    """CSS selectors locating articles on a listing page, relative to each ``item`` block.

    ``date_attr`` reads the date from an attribute (``datetime``, ``data-timestamp``) instead
    of the text; ``date_format`` is a :func:`datetime.strptime` format tried before the
    generic date reader. A ``<time datetime>`` element is read from its attribute by default.
    """

    item: str
    link: str = "a"
    title: str | None = None
    summary: str | None = None
    date: str | None = None
    date_attr: str | None = None
    date_format: str | None = None


def _css_first(node: LexborNode, selector: str) -> LexborNode | None:
    try:
        return node.css_first(selector)
    except (SelectolaxError, ValueError) as exc:
        raise ParseError(f"invalid CSS selector {selector!r}: {exc}") from None


def _node_text(node: LexborNode | None) -> str:
    """Single-line plain text of a node; block children are kept apart by a space."""
    if node is None:
        return ""
    return html_to_text(node.html, multiline=False)


def _date_of(node: LexborNode, selectors: ListingSelectors) -> datetime | None:
    if not selectors.date:
        return None
    found = _css_first(node, selectors.date)
    if found is None:
        return None
    if selectors.date_attr:
        raw = found.attributes.get(selectors.date_attr)
    elif found.tag == "time" and found.attributes.get("datetime"):
        raw = found.attributes.get("datetime")
    else:
        raw = found.text(deep=True, separator=" ", strip=True)
    return parse_date(raw, fmt=selectors.date_format)


def _link_node(node: LexborNode, selector: str) -> LexborNode | None:
    """The link of an item block: the first match of ``selector``, or the block if it is one."""
    found = _css_first(node, selector)
    if found is None and node.tag == "a":
        return node
    return found


def parse_listing(
    content: bytes,
    *,
    base_url: str,
    selectors: ListingSelectors,
    content_type: str | None = None,
    max_items: int = 500,
) -> ParsedSource:
    """Items of an HTML listing page, selected by ``selectors`` (kind ``"html"``).

    Each item's GUID is its resolved link; blocks without a usable http(s) link are skipped,
    and a link listed twice (pages repeat headlines in several blocks) is kept once. The title
    defaults to the link's text, then its ``title`` attribute. Raises ParseError for an empty
    page, an invalid selector, or an item selector that matches nothing (the site's layout
    probably changed, and silence would hide it).
    """
    if not content or content.isspace():
        raise ParseError("empty document: the server sent no content")
    text, _codec = decode(content, content_type)
    tree = LexborHTMLParser(text)
    base = base_url
    base_el = tree.css_first("base[href]")
    if base_el is not None:
        base = resolve_url(base_el.attributes.get("href"), base_url) or base_url
    try:
        blocks = tree.css(selectors.item)
    except (SelectolaxError, ValueError) as exc:
        raise ParseError(f"invalid CSS selector {selectors.item!r}: {exc}") from None
    if not blocks:
        raise ParseError(
            f"no element matches the item selector {selectors.item!r}: "
            "the page layout may have changed"
        )
    language = _page_language(tree)
    items: list[Item] = []
    seen: set[str] = {urldefrag(base_url)[0], urldefrag(base)[0]}  # "#" links: the page itself
    for block in blocks:
        if len(items) >= max_items:
            break
        link = _link_node(block, selectors.link)
        if link is None:
            continue
        url = resolve_url(link.attributes.get("href"), base)
        if url is None or url in seen or urldefrag(url)[0] in seen:
            continue
        seen.add(url)
        title = _node_text(_css_first(block, selectors.title)) if selectors.title else ""
        if not title:
            title = _node_text(link) or clean_text(link.attributes.get("title"))
        summary = ""
        if selectors.summary:
            found = _css_first(block, selectors.summary)
            summary = html_to_text(found.html) if found is not None and found.html else ""
        items.append(
            Item(
                guid=url,
                url=url,
                title=cap(title, TITLE_MAX),
                summary=cap(summary, SUMMARY_MAX),
                published=_date_of(block, selectors),
                language=language,
            )
        )
    if not items and len(blocks) <= max_items:
        raise ParseError(
            f"{len(blocks)} elements match the item selector {selectors.item!r} but none has "
            f"an http(s) link matching {selectors.link!r}"
        )
    page_title = tree.css_first("title")
    title = clean_text(page_title.text()) if page_title is not None else ""
    return ParsedSource(
        kind="html", items=tuple(items), title=cap(title, TITLE_MAX) or None, language=language
    )


def _page_language(tree: LexborHTMLParser) -> str | None:
    """The page's ``<html lang>``, lower-cased, or None."""
    root = tree.root
    lang = root.attributes.get("lang") if root is not None else None
    lang = clean_text(lang).replace("_", "-").lower()[:LANGUAGE_MAX] if lang else ""
    return lang or None
