"""Benchmark the parsing stage: feed parsers and article extractors.

Run: ``.venv/bin/python benchmarks/bench_parse.py``. Prints ms per feed (median CPU time) for
monitor's parser, feedparser and fastfeedparser on generated RSS and Atom feeds (50 and 100
items, ~3 KB of HTML per item), then ms/page and token-level F1 of the article extractors on
tests/fixtures/articles. "ffp+plain text" is fastfeedparser plus the HTML-to-text conversion
monitor needs, the fair comparison: fastfeedparser alone returns raw HTML. This is a script,
not a test: numbers depend on the machine. justext and resiliparse are measured only when
installed (they are not dependencies of monitor).
"""

from __future__ import annotations

import io
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.items import Item  # noqa: E402
from monitor.parse.article import (  # noqa: E402
    extract_article,
    extract_paragraphs,
    extract_trafilatura,
)
from monitor.parse.dates import parse_date  # noqa: E402
from monitor.parse.encoding import html_to_text, resolve_url  # noqa: E402
from monitor.parse.feeds import parse_feed  # noqa: E402

ARTICLES = ROOT / "tests" / "fixtures" / "articles"

_PARAGRAPH = (
    "<p>Kenyan police officers of the Multinational Security Support mission patrolled "
    '<a href="/haiti/port-au-prince">Port-au-Prince</a> on Tuesday, as the transitional '
    "council in Haiti met to discuss the <strong>security situation</strong> &amp; the "
    "timetable for elections. Residents of Delmas and P&#233;tion-Ville said gangs still "
    "controlled several roads leading to the airport.</p>\n"
)


def _item_html(i: int) -> str:
    """About 3 KB of HTML, like a full-text item of a news feed."""
    return (_PARAGRAPH * 7) + f'<p>Item {i}. <img src="/img/{i}.jpg" alt="photo"></p>'


def make_rss(n: int, *, full_text: bool = True) -> bytes:
    """An RSS 2.0 feed of ``n`` items with dc:creator, a guid and a short HTML description.

    ``full_text`` adds ~3 KB of HTML per item in content:encoded; without it the feed looks
    like most news feeds (headline, link, date, a one-sentence summary).
    """
    start = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    items = []
    for i in range(n):
        date = (start - timedelta(hours=i)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        items.append(
            f"<item><title>Haiti: MSS mission update number {i} &amp; more</title>"
            f"<link>https://news.example.org/2024/03/mss-update-{i}/</link>"
            f'<guid isPermaLink="false">https://news.example.org/?p={1000 + i}</guid>'
            f"<pubDate>{date}</pubDate><dc:creator><![CDATA[Jean Baptiste]]></dc:creator>"
            f"<category>Haiti</category>"
            f"<description><![CDATA[<p>Summary of update {i} about Kenya and Haiti.</p>]]>"
            "</description>"
            + (
                f"<content:encoded><![CDATA[{_item_html(i)}]]></content:encoded>"
                if full_text
                else ""
            )
            + "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Example News</title>'
        "<link>https://news.example.org/</link><description>News</description>"
        "<language>en-US</language><ttl>30</ttl>" + "".join(items) + "</channel></rss>"
    ).encode()


def make_atom(n: int) -> bytes:
    """An Atom 1.0 feed of ``n`` entries with HTML content and summary."""
    start = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    entries = []
    for i in range(n):
        date = (start - timedelta(hours=i)).isoformat()
        entries.append(
            f'<entry><title type="html">Kenya: MSS deployment report {i}</title>'
            f'<link rel="alternate" type="text/html" href="/2024/03/report-{i}.html"/>'
            f"<id>tag:news.example.org,2024:{i}</id><published>{date}</published>"
            f"<updated>{date}</updated><author><name>Amina Otieno</name></author>"
            f'<summary type="html">{escape("<p>Short summary " + str(i) + "</p>")}</summary>'
            f'<content type="html">{escape(_item_html(i))}</content></entry>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
        'xml:lang="en" xml:base="https://news.example.org/"><title>Example Atom</title>'
        "<id>tag:news.example.org,2024:feed</id><updated>2024-03-05T10:00:00Z</updated>"
        + "".join(entries)
        + "</feed>"
    ).encode()


def _time_ms(fn: Callable[[], object], repeat: int = 30) -> float:
    """Median CPU time of ``fn`` in milliseconds over ``repeat`` runs, after a warm-up.

    CPU time of this process, not wall time, so that other work on a shared machine does not
    inflate the numbers (the parsers are single-threaded and do no I/O).
    """
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        samples.append((time.process_time() - t0) * 1000)
    return statistics.median(samples)


def _fastfeedparser_items(parsed: Any) -> list[Item]:
    """What fastfeedparser would cost as a drop-in: its output made into plain-text Items.

    fastfeedparser returns raw HTML and leaves relative links unresolved (it ignores
    xml:base), so using it would still need this conversion, and more.
    """
    items = []
    for entry in parsed.entries:
        content = entry.get("content") or [{}]
        items.append(
            Item(
                guid=entry.get("id"),
                url=resolve_url(entry.get("link"), "https://news.example.org/feed/"),
                title=html_to_text(entry.get("title", ""), multiline=False),
                summary=html_to_text(entry.get("description", "")),
                content=html_to_text(content[0].get("value", "")),
                author=entry.get("author"),
                published=parse_date(entry.get("published")),
                updated=parse_date(entry.get("updated")),
            )
        )
    return items


def bench_feeds() -> None:
    """Print ms per feed of each feed parser on each generated feed."""
    import feedparser

    parsers: dict[str, Callable[[bytes], object]] = {
        "monitor": lambda b: parse_feed(b, base_url="https://news.example.org/feed/"),
        "feedparser": lambda b: feedparser.parse(io.BytesIO(b)),
    }
    try:
        import fastfeedparser

        parsers["fastfeedparser"] = lambda b: fastfeedparser.parse(b)
        parsers["ffp+plain text"] = lambda b: _fastfeedparser_items(fastfeedparser.parse(b))
    except ImportError:
        pass
    print(f"{'feed':<14}{'KB':>7}" + "".join(f"{name:>17}" for name in parsers))
    feeds = [
        (f"{label}-{n}", make(n))
        for label, make in (("rss", make_rss), ("atom", make_atom))
        for n in (50, 100)
    ]
    feeds.append(("rss-50-short", make_rss(50, full_text=False)))
    for label, data in feeds:
        row = f"{label:<14}{len(data) / 1024:>7.0f}"
        for parse in parsers.values():
            repeat = 5 if parse is parsers["feedparser"] else 30
            row += f"{_time_ms(partial(parse, data), repeat):>14.2f} ms"
        print(row)


_TOKEN = re.compile(r"\w+", re.UNICODE)


def token_f1(predicted: str, expected: str) -> float:
    """Bag-of-words F1 between two texts (lower-cased word tokens)."""
    got = Counter(_TOKEN.findall(predicted.lower()))
    want = Counter(_TOKEN.findall(expected.lower()))
    if not got or not want:
        return 1.0 if got == want else 0.0
    overlap = sum((got & want).values())
    if overlap == 0:
        return 0.0
    precision = overlap / sum(got.values())
    recall = overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def _extractors() -> dict[str, Callable[[bytes, str], str]]:
    out: dict[str, Callable[[bytes, str], str]] = {
        "monitor (chosen)": lambda b, u: extract_article(b, url=u).text,
        "trafilatura": lambda b, u: extract_trafilatura(b, url=u) or "",
        "trafilatura fast": lambda b, u: extract_trafilatura(b, url=u, fast=True) or "",
        "selectolax <p>": lambda b, u: extract_paragraphs(b),
    }
    try:
        import justext

        def _justext(b: bytes, u: str) -> str:
            paragraphs = justext.justext(b, justext.get_stoplist("English"))
            return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)

        out["justext"] = _justext
    except ImportError:
        pass
    try:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.encoding import bytes_to_str, detect_encoding

        def _resiliparse(b: bytes, u: str) -> str:
            html_text = bytes_to_str(b, detect_encoding(b) or "utf-8")
            return extract_plain_text(html_text, main_content=True)

        out["resiliparse"] = _resiliparse
    except ImportError:
        pass
    return out


def bench_articles() -> None:
    """Print ms/page and mean token F1 of each extractor on the article fixtures."""
    pages = sorted(ARTICLES.glob("*.html"))
    if not pages:
        print("no article fixtures found")
        return
    print(f"\n{len(pages)} article pages from {ARTICLES.relative_to(ROOT)}")
    print(f"{'extractor':<20}{'ms/page':>10}{'mean F1':>10}{'min F1':>10}")
    for name, extract in _extractors().items():
        scores, times = [], []
        for page in pages:
            data = page.read_bytes()
            expected = page.with_suffix(".txt").read_text(encoding="utf-8")
            url = f"https://news.example.org/{page.stem}"
            times.append(_time_ms(partial(extract, data, url), repeat=10))
            scores.append(token_f1(extract(data, url), expected))
        print(
            f"{name:<20}{statistics.mean(times):>10.2f}{statistics.mean(scores):>10.3f}"
            f"{min(scores):>10.3f}"
        )


if __name__ == "__main__":
    bench_feeds()
    bench_articles()
