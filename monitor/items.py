"""The plain data passed between the stages of a poll.

fetch -> FetchResult -> parse -> ParsedSource(items) -> match -> MatchResult -> dedup -> Verdict -> store
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal, TypeVar

T = TypeVar("T")


def quick_pickle(cls: type[T]) -> type[T]:
    """Pickle a frozen, slotted dataclass as the tuple of its field values, fast.

    Such a class pickles through state functions that dataclasses adds, which call
    ``dataclasses.fields()`` for every object: what a parse worker sends back (items, match
    results, fingerprints) cost the receiving process 0.4 s to unpickle per 1,000 feeds. The
    state is the same (the values in field order); only the names are looked up once.
    Apply it above ``@dataclass(frozen=True, slots=True)``.
    """
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    get = operator.attrgetter(*names)
    set_ = object.__setattr__

    def __getstate__(self: Any) -> tuple[Any, ...]:
        return get(self) if len(names) > 1 else (get(self),)

    def __setstate__(self: Any, state: Any) -> None:
        for name, value in zip(names, state, strict=True):
            set_(self, name, value)

    cls.__getstate__ = __getstate__  # type: ignore[attr-defined]
    cls.__setstate__ = __setstate__  # type: ignore[attr-defined]
    return cls


@quick_pickle
@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one HTTP fetch returned. ``not_modified`` is a 304 answer to a conditional GET."""

    url: str  # the URL finally fetched, after redirects
    status: int
    content: bytes
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    permanent_redirect: str | None = None  # where a 301/308 pointed, so the user can update the URL
    headers: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0


@quick_pickle
@dataclass(frozen=True, slots=True)
class Item:
    """One entry of a feed, listing page or sitemap, with text as plain, cleaned strings.

    Dates are timezone-aware UTC, or None when the source did not give one (never "now").
    """

    guid: str | None
    url: str | None
    title: str = ""
    summary: str = ""
    content: str = ""  # the full text, when the source carries it
    author: str | None = None
    language: str | None = None
    published: datetime | None = None
    updated: datetime | None = None


@quick_pickle
@dataclass(frozen=True, slots=True)
class Draft:
    """An item as read from a feed, before its summary and content become plain text.

    Converting HTML to text is most of the cost of parsing a feed, and a poll needs the text of
    few items: the new ones that can match. While ``pending``, ``item.summary`` and
    ``item.content`` are empty and ``summary``/``content`` hold what the document gave (HTML
    when the ``*_html`` flag says so); :func:`monitor.parse.finish` makes the final items. A
    draft that is not pending wraps a final item. Pending drafts always have a GUID or a URL.
    """

    item: Item
    summary: str = ""
    content: str = ""
    summary_html: bool = True
    content_html: bool = True
    pending: bool = False
    # While pending: what finishing reads the item's author, language and dates from (the
    # parser's own record of them); the pending item has none of them yet.
    details: Any = None

    @property
    def raw(self) -> tuple[str, str]:
        """Summary and content as the document gave them (the final text when not pending)."""
        if self.pending:
            return self.summary, self.content
        return self.item.summary, self.item.content


@quick_pickle
@dataclass(frozen=True, slots=True)
class ParsedSource:
    """The items of one fetched document, plus what the document says about itself.

    A lazy parse (``parse_source(..., lazy=True)``) leaves ``items`` empty and gives ``drafts``.
    """

    kind: str  # rss, atom, rdf, json, html, sitemap
    items: tuple[Item, ...]
    title: str | None = None
    language: str | None = None
    ttl_seconds: int | None = None  # the publisher's refresh hint (RSS <ttl>)
    sitemaps: tuple[str, ...] = ()  # child sitemaps of a sitemap index, still to fetch
    drafts: tuple[Draft, ...] = ()
    # When lxml read the document as it came (no repair, no feedparser: what reading a later
    # copy item by item does too) and it cuts into exactly the items read: the 8-byte digest
    # of each item element as sent (see monitor.parse.parse_feed_changes), else None.
    item_digests: tuple[bytes, ...] | None = None

    def all_drafts(self) -> tuple[Draft, ...]:
        """The drafts of a lazy parse, else the items as finished drafts."""
        return self.drafts or tuple(Draft(item) for item in self.items)


@quick_pickle
@dataclass(frozen=True, slots=True)
class ArticlePage:
    """The main text of an article page, and what the page says of itself."""

    text: str
    title: str | None = None
    published: datetime | None = None
    language: str | None = None


Field = Literal["title", "summary", "body"]


@quick_pickle
@dataclass(frozen=True, slots=True)
class TermHit:
    """One matched term of a topic: how often and in which part of the item."""

    term: str
    field: Field
    count: int


@quick_pickle
@dataclass(frozen=True, slots=True)
class TopicMatch:
    topic: str
    score: float
    hits: tuple[TermHit, ...]


@quick_pickle
@dataclass(frozen=True, slots=True)
class MatchResult:
    """Which topics an item mentions; ``vetoed`` lists the exclusions that fired."""

    topics: tuple[TopicMatch, ...] = ()
    vetoed: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        return bool(self.topics)

    @property
    def score(self) -> float:
        return max((t.score for t in self.topics), default=0.0)


Reason = Literal["url", "guid", "content", "near"]


@quick_pickle
@dataclass(frozen=True, slots=True)
class Verdict:
    """The dedup decision for one item: new, a copy of a stored article, or an update of one."""

    kind: Literal["new", "copy", "update"]
    article_id: int | None = None
    reason: Reason | None = None
    similarity: float | None = None


@dataclass(slots=True)
class PollReport:
    """The outcome of polling one source, as printed by ``monitor poll`` and kept in ``polls``."""

    source: str
    status: Literal["ok", "not_modified", "error", "skipped"] = "ok"
    http_status: int | None = None
    items_seen: int = 0
    items_new: int = 0  # items not seen before in this source
    matched: int = 0
    articles_new: int = 0
    copies: int = 0
    updated: int = 0
    error: str | None = None
    seconds: float = 0.0
    permanent_redirect: str | None = None
