"""The daily digest: the articles discovered on one local day, as Markdown, HTML, JSON and Atom.

``write_digest`` writes ``DIR/YYYY-MM-DD.md``, ``.html`` and ``.json`` for one day of the digest
time zone (local midnight to midnight, converted to UTC, so a DST day has 23 or 25 hours) and
refreshes ``DIR/coverage.atom``. The files hold only the day and the data: writing a past day
again gives byte-identical files. Every file is replaced atomically (temporary file in the same
folder, fsync, ``os.replace``), so a reader or a crash never sees half a digest.

Everything that came from a feed is untrusted. HTML is rendered by Jinja2 with autoescape and only
http(s) URLs become links; Markdown escapes every value by default (see ``MdSafe``); the Atom feed
is built by ElementTree with the characters XML forbids removed.

JSON structure (``format: "monitor-digest/1"``; new fields may be added, none removed)::

    {
      "format": "monitor-digest/1",
      "date": "2026-11-20",                     # the local day
      "timezone": "America/Port-au-Prince",
      "period": {"start": "...Z", "end": "...Z"},  # the day's bounds in UTC, end exclusive
      "counts": {"sources_polled", "polls", "items_seen", "new_articles", "copies",
                 "sources_failing"},
      "failing_sources": ["name", ...],         # sources whose last poll of the day failed
      "topics": [                               # configured order; topics with articles only
        {"topic": "haiti", "articles": [
          {...the fields of `monitor query --format json` (ArticleView.to_json)...,
           "primary_topic": "haiti", "other_topics": ["kenya"],
           "local_time": "08:15",               # discovered_at in the digest time zone
           "snippet": "~300 characters of the summary",
           "highlights": [[start, end], ...],   # matched terms in `snippet` (character offsets)
           "also_seen_at": [{"url", "source", "seen_at", "reason", "similarity"}, ...]}
        ]}
      ]
    }

``sightings`` (and ``also_seen_at``, the sightings other than the original) stop at the end of
the day, so a later copy does not change a past digest. The file puts each article on one line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import json
import os
import re
import socket
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from monitor.config import Config, Settings
from monitor.errors import MonitorError
from monitor.match import expand_term, fold
from monitor.output import one_line, printable
from monitor.query import ArticleView, QueryFilter, build_query, load_articles
from monitor.store.db import read_only
from monitor.store.schema import Article, Digest, Poll, Sighting, Source

__all__ = [
    "FORMAT",
    "DigestArticle",
    "DigestCounts",
    "DigestData",
    "DigestFiles",
    "atomic_write",
    "build_digest",
    "claim_digest",
    "day_bounds",
    "find_terms",
    "local_day",
    "make_snippet",
    "md_escape",
    "missed_digest_days",
    "record_digest",
    "render_atom",
    "render_html",
    "render_json",
    "render_markdown",
    "safe_href",
    "view_json",
    "write_digest",
    "xml_text",
]

FORMAT = "monitor-digest/1"
SNIPPET_CHARS = 300
STALE_CLAIM = timedelta(minutes=10)  # a 'writing' row older than this is taken over
ORIGINAL_REASONS = frozenset({"original", "seed"})
ATOM_NS = "http://www.w3.org/2005/Atom"
TEMPLATES = Path(__file__).parent / "templates"

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip
REASONS = {
    "url": "same URL",
    "guid": "same feed id",
    "content": "same text",
    "near": "near copy",
    "original": "original",
    "seed": "reference",
}


# --- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One 'also seen at' line: another place the article appeared, as displayed."""

    source: str
    url: str
    href: str | None
    reason: str
    reason_label: str
    similarity: float | None
    local_time: str


@dataclass(frozen=True)
class DigestArticle:
    """An article as the digest shows it: the query view plus what the digest adds."""

    view: ArticleView
    primary_topic: str
    other_topics: tuple[str, ...]
    href: str | None
    local_time: str
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    also_seen: tuple[Seen, ...]

    @property
    def title(self) -> str:
        return one_line(self.view.title) or one_line(self.view.url) or "(no title)"

    @property
    def segments(self) -> list[tuple[str, bool]]:
        """The snippet cut into (text, is a matched term) pieces, for highlighting."""
        return _segments(self.snippet, self.highlights)

    def to_json(self) -> dict[str, Any]:
        data = view_json(self.view)
        data.update(
            primary_topic=self.primary_topic,
            other_topics=list(self.other_topics),
            local_time=self.local_time,
            snippet=self.snippet,
            highlights=[list(h) for h in self.highlights],
            also_seen_at=[s for s in data["sightings"] if s["reason"] not in ORIGINAL_REASONS],
        )
        return data


def view_json(view: ArticleView) -> dict[str, Any]:
    """Exactly ``view.to_json()`` (the query JSON), without the deep copies of
    ``dataclasses.asdict`` that would dominate a digest of thousands of articles."""
    data = {f.name: getattr(view, f.name) for f in fields(view)}
    data.update(
        published_at=_iso(view.published_at) if view.published_at else None,
        discovered_at=_iso(view.discovered_at),
        topics=list(view.topics),
        matched_terms=[dict(term) for term in view.matched_terms],
        sightings=[
            {
                "url": s.url,
                "source": s.source,
                "seen_at": _iso(s.seen_at),
                "reason": s.reason,
                "similarity": s.similarity,
            }
            for s in view.sightings
        ],
        # == view.first_seen_by: load_articles orders sightings by time, so the first wins
        first_seen_by=next((s.source for s in view.sightings if s.source), view.source),
    )
    return data


@dataclass(frozen=True)
class DigestCounts:
    """The day's activity, from the polls and sightings tables."""

    sources_polled: int = 0  # distinct sources with at least one poll started that day
    polls: int = 0
    items_seen: int = 0  # items the polls read, matching or not
    new_articles: int = 0  # articles discovered that day (reference articles excluded)
    copies: int = 0  # sightings recognised that day as copies of a stored article
    sources_failing: int = 0  # sources whose last poll of the day failed


@dataclass(frozen=True)
class DigestData:
    """Everything one digest shows, computed once and rendered in every format."""

    day: date
    timezone: str
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    counts: DigestCounts
    failing_sources: tuple[str, ...]
    topics: tuple[tuple[str, tuple[DigestArticle, ...]], ...]
    all_topics: tuple[str, ...] = ()

    @property
    def articles(self) -> int:
        return sum(len(articles) for _, articles in self.topics)

    @property
    def title(self) -> str:
        day = self.day
        return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"

    @property
    def period(self) -> str:
        """'00:00 to 24:00 America/Port-au-Prince (UTC-05:00)', both offsets on a DST day."""
        zone = ZoneInfo(self.timezone)
        first, last = _offset(self.start.astimezone(zone)), _offset(self.end.astimezone(zone))
        offsets = first if first == last else f"{first} then {last}"
        hours = (self.end - self.start) / timedelta(hours=1)
        length = "" if hours == 24 else f", a {hours:g}-hour day"
        return f"00:00 to 24:00 {self.timezone} ({offsets}{length})"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "date": self.day.isoformat(),
            "timezone": self.timezone,
            "period": {"start": _iso(self.start), "end": _iso(self.end)},
            "counts": self.counts.__dict__.copy(),
            "failing_sources": list(self.failing_sources),
            "topics": [
                {"topic": topic, "articles": [a.to_json() for a in articles]}
                for topic, articles in self.topics
            ],
        }


@dataclass(frozen=True)
class DigestFiles:
    """The files one `write_digest` call wrote."""

    day: date
    markdown: Path
    html: Path
    json: Path
    atom: Path
    articles: int

    @property
    def paths(self) -> tuple[Path, ...]:
        return (self.markdown, self.html, self.json, self.atom)


# --- time ------------------------------------------------------------------------------------


def _settings(settings_or_config: Settings | Config) -> Settings:
    return (
        settings_or_config.settings
        if isinstance(settings_or_config, Config)
        else settings_or_config
    )


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight of `day`, in UTC (23 or 25 hours on DST days)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def local_day(moment: datetime, timezone: str) -> date:
    """The date `moment` falls on in `timezone`."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _local_time(moment: datetime, zone: ZoneInfo, day: date) -> str:
    """'14:05' on the digest's day, '2026-11-19 14:05' on any other."""
    local = moment.astimezone(zone)
    return local.strftime("%H:%M" if local.date() == day else "%Y-%m-%d %H:%M")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- untrusted text --------------------------------------------------------------------------


_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f]")
_HTTP_URL = re.compile(r"https?://[^/?#\\]", re.IGNORECASE)  # a scheme we allow, then a host


def safe_href(url: str | None) -> str | None:
    """`url` if it is an absolute http(s) URL a browser may follow, else None (never a link)."""
    if not url:
        return None
    text = url.strip()
    if _URL_UNSAFE.search(text):
        return None  # browsers drop tabs/newlines, so "java\tscript:" must not slip through
    return text if _HTTP_URL.match(text) else None


_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    """Text with the characters XML 1.0 cannot hold (controls, lone surrogates) removed."""
    return _XML_INVALID.sub("", "" if value is None else str(value))


class MdSafe(str):
    """Markdown already built from escaped parts; the Markdown template prints it as is."""

    __slots__ = ()


# [ ] < > stop links, images, autolinks and HTML; \ ` * _ ~ | # stop code, emphasis, tables, headings
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])|&(?=#?\w+;)")
_MD_LINE_START = re.compile(r"^(\d{1,9}(?=[.)](?:\s|$))|(?=[-+=]))(.)")  # "1. " "1) " - + =


def md_escape(value: object, *, strip: bool = True, line_start: bool = True) -> MdSafe:
    """One line of feed text as Markdown that shows the text: no HTML, links or emphasis."""
    if isinstance(value, MdSafe):
        return value
    text = "" if value is None else str(value)
    if not (text.isprintable() and "  " not in text and (not strip or text == text.strip())):
        text = one_line(text) if strip else re.sub(r"\s+", " ", printable(text))
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)
    if line_start:  # the value may open a line: no list item, rule or setext heading
        text = _MD_LINE_START.sub(r"\1\\\2", text, count=1)
    return MdSafe(text)


def md_link(label: object, url: str | None) -> MdSafe:
    """[label](<url>) for an http(s) URL; the escaped label alone otherwise."""
    href = safe_href(url)
    text = md_escape(label)
    if href is None:
        return text
    for char, code in (("\\", "%5C"), ("<", "%3C"), (">", "%3E"), (" ", "%20")):
        href = href.replace(char, code)
    return MdSafe(f"[{text}](<{href}>)")


def md_highlight(snippet: str, highlights: Sequence[tuple[int, int]]) -> MdSafe:
    """The snippet escaped, with the matched terms in **bold**."""
    return MdSafe(
        "".join(
            f"**{md_escape(text, line_start=index == 0)}**"
            if hit
            else md_escape(text, strip=False, line_start=index == 0)
            for index, (text, hit) in enumerate(_segments(snippet, highlights))
        )
    )


def _segments(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    position = 0
    for start, end in spans:
        if start > position:
            out.append((text[position:start], False))
        out.append((text[start:end], True))
        position = end
    if position < len(text):
        out.append((text[position:], False))
    return out


# --- snippets and highlights -----------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _terms_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """A regex over folded text matching any spelling of the rule phrases in `terms`."""
    spellings: set[str] = set()
    for term in terms:
        try:
            variants = expand_term(term)
        except ValueError:
            variants = [term]
        for variant in variants:
            folded = " ".join(fold(variant).split())
            if folded:
                spellings.add(folded)
    if not spellings:
        return None
    alternatives = sorted(spellings, key=lambda s: (-len(s), s))
    body = "|".join(r"\s+".join(re.escape(w) for w in s.split(" ")) for s in alternatives)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)")


def find_terms(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Spans of `text` where a matched term appears (accent- and case-insensitive, whole words)."""
    pattern = _terms_pattern(tuple(sorted(set(terms))))
    if pattern is None or not text:
        return []
    return [m.span() for m in pattern.finditer(fold(text))]  # fold keeps every offset


def make_snippet(
    text: str, terms: Iterable[str], limit: int = SNIPPET_CHARS
) -> tuple[str, list[tuple[int, int]]]:
    """About `limit` characters of `text` around the first matched term, cut at word
    boundaries, and the spans of the matched terms in it."""
    terms = tuple(terms)
    text = one_line(text)
    spans = find_terms(text, terms)  # folds the text once; the snippet's spans are a subset
    if len(text) <= limit:
        return text, spans
    start = 0
    if spans and spans[0][1] > limit - 40:
        start = max(0, min(spans[0][0] - limit // 3, len(text) - limit))
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < spans[0][0] else start
    end = start + limit
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + limit // 2 else end
    piece = text[start:end]
    offset = start + len(piece) - len(piece.lstrip())
    piece = piece.strip()
    prefix = "…" if start else ""
    shift = len(prefix) - offset
    inside = [(s + shift, e + shift) for s, e in spans if s >= offset and e <= offset + len(piece)]
    return prefix + piece + ("…" if end < len(text) else ""), inside


# --- reading the database --------------------------------------------------------------------


def topic_order(settings_or_config: Settings | Config) -> tuple[str, ...]:
    """The configured topics in their configured order (none known from bare settings)."""
    if isinstance(settings_or_config, Config):
        return tuple(settings_or_config.topics)
    return ()


def _counts(
    connection: Connection, start: datetime, end: datetime
) -> tuple[dict[str, int], list[str]]:
    rows = connection.execute(
        select(Poll.source_id, Poll.status, Poll.items_seen, Source.name)
        .outerjoin(Source, Source.id == Poll.source_id)
        .where(Poll.started_at >= start, Poll.started_at < end)
        .order_by(Poll.source_id, Poll.started_at, Poll.id)
    ).all()
    last_status: dict[int, tuple[str, str]] = {}
    for row in rows:
        last_status[row.source_id] = (row.status, row.name or f"source {row.source_id}")
    failing = sorted(name for status, name in last_status.values() if status == "error")
    copies = connection.scalar(
        select(func.count())
        .select_from(Sighting)
        .where(
            Sighting.seen_at >= start,
            Sighting.seen_at < end,
            Sighting.reason.not_in(ORIGINAL_REASONS),
        )
    )
    counts = {
        "sources_polled": len(last_status),
        "polls": len(rows),
        "items_seen": sum(row.items_seen or 0 for row in rows),
        "copies": int(copies or 0),
        "sources_failing": len(failing),
    }
    return counts, failing


def _hostname(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _texts(connection: Connection, ids: Sequence[int]) -> dict[int, str]:
    """The opening of the text of articles that have no summary, for their snippet."""
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        rows = connection.execute(
            select(Article.id, func.substr(Article.text, 1, 2000).label("lead")).where(
                Article.id.in_(ids[start : start + 500])
            )
        )
        found.update({row.id: row.lead or "" for row in rows})
    return found


def build_digest(engine: Engine, settings_or_config: Settings | Config, day: date) -> DigestData:
    """Read the articles discovered on `day` (digest time zone) and the day's counts."""
    settings = _settings(settings_or_config)
    timezone = settings.digest.timezone
    zone = ZoneInfo(timezone)
    start, end = day_bounds(day, timezone)
    filters = QueryFilter(since=start, until=end, limit=None, include_seed=False, sort="relevance")
    with read_only(engine) as connection:
        ids = list(connection.execute(build_query(engine, filters)).scalars())
        views = load_articles(connection, ids)
        counts, failing = _counts(connection, start, end)
        texts = _texts(connection, [v.id for v in views if not v.summary.strip()])

    configured = topic_order(settings_or_config)
    grouped: dict[str, list[DigestArticle]] = {}
    for view in views:
        sightings = [s for s in view.sightings if s.seen_at < end]
        if len(sightings) < len(view.sightings):
            view = replace(view, sightings=sightings)
        primary = view.topics[0] if view.topics else ""
        terms = [str(t["term"]) for t in view.matched_terms if "term" in t]
        snippet, spans = make_snippet(view.summary or texts.get(view.id, ""), terms)
        also = tuple(
            Seen(
                source=one_line(s.source) or one_line(_hostname(s.url)) or "unknown source",
                url=s.url,
                href=safe_href(s.url),
                reason=s.reason,
                reason_label=REASONS.get(s.reason, s.reason),
                similarity=s.similarity,
                local_time=_local_time(s.seen_at, zone, day),
            )
            for s in sightings
            if s.reason not in ORIGINAL_REASONS
        )
        grouped.setdefault(primary, []).append(
            DigestArticle(
                view=view,
                primary_topic=primary,
                other_topics=tuple(view.topics[1:]),
                href=safe_href(view.url),
                local_time=view.discovered_at.astimezone(zone).strftime("%H:%M"),
                snippet=snippet,
                highlights=tuple(spans),
                also_seen=also,
            )
        )
    order = [t for t in configured if t in grouped]
    order += sorted(t for t in grouped if t not in configured and t)
    order += [""] if "" in grouped else []
    topics = tuple(
        (
            topic,
            tuple(
                sorted(
                    grouped[topic],
                    key=lambda a: (-a.view.score, -a.view.discovered_at.timestamp(), -a.view.id),
                )
            ),
        )
        for topic in order
    )
    return DigestData(
        day=day,
        timezone=timezone,
        start=start,
        end=end,
        counts=DigestCounts(new_articles=len(views), **counts),
        failing_sources=tuple(failing),
        topics=topics,
        all_topics=configured,
    )


# --- rendering -------------------------------------------------------------------------------


def _similarity(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


@functools.lru_cache(maxsize=1)
def _html_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["similarity"] = _similarity
    return env


def _md_finalize(value: Any) -> str:
    return md_escape(value)  # every {{ value }} is escaped unless already MdSafe


@functools.lru_cache(maxsize=1)
def _md_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        finalize=_md_finalize,
    )
    env.filters.update(
        link=md_link, highlight=md_highlight, similarity=lambda v: MdSafe(_similarity(v))
    )
    return env


def _topic_label(topic: str) -> str:
    return topic or "other"


def render_html(data: DigestData) -> str:
    """The digest as one self-contained HTML page (inline CSS, no scripts, no requests)."""
    return _html_env().get_template("digest.html.j2").render(d=data, label=_topic_label)


def render_markdown(data: DigestData) -> str:
    """The digest as Markdown in which every piece of feed text is escaped."""
    return _md_env().get_template("digest.md.j2").render(d=data, label=_topic_label)


def render_json(data: DigestData) -> str:
    """The digest as JSON: the header keys one per line, then one line per article.

    One line per article keeps the file readable and diffable while json's C encoder (which an
    `indent` would switch off) writes thousands of articles quickly.
    """
    document = data.to_json()
    dumps = functools.partial(json.dumps, ensure_ascii=False)
    lines = ["{"]
    lines += [
        f"  {dumps(key)}: {dumps(value)}," for key, value in document.items() if key != "topics"
    ]
    topics = document["topics"]
    lines.append('  "topics": [' if topics else '  "topics": []')
    for index, topic in enumerate(topics):
        lines.append(f'    {{"topic": {dumps(topic["topic"])}, "articles": [')
        articles = topic["articles"]
        lines += [f"      {dumps(a)}," for a in articles[:-1]]
        lines += [f"      {dumps(a)}" for a in articles[-1:]]
        lines.append("    ]}" + ("," if index < len(topics) - 1 else ""))
    if topics:
        lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_atom(articles: Sequence[ArticleView], *, title: str, updated: datetime) -> bytes:
    """An Atom 1.0 feed of `articles` (newest first) with stable tag: ids."""
    ET.register_namespace("", ATOM_NS)

    def add(parent: ET.Element, tag: str, text: object = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = xml_text(text)
        return element

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    add(feed, "id", "tag:monitor,2026:coverage")
    add(feed, "title", title)
    add(feed, "subtitle", "The latest articles about the followed topics")
    newest = max((a.discovered_at for a in articles), default=updated)
    add(feed, "updated", _iso(newest))
    add(add(feed, "author"), "name", "monitor")
    add(feed, "generator", "monitor")
    for article in articles:
        entry = add(feed, "entry")
        add(entry, "id", f"tag:monitor,2026:article:{_article_key(article)}")
        add(entry, "title", one_line(article.title) or one_line(article.url) or "(no title)")
        href = safe_href(article.url)
        if href:
            add(entry, "link", rel="alternate", type="text/html", href=xml_text(href))
        add(entry, "updated", _iso(article.discovered_at))
        if article.published_at:
            add(entry, "published", _iso(article.published_at))
        if article.source:
            add(add(entry, "author"), "name", one_line(article.source))
        for topic in article.topics:
            add(entry, "category", term=xml_text(topic))
        terms = [str(t["term"]) for t in article.matched_terms if "term" in t]
        snippet, _ = make_snippet(article.summary, terms)
        copies = sum(1 for s in article.sightings if s.reason not in ORIGINAL_REASONS)
        if copies:
            snippet += f" (also seen at {copies} other place{'s' if copies > 1 else ''})"
        add(entry, "summary", snippet, type="text")
        if not href:  # an entry without a link must carry content
            add(entry, "content", snippet, type="text")
    ET.indent(feed)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _article_key(article: ArticleView) -> str:
    from monitor.dedup import url_key

    try:
        return url_key(article.url)
    except ValueError:
        return f"id-{article.id}"


def latest_articles(engine: Engine, limit: int) -> list[ArticleView]:
    """The newest `limit` non-reference articles, newest first."""
    filters = QueryFilter(limit=limit, include_seed=False, sort="newest")
    with read_only(engine) as connection:
        ids = list(connection.execute(build_query(engine, filters)).scalars())
        return load_articles(connection, ids)


# --- writing ---------------------------------------------------------------------------------


def atomic_write(path: Path, content: bytes) -> None:
    """Replace `path` with `content` all at once; on failure the old file stays as it was."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write_files(folder: Path, contents: Sequence[tuple[Path, bytes]]) -> None:
    """Create `folder` and replace each file atomically; a MonitorError names what failed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MonitorError(
            f"cannot create the digest folder {folder}: {exc.strerror or exc}"
        ) from exc
    for path, content in contents:
        try:
            atomic_write(path, content)
        except OSError as exc:
            raise MonitorError(
                f"cannot write the digest file {path}: {exc.strerror or exc};"
                " the previous file is unchanged"
            ) from exc


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a digest builds its many short-lived,
    acyclic objects: full collections over a large heap would otherwise cost a third of it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def default_instance() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def write_digest(
    engine: Engine,
    settings_or_config: Settings | Config,
    day: date | None,
    out_dir: Path | None,
    now: datetime | None = None,
    *,
    instance: str | None = None,
) -> DigestFiles:
    """Write the digest of `day` (default: yesterday in the digest time zone) into `out_dir`
    (default: settings.digest.dir), refresh coverage.atom and record the day as done.

    Raises MonitorError naming the file when a file cannot be written (the previous one stays).
    """
    settings = _settings(settings_or_config)
    started = now or datetime.now(UTC)
    timezone = settings.digest.timezone
    day = day or local_day(started, timezone) - timedelta(days=1)
    folder = Path(out_dir) if out_dir is not None else settings.digest.dir
    instance = instance or default_instance()
    topics = topic_order(settings_or_config)
    feed_title = "News coverage" + (f": {', '.join(topics)}" if topics else "")
    try:
        with _gc_paused():
            data = build_digest(engine, settings_or_config, day)
            latest = latest_articles(engine, settings.digest.atom_items)
            atom = render_atom(latest, title=feed_title, updated=data.end)
            rendered = (render_json(data), render_markdown(data), render_html(data))
    except Exception as exc:  # mark the day failed so another instance may retry at once
        with contextlib.suppress(Exception):
            finished = now or datetime.now(UTC)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            record_digest(engine, day, "failed", instance, started, finished, 0, error)
        raise
    stem = day.isoformat()
    files = DigestFiles(
        day=day,
        markdown=folder / f"{stem}.md",
        html=folder / f"{stem}.html",
        json=folder / f"{stem}.json",
        atom=folder / "coverage.atom",
        articles=data.articles,
    )
    contents = [
        (files.json, rendered[0].encode()),
        (files.markdown, rendered[1].encode()),
        (files.html, rendered[2].encode()),
        (files.atom, atom),
    ]
    try:
        write_files(folder, contents)
    except MonitorError as exc:
        with contextlib.suppress(Exception):  # the write error is the one to report
            finished = now or datetime.now(UTC)
            record_digest(engine, day, "failed", instance, started, finished, 0, str(exc))
        raise
    record_digest(engine, day, "done", instance, started, now or datetime.now(UTC), data.articles)
    return files


# --- coordination ----------------------------------------------------------------------------


def _insert(connection: Connection) -> Callable[..., Any]:
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def record_digest(
    engine: Engine,
    day: date,
    status: str,
    instance: str | None,
    started_at: datetime,
    finished_at: datetime | None,
    articles: int,
    error: str | None = None,
) -> None:
    """Insert or update the `digests` row of `day` (idempotent upsert)."""
    values = {
        "day": day.isoformat(),
        "status": status,
        "instance": instance,
        "started_at": started_at,
        "finished_at": finished_at,
        "articles": articles,
        "error": error,
    }
    with engine.begin() as connection:
        statement = _insert(connection)(Digest.__table__).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["day"],
            set_={k: getattr(statement.excluded, k) for k in values if k != "day"},
        )
        connection.execute(statement)


def claim_digest(engine: Engine, day: date, instance: str, now: datetime) -> bool:
    """Whether `instance` may write the digest of `day`: exactly one of several claimers wins.

    The row's primary key decides a fresh claim; a 'failed' row, or a 'writing' row older than
    STALE_CLAIM (its writer died), is taken over with a compare-and-set update. A 'done' day is
    never claimed again.
    """
    key = day.isoformat()
    with engine.begin() as connection:
        inserted = connection.execute(
            _insert(connection)(Digest.__table__)
            .values(
                day=key,
                status="writing",
                instance=instance,
                started_at=now,
                finished_at=None,
                articles=0,
                error=None,
            )
            .on_conflict_do_nothing(index_elements=["day"])
        )
        if inserted.rowcount == 1:
            return True
        row = connection.execute(
            select(Digest.status, Digest.instance, Digest.started_at).where(Digest.day == key)
        ).one_or_none()
        if row is None:
            return False
        if row.status == "writing" and row.instance == instance:
            return True
        takeover = row.status == "failed" or (
            row.status == "writing" and row.started_at < now - STALE_CLAIM
        )
        if not takeover:
            return False
        updated = connection.execute(
            update(Digest)
            .where(
                Digest.day == key,
                Digest.status == row.status,
                Digest.started_at == row.started_at,
            )
            .values(
                status="writing", instance=instance, started_at=now, finished_at=None, error=None
            )
        )
        return updated.rowcount == 1


def missed_digest_days(
    engine: Engine, settings: Settings | Config, now: datetime, lookback_days: int = 3
) -> list[date]:
    """Days (oldest first, at most `lookback_days` back) whose digest time has passed but that
    have no 'done' row: a service that was down at digest time writes them when it is back."""
    digest = _settings(settings).digest
    zone = ZoneInfo(digest.timezone)
    today = local_day(now, digest.timezone)
    due: list[date] = []
    for back in range(lookback_days, 0, -1):
        day = today - timedelta(days=back)
        moment = datetime.combine(day + timedelta(days=1), digest.time, tzinfo=zone)
        if moment.astimezone(UTC) <= now:
            due.append(day)
    if not due:
        return []
    with read_only(engine) as connection:
        done = set(
            connection.execute(
                select(Digest.day).where(
                    Digest.day.in_([d.isoformat() for d in due]), Digest.status == "done"
                )
            ).scalars()
        )
    return [day for day in due if day.isoformat() not in done]


def digests_by_day(engine: Engine) -> Mapping[str, str]:
    """day -> status of every recorded digest (for status displays and tests)."""
    with read_only(engine) as connection:
        return dict(connection.execute(select(Digest.day, Digest.status)).tuples().all())
