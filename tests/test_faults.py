"""Issue 8: the monitor keeps working and loses nothing, whatever the network, the storage, the
process and the content throw at it.

Every test drives the real command line in a subprocess (``monitor poll``, ``monitor run``,
``monitor query``...) against one local misbehaving HTTP server (tests/hostile_server.py) and a real
database (a SQLite file, and a fresh PostgreSQL database where the fixture is parametrised). No
test needs the internet: every request goes to 127.0.0.1, ::1 or a name /etc/hosts maps to them,
and every wait is bounded. README.md ("Faults and hostile input") is the table of what is
covered and what the monitor does about each fault.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, func, select, text
from sqlalchemy.engine import Engine

from monitor.store.db import make_engine
from monitor.store.schema import Article, ArticleTopic, LshBand, Poll, SeenItem, Sighting, Source
from tests.conftest import child_env
from tests.feedgen import Entry, rss
from tests.hostile_server import (
    Conn,
    HostileServer,
    Request,
    close_mid_body,
    delayed,
    drip,
    endless,
    gzip_bomb,
    redirect,
    respond,
    respond_raw,
    retry_after,
    status,
    truncated_gzip,
    wrong_length,
)

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parent.parent
TOPICS = (ROOT / "sources.yaml").read_text().split("topics:", 1)[1]
TOPICS = "topics:" + TOPICS.split("\nsources:", 1)[0]

MAX_RSS_MB = 400  # peak resident memory of one `monitor` process, whatever the sources send
# Characters that must never be stored in text fields nor printed to a terminal.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")


# --------------------------------------------------------------------------------------------
# running the real command line, measuring it


@dataclass
class Run:
    """A finished `monitor` process: exit code, output, wall time and peak RSS."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float
    cpu_seconds: float = 0.0

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:  # what an assertion message shows
        return (
            f"monitor {' '.join(a[:80] for a in self.args)} -> exit {self.returncode} in"
            f" {self.seconds:.1f}s ({self.cpu_seconds:.1f}s CPU), {self.max_rss_mb:.0f} MB\nstdout: {self.stdout[-3000:]}\n"
            f"stderr: {self.stderr[-3000:]}"
        )


def run_cli(*args: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> Run:
    """Run `monitor ARGS` like `run_monitor`, but reap it with wait4 to get *its* peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", *args],
            cwd=cwd,
            env=child_env(env),
            stdout=out,
            stderr=err,
        )
        while True:
            pid, wait_status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                process.kill()
                _, wait_status, usage = os.wait4(process.pid, 0)
                process.returncode = -9
                out.seek(0)
                err.seek(0)
                raise AssertionError(
                    f"monitor {' '.join(args)} still running after {timeout}s\n"
                    f"{out.read().decode(errors='replace')[-2000:]}\n"
                    f"{err.read().decode(errors='replace')[-4000:]}"
                )
            time.sleep(0.02)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(wait_status)
        out.seek(0)
        err.seek(0)
        return Run(
            args=args,
            returncode=process.returncode,
            stdout=out.read().decode("utf-8", errors="replace"),
            stderr=err.read().decode("utf-8", errors="replace"),
            seconds=seconds,
            max_rss_mb=usage.ru_maxrss / 1024,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
        )


def write_config(workdir: Path, sources: str, settings: str = "") -> None:
    """sources.yaml with fast-failing settings, the shipped topics and ``sources``."""
    base = textwrap.dedent(
        f"""
        settings:
          min_host_delay: 0s
          retries: 0
          per_host: 64
          concurrency: 64
          jitter: 0
          timeouts: {{connect: 2s, read: 3s, total: 5s}}
          digest: {{dir: {workdir / "digests"}, timezone: UTC}}
        """
    )
    extra = textwrap.indent(textwrap.dedent(settings).strip(), "  ") if settings.strip() else ""
    (workdir / "sources.yaml").write_text(
        base
        + extra
        + "\n"
        + TOPICS
        + "\nsources:\n"
        + textwrap.indent(textwrap.dedent(sources).strip(), "  ")
        + "\n"
    )


def init(workdir: Path, env: dict[str, str]) -> None:
    result = run_cli("init", cwd=workdir, env=env)
    assert result.returncode == 0, result


def source_states(workdir: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    result = run_cli("sources", "--format", "json", cwd=workdir, env=env)
    assert result.returncode == 0, result
    return {s["name"]: s for s in result.json()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextlib.contextmanager
def engine_of(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def scalar(url: str, statement: Any) -> Any:
    with engine_of(url) as engine, engine.connect() as connection:
        return connection.scalar(statement)


def count(url: str, table: Any, *where: Any) -> int:
    return int(scalar(url, select(func.count()).select_from(table).where(*where)) or 0)


def articles_by_url(url: str) -> dict[str, dict[str, Any]]:
    """Non-seed articles by URL, with their sightings [(source, url, reason)]."""
    with engine_of(url) as engine, engine.connect() as connection:
        rows = connection.execute(
            select(
                Article.id,
                Article.url,
                Article.title,
                Article.summary,
                Article.text,
                Article.published_at,
            ).where(Article.is_seed.is_(False))
        ).all()
        sightings = connection.execute(
            select(Sighting.article_id, Source.name, Sighting.url, Sighting.reason).outerjoin(
                Source, Source.id == Sighting.source_id
            )
        ).all()
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        assert row.url not in out, f"two articles with the URL {row.url}"
        out[row.url] = {**row._asdict(), "sightings": []}
    by_id = {a["id"]: a for a in out.values()}
    for s in sightings:
        if s.article_id in by_id:
            by_id[s.article_id]["sightings"].append((s.name, s.url, s.reason))
    return out


def all_stored_text(url: str) -> str:
    """Every value of every row of every table, as one string (to look for leaked data)."""
    engine = create_engine(url) if url.startswith("postgresql") else make_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        parts: list[str] = []
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(table.select()):
                    parts.extend(
                        v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                        for v in row
                    )
        return "\n".join(parts)
    finally:
        engine.dispose()


def story(key: str, headline: str, link: str, **extra: Any) -> Entry:
    """A short matching item (too short for near-duplicate matching: copies match on URL/text)."""
    return Entry(
        guid=key,
        title=headline,
        link=link,
        description=(
            f"Story {key}: Kenyan officers of the security mission in Haiti reported on {headline.lower()}"
            f" to reporters in Port-au-Prince on the day numbered {len(key) * 7 + len(headline)}."
        ),
        **extra,
    )


# --------------------------------------------------------------------------------------------
# Part 1: one server, ~40 ways to misbehave, beside good sources

SECRET_MARKER = "TOP-SECRET-7f3a9c-do-not-store"
FEED_CT = [("Content-Type", "application/rss+xml")]


def good_entries() -> dict[str, list[Entry]]:
    a1 = story("a-1", "Kenyan police reopen the road to Cap-Haitien", "https://news-a.example/a-1")
    a2 = story(
        "a-2", "Haiti gangs retreat from Delmas after Kenyan patrols", "https://news-a.example/a-2"
    )
    unrelated = Entry(
        guid="u-1",
        title="Council votes on bicycle lanes",
        link="https://news-a.example/u",
        description="Twelve kilometres of new lanes downtown.",
    )
    b1 = story("b-1", "Nairobi sends more officers to Haiti", "https://news-b.example/b-1")
    a1_tracked = Entry(
        guid="b-copy",
        title=a1.title,
        description=a1.description,
        link=a1.link + "?utm_source=rss&utm_medium=feed",
    )
    c1 = story(
        "c-1", "Haitian National Police and Kenyan unit secure port", "https://news-c.example/c-1"
    )
    return {"good-a": [a1, a2, unrelated], "good-b": [b1, a1_tracked], "good-c": [c1]}


def html_page(title: str, body: str) -> bytes:
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
        f"<p>{body}</p></body></html>"
    ).encode()


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lollollollollollollollollollol">']
    entities += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [' + "".join(entities) + "]>"
        '<rss version="2.0"><channel><title>bomb</title><item><guid>bl-1</guid>'
        "<title>Kenyan police in Haiti &lol9; laughs</title>"
        "<link>https://bomb.example/bl-1</link><description>Port-au-Prince &lol9;</description>"
        "</item></channel></rss>"
    ).encode()


def xxe(secret_path: Path, *, well_formed: bool) -> bytes:
    broken = "" if well_formed else "<unclosed>"
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret_path}">'
        f'<!ENTITY % remote SYSTEM "file://{secret_path}">]>'
        '<rss version="2.0"><channel><title>xxe</title><item><guid>xxe-1</guid>'
        f"<title>Kenyan police in Haiti &xxe; report {broken}</title>"
        "<link>https://xxe.example/xxe-1</link>"
        "<description>Port-au-Prince &xxe; Nairobi</description></item></channel></rss>"
    ).encode()


CONTROL_TITLE = "Haiti\x00 Kenyan police \x1b[31mred\x1b[0m patrol\x07\x0b in\x7f Port-au-Prince"


def control_rss() -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>ctl</title><item>'
        f"<guid>ctl-1</guid><title>{CONTROL_TITLE} &#x1b;[2J &#0; end</title>"
        "<link>https://ctl.example/ctl-1</link>"
        "<description>Kenyan\x00 officers\x1b in Haiti\x08 said\x9b so.</description>"
        "</item></channel></rss>"
    ).encode()


def control_json_feed() -> bytes:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "ctl json",
            "items": [
                {
                    "id": "ctlj-1",
                    "url": "https://ctl.example/json-1",
                    "title": "Kenyan police\u0000 in Haiti \u001b[2J\u001b]8;;http://evil.example\u0007"
                    "click\u001b]8;;\u0007 \u009b31m end",
                    "content_text": "Port-au-Prince\u0000 report \u0007 on the Kenyan mission\u0000.",
                    "authors": [{"name": "Reporter\u0000\u001b[5m"}],
                }
            ],
        }
    ).encode()


def huge_title_feed() -> bytes:
    title = "Kenyan police in Haiti " + "very " * 20_000 + "long headline"  # ~100 KB
    return rss(
        [
            Entry(
                guid="huge-1",
                title=title,
                link="https://huge.example/1",
                description="Port-au-Prince report on the Kenyan mission.",
            )
        ]
    )


def bare_items_feed() -> bytes:
    """Items without link, without title, without date (and one with nothing but a GUID)."""
    return (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>bare</title>'
        b"<item><guid isPermaLink='false'>bare-1</guid><title>Kenyan unit arrives in Haiti without a link</title>"
        b"<description>No link, no date: Port-au-Prince report one.</description></item>"
        b"<item><link>https://bare.example/no-title</link>"
        b"<description>No title, no GUID, no date: Kenyan officers in Haiti, report two.</description></item>"
        b"<item><description>Only a description: Nairobi and Haiti officials met, report three.</description></item>"
        b"<item><guid>bare-4</guid></item>"
        b"<item></item>"
        b"</channel></rss>"
    )


def relative_links_feed() -> bytes:
    return rss(
        [
            story("rel-1", "Kenyan patrol relative link one in Haiti", "/news/relative-one"),
            story("rel-2", "Kenyan patrol relative link two in Haiti", "../news/relative-two?x=1"),
            story(
                "rel-3", "Kenyan patrol protocol-relative link in Haiti", "//news-rel.example/three"
            ),
        ]
    )


def duplicate_guid_feed() -> bytes:
    item = story(
        "dup-1", "Kenyan convoy reaches Haiti border twice listed", "https://dup.example/1"
    )
    return rss([item, item, item])


def changing_guids(request: Request, conn: Conn) -> None:
    """Every poll sends the same article under a new GUID (a feed that stamps GUIDs with time)."""
    item = story(
        f"chg-{request.index}-{time.monotonic_ns()}",
        "Kenyan mission in Haiti changes GUIDs",
        "https://chg.example/story",
    )
    conn.send(200, rss([item]), FEED_CT)


BIG_FEED_ITEMS = 10_000
BIG_FEED_CAP = 100


def big_feed() -> bytes:
    entries = [
        Entry(
            guid=f"big-{i}",
            title=f"Weather bulletin number {i}",
            link=f"https://big.example/{i}",
            description=f"Rain expected in district {i}.",
        )
        for i in range(BIG_FEED_ITEMS)
    ]
    return rss(entries)


def sitemap_index(children: list[str]) -> bytes:
    entries = "".join(f"<sitemap><loc>{c}</loc></sitemap>" for c in children)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'
    ).encode()


def news_sitemap(urls: list[tuple[str, str]]) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries = "".join(
        f"<url><loc>{loc}</loc><news:news><news:publication><news:name>Site</news:name>"
        f"<news:language>en</news:language></news:publication>"
        f"<news:publication_date>{now}</news:publication_date><news:title>{title}</news:title>"
        "</news:news></url>"
        for loc, title in urls
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        f' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{entries}</urlset>'
    ).encode()


def nested_sitemaps(server: HostileServer) -> Callable[[Request, Conn], None]:
    """An index whose every child is another index, ten children each, forever."""

    def handler(request: Request, conn: Conn) -> None:
        depth = int(request.target.split("d=", 1)[1].split("&")[0]) if "d=" in request.target else 0
        children = [server.url(f"/nest.xml?d={depth + 1}&amp;c={c}") for c in range(10)]
        conn.send(200, sitemap_index(children), [("Content-Type", "application/xml")])

    return handler


def hops(server: HostileServer) -> Callable[[Request, Conn], None]:
    """/hop?n=K redirects to /hop?n=K+1, without end."""

    def handler(request: Request, conn: Conn) -> None:
        n = int(request.target.split("n=", 1)[1]) if "n=" in request.target else 0
        conn.send(302, b"", [("Location", server.url(f"/hop?n={n + 1}"))])

    return handler


def by_host(
    handlers: dict[str, Callable[[Request, Conn], None]], default: Callable[[Request, Conn], None]
) -> Callable[[Request, Conn], None]:
    """Answer by the Host header's name: one server, several origins (robots.txt is per origin)."""

    def handler(request: Request, conn: Conn) -> None:
        host = request.headers.get("host", "").rsplit(":", 1)[0].strip("[]")
        handlers.get(host, default)(request, conn)

    return handler


def patient(handler: Callable[[Request, Conn], None]) -> Callable[[Request, Conn], None]:
    """Let ``handler`` block up to 10 s on a full send buffer (HostileServer gives up after 50 ms,
    which, on a busy machine, cuts a large close-delimited body short: a different fault)."""

    def wrapped(request: Request, conn: Conn) -> None:
        conn.sock.settimeout(10)
        try:
            handler(request, conn)
        finally:
            conn.sock.settimeout(0.05)

    return wrapped


def garbage_response(request: Request, conn: Conn) -> None:
    conn.write(b"THIS IS NOT HTTP\r\n\x00\x01\x02 garbage\r\n\r\n")
    conn.close_after()


@dataclass(frozen=True)
class Fault:
    """One misbehaving source: its route and what `monitor` must make of it."""

    name: str
    path: str
    handler: Callable[[Request, Conn], None] | None  # None: the URL is not on the server
    error: tuple[str, ...] = ()  # the source fails; last_error contains one of these
    url: str | None = None  # default: the server URL of `path`
    extra: str = ""  # more YAML keys for the source
    either: bool = False  # refusing it (with `error` in the message) or storing it safely is fine


def faults(server: HostileServer, secret: Path) -> list[Fault]:
    port = server.port
    feed = rss([story("f-1", "Kenyan officers in Haiti (dripped)", "https://drip.example/1")])
    assert len(feed) > 300  # one byte a second: minutes, unless the total timeout cuts it
    html_body = html_page("Welcome", "Our news site. " * 20)
    robots = by_host(
        {
            "localhost": patient(
                endless(
                    50 * 1024 * 1024,
                    declare_length=True,
                    fill=b"# filler\n",
                    prefix=b"User-agent: *\nDisallow: /private/\n",
                )
            ),
            "runsc": delayed(300, respond(b"User-agent: *\nAllow: /\n", content_type="text/plain")),
        },
        status(404),
    )
    return [
        Fault("http-404", "/404.xml", status(404), ("404",)),
        Fault("http-410", "/410.xml", status(410), ("410",)),
        Fault("http-500", "/500.xml", status(500), ("500",)),
        # on a host of its own, so that its Retry-After concerns it alone
        Fault(
            "http-503-retry-after",
            "/503.xml",
            retry_after("120"),
            ("503",),
            url=f"http://vm:{port}/503.xml",
        ),
        Fault("refused", "/", None, ("refused",), url=f"http://127.0.0.1:{free_port()}/feed.xml"),
        Fault("dns-failure", "/", None, ("DNS",), url="http://nowhere.invalid/feed.xml"),
        Fault("drip-1-byte-per-s", "/drip.xml", drip(feed, 1.0), ("timed out",)),
        Fault("slow-headers", "/slow.xml", delayed(300, respond(feed)), ("timed out",)),
        Fault(
            "body-60mb-declared",
            "/big-declared.xml",
            patient(endless(60 * 1024 * 1024, declare_length=True)),
            ("limit",),
        ),
        Fault(
            "body-60mb-streamed",
            "/big-streamed.xml",
            patient(endless(60 * 1024 * 1024, declare_length=False)),
            ("limit",),
        ),
        Fault("gzip-bomb", "/bomb.xml", patient(gzip_bomb()), ("limit",)),
        Fault("truncated-gzip", "/trunc.xml", truncated_gzip(feed), ("truncated",)),
        Fault(
            "wrong-content-length",
            "/wrong-length.xml",
            wrong_length(feed[: len(feed) // 2], claimed=len(feed) + 500),
            ("closed",),
        ),
        Fault("close-mid-body", "/close.xml", close_mid_body(feed[:200]), ("closed", "body")),
        Fault("garbage-http", "/garbage.xml", garbage_response, ("malformed", "closed")),
        Fault("html-served-as-rss", "/lying.xml", respond(html_body), ("HTML", "html")),
        Fault(
            "error-page-200",
            "/error200.xml",
            respond(
                b"Internal error: database connection failed. Try again later.",
                content_type="text/plain",
            ),
            ("not a feed",),
        ),
        Fault(
            "invalid-xml",
            "/invalid.xml",
            respond(b'<?xml version="1.0"?><rss><channel><item><title>oops</channel>'),
            ("XML", "feed"),
        ),
        Fault(
            "html-page",
            "/page.html",
            respond(html_body, content_type="text/html"),
            ("HTML", "html"),
        ),
        Fault("empty-body", "/empty.xml", respond(b""), ("empty",)),
        Fault("xxe-malformed", "/xxe-bad.xml", respond(xxe(secret, well_formed=False)), ("XML",)),
        # refused (libxml2's amplification limit) or read without expanding any entity
        Fault(
            "billion-laughs",
            "/laughs.xml",
            respond(billion_laughs()),
            ("XML", "entit"),
            either=True,
        ),
        # safe results: fetched and parsed, whatever the content; checked one by one below
        Fault("xxe", "/xxe.xml", respond(xxe(secret, well_formed=True))),
        Fault("control-chars-rss", "/ctl.xml", respond(control_rss())),
        Fault(
            "control-chars-json",
            "/ctl.json",
            respond(control_json_feed(), content_type="application/feed+json"),
        ),
        Fault("title-100kb", "/huge-title.xml", respond(huge_title_feed())),
        Fault("bare-items", "/bare.xml", respond(bare_items_feed())),
        Fault("relative-links", "/rel/feed.xml", respond(relative_links_feed())),
        Fault("duplicate-guid", "/dup.xml", respond(duplicate_guid_feed())),
        Fault("changing-guids", "/chg.xml", changing_guids),
        Fault(
            "items-10000", "/big-feed.xml", respond(big_feed()), extra=f"max_items: {BIG_FEED_CAP}"
        ),
        # sitemap children and redirect targets are checked like any URL found in content: on a
        # loopback server they are refused unless allow_private_addresses (see the second run)
        Fault(
            "sitemap-nested",
            "/nest.xml",
            nested_sitemaps(server),
            ("refused",),
            extra="type: sitemap",
        ),
        Fault(
            "sitemap-self",
            "/self-sitemap.xml",  # the loop is cut before any check: ok, empty
            respond(
                sitemap_index([server.url("/self-sitemap.xml")]), content_type="application/xml"
            ),
            extra="type: sitemap",
        ),
        Fault(
            "redirect-to-localhost",
            "/to-localhost.xml",
            redirect(f"http://localhost:{port}/private-feed.xml"),
            ("refused",),
        ),
        Fault(
            "redirect-to-ipv6-loopback",
            "/to-ipv6.xml",
            redirect(f"http://[::1]:{port}/private-feed.xml"),
            ("refused",),
        ),
        Fault(
            "redirect-to-name-of-loopback",
            "/to-vm.xml",
            redirect(f"http://vm:{port}/private-feed.xml"),
            ("refused",),
        ),
        Fault("redirect-loop", "/loop-a.xml", redirect("/loop-b.xml"), ("loop", "refused")),
        Fault("too-many-redirects", "/hop", hops(server), ("redirects", "refused")),
        # robots.txt of another origin on the same server (the Host header picks the answer)
        Fault(
            "robots-50mb",
            "/robots-big/feed.xml",
            respond(behind_robots("big")),
            url=f"http://localhost:{port}/robots-big/feed.xml",
        ),
        Fault(
            "robots-timeout",
            "/robots-slow/feed.xml",
            respond(behind_robots("slow")),
            url=f"http://runsc:{port}/robots-slow/feed.xml",
        ),
        Fault("_robots", "/robots.txt", robots),
    ]


def behind_robots(kind: str) -> bytes:
    return rss(
        [
            story(
                f"r-{kind}",
                f"Kenyan mission in Haiti behind a {kind} robots.txt",
                f"https://robots.example/{kind}",
            )
        ]
    )


def setup_fault_server(server: HostileServer, secret: Path) -> tuple[list[Fault], str]:
    """Route the good and bad sources; return the faults and the sources YAML."""
    lines = []
    for name, entries in good_entries().items():
        body = rss(entries)
        # good-c is RSS labelled text/html: fine, the format is read from the content
        ctype = "text/html; charset=utf-8" if name == "good-c" else "application/rss+xml"
        server.route(f"/{name}.xml", respond(body, content_type=ctype))
        lines.append(f'- {{name: {name}, url: "{server.url(f"/{name}.xml")}"}}')
    server.route(
        "/private-feed.xml",
        respond(rss([story("p-1", "Kenyan private feed in Haiti", "https://private.example/1")])),
    )
    server.route("/loop-b.xml", redirect("/loop-a.xml"))
    found = faults(server, secret)
    for fault in found:
        if fault.handler is not None:
            server.route(fault.path, fault.handler)
        if fault.name.startswith("_"):
            continue
        extra = f", {fault.extra}" if fault.extra else ""
        lines.append(
            f'- {{name: {fault.name}, url: "{fault.url or server.url(fault.path)}"{extra}}}'
        )
    return [f for f in found if not f.name.startswith("_")], "\n".join(lines)


GOOD = ("good-a", "good-b", "good-c")
EXPECTED_GOOD = {  # url -> sightings (source, reason)
    "https://news-a.example/a-1": {("good-a", "original"), ("good-b", "url")},
    "https://news-a.example/a-2": {("good-a", "original")},
    "https://news-b.example/b-1": {("good-b", "original")},
    "https://news-c.example/c-1": {("good-c", "original")},
}
POLL_BUDGET = 50.0  # seconds for one `monitor poll` of every source (timeouts are 2-5 s)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(f"{SECRET_MARKER}\nroot:x:0:0:root:/root:/bin/bash\n")
    return path


def check_good_sources(url: str) -> None:
    stored = articles_by_url(url)
    for link, sightings in EXPECTED_GOOD.items():
        # a copy's URL may be the stored one when good-b happened to be first: normalise
        article = stored.get(link) or stored.get(link + "?utm_source=rss&utm_medium=feed")
        assert article is not None, f"{link} not stored; stored: {sorted(stored)}"
        got = {
            (source, "copy" if reason != "original" else reason)
            for source, _, reason in article["sightings"]
        }
        want = {
            (source, "copy" if reason != "original" else reason) for source, reason in sightings
        }
        if len(sightings) == 2:  # polled at once: either outlet may hold the original
            assert {r for _, r in got} == {"original", "copy"}, article
            assert {s for s, _ in got} == {s for s, _ in want}, article
        else:
            assert got == want, article
    assert "https://news-a.example/u" not in stored  # the unrelated item is not kept


def test_every_fault_fails_alone_and_the_good_sources_are_stored_once(
    workdir: Path, database_url: str, hostile_server: HostileServer, secret_file: Path
) -> None:
    bad, sources = setup_fault_server(hostile_server, secret_file)
    assert len(bad) >= 25
    write_config(workdir, sources)
    env = {"MONITOR_DATABASE_URL": database_url}
    init(workdir, env)

    first = run_cli("poll", "--format", "json", cwd=workdir, env=env, timeout=120)
    assert first.returncode == 1, first  # some sources failed, the rest was stored
    assert first.seconds < POLL_BUDGET, first
    assert first.max_rss_mb < MAX_RSS_MB, first
    reports = {r["source"]: r for r in first.json()}
    assert set(reports) == {*GOOD, *(f.name for f in bad)}
    for name in GOOD:
        assert reports[name]["status"] == "ok", reports[name]

    # every failing source has a clear error, in the poll report and in `monitor sources`
    states = source_states(workdir, env)
    for fault in bad:
        state = states[fault.name]
        if fault.either and reports[fault.name]["status"] == "ok":
            assert state["last_error"] is None, (fault.name, state)
        elif fault.error:
            assert reports[fault.name]["status"] == "error", (fault.name, reports[fault.name])
            error = state["last_error"] or ""
            assert any(word.lower() in error.lower() for word in fault.error), (fault.name, error)
            assert state["state"] == "failing" and state["consecutive_failures"] == 1
            assert "Traceback" not in error and "internal error" not in error, (fault.name, error)
        else:
            assert reports[fault.name]["status"] == "ok", (fault.name, reports[fault.name])
            assert state["last_error"] is None, (fault.name, state)
    for name in GOOD:
        assert states[name]["last_error"] is None
    check_good_sources(database_url)

    # the private-address redirects were refused before any request reached the target
    assert hostile_server.hits("/private-feed.xml") == 0
    # the 503 asked for two minutes: the next poll is not sooner
    s503 = states["http-503-retry-after"]
    gap = datetime.fromisoformat(s503["next_poll_at"]) - datetime.fromisoformat(
        s503["last_poll_at"]
    )
    assert gap >= timedelta(seconds=119), s503
    # the 60 MB, bomb and drip bodies were abandoned, not read to the end
    assert hostile_server.hits("/drip.xml") == 1

    stored = articles_by_url(database_url)
    # billion laughs: refused (above) or stored without expanding anything, and quickly
    laughs = stored.get("https://bomb.example/bl-1")
    assert laughs is None or "lol" not in laughs["title"] + laughs["summary"], laughs
    assert reports["billion-laughs"]["seconds"] < 5
    # XXE: the local file never reaches the database, well-formed or not
    assert "xxe.example" in " ".join(stored)
    everything = all_stored_text(database_url)
    assert SECRET_MARKER not in everything
    assert "root:x:0:0" not in everything
    # control characters: stored cleaned, on PostgreSQL too
    for link in ("https://ctl.example/ctl-1", "https://ctl.example/json-1"):
        article = stored[link]
        for key in ("title", "summary", "text"):
            assert not CONTROL.search(article[key] or ""), (link, key, article[key])
        assert "Kenyan" in article["title"] and "Haiti" in article["title"]
    # a 100 KB title is stored capped
    huge = stored["https://huge.example/1"]
    assert huge["title"].startswith("Kenyan police in Haiti very") and len(huge["title"]) <= 1_000
    # items without link, title or date are kept (the ones that match), with a stable identity
    bare = [
        a
        for u, a in stored.items()
        if "bare" in (a["title"] + a["summary"] + u).lower()
        or "report one" in a["summary"]
        or "report three" in a["summary"]
    ]
    assert len(bare) >= 2, bare
    assert all(a["published_at"] is None for a in bare)
    # relative links are resolved against the feed URL
    base = hostile_server.url("")
    assert f"{base}/news/relative-one" in stored
    assert f"{base}/news/relative-two?x=1" in stored
    assert "http://news-rel.example/three" in stored
    # the same GUID three times in one feed: one article, one sighting
    assert len(stored["https://dup.example/1"]["sightings"]) == 1
    # 10,000 items: only max_items of them are looked at
    assert reports["items-10000"]["items_seen"] <= BIG_FEED_CAP
    big_id = scalar(database_url, select(Source.id).where(Source.name == "items-10000"))
    assert count(database_url, SeenItem, SeenItem.source_id == big_id) <= BIG_FEED_CAP
    # robots.txt of 50 MB (only its head is read) or hanging (allow all after the timeout)
    assert hostile_server.hits("/robots-big/feed.xml") == 1
    assert hostile_server.hits("/robots-slow/feed.xml") == 1
    assert "https://robots.example/big" in stored and "https://robots.example/slow" in stored
    # the nested sitemap was not followed at all (its children are private addresses); the
    # index listing itself was read once
    assert hostile_server.hits("/nest.xml") == 1
    assert hostile_server.hits("/self-sitemap.xml") == 1
    assert reports["sitemap-self"]["items_seen"] == 0

    # a second poll: nothing is stored twice; the GUID-changing feed is still one article
    before = {u: len(a["sightings"]) for u, a in stored.items()}
    second = run_cli("poll", "--format", "json", cwd=workdir, env=env, timeout=120)
    assert second.returncode == 1, second
    assert second.seconds < POLL_BUDGET and second.max_rss_mb < MAX_RSS_MB, second
    after = articles_by_url(database_url)
    assert {u: len(a["sightings"]) for u, a in after.items()} == before
    assert len(after["https://chg.example/story"]["sightings"]) == 1
    assert hostile_server.hits("/chg.xml") == 2
    check_good_sources(database_url)
    states = source_states(workdir, env)
    assert states["http-404"]["consecutive_failures"] == 2
    assert states["good-a"]["consecutive_failures"] == 0


def test_with_private_addresses_allowed_loops_and_sitemaps_stay_bounded(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer, secret_file: Path
) -> None:
    """allow_private_addresses lets redirects and child sitemaps reach the loopback server: the
    loop and depth limits, not the address check, must now stop them."""
    found, _ = setup_fault_server(hostile_server, secret_file)
    wanted = {
        "redirect-loop",
        "too-many-redirects",
        "sitemap-nested",
        "sitemap-self",
        "redirect-to-localhost",
        "redirect-to-name-of-loopback",
    }
    chosen = [f for f in found if f.name in wanted]
    write_config(
        workdir,
        "\n".join(
            f'- {{name: {f.name}, url: "{hostile_server.url(f.path)}"'
            + (f", {f.extra}" if f.extra else "")
            + "}"
            for f in chosen
        )
        + f'\n- {{name: good-a, url: "{hostile_server.url("/good-a.xml")}"}}',
        "allow_private_addresses: true",
    )
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    init(workdir, env)
    run = run_cli("poll", "--format", "json", cwd=workdir, env=env, timeout=120)
    assert run.returncode == 1, run
    assert run.seconds < POLL_BUDGET and run.max_rss_mb < MAX_RSS_MB, run
    reports = {r["source"]: r for r in run.json()}
    assert "redirect loop" in reports["redirect-loop"]["error"], reports["redirect-loop"]
    assert hostile_server.hits("/loop-a.xml") == 1 and hostile_server.hits("/loop-b.xml") == 1
    assert "too many redirects" in reports["too-many-redirects"]["error"]
    assert 5 <= hostile_server.hits("/hop") <= 7  # max_redirects is 5
    # ten children per index, forever: depth and count limits stop it, nothing is stored
    assert reports["sitemap-nested"]["status"] == "ok", reports["sitemap-nested"]
    assert 2 <= hostile_server.hits("/nest.xml") <= 60
    assert reports["sitemap-self"]["status"] == "ok"
    assert hostile_server.hits("/self-sitemap.xml") == 1
    # the redirects to a private address are followed now
    for name in ("redirect-to-localhost", "redirect-to-name-of-loopback"):
        assert reports[name]["status"] == "ok", reports[name]
    assert hostile_server.hits("/private-feed.xml") == 2
    stored = articles_by_url(sqlite_url)
    assert len(stored["https://private.example/1"]["sightings"]) == 2
    assert reports["good-a"]["articles_new"] == 2


def test_a_broken_child_sitemap_does_not_lose_the_other_children(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer
) -> None:
    hostile_server.route(
        "/index.xml",
        respond(
            sitemap_index(
                [hostile_server.url("/child-ok.xml"), hostile_server.url("/child-missing.xml")]
            ),
            content_type="application/xml",
        ),
    )
    hostile_server.route(
        "/child-ok.xml",
        respond(
            news_sitemap(
                [("https://site.example/kenya-haiti-1", "Kenyan police patrol Port-au-Prince")]
            ),
            content_type="application/xml",
        ),
    )
    hostile_server.route("/child-missing.xml", status(404))
    write_config(
        workdir,
        f'- {{name: sitemap, type: sitemap, url: "{hostile_server.url("/index.xml")}"}}',
        "allow_private_addresses: true",
    )
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    init(workdir, env)
    run = run_cli("poll", "--format", "json", cwd=workdir, env=env)
    assert hostile_server.hits("/child-ok.xml") == 1, run
    assert "https://site.example/kenya-haiti-1" in articles_by_url(sqlite_url), run


def test_a_large_malformed_body_is_rejected_quickly(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer
) -> None:
    junk = b"<x/>" * (1024 * 1024 // 4)
    hostile_server.route("/junk.xml", patient(respond_raw(junk, [("Content-Type", "text/xml")])))
    hostile_server.route("/good-a.xml", respond(rss(good_entries()["good-a"])))
    write_config(
        workdir,
        f'- {{name: junk, url: "{hostile_server.url("/junk.xml")}"}}\n'
        f'- {{name: good-a, url: "{hostile_server.url("/good-a.xml")}"}}',
    )
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    init(workdir, env)
    run = run_cli("poll", "--format", "json", cwd=workdir, env=env, timeout=180)
    reports = {r["source"]: r for r in run.json()}
    assert reports["junk"]["status"] == "error" and reports["good-a"]["status"] == "ok", run
    assert run.cpu_seconds < 3, run  # the process starts in ~1 s of CPU; 1 MB is parsed in < 0.2 s


# --------------------------------------------------------------------------------------------
# `monitor run` through the same faults


class Service:
    """A `monitor run` process, its log in a file, reaped with wait4 for its peak RSS."""

    def __init__(self, workdir: Path, env: dict[str, str], name: str = "svc") -> None:
        self.log = workdir / f"{name}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--instance", name],
            cwd=workdir,
            env=child_env(env),
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.max_rss_mb = 0.0

    def alive(self) -> bool:
        return self.process.poll() is None

    def rss_mb(self) -> float:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, wait, reap; the exit code (killed with SIGKILL after ``timeout``)."""
        if self.process.returncode is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while True:
            pid, wait_status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.process.kill()
                _, wait_status, usage = os.wait4(self.process.pid, 0)
                break
            time.sleep(0.05)
        self.max_rss_mb = usage.ru_maxrss / 1024
        self.process.returncode = os.waitstatus_to_exitcode(wait_status)
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def services() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        if service.process.returncode is None and service.alive():
            service.process.kill()
            service.process.wait(timeout=10)


def polls_of(url: str) -> dict[str, list[str]]:
    with engine_of(url) as engine, engine.connect() as connection:
        rows = connection.execute(
            select(Source.name, Poll.status)
            .join(Source, Source.id == Poll.source_id)
            .order_by(Poll.id)
        ).all()
    out: dict[str, list[str]] = {}
    for name, poll_status in rows:
        out.setdefault(name, []).append(poll_status)
    return out


SERVICE_SETTINGS = """
default_interval: 2s
dispatch_interval: 1s
lease: 30s
shutdown_grace: 2s
"""


def test_the_service_keeps_polling_through_every_fault(
    workdir: Path,
    sqlite_url: str,
    hostile_server: HostileServer,
    secret_file: Path,
    services: list[Service],
) -> None:
    _, sources = setup_fault_server(hostile_server, secret_file)
    write_config(workdir, sources, SERVICE_SETTINGS)
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    init(workdir, env)
    service = Service(workdir, env)
    services.append(service)
    peak = 0.0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until every good source was polled four times
        assert service.alive(), service.output()[-3000:]
        peak = max(peak, service.rss_mb())
        polls = polls_of(sqlite_url)
        if all(len(polls.get(name, [])) >= 4 for name in GOOD):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"good sources not polled 4 times in 60 s: {polls_of(sqlite_url)}")
    assert service.stop() == 0, service.output()[-3000:]
    log = service.output()
    assert "failed unexpectedly" not in log and "Traceback" not in log, log[-5000:]
    assert max(peak, service.max_rss_mb) < MAX_RSS_MB

    polls = polls_of(sqlite_url)
    for name in GOOD:
        assert set(polls[name]) <= {"ok", "not_modified"}, (name, polls[name])
    check_good_sources(sqlite_url)
    # the 503 asked for two minutes: polled once; the always-failing ones back off
    assert polls["http-503-retry-after"] == ["error"]
    for name in ("http-404", "http-500", "refused", "dns-failure", "invalid-xml"):
        assert set(polls[name]) == {"error"}
        assert len(polls[name]) < len(polls["good-a"]), (name, polls)
    # every poll of the GUID-changing feed found the one article again: stored once
    assert len(polls["changing-guids"]) >= 3
    assert len(articles_by_url(sqlite_url)["https://chg.example/story"]["sightings"]) == 1
    assert count(sqlite_url, Source, Source.lease_owner.is_not(None)) == 0


def test_a_retry_after_of_one_feed_does_not_fail_the_other_feeds_of_its_host(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer, services: list[Service]
) -> None:
    hostile_server.route("/busy.xml", retry_after("120"))
    hostile_server.route("/fine.xml", respond(rss(good_entries()["good-a"])))
    write_config(
        workdir,
        f'- {{name: busy, url: "{hostile_server.url("/busy.xml")}"}}\n'
        f'- {{name: fine, url: "{hostile_server.url("/fine.xml")}"}}',
        SERVICE_SETTINGS,
    )
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    init(workdir, env)
    service = Service(workdir, env)
    services.append(service)

    def settled() -> bool:  # three polls of fine, or a second one that failed
        fine = polls_of(sqlite_url).get("fine", [])
        return len(fine) >= 3 or (len(fine) >= 2 and "error" in fine)

    wait_for(settled, 30, "fine to be polled again")
    assert service.stop() == 0
    polls = polls_of(sqlite_url)
    assert polls["busy"] == ["error"]
    assert set(polls["fine"]) <= {"ok", "not_modified"}, polls["fine"]


# --------------------------------------------------------------------------------------------
# Part 2: storage faults


def three_feeds(server: HostileServer, delay: float = 0.0, tag: str = "") -> str:
    """Three good feeds of two matching stories each; their sources YAML."""
    lines = []
    for n in range(3):
        entries = [
            story(
                f"s{n}-{i}{tag}",
                f"Kenyan unit {n} secures Haiti route {i}{tag}",
                f"https://outlet{n}.example/{i}{tag}",
            )
            for i in range(2)
        ]
        handler = respond(rss(entries))
        server.route(f"/feed{n}.xml", delayed(delay, handler) if delay else handler)
        lines.append(f'- {{name: outlet{n}, url: "{server.url(f"/feed{n}.xml")}"}}')
    return "\n".join(lines)


def test_a_sqlite_write_lock_held_for_10s_delays_the_poll_and_loses_nothing(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer
) -> None:
    write_config(workdir, three_feeds(hostile_server, delay=1.5))
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    init(workdir, env)
    result: list[Run] = []
    poller = threading.Thread(
        target=lambda: result.append(run_cli("poll", "--format", "json", cwd=workdir, env=env))
    )
    poller.start()
    try:
        # the poll has claimed its sources and is fetching (each answer takes 1.5 s): lock now
        wait_for(
            lambda: all(hostile_server.hits(f"/feed{n}.xml") for n in range(3)),
            30,
            "the fetches to start",
        )
        path = sqlite_url.removeprefix("sqlite:///")
        locker = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            locker.execute("BEGIN IMMEDIATE")
            locker.execute("UPDATE sources SET interval_seconds = interval_seconds")  # a write
            locked_at = time.monotonic()
            time.sleep(10)
            locker.execute("COMMIT")
            released_at = time.monotonic()
        finally:
            locker.close()
    finally:
        poller.join(timeout=120)
    assert result, "the poll did not finish"
    run = result[0]
    assert run.returncode == 0, run
    reports = {r["source"]: r for r in run.json()}
    assert all(r["status"] == "ok" and r["articles_new"] == 2 for r in reports.values()), reports
    assert released_at - locked_at >= 10
    assert run.seconds >= 10, run  # it waited for the lock, it did not give up
    stored = articles_by_url(sqlite_url)
    assert len(stored) == 6 and all(len(a["sightings"]) == 1 for a in stored.values())
    assert count(sqlite_url, Poll, Poll.status == "ok") == 3
    assert count(sqlite_url, Source, Source.lease_owner.is_not(None)) == 0


def postgres_version() -> str | None:
    try:
        versions = sorted(os.listdir("/etc/postgresql"))
    except OSError:
        return None
    return versions[-1] if versions else None


def postgres_up(url: str) -> bool:
    engine = create_engine(url, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


class ChangingFeeds:
    """Feeds whose stories change when `phase` changes (new coverage after an outage)."""

    def __init__(self, server: HostileServer, sources: int, delay: float) -> None:
        self.phase = 1
        self.sources = sources
        for n in range(sources):
            server.route(f"/live{n}.xml", delayed(delay, self.handler(n)))
        self.yaml = "\n".join(
            f'- {{name: live{n}, url: "{server.url(f"/live{n}.xml")}"}}' for n in range(sources)
        )

    def entries(self, n: int, phase: int) -> list[Entry]:
        return [
            story(
                f"l{n}-p{p}",
                f"Kenyan unit {n} in Haiti, phase {p} report",
                f"https://live{n}.example/phase-{p}",
            )
            for p in range(1, phase + 1)
        ]

    def handler(self, n: int) -> Callable[[Request, Conn], None]:
        def handle(request: Request, conn: Conn) -> None:
            conn.send(200, rss(self.entries(n, self.phase)), FEED_CT)

        return handle

    def expected_urls(self) -> set[str]:
        return {e.link for n in range(self.sources) for e in self.entries(n, self.phase)}


@pytest.fixture
def own_postgres_url(postgres_server: str) -> Iterator[str]:
    """Like `postgres_url`, but every admin statement on a new connection: the shared fixture's
    pooled admin connection does not survive a server restart."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    name = f"monitor_faults_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    finally:
        wait_for(lambda: postgres_up(postgres_server), 60, "PostgreSQL to be back")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postmaster_started(url: str) -> Any:
    return scalar(url, text("SELECT pg_postmaster_start_time()"))


@pytest.mark.postgres
@pytest.mark.slow
def test_postgresql_restarted_mid_run_the_service_reconnects_and_loses_nothing(
    workdir: Path,
    own_postgres_url: str,
    postgres_server: str,
    hostile_server: HostileServer,
    services: list[Service],
) -> None:
    postgres_url = own_postgres_url
    version = postgres_version()
    if version is None or not any(
        os.access(os.path.join(d, "pg_ctlcluster"), os.X_OK)
        for d in os.environ.get("PATH", "").split(os.pathsep)
    ):
        pytest.skip("no local PostgreSQL cluster to restart (pg_ctlcluster)")
    feeds = ChangingFeeds(hostile_server, sources=6, delay=0.5)
    write_config(workdir, feeds.yaml, SERVICE_SETTINGS)
    env = {"MONITOR_DATABASE_URL": postgres_url}
    init(workdir, env)
    service = Service(workdir, env)
    services.append(service)
    wait_for(lambda: count(postgres_url, Poll) >= 12, 60, "two rounds of polls")
    started_before = postmaster_started(postgres_url)

    restart = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert restart.returncode == 0, restart.stderr
    wait_for(lambda: postgres_up(postgres_server), 60, "PostgreSQL to accept connections again")
    restarted = datetime.now(UTC)
    assert postmaster_started(postgres_url) > started_before  # it really restarted
    feeds.phase = 2  # new coverage while the service is reconnecting
    assert service.alive(), service.output()[-3000:]

    def caught_up() -> bool:
        with engine_of(postgres_url) as engine, engine.connect() as connection:
            ok_after = connection.scalar(
                select(func.count(func.distinct(Poll.source_id))).where(
                    Poll.started_at > restarted, Poll.status.in_(["ok", "not_modified"])
                )
            )
        return (
            ok_after == feeds.sources
            and set(articles_by_url(postgres_url)) == feeds.expected_urls()
        )

    wait_for(caught_up, 60, "every source to be polled again after the restart")
    time.sleep(3)  # a few more rounds: still nothing doubled
    assert service.alive(), service.output()[-3000:]
    assert service.stop() == 0, service.output()[-3000:]
    stored = articles_by_url(postgres_url)
    assert set(stored) == feeds.expected_urls()
    for link, article in stored.items():
        assert len(article["sightings"]) == 1, (link, article["sightings"])
    assert count(postgres_url, Source, Source.lease_owner.is_not(None)) == 0
    assert "failed unexpectedly" not in service.output()


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[bool]:
    """Mount a tmpfs on ``path`` (True), or yield False when this machine does not allow it."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
            capture_output=True,
            text=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill_disk(folder: Path) -> None:
    """Write a filler file until the file system is full."""
    with (folder / "filler.bin").open("wb", buffering=0) as handle:
        chunk = b"\0" * 4096
        with contextlib.suppress(OSError):
            for _ in range(1_000_000):
                handle.write(chunk)
    with contextlib.suppress(OSError), (folder / "filler2.bin").open("wb", buffering=0) as handle:
        for _ in range(4096):
            handle.write(b"\0")


def test_a_full_disk_while_writing_the_digest_keeps_the_previous_digest_and_the_service(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer, services: list[Service]
) -> None:
    digests = workdir / "digests"
    with tmpfs(digests, "size=256k,mode=0755") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
        write_config(
            workdir,
            three_feeds(hostile_server),
            SERVICE_SETTINGS.replace("2s", "3s")
            + f'digest: {{dir: "{digests}", timezone: UTC, time: "00:00"}}',
        )
        env = {"MONITOR_DATABASE_URL": sqlite_url}
        init(workdir, env)
        assert run_cli("poll", cwd=workdir, env=env).returncode == 0
        today = datetime.now(UTC).date().isoformat()
        first = run_cli("digest", "--date", today, cwd=workdir, env=env)
        assert first.returncode == 0, first
        files = {p.name: p.read_bytes() for p in digests.iterdir()}
        assert {f"{today}.md", f"{today}.html", f"{today}.json", "coverage.atom"} <= set(files)
        assert b"Kenyan unit 1 secures Haiti route 0" in files[f"{today}.md"]

        # more coverage arrives, then the disk fills up
        write_config(
            workdir,
            three_feeds(hostile_server, tag="-late"),
            SERVICE_SETTINGS.replace("2s", "3s")
            + f'digest: {{dir: "{digests}", timezone: UTC, time: "00:00"}}',
        )
        assert run_cli("poll", cwd=workdir, env=env).returncode == 0
        fill_disk(digests)
        second = run_cli("digest", "--date", today, cwd=workdir, env=env)
        assert second.returncode != 0, second
        assert "No space left on device" in second.stderr, second
        assert "Traceback" not in second.stderr, second
        for name, content in files.items():
            assert (digests / name).read_bytes() == content, f"{name} changed"
        leftovers = [p.name for p in digests.iterdir() if p.name.endswith(".tmp")]
        assert not leftovers, leftovers

        # the service: its start-up digests (missed days) fail on the full disk; it keeps polling
        polls_before = count(sqlite_url, Poll)
        service = Service(workdir, env)
        services.append(service)
        wait_for(lambda: "No space left on device" in service.output(), 30, "the digest error")
        wait_for(lambda: count(sqlite_url, Poll) >= polls_before + 3, 30, "polls after the error")
        assert service.alive()
        assert service.stop() == 0, service.output()[-3000:]
        log = service.output()
        assert re.search(r"ERROR .*digest .* failed: .*No space left on device", log), log[-3000:]
        for name, content in files.items():
            assert (digests / name).read_bytes() == content, f"{name} changed"
        with engine_of(sqlite_url) as engine, engine.connect() as connection:
            failed = connection.execute(
                text("SELECT day, error FROM digests WHERE status = 'failed'")
            ).all()
        assert failed and all("No space left" in (row.error or "") for row in failed), failed


@pytest.mark.parametrize("command", ["init", "poll", "run"])
def test_a_read_only_storage_folder_at_start_up_is_a_clear_error(
    workdir: Path, hostile_server: HostileServer, command: str
) -> None:
    storage = workdir / "ro"
    url = f"sqlite:///{storage / 'monitor.db'}"
    env = {"MONITOR_DATABASE_URL": url}
    write_config(workdir, three_feeds(hostile_server))
    if command != "init":  # a database that worked yesterday, on a folder now read-only
        storage.mkdir()
        init(workdir, env)
        mounted = (
            subprocess.run(
                ["mount", "--bind", "-o", "ro", str(storage), str(storage)],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )
        if mounted:
            mounted = (
                subprocess.run(
                    ["mount", "-o", "remount,bind,ro", str(storage)],
                    capture_output=True,
                    check=False,
                ).returncode
                == 0
            )
        context: contextlib.AbstractContextManager[bool] = contextlib.nullcontext(mounted)
    else:
        context = tmpfs(storage, "ro,size=64k")
    try:
        with context as read_only:
            if not read_only:
                pytest.skip("cannot mount a read-only folder here (needs root and CAP_SYS_ADMIN)")
            with pytest.raises(OSError):
                (storage / "probe").write_text("x")
            run = run_cli(command, cwd=workdir, env=env, timeout=60)
            assert run.returncode != 0, run
            assert run.returncode == 3, run  # a database error, as documented
            assert "not writable" in run.stderr or "read-only" in run.stderr, run
            assert str(storage) in run.stderr, run
            assert "Traceback" not in run.stderr, run
            assert run.seconds < 30, run
    finally:
        if command != "init":
            subprocess.run(["umount", "-l", str(storage)], capture_output=True, check=False)


# --------------------------------------------------------------------------------------------
# Part 3: process faults


KILLS = 20
KILL_SEED = 8
GROWTH = 5  # new stories per feed and generation


class GrowingFeeds:
    """Feeds that gain GROWTH stories per generation (`gen`, set by the test before each run),
    so that every run has new articles to write when it is killed. Stories are distinct, long
    enough to be LSH-indexed, and each feed also carries a syndicated copy of its first story."""

    def __init__(self, server: HostileServer, sources: int = 5) -> None:
        self.gen = 0
        self.sources = sources
        rng = random.Random(1234)
        words = [
            "road",
            "market",
            "police",
            "patrol",
            "convoy",
            "port",
            "school",
            "clinic",
            "fuel",
            "water",
            "bridge",
            "court",
            "council",
            "harbour",
            "airport",
            "border",
            "station",
            "district",
            "mayor",
            "minister",
        ]
        self.stories: list[list[Entry]] = []
        for n in range(sources):
            entries = []
            for i in range((KILLS + 1) * GROWTH):
                body = " ".join(rng.choice(words) + str(rng.randrange(1000)) for _ in range(120))
                entries.append(
                    Entry(
                        guid=f"k{n}-{i}",
                        title=f"Kenyan officers in Haiti: dispatch {n}-{i}",
                        link=f"https://kill{n}.example/{i}",
                        description=body[:400],
                        content=body,
                    )
                )
            self.stories.append(entries)
            server.route(f"/kill{n}.xml", self.handler(n))
        self.yaml = "\n".join(
            f'- {{name: kill{n}, url: "{server.url(f"/kill{n}.xml")}"}}' for n in range(sources)
        )

    def handler(self, n: int) -> Callable[[Request, Conn], None]:
        def handle(request: Request, conn: Conn) -> None:
            entries = self.stories[n][: (self.gen + 1) * GROWTH]
            first = entries[0]
            copy = Entry(
                guid=f"k{n}-copy",
                title=first.title,
                description=first.description,
                content=first.content,
                link=first.link + "-syndicated",
            )
            conn.send(200, rss([*reversed(entries), copy]), FEED_CT)

        return handle


def database_picture(url: str) -> dict[str, Any]:
    """What a poll stored, independent of ids and times."""
    with engine_of(url) as engine, engine.connect() as connection:
        urls = dict(connection.execute(select(Article.id, Article.url)).all())
        articles = {
            (row.url, row.title, row.content_hash)
            for row in connection.execute(select(Article.url, Article.title, Article.content_hash))
        }
        sightings = sorted(
            (urls[row.article_id], row.name, row.url, row.reason)
            for row in connection.execute(
                select(Sighting.article_id, Source.name, Sighting.url, Sighting.reason).outerjoin(
                    Source, Source.id == Sighting.source_id
                )
            )
        )
        topics = {
            (urls[row.article_id], row.topic)
            for row in connection.execute(select(ArticleTopic.article_id, ArticleTopic.topic))
        }
        bands: dict[str, int] = {}
        for article_id, n in connection.execute(
            select(LshBand.article_id, func.count()).group_by(LshBand.article_id)
        ):
            bands[urls[article_id]] = n
        seen = sorted(
            (row.name, row.item_key, urls.get(row.article_id))
            for row in connection.execute(
                select(Source.name, SeenItem.item_key, SeenItem.article_id).join(
                    Source, Source.id == SeenItem.source_id
                )
            )
        )
    return {
        "articles": articles,
        "sightings": sightings,
        "topics": topics,
        "bands": bands,
        "seen_items": seen,
    }


def test_sigkill_at_random_points_then_one_clean_poll_equals_one_clean_poll(
    tmp_path: Path, workdir: Path, hostile_server: HostileServer
) -> None:
    feeds = GrowingFeeds(hostile_server)

    def fresh(name: str) -> tuple[Path, dict[str, str]]:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "storage").symlink_to(workdir / "storage")  # the same seed articles
        env = {"MONITOR_DATABASE_URL": f"sqlite:///{folder / 'monitor.db'}"}
        write_config(folder, feeds.yaml)
        init(folder, env)
        return folder, env

    # the reference: one clean poll of the last generation into a fresh database (its length
    # also tells how long a poll takes here, to spread the random kills over one)
    feeds.gen = KILLS
    reference_folder, reference_env = fresh("reference")
    clean = run_cli("poll", "--format", "json", cwd=reference_folder, env=reference_env)
    assert clean.returncode == 0, clean
    want = database_picture(reference_env["MONITOR_DATABASE_URL"])
    assert len(want["articles"]) == feeds.sources * (KILLS + 1) * GROWTH + 1  # and the seed
    assert sum(1 for s in want["sightings"] if s[3] == "content") == feeds.sources

    # 20 polls killed with SIGKILL, one generation of new stories each: every other one at a
    # random moment, the others the moment their first new article becomes visible to a reader
    folder, env = fresh("killed")
    db_path = folder / "monitor.db"
    rng = random.Random(KILL_SEED)
    kills: list[str] = []
    progress: list[int] = []  # articles stored after each run
    for gen in range(KILLS):
        feeds.gen = gen
        before = progress[-1] if progress else count(env["MONITOR_DATABASE_URL"], Article)
        delay = rng.uniform(0.3, clean.seconds * 0.8)
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "poll", "--format", "json"],
            cwd=folder,
            env=child_env(env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if gen % 2 == 0:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=delay)
            when = f"{delay:.2f}s"
        else:
            reader = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
            try:
                deadline = time.monotonic() + 60
                while process.poll() is None and time.monotonic() < deadline:
                    if reader.execute("SELECT count(*) FROM articles").fetchone()[0] > before:
                        break
                    time.sleep(0.002)
            finally:
                reader.close()
            when = "first write"
        finished = process.poll() is not None
        process.kill()
        process.wait(timeout=10)
        kills.append(f"{when}{' (finished)' if finished else ''}")
        progress.append(count(env["MONITOR_DATABASE_URL"], Article))
    print(f"poll {clean.seconds:.2f}s; kills {kills}; articles after each {progress}")
    assert sum("finished" not in k for k in kills) >= KILLS // 2, kills  # most died mid-way
    assert progress == sorted(progress)  # nothing stored was ever lost
    feeds.gen = KILLS
    final = run_cli("poll", "--format", "json", cwd=folder, env=env)
    assert final.returncode == 0, final
    got = database_picture(env["MONITOR_DATABASE_URL"])

    assert got["articles"] == want["articles"]
    assert got["sightings"] == want["sightings"]  # no duplicate, none missing, same reasons
    assert got["topics"] == want["topics"]
    assert got["bands"] == want["bands"]
    assert got["seen_items"] == want["seen_items"]
    # no half-written rows: every article has topics, one original sighting and its bands
    urls = {a[0] for a in got["articles"]}
    originals = [s[0] for s in got["sightings"] if s[3] in ("original", "seed")]
    assert sorted(originals) == sorted(urls)
    assert {u for u, _ in got["topics"]} == urls
    assert set(got["bands"]) == urls and min(got["bands"].values()) > 0


@pytest.mark.parametrize(
    ("database", "operation"),
    [
        ("sqlite", "insert"),
        ("sqlite", "revise"),
        pytest.param("postgres", "insert", marks=pytest.mark.postgres),
        pytest.param("postgres", "revise", marks=pytest.mark.postgres),
    ],
)
def test_a_poll_write_is_rolled_back_with_its_transaction(
    request: pytest.FixtureRequest, tmp_path: Path, database: str, operation: str
) -> None:
    """What a kill (or a database error) mid-write amounts to: the poll's transaction never
    commits. Nothing of it may remain, whatever its first write is (a new article, or the
    revision of one a source corrected). The first case was a real bug on SQLite (the first new
    article of each poll was committed alone) until insert_article stopped using a SAVEPOINT."""
    from monitor.dedup import fingerprint
    from monitor.store import articles as store
    from monitor.store.db import upgrade

    url = (
        f"sqlite:///{tmp_path / 'm.db'}"
        if database == "sqlite"
        else request.getfixturevalue("postgres_url")
    )

    def new_article(n: int) -> Any:
        title = f"Kenyan police in Haiti, report {n}"
        return store.NewArticle(
            url=f"https://atomic.example/{n}",
            url_key=f"{n:032d}",
            canonical_url=f"https://atomic.example/{n}",
            guid=f"g-{n}",
            source_id=None,
            title=title,
            summary="s",
            text=f"Port-au-Prince report number {n}",
            author=None,
            language="en",
            published_at=None,
            discovered_at=datetime.now(UTC),
            fingerprint=fingerprint(title, f"Port-au-Prince report number {n}"),
        )

    with engine_of(url) as engine:
        upgrade(engine)
        if operation == "revise":
            with engine.begin() as connection:
                article_id, _ = store.insert_article(connection, new_article(1))
        before = database_picture(url)
        with pytest.raises(RuntimeError), engine.begin() as connection:
            # as in Poller._store_success: a few reads, then the first write, then the process dies
            store.article_by_url_key(connection, f"{2:032d}")
            if operation == "insert":
                store.insert_article(connection, new_article(2))
            else:
                store.revise_article(
                    connection,
                    article_id,
                    title="Kenyan police in Haiti (corrected)",
                    summary="s2",
                    text="corrected text",
                    topics=(),
                    fingerprint=fingerprint("corrected", "corrected text"),
                    now=datetime.now(UTC),
                )
            raise RuntimeError("killed")
        assert database_picture(url) == before, "a write outlived its rolled-back transaction"


# --------------------------------------------------------------------------------------------
# Part 4: hostile content and input

SCRIPT = "<script>alert('x')</script>"
OSC8 = "\x1b]8;;http://evil.example/\x07click me\x1b]8;;\x07"
TERMINAL_ATTACKS = (
    "\x1b[2J",
    "\x1b[1;1H",
    OSC8,
    "\x9b31m",
    "\x07",
    "\u202e",
    "\u2066",
    "\x1b]0;pwned\x07",
)


def hostile_rss() -> bytes:
    """Markup and script in every text field of an RSS item (escaped, CDATA and raw XHTML)."""
    return (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        b'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>h</title>'
        b"<item><guid>h-1</guid>"
        b"<title>&lt;script&gt;alert('title')&lt;/script&gt;Kenyan police &lt;b&gt;in&lt;/b&gt; Haiti"
        b" &lt;img src=x onerror=alert(1)&gt; | # * _ [link](javascript:alert(1))</title>"
        b"<link>https://hostile.example/a?q=%22%3E%3Cscript%3Ealert(1)%3C/script%3E</link>"
        b"<description><![CDATA[<p onclick=\"alert(1)\">Port-au-Prince</p><script>alert('summary')</script>"
        b'<iframe src="javascript:alert(1)"></iframe><a href="javascript:alert(1)">Kenyan</a>]]>'
        b"</description>"
        b"<content:encoded><![CDATA[<style>body{display:none}</style><svg onload=alert(1)>"
        b"<p>Kenyan officers in Haiti</p>]]></content:encoded>"
        b"<dc:creator>&lt;script&gt;alert('author')&lt;/script&gt;Reporter</dc:creator>"
        b"</item>"
        b'<item><guid>h-2</guid><title>=HYPERLINK("http://evil.example","Kenyan Haiti")</title>'
        b"<link>https://hostile.example/formula</link>"
        b"<description>+cmd|' /C calc'!A0 Kenyan officers in Haiti</description></item>"
        b"</channel></rss>"
    )


def hostile_json_feed() -> bytes:
    """Terminal control sequences where only JSON can carry them."""
    attacks = "".join(TERMINAL_ATTACKS)
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "terminal",
            "items": [
                {
                    "id": "t-1",
                    "url": "https://hostile.example/terminal",
                    "title": f"Kenyan police {attacks} in Haiti {SCRIPT}",
                    "summary": f"Port-au-Prince {attacks} summary",
                    "content_text": f"Kenyan officers in Haiti {attacks} body",
                    "authors": [{"name": f"Reporter {attacks}"}],
                    "language": "en\u001b[31m",
                }
            ],
        }
    ).encode()


def run_in_terminal(*args: str, cwd: Path, env: dict[str, str], timeout: float = 60) -> str:
    """Run `monitor ARGS` on a pseudo-terminal (so that it writes for a person), 200 columns."""
    import pty

    controller, terminal = pty.openpty()
    with contextlib.suppress(OSError):
        import fcntl
        import struct
        import termios

        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 200, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env={**child_env(env), "TERM": "xterm-256color", "COLUMNS": "200"},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=10)
    os.close(controller)
    assert process.returncode == 0, b"".join(chunks)[-2000:]
    return b"".join(chunks).decode("utf-8", errors="replace")


def assert_terminal_safe(output: str, where: str) -> None:
    """Only the monitor's own styling (SGR colours) may reach the terminal."""
    own = re.sub(r"\x1b\[[0-9;]*m", "", output)
    own = re.sub(r"\x1b\[\?25[hl]|\x1b\[2K|\x1b\[1A|\r", "", own)  # rich's own cursor handling
    assert "\x1b" not in own, (where, own[max(0, own.find("\x1b") - 80) :][:200])
    assert "\x9b" not in output and "\x07" not in output, where
    assert not BIDI.search(output), (where, BIDI.findall(output))
    assert not CONTROL.search(own.replace("\n", "").replace("\t", "")), (
        where,
        CONTROL.findall(own),
    )


def inject_raw_article(url: str) -> None:
    """An article stored with raw control sequences in its text fields (as an older version, or a
    parser bug, could have stored it): the output layer must hold on its own."""
    attacks = "".join(TERMINAL_ATTACKS)
    with engine_of(url) as engine, engine.begin() as connection:
        source_id = connection.scalar(select(Source.id).order_by(Source.id).limit(1))
        connection.execute(
            Article.__table__.insert().values(
                url="https://raw.example/article",
                url_key="r" * 32,
                canonical_url="https://raw.example/",
                guid=None,
                source_id=source_id,
                origin=None,
                title=f"Raw Kenyan Haiti {attacks} {SCRIPT}",
                summary=f"raw summary {attacks}",
                text="raw",
                author=f"raw {attacks}",
                language="en",
                published_at=None,
                discovered_at=datetime.now(UTC),
                score=0.5,
                content_hash="r" * 64,
                fingerprint=None,
                is_seed=False,
            )
        )


def test_hostile_markup_and_terminal_sequences_are_escaped_in_every_output(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer
) -> None:
    hostile_server.route("/hostile.xml", respond(hostile_rss()))
    hostile_server.route(
        "/terminal.json", respond(hostile_json_feed(), content_type="application/feed+json")
    )
    write_config(
        workdir,
        f'- {{name: hostile, url: "{hostile_server.url("/hostile.xml")}"}}\n'
        f'- {{name: terminal, url: "{hostile_server.url("/terminal.json")}"}}',
    )
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    init(workdir, env)
    poll = run_cli("poll", "--format", "json", cwd=workdir, env=env)
    assert poll.returncode == 0, poll
    stored = articles_by_url(sqlite_url)
    assert len(stored) == 3, sorted(stored)
    for article in stored.values():  # stored as plain text: no markup, no control characters
        for key in ("title", "summary", "text"):
            value = article[key] or ""
            assert "<script" not in value and "<iframe" not in value, (key, value)
            assert not CONTROL.search(value), (key, value)
    inject_raw_article(sqlite_url)

    # a person's terminal: the table of articles and of sources, the poll table
    for args in (("query", "--format", "table"), ("sources",), ("poll",)):
        assert_terminal_safe(run_in_terminal(*args, cwd=workdir, env=env), " ".join(args))

    # Markdown: markup escaped, links only to what they claim
    md = run_cli("query", "--format", "md", cwd=workdir, env=env)
    assert md.returncode == 0, md
    assert "Kenyan police" in md.stdout
    unescaped = re.findall(r"(?<!\\)<(?:script|img|b>|iframe|/script)", md.stdout)
    assert not unescaped, unescaped  # `\<script\>` is how Markdown shows a literal tag
    assert not re.search(r"(?<!\\)\]\(<?javascript:", md.stdout)  # no live javascript: link
    assert_terminal_safe(md.stdout, "query --format md")
    # CSV: a spreadsheet formula in a title is neutralised
    csv_out = run_cli("query", "--format", "csv", cwd=workdir, env=env)
    assert csv_out.returncode == 0, csv_out
    assert "'=HYPERLINK" in csv_out.stdout and ",=HYPERLINK" not in csv_out.stdout
    assert "'+cmd|" in csv_out.stdout  # (CSV is data for programs: it keeps stored text as is)

    # the digest: HTML escaped, no script, no javascript: link
    today = datetime.now(UTC).date().isoformat()
    digest = run_cli("digest", "--date", today, cwd=workdir, env=env)
    assert digest.returncode == 0, digest
    html = (workdir / "digests" / f"{today}.html").read_text()
    assert "Kenyan police" in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(?:href|src)\s*=\s*["']?\s*javascript:""", html, re.I)
    assert "onerror=" not in html and "<iframe" not in html and "onclick" not in html
    markdown = (workdir / "digests" / f"{today}.md").read_text()
    assert not re.findall(r"(?<!\\)<(?:script|img|iframe)", markdown)
    assert "\x1b" not in markdown and not BIDI.search(markdown)


HOSTILE_FILTERS: list[tuple[tuple[str, ...], int | None]] = [  # (filter, articles found)
    (("--search", "'; DROP TABLE articles; --"), 0),
    (("--search", "x" * 100_000), 0),
    (("--search", "haiti " * 16_000), 2),  # 96 KB of a word both articles contain
    (("--search", 'NEAR(haiti kenya) OR * AND "unbalanced'), 0),
    (("--search", "\x1b[2J \u202e"), 0),
    (("--topic", "x' OR 1=1 --"), 0),
    (("--source", "x' OR '1'='1"), 0),
    # parsed before any SQL (the same on every database): usage errors, exit 2
    (("--since", "1d'; DROP TABLE sources; --"), None),
    (("--limit", "-1; DROP TABLE articles"), None),
]


def load_two_articles(
    workdir: Path, database_url: str, hostile_server: HostileServer
) -> dict[str, str]:
    """A database with the two matching articles of good-a (language en); its env."""
    hostile_server.route("/good-a.xml", respond(rss(good_entries()["good-a"])))
    write_config(
        workdir, f'- {{name: good-a, language: en, url: "{hostile_server.url("/good-a.xml")}"}}'
    )
    env = {"MONITOR_DATABASE_URL": database_url}
    init(workdir, env)
    assert run_cli("poll", cwd=workdir, env=env).returncode == 0
    assert count(database_url, Article, Article.is_seed.is_(False)) == 2
    return env


@pytest.fixture
def queried(workdir: Path, database_url: str, hostile_server: HostileServer) -> dict[str, str]:
    return load_two_articles(workdir, database_url, hostile_server)


def check_filters(
    workdir: Path, env: dict[str, str], cases: list[tuple[tuple[str, ...], int | None]]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    url = env["MONITOR_DATABASE_URL"]
    with ThreadPoolExecutor(max_workers=4) as pool:  # read-only queries: run a few at once
        runs = list(
            pool.map(
                lambda args: run_cli(
                    "query", *args, "--format", "json", cwd=workdir, env=env, timeout=90
                ),
                [args for args, _ in cases],
            )
        )
    for (args, expected), run in zip(cases, runs, strict=True):
        label = f"{args[0]} {args[1][:40]!r}"
        assert "Traceback" not in run.stderr, (label, run)
        assert run.seconds < 30, (label, run)
        if expected is None:  # a usage error that says what is wrong
            assert run.returncode == 2 and "Invalid value" in run.stderr, (label, run)
        else:
            assert run.returncode == 0, (label, run)
            assert len(run.json()) == expected, (label, [a["title"] for a in run.json()])
        # the tables are all there, with their rows
        assert count(url, Article, Article.is_seed.is_(False)) == 2, label
        assert count(url, Source) == 1, label


def test_sql_looking_and_huge_query_filters_are_data(
    workdir: Path, queried: dict[str, str]
) -> None:
    cases = HOSTILE_FILTERS
    if queried["MONITOR_DATABASE_URL"].startswith("postgresql"):
        cases = [c for c in cases if c[1] is not None]  # the SQL that differs per database
    check_filters(workdir, queried, cases)


def test_like_wildcards_in_the_language_filter_are_data(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer
) -> None:
    queried = load_two_articles(workdir, sqlite_url, hostile_server)
    check_filters(
        workdir,
        queried,
        [(("--language", "en"), 2), (("--language", "%"), 0), (("--language", "_n"), 0)],
    )


def test_a_feed_link_with_terminal_sequences_never_reaches_the_terminal(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer
) -> None:
    attacks = "".join(TERMINAL_ATTACKS)
    feed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "links",
            "items": [
                {
                    "id": "l-1",
                    "url": f"https://hostile.example/{attacks}/story",
                    "title": "Kenyan police in Haiti: a hostile link",
                }
            ],
        }
    ).encode()
    hostile_server.route("/links.json", respond(feed, content_type="application/feed+json"))
    write_config(workdir, f'- {{name: links, url: "{hostile_server.url("/links.json")}"}}')
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    init(workdir, env)
    assert run_cli("poll", cwd=workdir, env=env).returncode == 0
    assert count(sqlite_url, Article, Article.is_seed.is_(False)) == 1
    assert_terminal_safe(
        run_in_terminal("query", "--format", "table", cwd=workdir, env=env), "table"
    )
    md = run_cli("query", "--format", "md", cwd=workdir, env=env)
    assert md.returncode == 0 and "hostile link" in md.stdout, md
    assert_terminal_safe(md.stdout, "query --format md")


SECRET_PASSWORD = "s3cr3t-pass"


def credential_sources(server: HostileServer) -> str:
    """Sources whose configured URLs carry user:password, failing in ways that quote URLs."""
    import base64

    token = base64.b64encode(f"user:{SECRET_PASSWORD}".encode()).decode()

    def basic_auth(request: Request, conn: Conn) -> None:
        if request.headers.get("authorization") == f"Basic {token}":
            conn.send(200, rss(good_entries()["good-a"]), FEED_CT)
        else:
            conn.send(401, b"who are you?", [("WWW-Authenticate", 'Basic realm="feeds"')])

    server.route("/auth.xml", basic_auth)
    server.route("/loop-a.xml", redirect("/loop-b.xml"))
    server.route("/loop-b.xml", redirect("/loop-a.xml"))
    server.route("/hop", hops(server))
    server.route("/auth-slow.xml", delayed(30, basic_auth))
    base = f"http://user:{SECRET_PASSWORD}@127.0.0.1:{server.port}"
    return "\n".join(
        f'- {{name: {name}, url: "{url}"}}'
        for name, url in (
            ("cred-ok", f"{base}/auth.xml"),
            ("cred-404", f"{base}/missing.xml"),
            ("cred-loop", f"{base}/loop-a.xml"),
            ("cred-hops", f"{base}/hop"),
            ("cred-slow", f"{base}/auth-slow.xml"),
            ("cred-dns", f"http://user:{SECRET_PASSWORD}@nowhere.invalid/feed.xml"),
        )
    )


@pytest.fixture
def credentials_db(workdir: Path, sqlite_url: str, hostile_server: HostileServer) -> dict[str, str]:
    write_config(workdir, credential_sources(hostile_server))
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    init(workdir, env)
    return env


def test_a_source_url_with_credentials_is_fetched_with_basic_auth(
    workdir: Path, credentials_db: dict[str, str], hostile_server: HostileServer
) -> None:
    run = run_cli(
        "poll", "--format", "json", "--source", "cred-ok", cwd=workdir, env=credentials_db
    )
    assert run.returncode == 0, run
    assert hostile_server.hits("/auth.xml") == 1
    assert run.json()[0]["articles_new"] == 2


def test_credentials_in_source_urls_never_reach_the_logs_or_the_digest(
    workdir: Path, credentials_db: dict[str, str], sqlite_url: str
) -> None:
    runs = [
        run_cli("-vv", "poll", cwd=workdir, env=credentials_db),
        run_cli("--log-format", "json", "-vv", "poll", cwd=workdir, env=credentials_db),
    ]
    # the failing source's error was recorded (and the secret is nowhere, checked below)
    assert "404" in (
        scalar(sqlite_url, select(Source.last_error).where(Source.name == "cred-404")) or ""
    )
    for run in runs:
        assert run.returncode == 1, run
        assert "poll cred-404" in run.stderr, run
        assert SECRET_PASSWORD not in run.stderr, run
    for line in runs[1].stderr.splitlines():
        json.loads(line)  # JSON logs stay JSON
    digest = run_cli(
        "-v",
        "digest",
        "--date",
        datetime.now(UTC).date().isoformat(),
        cwd=workdir,
        env=credentials_db,
    )
    assert digest.returncode == 0, digest
    assert SECRET_PASSWORD not in digest.stdout + digest.stderr
    for path in (workdir / "digests").iterdir():
        assert SECRET_PASSWORD not in path.read_text(errors="replace"), path.name


def test_credentials_in_source_urls_never_reach_command_output(
    workdir: Path, credentials_db: dict[str, str]
) -> None:
    wide = {**credentials_db, "COLUMNS": "400"}
    outputs = {
        "poll json": run_cli("poll", "--format", "json", cwd=workdir, env=wide),
        "poll table": run_cli("poll", "--format", "table", cwd=workdir, env=wide),
        "sources json": run_cli("sources", "--format", "json", cwd=workdir, env=wide),
        "sources table": run_cli("sources", "--format", "table", cwd=workdir, env=wide),
        "check": run_cli("check", cwd=workdir, env=wide),
    }
    assert "cred-404" in outputs["sources json"].stdout
    leaks = [name for name, run in outputs.items() if SECRET_PASSWORD in run.stdout + run.stderr]
    assert not leaks, {name: outputs[name].stdout[:2000] for name in leaks}


class Listener:
    """A TCP listener on ``host`` that only counts the connections it gets."""

    def __init__(self, family: socket.AddressFamily, host: str) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()


PAGE_SECRET = "PAGE-SECRET-b81d"


def test_article_links_to_private_addresses_are_never_fetched(
    tmp_path: Path, workdir: Path, hostile_server: HostileServer
) -> None:
    port = hostile_server.port
    ipv6 = Listener(socket.AF_INET6, "::1")
    try:
        links = {
            "ip": f"http://127.0.0.1:{port}/article-ip",
            "localhost": f"http://localhost:{port}/article-localhost",
            "name-of-loopback": f"http://vm:{port}/article-vm",
            "ipv6": f"http://[::1]:{ipv6.port}/article-v6",
            "ipv4-mapped": f"http://[::ffff:127.0.0.1]:{port}/article-mapped",
            "zero": f"http://0.0.0.0:{port}/article-zero",
            "short-form": f"http://127.1:{port}/article-short",
            "decimal": f"http://2130706433:{port}/article-decimal",
        }
        page = respond(
            html_page("Kenyan police", f"{PAGE_SECRET} Kenyan officers in Haiti. " * 30),
            content_type="text/html",
        )
        for link in links.values():
            hostile_server.route("/" + link.rsplit("/", 1)[1], page)
        entries = [
            story(f"pa-{name}", f"Kenyan patrol in Haiti, page {name}", link)
            for name, link in links.items()
        ]
        hostile_server.route("/teasers.xml", respond(rss(entries)))
        write_config(
            workdir,
            f"- {{name: teasers, fetch_article: true, "
            f'url: "{hostile_server.url("/teasers.xml")}"}}',
        )
        env = {"MONITOR_DATABASE_URL": f"sqlite:///{workdir / 'storage' / 'monitor.db'}"}
        init(workdir, env)
        run = run_cli("poll", "--format", "json", cwd=workdir, env=env)
        assert run.returncode == 0, run
        assert run.json()[0]["articles_new"] == len(links)  # stored from the feed's own text
        fetched = sorted(
            {r.path for r in hostile_server.requests() if r.path.startswith("/article")}
        )
        assert not fetched, fetched
        assert ipv6.connections == 0
        assert PAGE_SECRET not in all_stored_text(env["MONITOR_DATABASE_URL"])

        # the control: allowed, the same links are read (so the check above could fail)
        other = tmp_path / "allowed"
        other.mkdir()
        (other / "storage").symlink_to(workdir / "storage")
        (other / "sources.yaml").write_text((workdir / "sources.yaml").read_text())
        allowed = {
            "MONITOR_DATABASE_URL": f"sqlite:///{other / 'm.db'}",
            "MONITOR_ALLOW_PRIVATE_ADDRESSES": "1",
        }
        init(other, allowed)
        assert run_cli("poll", cwd=other, env=allowed).returncode == 0
        assert (
            hostile_server.hits("/article-ip") == 1
            and hostile_server.hits("/article-localhost") == 1
        )
        assert ipv6.connections >= 1
    finally:
        ipv6.close()


def test_article_redirects_to_private_addresses_are_refused(
    monkeypatch: pytest.MonkeyPatch, hostile_server: HostileServer
) -> None:
    """An article link on a public host that redirects inward (in-process: this machine has no
    public address to serve the first hop from, so a resolver and a transport stand in)."""
    import asyncio

    import httpx

    from monitor import fetch as fetch_module
    from monitor.errors import BlockedURLError
    from monitor.fetch import Fetcher, FetchPolicy

    original = fetch_module._resolve

    async def resolve(host: str, port: int, timeout: float) -> list[str]:
        if host == "public.example":
            return ["93.184.216.34"]
        return await original(host, port, timeout)

    monkeypatch.setattr(fetch_module, "_resolve", resolve)
    port = hostile_server.port
    targets = {
        "/to-ip": f"http://127.0.0.1:{port}/secret",
        "/to-localhost": f"http://localhost:{port}/secret",
        "/to-name": f"http://vm:{port}/secret",
        "/to-ipv6": f"http://[::1]:{port}/secret",
        "/to-private": "http://10.1.2.3/secret",
        "/to-metadata": "http://169.254.169.254/latest/meta-data/",
        "/twice": "http://public.example/to-localhost",
    }
    asked: list[tuple[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append((request.headers["host"], request.url.path))
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        return httpx.Response(302, headers={"Location": targets[request.url.path]})

    async def main() -> list[str]:
        errors = []
        policy = FetchPolicy(retries=0, min_delay=0, connect_timeout=2, total_timeout=5)
        async with Fetcher(policy, transport=httpx.MockTransport(answer)) as fetcher:
            for path in targets:
                with pytest.raises(BlockedURLError) as caught:
                    await fetcher.fetch(f"http://public.example{path}", trusted=False)
                errors.append(str(caught.value))
        return errors

    errors = asyncio.run(main())
    assert all(host == "public.example" for host, _ in asked), asked
    assert hostile_server.hits("/secret") == 0
    assert all(e.startswith("refused") for e in errors), errors
