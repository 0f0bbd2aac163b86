"""A local, deterministic RSS/Atom feed server for the polling benchmarks.

    .venv/bin/python benchmarks/feedfarm.py --feeds 1000 --items 50 [--latency-ms 50]
                                            [--port 0] [--seed 1] [--gzip] [--max-seconds 3600]

It listens on 127.0.0.1 only (never another interface), prints one line ``ready port=P ...`` on
stdout once it serves, and exits by itself after ``--max-seconds`` (also on SIGINT/SIGTERM).
Only the standard library is used (plain asyncio), so the server costs little CPU beside the
poller it is measuring.

Routes
  GET /feeds/{i}.xml         feed i (0 <= i < N) with M items, newest first; every 4th feed is
                             Atom 1.0, the others RSS 2.0 (content:encoded, dc:creator, guid).
                             ETag and Last-Modified; 304 on a matching If-None-Match or a recent
                             enough If-Modified-Since.
  GET /articles/{i}/{j}.html a small article page for item (i, j)
  GET /admin/advance?k=K     K new items appear at the top of every feed (the oldest K drop)
  GET /admin/stats           JSON: generation, request counters, bytes sent, server CPU seconds
  GET /admin/relevant        JSON: count and GUIDs of the items now in the feeds that mention
                             Haiti, Kenya or the MSS mission (the ground truth for matching)

Item (i, j) is a pure function of (seed, i, j): about 4 KB of HTML content (2-4 KB of
paragraphs), a ~300 character description and a title; about 5% of the items mention the
topics, in the title or in the lead sentence. At generation g, feed i holds items
j = g+M-1 ... g. Every response is precomputed, so serving one is a dict lookup and a write.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import gzip
import html
import json
import os
import random
import resource
import signal
import socket
import sys
import time
import zlib
from dataclasses import dataclass
from urllib.parse import parse_qs

HOST = "127.0.0.1"
T0 = 1_735_689_600  # 2025-01-01T00:00:00Z: the date of item 0
ITEM_SPACING_S = 3600
MAX_HEAD = 16 * 1024  # longest request head accepted
MAX_ADVANCE = 1000

_WORD_TEXT = """
government minister parliament election council budget economy market growth inflation trade
export import investment bank currency policy reform security police court judge ruling law bill
vote opposition coalition president official spokesperson statement report agency regional
national international city capital province district village community residents families
workers union strike protest rally crowd march talks agreement deal summit delegation ministry
department committee inquiry investigation audit contract tender company firm industry factory
energy power grid fuel oil gas prices tariffs drought rainfall flood harvest farmers crops water
supply shortage hospital health clinic doctors nurses patients vaccine outbreak school teachers
students university exam results road bridge railway port airport transport traffic construction
project funding donors aid relief humanitarian refugees border migration customs officers
soldiers troops army navy training exercise patrol weather forecast storm season tourism visitors
hotel sector jobs unemployment wages pension taxes revenue debt loan lenders bond rating analysts
quarter annual figures data survey census statistics digital network mobile internet telecom
broadband satellite technology startup innovation science research laboratory climate emissions
forest wildlife conservation park football league match coach players tournament final
championship festival music film culture museum exhibition heritage church mosque leaders week
month year morning evening weekend announced said confirmed warned urged pledged rejected
approved launched expanded reduced increased delayed suspended resumed reviewed signed opened
closed extended completed planned expected reported estimated according following during after
before despite amid across within between under over new major key local senior former recent
early late higher lower rising falling strong weak public private joint special emergency
"""
WORDS = _WORD_TEXT.split()
GLUE = ["the", "a", "of", "to", "in", "and", "for", "on", "with", "at", "by", "from", "as"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
CATEGORIES = ("Politics", "Business", "World", "Africa", "Americas", "Security", "Sport", "Health")

MENTION_SENTENCES = (
    "Kenyan police officers deployed under the Multinational Security Support (MSS) mission"
    " patrolled parts of Port-au-Prince on {day}.",
    "Officials in Haiti said the Multinational Security Support (MSS) mission would expand"
    " patrols along the main highway north of the capital.",
    "The Kenya-led MSS mission reported that additional personnel had arrived at Toussaint"
    " Louverture International Airport.",
    "Residents of Port-au-Prince told reporters that gang violence in Haiti had displaced"
    " thousands of families in recent weeks.",
    "Lawmakers in Nairobi debated the cost of Kenya's deployment to Haiti as part of the"
    " UN-backed security support mission.",
    "Kenya's interior ministry confirmed a new rotation of officers for the Haiti mission,"
    " according to a statement issued on {day}.",
)
MENTION_TITLES = (
    "Kenyan-led MSS mission steps up patrols in Haiti",
    "Haiti: Multinational Security Support (MSS) mission reports progress",
    "Kenya sends new police contingent to Haiti",
    "UN-backed security mission in Haiti faces funding gap",
    "Kenya parliament reviews Haiti deployment costs",
)


def _sentence(rng: random.Random, lo: int, hi: int) -> str:
    words = [
        rng.choice(GLUE) if k % 3 == 1 else rng.choice(WORDS) for k in range(rng.randint(lo, hi))
    ]
    if rng.random() < 0.3:
        words.insert(rng.randrange(1, len(words)), str(rng.randint(2, 9800)))
    return " ".join(words).capitalize() + "."


@dataclass(frozen=True, slots=True)
class Entry:
    """One generated item."""

    title: str
    description: str
    content: str  # HTML
    author: str
    category: str
    timestamp: int
    relevant: bool


class Content:
    """Deterministic items: (seed, i, j) -> Entry, built from pools of sentences and paragraphs."""

    def __init__(self, seed: int, relevant_rate: float = 0.05, pool: int = 4096) -> None:
        rng = random.Random(seed)
        self.seed = seed
        self.rate = relevant_rate
        self.sentences = [_sentence(rng, 8, 22) for _ in range(pool)]
        self.titles = [_sentence(rng, 6, 11)[:-1] for _ in range(pool)]
        self.subheads = [_sentence(rng, 3, 6)[:-1] for _ in range(pool // 4)]
        self.paragraphs = [
            " ".join(rng.choice(self.sentences) for _ in range(rng.randint(3, 6)))
            for _ in range(pool)
        ]
        self.paragraphs_html = [html.escape(p, quote=False) for p in self.paragraphs]
        self.names = [
            f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}" for _ in range(256)
        ]

    def entry(self, i: int, j: int) -> Entry:
        """Item j of feed i."""
        rng = random.Random((self.seed * 1_000_003 + i) * 10_000_019 + j)
        relevant = rng.random() < self.rate
        in_title = relevant and rng.random() < 0.5
        day = DAYS[j % 7]
        title = rng.choice(MENTION_TITLES) if in_title else rng.choice(self.titles)
        title = f"{title} ({i}-{j})"  # unique titles: distinct items are never exact copies
        lead = rng.choice(self.sentences)
        if relevant:
            lead = rng.choice(MENTION_SENTENCES).format(day=day) + " " + lead
        target = rng.randint(2000, 4000)
        parts = [f"<p>{html.escape(lead, quote=False)} (Item {i}-{j}.)</p>"]
        size = len(parts[0])
        subhead_at = rng.randint(2, 4)
        npara = len(self.paragraphs_html)
        while size < target:
            if len(parts) == subhead_at:
                parts.append(f"<h2>{rng.choice(self.subheads)}</h2>")
            if len(parts) == 1 and rng.random() < 0.3:
                parts.append(f"<blockquote><p>{rng.choice(self.sentences)}</p></blockquote>")
            paragraph = f"<p>{self.paragraphs_html[rng.randrange(npara)]}</p>"
            parts.append(paragraph)
            size += len(paragraph) + 1
        description = lead
        k = 0
        while len(description) < 280 and k < 3:
            description += " " + self.paragraphs[(i * 31 + j * 7 + k) % npara]
            k += 1
        if len(description) > 300:
            description = description[:297].rsplit(" ", 1)[0] + "..."
        return Entry(
            title=title,
            description=description,
            content="\n".join(parts),
            author=rng.choice(self.names),
            category=rng.choice(CATEGORIES),
            timestamp=T0 + j * ITEM_SPACING_S + (i * 37) % ITEM_SPACING_S,
            relevant=relevant,
        )


def rfc822(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass
class Feed:
    """One feed's current response, kept once: the document lives inside ``raw200``."""

    head_len: int  # the document's own head, before the first item
    item_lens: list[int]  # newest first
    body_start: int = 0  # where the document starts in raw200 (after the HTTP head)
    etag: str = ""
    last_modified: str = ""
    modified_ts: int = 0
    raw200: bytes = b""
    raw200gz: bytes = b""
    raw304: bytes = b""


@dataclass
class Stats:
    requests: int = 0
    feed_200: int = 0
    feed_304: int = 0
    articles: int = 0
    other: int = 0
    bytes_out: int = 0


class Farm:
    """N feeds x M items; every response precomputed; ``advance`` shifts all feeds by k items."""

    def __init__(self, base: str, feeds: int, items: int, seed: int, *, gzip_on: bool) -> None:
        self.base = base
        self.n = feeds
        self.m = items
        self.seed = seed
        self.gzip_on = gzip_on
        self.generation = 0
        self.content = Content(seed)
        self.relevant: set[tuple[int, int]] = set()
        self.stats = Stats()
        self.feeds = [self._build(i) for i in range(feeds)]

    # --- documents --------------------------------------------------------------------------

    def is_atom(self, i: int) -> bool:
        return i % 4 == 3

    def link(self, i: int, j: int) -> str:
        return f"{self.base}/articles/{i}/{j}.html"

    def guid(self, i: int, j: int) -> str:
        return f"urn:feedfarm:{self.seed}:{i}:{j}"

    def _fragment(self, i: int, j: int) -> bytes:
        e = self.content.entry(i, j)
        if e.relevant:
            self.relevant.add((i, j))
        esc = html.escape
        if self.is_atom(i):
            text = (
                f'<entry>\n<title>{esc(e.title)}</title>\n<link rel="alternate" type="text/html"'
                f' href="{self.link(i, j)}"/>\n<id>{self.guid(i, j)}</id>\n'
                f"<published>{rfc3339(e.timestamp)}</published>\n"
                f"<updated>{rfc3339(e.timestamp)}</updated>\n"
                f"<author><name>{esc(e.author)}</name></author>\n"
                f'<category term="{e.category}"/>\n'
                f'<summary type="text">{esc(e.description)}</summary>\n'
                f'<content type="html">{esc(e.content)}</content>\n</entry>\n'
            )
        else:
            text = (
                f"<item>\n<title>{esc(e.title)}</title>\n<link>{self.link(i, j)}</link>\n"
                f'<guid isPermaLink="false">{self.guid(i, j)}</guid>\n'
                f"<pubDate>{rfc822(e.timestamp)}</pubDate>\n"
                f"<dc:creator>{esc(e.author)}</dc:creator>\n<category>{e.category}</category>\n"
                f"<description>{esc(e.description)}</description>\n"
                f"<content:encoded><![CDATA[{e.content}]]></content:encoded>\n</item>\n"
            )
        return text.encode()

    def _head(self, i: int, newest_ts: int) -> bytes:
        title = f"Feedfarm News Desk {i}"
        if self.is_atom(i):
            text = (
                '<?xml version="1.0" encoding="utf-8"?>\n'
                f'<feed xmlns="http://www.w3.org/2005/Atom">\n<title>{title}</title>\n'
                f"<subtitle>Synthetic news feed {i}</subtitle>\n"
                f'<link rel="alternate" href="{self.base}/"/>\n'
                f'<link rel="self" href="{self.base}/feeds/{i}.xml"/>\n'
                f"<id>urn:feedfarm:{self.seed}:feed:{i}</id>\n"
                f"<updated>{rfc3339(newest_ts)}</updated>\n"
            )
        else:
            text = (
                '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"'
                ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
                ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
                ' xmlns:atom="http://www.w3.org/2005/Atom">\n'
                f"<channel>\n<title>{title}</title>\n<link>{self.base}/</link>\n"
                f'<atom:link href="{self.base}/feeds/{i}.xml" rel="self"'
                ' type="application/rss+xml"/>\n'
                f"<description>Synthetic news feed {i}</description>\n<language>en</language>\n"
                f"<lastBuildDate>{rfc822(newest_ts)}</lastBuildDate>\n<ttl>15</ttl>\n"
            )
        return text.encode()

    def _tail(self, i: int) -> bytes:
        return b"</feed>\n" if self.is_atom(i) else b"</channel>\n</rss>\n"

    def _newest_ts(self, i: int) -> int:
        return T0 + (self.generation + self.m - 1) * ITEM_SPACING_S + (i * 37) % ITEM_SPACING_S

    def _build(self, i: int) -> Feed:
        g = self.generation
        fragments = [self._fragment(i, j) for j in range(g + self.m - 1, g - 1, -1)]
        head = self._head(i, self._newest_ts(i))
        feed = Feed(head_len=len(head), item_lens=[len(f) for f in fragments])
        self._finish(i, feed, head + b"".join(fragments) + self._tail(i))
        return feed

    def _advance_feed(self, i: int, feed: Feed, k: int) -> None:
        """Prepend k new items and drop the oldest k, reusing the bytes of the kept items."""
        g = self.generation
        new = [self._fragment(i, j) for j in range(g + self.m - 1, g + self.m - 1 - k, -1)]
        keep = max(0, self.m - len(new))
        kept_len = sum(feed.item_lens[:keep])
        start = feed.body_start + feed.head_len
        kept = feed.raw200[start : start + kept_len]
        head = self._head(i, self._newest_ts(i))
        feed.head_len = len(head)
        feed.item_lens = [len(f) for f in new] + feed.item_lens[:keep]
        self._finish(i, feed, head + b"".join(new) + kept + self._tail(i))

    def _finish(self, i: int, feed: Feed, body: bytes) -> None:
        crc = zlib.crc32(body) & 0xFFFFFFFF
        feed.etag = f'"ff-{self.seed}-{i}-{self.generation}-{crc:08x}"'
        feed.modified_ts = self._newest_ts(i)
        feed.last_modified = rfc822(feed.modified_ts)
        kind = "application/atom+xml" if self.is_atom(i) else "application/rss+xml"
        common = (
            f"ETag: {feed.etag}\r\nLast-Modified: {feed.last_modified}\r\n"
            "Cache-Control: max-age=0\r\nServer: feedfarm\r\n"
        )
        http_head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {kind}; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n{common}\r\n"
        ).encode()
        feed.body_start = len(http_head)
        feed.raw200 = http_head + body
        feed.raw304 = f"HTTP/1.1 304 Not Modified\r\n{common}\r\n".encode()
        if self.gzip_on:
            packed = gzip.compress(body, 5, mtime=0)
            feed.raw200gz = (
                f"HTTP/1.1 200 OK\r\nContent-Type: {kind}; charset=utf-8\r\n"
                "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n"
                f"Content-Length: {len(packed)}\r\n{common}\r\n"
            ).encode() + packed

    def advance(self, k: int) -> None:
        """K new items at the top of every feed."""
        if k <= 0:
            return
        self.generation += k
        for i, feed in enumerate(self.feeds):
            if k >= self.m:
                self.feeds[i] = self._build(i)
            else:
                self._advance_feed(i, feed, k)
        low = self.generation
        self.relevant = {key for key in self.relevant if key[1] >= low}

    def relevant_now(self) -> list[str]:
        g = self.generation
        return sorted(self.guid(i, j) for i, j in self.relevant if g <= j < g + self.m)

    def article(self, i: int, j: int) -> bytes:
        e = self.content.entry(i, j)
        esc = html.escape
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{esc(e.title)} | Feedfarm News</title>"
            f'<link rel="canonical" href="{self.link(i, j)}">'
            f'<meta property="article:published_time" content="{rfc3339(e.timestamp)}">'
            '</head><body><header><nav><a href="/">Home</a> <a href="/world">World</a></nav>'
            f'</header><main><article><h1>{esc(e.title)}</h1><p class="byline">By'
            f" {esc(e.author)}</p>\n{e.content}\n</article></main>"
            "<footer><p>&copy; 2025 Feedfarm News</p></footer></body></html>\n"
        ).encode()

    # --- requests ---------------------------------------------------------------------------

    def respond(self, method: str, target: str, headers: dict[str, str]) -> tuple[bytes, bool]:
        """The full response bytes for one request, and whether it is a precomputed feed one."""
        self.stats.requests += 1
        path, _, query = target.partition("?")
        if path.startswith("/feeds/") and path.endswith(".xml"):
            index = _int(path[7:-4])
            if 0 <= index < self.n:
                feed = self.feeds[index]
                if _not_modified(feed, headers):
                    self.stats.feed_304 += 1
                    return feed.raw304, True
                self.stats.feed_200 += 1
                raw = feed.raw200
                if self.gzip_on and "gzip" in headers.get("accept-encoding", ""):
                    raw = feed.raw200gz
                self.stats.bytes_out += len(raw)
                return (
                    raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" if method == "HEAD" else raw
                ), True
        elif path.startswith("/articles/") and path.endswith(".html"):
            i_text, _, j_text = path[10:-5].partition("/")
            i, j = _int(i_text), _int(j_text)
            if 0 <= i < self.n and 0 <= j < self.generation + self.m:
                self.stats.articles += 1
                return _response(200, "text/html; charset=utf-8", self.article(i, j)), False
        elif path == "/admin/advance":
            self.stats.other += 1
            k = max(0, min(_int(parse_qs(query).get("k", ["1"])[0]), MAX_ADVANCE))
            started = time.perf_counter()
            self.advance(k)
            return _json(
                {
                    "generation": self.generation,
                    "advanced": k,
                    "rebuild_s": round(time.perf_counter() - started, 4),
                }
            ), False
        elif path == "/admin/stats":
            self.stats.other += 1
            usage = resource.getrusage(resource.RUSAGE_SELF)
            s = self.stats
            return _json(
                {
                    "generation": self.generation,
                    "feeds": self.n,
                    "items": self.m,
                    "seed": self.seed,
                    "requests": s.requests,
                    "feed_200": s.feed_200,
                    "feed_304": s.feed_304,
                    "articles": s.articles,
                    "other": s.other,
                    "bytes_out": s.bytes_out,
                    "cpu_s": round(usage.ru_utime + usage.ru_stime, 4),
                    "maxrss_mb": round(usage.ru_maxrss / 1024, 1),
                }
            ), False
        elif path == "/admin/relevant":
            self.stats.other += 1
            guids = self.relevant_now()
            return _json(
                {"generation": self.generation, "count": len(guids), "guids": guids}
            ), False
        self.stats.other += 1
        return _response(404, "text/plain", b"not found\n"), False


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1


def _not_modified(feed: Feed, headers: dict[str, str]) -> bool:
    tags = headers.get("if-none-match")
    if tags is not None:
        values = [t.strip().removeprefix("W/") for t in tags.split(",")]
        return "*" in values or feed.etag in values
    since = headers.get("if-modified-since")
    if since:
        try:
            when = email.utils.parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        return feed.modified_ts <= when
    return False


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


def _response(status: int, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nServer: feedfarm\r\n\r\n"
    )
    return head.encode() + body


def _json(value: object) -> bytes:
    return _response(200, "application/json", json.dumps(value).encode())


class _Connection(asyncio.Protocol):
    """HTTP/1.1 keep-alive, GET/HEAD only, request heads parsed by hand (no bodies expected)."""

    def __init__(self, farm: Farm, latency: float) -> None:
        self.farm = farm
        self.latency = latency
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        for _ in range(1000):  # pipelined requests in one read; bounded
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self._send(_response(400, "text/plain", b"request head too large\n"), False)
                return
            head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4 :]
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3 or parts[0] not in ("GET", "HEAD"):
                self._send(_response(405, "text/plain", b"GET only\n"), False)
                return
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            keep = parts[2] == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
            raw, _ = self.farm.respond(parts[0], parts[1], headers)
            if not keep:
                raw = raw.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
            if self.latency > 0:
                self.loop.call_later(self.latency, self._send, raw, keep)
            else:
                self._send(raw, keep)

    def _send(self, raw: bytes, keep: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(raw)
        if not keep:
            transport.close()


async def serve(farm: Farm, sock: socket.socket, latency: float, max_seconds: float) -> None:
    """Serve until a signal or ``max_seconds``."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(farm, latency), sock=sock, backlog=4096)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.call_later(max_seconds, stop.set)
    sizes = [len(f.raw200) - f.body_start for f in farm.feeds]
    print(
        f"ready port={sock.getsockname()[1]} feeds={farm.n} items={farm.m}"
        f" avg_feed_bytes={sum(sizes) // max(1, len(sizes))} pid={os.getpid()}",
        flush=True,
    )
    await stop.wait()
    server.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every response")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gzip", action="store_true", help="gzip feeds for clients that accept it")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="exit after this long")
    args = parser.parse_args(argv)
    if not (1 <= args.feeds <= 100_000 and 1 <= args.items <= 1000):
        parser.error("--feeds must be 1..100000 and --items 1..1000")
    if not 0 < args.max_seconds <= 24 * 3600:
        parser.error("--max-seconds must be in (0, 86400]")
    # The hard bound: even a stuck event loop ends with the process.
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.alarm(int(args.max_seconds) + 30)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, args.port))
    sock.listen(4096)
    sock.setblocking(False)
    base = f"http://{HOST}:{sock.getsockname()[1]}"
    started = time.perf_counter()
    farm = Farm(base, args.feeds, args.items, args.seed, gzip_on=args.gzip)
    print(
        f"built {args.feeds} feeds x {args.items} items in {time.perf_counter() - started:.2f}s",
        file=sys.stderr,
        flush=True,
    )
    asyncio.run(serve(farm, sock, args.latency_ms / 1000.0, args.max_seconds))


if __name__ == "__main__":
    main()
