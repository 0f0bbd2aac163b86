"""The daily digest on real databases (a SQLite file and a fresh PostgreSQL database).

Content (copies, multi-topic articles, empty days), escaping of hostile feed text in HTML and
Markdown, byte-identical regeneration, local-day bounds across midnight and DST, atomic writes,
the Atom feed, the CLI, and the digests table that lets one service instance write a day.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from markdown_it import MarkdownIt
from sqlalchemy import Engine, insert, select

from monitor.config import Config, DigestSettings, Settings, TopicConfig
from monitor.dedup import canonical_url, fingerprint, url_key
from monitor.digest import (
    claim_digest,
    day_bounds,
    find_terms,
    make_snippet,
    md_escape,
    missed_digest_days,
    record_digest,
    safe_href,
    view_json,
    write_digest,
)
from monitor.errors import MonitorError
from monitor.items import TermHit, TopicMatch
from monitor.query import QueryFilter, find_articles
from monitor.store.articles import NewArticle, add_sighting, insert_article
from monitor.store.db import make_engine, upgrade
from monitor.store.schema import Digest, Poll, Source
from tests.conftest import run_monitor

ZONE = "America/Port-au-Prince"
DAY = date(2026, 11, 20)  # UTC-05:00: the local day is 05:00Z on the 20th to 05:00Z on the 21st
ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE_TITLES = (
    "<script>alert(1)</script> Haiti",
    '"><img src=x onerror=alert(2)> Haiti',
    "[click me](javascript:alert(3)) Haiti",
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- fixture database ------------------------------------------------------------------------


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def make_config(out: Path, *, atom_items: int = 100, timezone: str = ZONE) -> Config:
    settings = Settings(digest=DigestSettings(timezone=timezone, dir=out, atom_items=atom_items))
    topics = {
        name: TopicConfig(terms=terms)
        for name, terms in {
            "haiti": ["Haiti", "Haitian(s)", "Port-au-Prince"],
            "kenya": ["Kenya", "Kenyan(s)", "Nairobi"],
            "mss": ["Multinational Security Support"],
            "gsf": ["Gang Suppression Force"],
        }.items()
    }
    return Config(path=Path("sources.yaml"), settings=settings, topics=topics, sources=())


def add_source(engine: Engine, name: str) -> int:
    now = utc(2026, 1, 1)
    with engine.begin() as connection:
        return connection.execute(
            insert(Source)
            .values(
                name=name,
                url=f"https://{name.lower().replace(' ', '-')}.example/feed",
                type="feed",
                config="{}",
                enabled=True,
                created_at=now,
                updated_at=now,
                consecutive_failures=0,
                interval_seconds=900.0,
            )
            .returning(Source.id)
        ).scalar_one()


def add_article(
    engine: Engine,
    *,
    title: str,
    url: str,
    discovered_at: datetime,
    topics: Mapping[str, tuple[float, Sequence[str]]],
    source_id: int | None = None,
    summary: str | None = None,
    is_seed: bool = False,
) -> int:
    """Store an article through the real insert path (topics, bands, original sighting)."""
    text = f"{title}. " + (summary or "") + f" Unique body {url}."
    try:
        key, canonical = url_key(url), canonical_url(url)
    except ValueError:  # hostile URLs: the store never sees them from a feed, but be ready
        key, canonical = hashlib.sha1(url.encode()).hexdigest()[:32], url
    matches = tuple(
        TopicMatch(topic, score, tuple(TermHit(term, "title", 1) for term in terms))
        for topic, (score, terms) in topics.items()
    )
    with engine.begin() as connection:
        article_id, created = insert_article(
            connection,
            NewArticle(
                url=url,
                url_key=key,
                canonical_url=canonical,
                guid=None,
                source_id=source_id,
                title=title,
                summary=summary if summary is not None else f"{title}: the details.",
                text=text,
                author=None,
                language="en",
                published_at=discovered_at - timedelta(minutes=30),
                discovered_at=discovered_at,
                fingerprint=fingerprint(title, text),
                topics=matches,
                is_seed=is_seed,
                origin="Reference desk" if is_seed else None,
            ),
        )
    assert created
    return article_id


def add_copy(
    engine: Engine,
    article_id: int,
    *,
    url: str,
    seen_at: datetime,
    source_id: int | None,
    reason: str,
    similarity: float | None = None,
) -> None:
    try:
        key = url_key(url)
    except ValueError:
        key = hashlib.sha1(url.encode()).hexdigest()[:32]
    with engine.begin() as connection:
        add_sighting(
            connection,
            article_id=article_id,
            source_id=source_id,
            url=url,
            url_key=key,
            seen_at=seen_at,
            published_at=None,
            reason=reason,
            similarity=similarity,
        )


def add_poll(
    engine: Engine, source_id: int, started_at: datetime, status: str, items_seen: int
) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(Poll).values(
                source_id=source_id,
                started_at=started_at,
                finished_at=started_at + timedelta(seconds=2),
                status=status,
                items_seen=items_seen,
                error="HTTP 503" if status == "error" else None,
            )
        )


@pytest.fixture
def busy_day(engine: Engine) -> dict[str, int]:
    """One local day (2026-11-20, Port-au-Prince) with copies, multi-topic articles, a reference
    article, polls that failed, and activity just outside the day."""
    nouvelliste = add_source(engine, "Le Nouvelliste")
    nation = add_source(engine, "Daily Nation")
    aggregator = add_source(engine, "Aggregator")
    broken = add_source(engine, "Broken Feed")
    ids = {
        "both": add_article(
            engine,
            title="Kenyan police arrive in Haiti",
            url="https://lenouvelliste.example/kenyan-police-haiti",
            discovered_at=utc(2026, 11, 20, 13, 0),
            topics={"haiti": (0.9, ["Haiti"]), "kenya": (0.6, ["Kenyan(s)"])},
            source_id=nouvelliste,
            summary="The first Kenyan officers landed in Port-au-Prince on Friday, Haiti said.",
        ),
        "haiti_low": add_article(
            engine,
            title="Haiti fuel prices rise",
            url="https://lenouvelliste.example/fuel",
            discovered_at=utc(2026, 11, 20, 19, 0),  # newer than "both", but less relevant
            topics={"haiti": (0.4, ["Haiti"])},
            source_id=nouvelliste,
        ),
        "kenya_first": add_article(
            engine,
            title="Nairobi debates the mission abroad",
            url="https://nation.example/nairobi-debate",
            discovered_at=utc(2026, 11, 20, 20, 0),
            topics={"kenya": (0.95, ["Nairobi"]), "haiti": (0.3, ["Haiti"])},
            source_id=nation,
        ),
        "mss": add_article(
            engine,
            title="Multinational Security Support budget gap",
            url="https://nation.example/mss-budget",
            discovered_at=utc(2026, 11, 20, 5, 30),
            topics={"mss": (0.5, ["Multinational Security Support"])},
            source_id=nation,
        ),
        "seed": add_article(
            engine,
            title="Reference article about Haiti",
            url="https://reference.example/rubio",
            discovered_at=utc(2026, 11, 20, 12, 0),
            topics={"haiti": (0.99, ["Haiti"])},
            is_seed=True,
        ),
        "next_day": add_article(
            engine,
            title="Haiti tomorrow",
            url="https://lenouvelliste.example/tomorrow",
            discovered_at=utc(2026, 11, 21, 6, 0),
            topics={"haiti": (0.8, ["Haiti"])},
            source_id=nouvelliste,
        ),
    }
    both = ids["both"]
    add_copy(engine, both, url="https://agg.example/copy-1", seen_at=utc(2026, 11, 20, 15, 0),
             source_id=aggregator, reason="content")  # fmt: skip
    add_copy(engine, both, url="https://nation.example/kenyan-police", seen_at=utc(2026, 11, 20, 16, 0),
             source_id=nation, reason="near", similarity=0.87)  # fmt: skip
    add_copy(engine, both, url="https://late.example/after-the-day", seen_at=utc(2026, 11, 21, 12, 0),
             source_id=aggregator, reason="near", similarity=0.6)  # fmt: skip
    add_copy(engine, ids["seed"], url="https://agg.example/rubio-copy", seen_at=utc(2026, 11, 20, 18, 0),
             source_id=aggregator, reason="near", similarity=0.91)  # fmt: skip
    add_poll(engine, nouvelliste, utc(2026, 11, 20, 10, 0), "ok", 10)
    add_poll(engine, nation, utc(2026, 11, 20, 11, 0), "ok", 20)
    add_poll(engine, broken, utc(2026, 11, 20, 12, 0), "error", 0)
    add_poll(engine, broken, utc(2026, 11, 20, 14, 0), "error", 0)
    add_poll(engine, aggregator, utc(2026, 11, 20, 9, 0), "error", 0)
    add_poll(engine, aggregator, utc(2026, 11, 20, 20, 0), "ok", 7)  # recovered: not failing
    add_poll(engine, nation, utc(2026, 11, 20, 4, 0), "ok", 999)  # 23:00 on the 19th locally
    return ids


def read(files: object) -> dict[str, str]:
    return {suffix: Path(getattr(files, suffix)).read_text(encoding="utf-8")
            for suffix in ("markdown", "html", "json", "atom")}  # fmt: skip


def md_to_html(markdown: str) -> str:
    """How a CommonMark viewer (with raw HTML allowed, the dangerous setting) shows the file."""
    return str(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))


# --- content ---------------------------------------------------------------------------------


def test_a_day_with_copies_and_multi_topic_articles(
    engine: Engine, busy_day: dict[str, int], tmp_path: Path
) -> None:
    config = make_config(tmp_path / "digests")
    files = write_digest(engine, config, DAY, None, now=utc(2026, 11, 21, 12, 0))
    assert files.markdown == tmp_path / "digests" / "2026-11-20.md"
    assert files.atom == tmp_path / "digests" / "coverage.atom"
    assert files.articles == 4
    data = json.loads(files.json.read_text())

    assert data["format"] == "monitor-digest/1"
    assert data["date"] == "2026-11-20" and data["timezone"] == ZONE
    assert data["period"] == {"start": "2026-11-20T05:00:00Z", "end": "2026-11-21T05:00:00Z"}
    assert data["counts"] == {
        "sources_polled": 4,
        "polls": 6,
        "items_seen": 37,
        "new_articles": 4,
        "copies": 3,  # two of the article, one of the reference article; not the next day's
        "sources_failing": 1,
    }
    assert data["failing_sources"] == ["Broken Feed"]

    topics = {t["topic"]: t["articles"] for t in data["topics"]}
    assert [t["topic"] for t in data["topics"]] == ["haiti", "kenya", "mss"]  # configured order
    listed = [a["id"] for t in data["topics"] for a in t["articles"]]
    assert sorted(listed) == sorted(
        busy_day[k] for k in ("both", "haiti_low", "kenya_first", "mss")
    )  # once each; no reference article, nothing from the next day
    assert [a["id"] for a in topics["haiti"]] == [busy_day["both"], busy_day["haiti_low"]]
    both = topics["haiti"][0]
    assert both["primary_topic"] == "haiti" and both["other_topics"] == ["kenya"]
    assert topics["kenya"][0]["other_topics"] == ["haiti"]
    assert both["local_time"] == "08:00"  # 13:00Z in Port-au-Prince
    assert both["source"] == "Le Nouvelliste" and both["first_seen_by"] == "Le Nouvelliste"
    assert [s["url"] for s in both["also_seen_at"]] == [
        "https://agg.example/copy-1",
        "https://nation.example/kenyan-police",
    ]  # the copy seen after the day is left out, so the file never changes later
    assert both["also_seen_at"][1]["similarity"] == 0.87
    assert {"title", "url", "summary", "matched_terms", "score", "sightings"} <= set(both)
    snippet = both["snippet"]
    # only the article's matched terms are highlighted (Port-au-Prince did not match it)
    assert [snippet[s:e] for s, e in both["highlights"]] == ["Kenyan", "Haiti"]

    md = files.markdown.read_text()
    assert "# Coverage digest: Friday 20 November 2026" in md
    assert (
        "Articles discovered on 2026-11-20, 00:00 to 24:00 America/Port-au-Prince (UTC-05:00)."
        in md
    )
    assert "| 4 | 37 | 4 | 3 | 1 |" in md
    assert md.count("Kenyan police arrive in Haiti") == 1
    assert (
        "### [Kenyan police arrive in Haiti](<https://lenouvelliste.example/kenyan-police-haiti>)"
        in md
    )
    assert "Le Nouvelliste · 08:00 · en · also about: kenya" in md
    assert "**Kenyan** officers landed in Port-au-Prince on Friday, **Haiti** said." in md
    assert "- [Aggregator](<https://agg.example/copy-1>): same text, 10:00" in md
    assert "near copy, similarity 0.87" in md
    assert "late.example" not in md and "Reference article" not in md
    assert md.index("## haiti (2)") < md.index("## kenya (1)") < md.index("## mss (1)")

    page = lxml.html.fromstring(files.html.read_bytes())
    articles = page.xpath("//article")
    assert len(articles) == 4
    titles = [a.xpath("string(.//h3)") for a in articles]
    assert titles.count("Kenyan police arrive in Haiti") == 1
    first = articles[0]
    assert first.xpath(".//h3/a/@href") == ["https://lenouvelliste.example/kenyan-police-haiti"]
    assert first.xpath(".//mark/text()") == ["Kenyan", "Haiti"]
    assert [t.strip() for t in first.xpath(".//span[@class='tag']/text()")] == ["kenya"]
    assert first.xpath(".//div[@class='seen']//a/@href") == [
        "https://agg.example/copy-1",
        "https://nation.example/kenyan-police",
    ]
    assert "similarity 0.87" in first.xpath("string(.//div[@class='seen'])")
    assert page.xpath("string(//p[@class='failing'])").endswith("Broken Feed")


def test_digest_articles_carry_exactly_the_query_json(
    engine: Engine, busy_day: dict[str, int]
) -> None:
    views = find_articles(engine, QueryFilter(limit=None, include_seed=True))
    assert len(views) == 6
    assert [view_json(v) for v in views] == [v.to_json() for v in views]


def test_an_empty_day_says_so(engine: Engine, busy_day: dict[str, int], tmp_path: Path) -> None:
    files = write_digest(engine, make_config(tmp_path), date(2026, 11, 17), tmp_path / "out")
    assert files.articles == 0
    sentence = "No new articles about haiti, kenya, mss, gsf were discovered on this day."
    assert sentence in files.markdown.read_text()
    assert sentence in files.html.read_text()
    data = json.loads(files.json.read_text())
    assert data["topics"] == [] and data["counts"]["new_articles"] == 0
    assert data["counts"]["sources_polled"] == 0
    assert lxml.html.fromstring(files.html.read_bytes()).xpath("//article") == []


def test_hostile_feed_text_is_escaped_in_html_and_markdown(engine: Engine, tmp_path: Path) -> None:
    source = add_source(engine, 'Evil <b>"Source"</b>')
    for n, title in enumerate(HOSTILE_TITLES):
        add_article(engine, title=title, url=f"https://evil.example/{n}", source_id=source,
                    discovered_at=utc(2026, 11, 20, 12, n), topics={"haiti": (0.5 + n / 10, ["Haiti"])},
                    summary=f"<script>steal()</script> [x](javascript:alert({n})) Haiti")  # fmt: skip
    scripted = add_article(
        engine,
        title="Linked to a script",
        url="javascript:alert(4)",
        discovered_at=utc(2026, 11, 20, 13, 0),
        topics={"haiti": (0.4, ["Haiti"])},
    )
    add_copy(engine, scripted, url="data:text/html,<script>alert(5)</script>",
             seen_at=utc(2026, 11, 20, 14, 0), source_id=None, reason="near", similarity=0.9)  # fmt: skip
    add_copy(engine, scripted, url=" vbscript:msgbox(6)", seen_at=utc(2026, 11, 20, 14, 1),
             source_id=source, reason="content")  # fmt: skip
    files = write_digest(engine, make_config(tmp_path), DAY, tmp_path)
    html, md = files.html.read_text(), files.markdown.read_text()

    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;&#34;Source&#34;&lt;/b&gt;" in html  # quotes escaped too
    page = lxml.html.fromstring(html.encode())
    assert page.xpath("//script") == [] and page.xpath("//img") == []
    assert page.xpath("//*[@onerror]") == []
    hrefs = page.xpath("//a/@href")
    external = [h for h in hrefs if not h.startswith("#")]
    assert external and all(h.startswith("https://evil.example/") for h in external)
    titles = page.xpath("//article//h3")
    assert {t.text_content() for t in titles} >= {*HOSTILE_TITLES, "Linked to a script"}
    assert page.xpath("//h3[.='Linked to a script']/a") == []  # shown, never linked

    assert re.search(r"(?<!\\)<(?!https://)", md) is None  # every < escaped, but in link targets
    assert "\\<script\\>alert(1)\\</script\\> Haiti" in md
    assert "\\[click me\\](javascript:alert(3)) Haiti" in md
    viewed = lxml.html.fromstring(f"<div>{md_to_html(md)}</div>")
    assert viewed.xpath("//script") == [] and viewed.xpath("//img") == []
    md_hrefs = viewed.xpath("//a/@href")
    assert md_hrefs and all(h.startswith("https://evil.example/") for h in md_hrefs)
    assert "<script>alert(1)</script> Haiti" in viewed.text_content()  # the text stays readable


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example/x?q=1", "https://a.example/x?q=1"),
        ("HTTP://A.example/", "HTTP://A.example/"),
        ("javascript:alert(1)", None),
        (" JavaScript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("data:text/html,hi", None),
        ("vbscript:msgbox(1)", None),
        ("//a.example/x", None),
        ("https:/no-host", None),
        ("https://a.example/\nx", None),
        ("", None),
    ],
)
def test_only_http_urls_become_links(url: str, expected: str | None) -> None:
    assert safe_href(url) == expected


def test_markdown_escape_neutralises_syntax() -> None:
    assert md_escape("[a](javascript:x) <b> *c* `d` | e # f &amp;") == (
        "\\[a\\](javascript:x) \\<b\\> \\*c\\* \\`d\\` \\| e \\# f \\&amp;"
    )
    assert md_escape("two\nlines\x1b[31m") == "two lines"
    assert [md_escape(t) for t in ("- item", "1. item", "=== rule", "Haiti - x")] == [
        "\\- item",
        "1\\. item",
        "\\=== rule",
        "Haiti - x",
    ]


def test_snippets_are_short_and_show_the_matched_term() -> None:
    text = ("Lorem ipsum dolor sit amet. " * 20) + "Then Haïti and the Kenyan police. " + "x " * 200
    snippet, spans = make_snippet(text, ["Haiti", "Kenyan(s)"])
    assert 250 <= len(snippet) <= 302 and snippet.startswith("…") and snippet.endswith("…")
    assert [snippet[s:e] for s, e in spans] == ["Haïti", "Kenyan"]
    near_the_end, spans = make_snippet(text[:-380], ["Haiti"])  # uses the whole budget
    assert 280 <= len(near_the_end) <= 302 and near_the_end.endswith("x x")
    assert [near_the_end[s:e] for s, e in spans] == ["Haïti"]
    assert make_snippet("Short text about Haiti.", ["Haiti"]) == (
        "Short text about Haiti.",
        [(17, 22)],
    )
    assert find_terms("Haitians and haiti, not Haitianness", ["Haitian(s)", "Haiti"]) == [
        (0, 8),
        (13, 18),
    ]


def test_regenerating_a_day_gives_identical_files(
    engine: Engine, busy_day: dict[str, int], tmp_path: Path
) -> None:
    config = make_config(tmp_path / "d")
    first = read(write_digest(engine, config, DAY, None, now=utc(2026, 11, 21, 12, 0)))
    second = read(write_digest(engine, config, DAY, None, now=utc(2026, 12, 30, 1, 2, 3)))
    assert first == second
    assert "2026-12-30" not in first["html"] + first["markdown"] + first["json"]
    with engine.connect() as connection:
        row = connection.execute(select(Digest).where(Digest.day == "2026-11-20")).one()
    assert row.status == "done" and row.articles == 4
    assert row.finished_at == utc(2026, 12, 30, 1, 2, 3)  # the upsert updated the one row


# --- time zones ------------------------------------------------------------------------------


def test_articles_around_local_midnight_land_in_the_right_day(
    engine: Engine, tmp_path: Path
) -> None:
    config = make_config(tmp_path)
    for title, moment in [
        ("Haiti before midnight", utc(2026, 11, 20, 4, 59)),  # 23:59 on the 19th (UTC-5)
        ("Haiti after midnight", utc(2026, 11, 20, 5, 1)),  # 00:01 on the 20th
        (
            "Haiti late on the DST day",
            utc(2026, 3, 9, 3, 30),
        ),  # 23:30 on 8 March (UTC-4 from 02:00)
        ("Haiti early after the DST day", utc(2026, 3, 9, 4, 30)),  # 00:30 on 9 March
    ]:
        add_article(engine, title=title, url=f"https://a.example/{moment:%m%d%H%M}",
                    discovered_at=moment, topics={"haiti": (0.5, ["Haiti"])})  # fmt: skip

    def titles(day: date) -> list[str]:
        data = json.loads(write_digest(engine, config, day, tmp_path).json.read_text())
        return [a["title"] for t in data["topics"] for a in t["articles"]]

    assert titles(date(2026, 11, 19)) == ["Haiti before midnight"]
    assert titles(date(2026, 11, 20)) == ["Haiti after midnight"]
    assert titles(date(2026, 3, 8)) == ["Haiti late on the DST day"]
    assert titles(date(2026, 3, 9)) == ["Haiti early after the DST day"]
    assert day_bounds(date(2026, 3, 8), ZONE) == (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))
    assert day_bounds(date(2026, 11, 1), ZONE) == (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))
    short = json.loads((tmp_path / "2026-03-08.json").read_text())
    assert short["period"]["end"] == "2026-03-09T04:00:00Z"
    assert "a 23-hour day" in (tmp_path / "2026-03-08.md").read_text()
    local = json.loads((tmp_path / "2026-11-20.json").read_text())["topics"][0]["articles"][0]
    assert local["local_time"] == "00:01"


def test_the_default_day_is_yesterday_in_the_digest_zone(engine: Engine, tmp_path: Path) -> None:
    # 03:00Z on the 21st is still 22:00 on the 20th in Port-au-Prince: yesterday is the 19th
    files = write_digest(engine, make_config(tmp_path), None, tmp_path, now=utc(2026, 11, 21, 3))
    assert files.day == date(2026, 11, 19) and files.html.name == "2026-11-19.html"
    utc_config = make_config(tmp_path, timezone="UTC")
    assert write_digest(engine, utc_config, None, tmp_path, now=utc(2026, 11, 21, 3)).day == date(
        2026, 11, 20
    )


# --- atomic writes ---------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_a_failed_write_keeps_the_previous_file_and_says_why(
    engine: Engine, busy_day: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:  # fmt: skip
    out = tmp_path / "digests"
    files = write_digest(engine, make_config(out), DAY, None)
    before = {p: p.read_bytes() for p in files.paths}
    add_article(engine, title="Haiti: a late story", url="https://a.example/late",
                discovered_at=utc(2026, 11, 20, 22), topics={"haiti": (0.7, ["Haiti"])})  # fmt: skip

    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, disk_full)
    with pytest.raises(MonitorError) as caught:
        write_digest(engine, make_config(out), DAY, None)
    monkeypatch.undo()
    message = str(caught.value)
    assert "cannot write the digest file" in message and "No space left on device" in message
    assert str(out / "2026-11-20.json") in message and "previous file is unchanged" in message
    assert {p: p.read_bytes() for p in files.paths} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in files.paths)  # no temp
    with engine.connect() as connection:
        row = connection.execute(select(Digest).where(Digest.day == "2026-11-20")).one()
    assert row.status == "failed" and "No space left" in row.error

    again = write_digest(engine, make_config(out), DAY, None)  # works once the disk has room
    assert "Haiti: a late story" in again.markdown.read_text()


def test_an_unwritable_folder_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(MonitorError, match=r"cannot create the digest folder .*not-a-folder"):
        write_digest(engine, make_config(blocker), DAY, None)
    assert blocker.read_text() == "a file where the folder should be"


# --- Atom ------------------------------------------------------------------------------------


def test_the_atom_feed_lists_the_latest_articles(
    engine: Engine, busy_day: dict[str, int], tmp_path: Path
) -> None:
    add_article(engine, title=HOSTILE_TITLES[0], url="https://evil.example/a?x=1&y=<2>",
                discovered_at=utc(2026, 11, 21, 7), topics={"haiti": (0.5, ["Haiti"])},
                summary="Control \x01\x0b characters & <tags> about Haiti")  # fmt: skip
    files = write_digest(engine, make_config(tmp_path, atom_items=3), DAY, tmp_path)
    raw = files.atom.read_bytes()
    assert raw.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    feed = ET.fromstring(raw)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id") == "tag:monitor,2026:coverage"
    assert feed.findtext(f"{ATOM}updated") == "2026-11-21T07:00:00Z"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        HOSTILE_TITLES[0],  # newest first, the title as text
        "Haiti tomorrow",
        "Nairobi debates the mission abroad",
    ]  # three (atom_items), never the reference article
    ids = [e.findtext(f"{ATOM}id", "") for e in entries]
    assert len(set(ids)) == 3 and all(i.startswith("tag:monitor,2026:article:") for i in ids)
    links = [link.get("href") for link in entries[0].iter(f"{ATOM}link")]
    assert links == ["https://evil.example/a?x=1&y=<2>"]
    assert entries[0].findtext(f"{ATOM}summary") == "Control characters & <tags> about Haiti"
    assert [c.get("term") for c in entries[2].findall(f"{ATOM}category")] == ["kenya", "haiti"]
    assert b"<script>" not in raw
    again = write_digest(engine, make_config(tmp_path, atom_items=3), DAY, tmp_path)
    assert again.atom.read_bytes() == raw  # stable ids and content


# --- coordination ----------------------------------------------------------------------------


def test_only_one_of_several_claimers_writes_a_day(engine: Engine) -> None:
    now = utc(2026, 11, 21, 12)
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def claim(name: str) -> None:
        barrier.wait()
        results.append(claim_digest(engine, DAY, name, now))

    threads = [threading.Thread(target=claim, args=(f"instance-{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]
    assert claim_digest(engine, DAY, "late-comer", now + timedelta(minutes=5)) is False
    assert claim_digest(engine, date(2026, 11, 21), "late-comer", now) is True  # another day


def test_stale_and_failed_claims_are_taken_over_but_done_days_are_not(engine: Engine) -> None:
    now = utc(2026, 11, 21, 12)
    assert claim_digest(engine, DAY, "a", now)
    assert claim_digest(engine, DAY, "a", now + timedelta(minutes=1))  # its own claim
    assert not claim_digest(engine, DAY, "b", now + timedelta(minutes=9))
    assert claim_digest(engine, DAY, "b", now + timedelta(minutes=11))  # a died while writing
    assert not claim_digest(engine, DAY, "c", now + timedelta(minutes=12))
    record_digest(engine, DAY, "failed", "b", now, now + timedelta(minutes=12), 0, "disk full")
    assert claim_digest(engine, DAY, "c", now + timedelta(minutes=13))
    record_digest(engine, DAY, "done", "c", now, now + timedelta(minutes=14), 3)
    assert not claim_digest(engine, DAY, "d", now + timedelta(hours=5))
    with engine.connect() as connection:
        row = connection.execute(select(Digest).where(Digest.day == "2026-11-20")).one()
    assert (row.status, row.instance, row.articles) == ("done", "c", 3)


def test_a_digest_that_breaks_is_marked_failed_so_another_instance_retries(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utc(2026, 11, 21, 12)
    assert claim_digest(engine, DAY, "a", now)

    def broken(data: object) -> str:
        raise RuntimeError("template bug")

    monkeypatch.setattr("monitor.digest.render_html", broken)
    with pytest.raises(RuntimeError, match="template bug"):
        write_digest(engine, make_config(tmp_path), DAY, None, now=now, instance="a")
    with engine.connect() as connection:
        row = connection.execute(select(Digest).where(Digest.day == "2026-11-20")).one()
    assert (row.status, row.error) == ("failed", "RuntimeError: template bug")
    assert not list(tmp_path.glob("2026-11-20.*"))  # nothing half-written
    assert claim_digest(engine, DAY, "b", now + timedelta(minutes=1))  # no 10-minute wait


def test_missed_days_are_the_due_ones_without_a_done_digest(engine: Engine, tmp_path: Path) -> None:
    config = make_config(tmp_path)  # digest at 07:00 Port-au-Prince (12:00Z in November)
    record_digest(engine, date(2026, 11, 18), "done", "x", utc(2026, 11, 19, 12), None, 1)
    record_digest(engine, date(2026, 11, 17), "writing", "x", utc(2026, 11, 18, 12), None, 0)
    after = utc(2026, 11, 20, 13)  # 08:00 local: the digest of the 19th is due
    assert missed_digest_days(engine, config, after) == [date(2026, 11, 17), date(2026, 11, 19)]
    before = utc(2026, 11, 20, 11)  # 06:00 local: the 19th is not due yet
    assert missed_digest_days(engine, config.settings, before) == [date(2026, 11, 17)]
    assert missed_digest_days(engine, config, after, lookback_days=1) == [date(2026, 11, 19)]
    write_digest(engine, config, date(2026, 11, 19), tmp_path, now=after)
    assert missed_digest_days(engine, config, after) == [date(2026, 11, 17)]


# --- the command line ------------------------------------------------------------------------


def test_the_cli_writes_the_files_and_prints_their_paths(workdir: Path, database_url: str) -> None:
    env = {"MONITOR_DATABASE_URL": database_url}
    assert run_monitor("init", cwd=workdir, env=env).returncode == 0
    result = run_monitor("digest", "--date", "2026-11-20", "--out", "out", cwd=workdir, env=env)
    assert result.returncode == 0, result.stderr
    paths = result.stdout.split()
    assert paths == [
        "out/2026-11-20.md",
        "out/2026-11-20.html",
        "out/2026-11-20.json",
        "out/coverage.atom",
    ]
    assert all((workdir / p).stat().st_size > 0 for p in paths)
    assert "No new articles about haiti, kenya" in (workdir / paths[0]).read_text()

    as_json = run_monitor(
        "digest", "--date", "2026-11-19", "--format", "json", cwd=workdir, env=env
    )
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["date"] == "2026-11-19" and report["articles"] == 0
    assert report["files"]["html"] == "storage/digests/2026-11-19.html"  # settings.digest.dir
    assert (workdir / "storage" / "digests" / "2026-11-19.html").exists()

    bad = run_monitor("digest", "--date", "2026-13-45", cwd=workdir, env=env)
    assert bad.returncode == 2 and "expected a date like 2026-11-20" in bad.stderr


def test_the_cli_refuses_a_database_without_schema(workdir: Path, sqlite_url: str) -> None:
    result = run_monitor("digest", cwd=workdir, env={"MONITOR_DATABASE_URL": sqlite_url})
    assert result.returncode == 3 and "monitor init" in result.stderr
