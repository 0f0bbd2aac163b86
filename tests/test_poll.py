"""`monitor poll` end to end: the real CLI against a real local HTTP server and a real database."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from monitor import stages
from monitor.parse import parse_source
from monitor.store import search
from monitor.store.db import make_engine
from monitor.store.schema import Article, ArticleRevision, Poll, SeenItem, Sighting, Source
from tests.conftest import child_env, run_monitor
from tests.feedgen import MSS_REPORT, UNRELATED, Entry, article_page, rss, seed_republished
from tests.hostile_server import HostileServer, conditional, respond, status

TOPICS = (
    (Path(__file__).resolve().parent.parent / "sources.yaml").read_text().split("topics:", 1)[1]
)
TOPICS = "topics:" + TOPICS.split("\nsources:", 1)[0]


def write_config(workdir: Path, server: HostileServer, sources: str, settings: str = "") -> None:
    """sources.yaml with the shipped topics; ``settings`` adds lines under ``settings:`` (or
    replaces the default line of the same setting)."""
    custom = textwrap.dedent(settings).strip().splitlines()
    given = {line.split(":", 1)[0].strip() for line in custom}
    defaults = [
        "min_host_delay: 0s",
        "retries: 0",
        "timeouts: {connect: 2s, read: 3s, total: 5s}",
    ]
    settings_lines = [d for d in defaults if d.split(":", 1)[0] not in given] + custom
    (workdir / "sources.yaml").write_text(
        "settings:\n"
        + textwrap.indent("\n".join(settings_lines), "  ")
        + "\n"
        + TOPICS
        + "\nsources:\n"
        + textwrap.indent(textwrap.dedent(sources).replace("SERVER", server.url("")), "  ")
    )


def poll(
    workdir: Path, env: dict[str, str], *args: str
) -> tuple[int, list[dict[str, object]], str]:
    result = run_monitor("poll", "--format", "json", *args, cwd=workdir, env=env)
    reports = json.loads(result.stdout) if result.stdout.strip() else []
    return result.returncode, reports, result.stderr


@pytest.fixture
def env(workdir: Path, database_url: str) -> dict[str, str]:
    return {"MONITOR_DATABASE_URL": database_url}


def init(workdir: Path, env: dict[str, str]) -> None:
    result = run_monitor("init", cwd=workdir, env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "2-workers"])
def test_poll_stores_matching_items_once_and_recognises_copies(
    workdir: Path, env: dict[str, str], hostile_server: HostileServer, workers: int
) -> None:
    """Whether documents are parsed in threads or in worker processes, the result is one."""
    feed_a = rss([MSS_REPORT, UNRELATED, seed_republished()])
    tracked = replace(
        MSS_REPORT,
        guid="b-7",
        link=MSS_REPORT.link + "?utm_source=rss&utm_medium=feed&fbclid=abc",
    )
    feed_b = rss([tracked])
    hostile_server.route("/a.xml", conditional(feed_a, etag='"v1"'))
    hostile_server.route("/b.xml", respond(feed_b))
    write_config(
        workdir,
        hostile_server,
        """
        - {name: outlet-a, url: "SERVER/a.xml"}
        - {name: outlet-b, url: "SERVER/b.xml"}
        """,
        f"parse_workers: {workers}",
    )
    init(workdir, env)

    code, reports, err = poll(workdir, env)
    assert code == 0, err
    by_name = {r["source"]: r for r in reports}
    a, b = by_name["outlet-a"], by_name["outlet-b"]
    assert a["status"] == "ok" and a["items_seen"] == 3 and a["items_new"] == 3
    assert a["matched"] == 2  # the unrelated item is not kept
    assert a["articles_new"] + b["articles_new"] == 1  # the MSS report, stored once
    assert a["copies"] + b["copies"] == 2  # the seed copy, and outlet-b's tracked URL

    engine = make_engine(env["MONITOR_DATABASE_URL"])
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Article)) == 2  # seed + report
        reasons = dict(connection.execute(select(Sighting.url, Sighting.reason)).all())
        # both outlets are polled at once: whichever stored it first holds the original; the
        # other is its copy by URL, or by content when the twin committed between the two lookups
        pair = {reasons[tracked.link], reasons[MSS_REPORT.link]}
        assert pair in ({"original", "url"}, {"original", "content"}), pair
        assert reasons["https://copycat.example/haiti/rubio-kenya"] in {"near", "content"}
        assert connection.scalar(select(func.count()).select_from(SeenItem)) == 4
        assert connection.scalar(select(func.count()).select_from(Poll)) == 2
        assert search.pending(connection) == 0  # the poll indexed its articles (and the seed)

    # the second poll: outlet-a answers 304, outlet-b sends the same items again
    code, reports, err = poll(workdir, env)
    assert code == 0, err
    by_name = {r["source"]: r for r in reports}
    assert by_name["outlet-a"]["status"] == "not_modified"
    assert by_name["outlet-a"]["http_status"] == 304
    assert by_name["outlet-b"]["status"] in {"ok", "not_modified"}
    assert by_name["outlet-b"]["items_new"] == 0
    assert hostile_server.requests("/a.xml")[-1].headers.get("if-none-match") == '"v1"'
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Article)) == 2
        assert connection.scalar(select(func.count()).select_from(Sighting)) == 4

    # the query shows the report with its copy, and which outlet had it first
    result = run_monitor("query", "--format", "json", cwd=workdir, env=env)
    articles = json.loads(result.stdout)
    assert [a["title"] for a in articles] == [MSS_REPORT.title]
    assert {"mss", "haiti", "kenya"} <= set(articles[0]["topics"])
    assert len(articles[0]["sightings"]) == 2
    assert articles[0]["first_seen_by"] in {"outlet-a", "outlet-b"}
    engine.dispose()


def test_an_updated_item_updates_the_article_and_keeps_the_change(
    workdir: Path, env: dict[str, str], hostile_server: HostileServer
) -> None:
    versions = iter(
        [
            rss([MSS_REPORT]),
            rss([replace(MSS_REPORT, title=MSS_REPORT.title + " (corrected)")]),
        ]
    )
    current = {"body": next(versions)}

    def handler(request, conn) -> None:  # type: ignore[no-untyped-def]
        conn.send(200, current["body"], [("Content-Type", "application/rss+xml")])

    hostile_server.route("/feed.xml", handler)
    write_config(workdir, hostile_server, '- {name: outlet, url: "SERVER/feed.xml"}')
    init(workdir, env)
    assert poll(workdir, env)[0] == 0
    current["body"] = next(versions)
    code, reports, _ = poll(workdir, env)
    assert code == 0
    assert reports[0]["updated"] == 1 and reports[0]["articles_new"] == 0
    engine = make_engine(env["MONITOR_DATABASE_URL"])
    with engine.connect() as connection:
        titles = (
            connection.execute(select(Article.title).where(Article.is_seed.is_(False)))
            .scalars()
            .all()
        )
        assert titles == [MSS_REPORT.title + " (corrected)"]
        revision = connection.execute(select(ArticleRevision.previous_title)).scalar_one()
        assert revision == MSS_REPORT.title
    engine.dispose()


def test_an_edit_of_the_markup_alone_changes_no_article(
    workdir: Path, env: dict[str, str], hostile_server: HostileServer
) -> None:
    """Items are compared as sent; one whose text is unchanged is checked, and left alone."""
    plain = replace(MSS_REPORT, content=f"<p>{MSS_REPORT.content}</p>")
    restyled = replace(MSS_REPORT, content=f'<div class="story">{MSS_REPORT.content}</div>')
    current = {"body": rss([plain])}

    def handler(request, conn) -> None:  # type: ignore[no-untyped-def]
        conn.send(200, current["body"], [("Content-Type", "application/rss+xml")])

    hostile_server.route("/feed.xml", handler)
    write_config(workdir, hostile_server, '- {name: outlet, url: "SERVER/feed.xml"}')
    init(workdir, env)
    engine = make_engine(env["MONITOR_DATABASE_URL"])

    def rows() -> tuple[int | None, int | None]:
        with engine.connect() as connection:
            return (
                connection.scalar(select(func.count()).select_from(ArticleRevision)),
                connection.scalar(select(func.count()).select_from(Sighting)),
            )

    try:
        assert poll(workdir, env)[0] == 0
        before = rows()
        current["body"] = rss([restyled])
        code, reports, _ = poll(workdir, env)
        assert code == 0
        assert (reports[0]["items_new"], reports[0]["matched"]) == (0, 1)  # an edit, not new
        assert (reports[0]["updated"], reports[0]["articles_new"], reports[0]["copies"]) == (
            0,
            0,
            0,
        )
        assert rows() == before and before[0] == 0
    finally:
        engine.dispose()


def test_item_hashes_stored_as_sha1_by_an_earlier_version_still_match(
    workdir: Path, env: dict[str, str], hostile_server: HostileServer
) -> None:
    """Item hashes are XXH3 now; a database whose seen items hold the sha1 of the same text
    (as an earlier version wrote them) sees those items as unchanged, and an edit as an edit."""
    current = {"body": rss([MSS_REPORT, UNRELATED])}

    def handler(request, conn) -> None:  # type: ignore[no-untyped-def]
        conn.send(200, current["body"], [("Content-Type", "application/rss+xml")])

    hostile_server.route("/feed.xml", handler)
    write_config(
        workdir, hostile_server, '- {name: outlet, url: "SERVER/feed.xml", conditional: false}'
    )
    init(workdir, env)
    engine = make_engine(env["MONITOR_DATABASE_URL"])
    drafts = parse_source(
        "feed", current["body"], base_url=hostile_server.url(""), lazy=True
    ).drafts
    old_hashes = {
        stages.item_key(d.item): hashlib.sha1(
            "\n".join((d.item.title, *d.raw)).encode("utf-8")
        ).hexdigest()
        for d in drafts
    }

    def hashes() -> dict[str, str]:
        with engine.connect() as connection:
            return dict(connection.execute(select(SeenItem.item_key, SeenItem.item_hash)).all())

    def downgrade() -> None:
        """Write the hashes an earlier version would have, and forget the body hash and item
        digests that would let the poll skip the items before comparing them."""
        with engine.begin() as connection:
            for key, old in old_hashes.items():
                connection.execute(
                    update(SeenItem).where(SeenItem.item_key == key).values(item_hash=old)
                )
            connection.execute(
                update(Source).values(body_hash=None, item_digests=None, item_digests_at=None)
            )

    try:
        assert poll(workdir, env)[0] == 0
        stored = hashes()
        assert stored.keys() == old_hashes.keys()
        assert all(len(h) == 32 and h != old_hashes[k] for k, h in stored.items())
        downgrade()
        code, reports, _ = poll(workdir, env)
        assert code == 0
        assert (reports[0]["items_new"], reports[0]["updated"]) == (0, 0)
        # seen as unchanged: an unchanged item's row is left alone until its refresh is due
        assert hashes() == old_hashes
        downgrade()
        current["body"] = rss(
            [replace(MSS_REPORT, title=MSS_REPORT.title + " (corrected)"), UNRELATED]
        )
        code, reports, _ = poll(workdir, env)
        assert code == 0
        assert (reports[0]["items_new"], reports[0]["updated"]) == (0, 1)
        edited = {k for k, h in hashes().items() if h != old_hashes[k]}
        assert len(edited) == 1 and len(hashes()[edited.pop()]) == 32
    finally:
        engine.dispose()


def test_unchanged_items_are_not_rewritten_until_their_refresh_is_due(
    workdir: Path, env: dict[str, str], hostile_server: HostileServer
) -> None:
    """A warm poll writes only what changed; an unchanged item's last_seen_at is refreshed
    once a day (here, with a 24 s retention, every 6 s) so that its key is not pruned."""
    body = rss([MSS_REPORT, UNRELATED])
    hostile_server.route(
        "/feed.xml",
        lambda request, conn: conn.send(200, body, [("Content-Type", "application/rss+xml")]),
    )
    write_config(
        workdir,
        hostile_server,
        '- {name: outlet, url: "SERVER/feed.xml", conditional: false}',
        "retention: {seen_items: 24s}",
    )
    init(workdir, env)
    engine = make_engine(env["MONITOR_DATABASE_URL"])

    def last_seen() -> list[object]:
        with engine.connect() as connection:
            query = select(SeenItem.last_seen_at).order_by(SeenItem.item_key)
            return list(connection.execute(query).scalars())

    try:
        assert poll(workdir, env)[0] == 0
        first = last_seen()
        assert len(first) == 2
        code, reports, _ = poll(workdir, env)
        assert code == 0 and reports[0]["items_new"] == 0
        assert last_seen() == first
        time.sleep(6.2)
        assert poll(workdir, env)[0] == 0
        assert all(later > earlier for later, earlier in zip(last_seen(), first, strict=True))
    finally:
        engine.dispose()


def test_a_changed_feed_is_read_item_by_item_as_the_whole_would_be(
    workdir: Path, env: dict[str, str], hostile_server: HostileServer
) -> None:
    """After a whole parse the poll keeps digests of the items; the next poll of a changed feed
    parses only the new items, and an edit of an old item sends it back to a whole parse."""
    bicycle = replace(UNRELATED, guid="u-2", link=UNRELATED.link + "-2", title="Bicycle lanes open")
    corrected = replace(MSS_REPORT, title=MSS_REPORT.title + " (corrected)")
    versions = iter(
        [
            rss([MSS_REPORT, UNRELATED]),
            rss([bicycle, MSS_REPORT, UNRELATED]),
            rss([bicycle, corrected, UNRELATED]),
        ]
    )
    current = {"body": next(versions)}
    hostile_server.route(
        "/feed.xml",
        lambda request, conn: conn.send(
            200, current["body"], [("Content-Type", "application/rss+xml")]
        ),
    )
    write_config(workdir, hostile_server, '- {name: outlet, url: "SERVER/feed.xml"}')
    init(workdir, env)
    engine = make_engine(env["MONITOR_DATABASE_URL"])

    def digests() -> tuple[bytes | None, object]:
        with engine.connect() as connection:
            row = connection.execute(select(Source.item_digests, Source.item_digests_at)).one()
            return row[0], row[1]

    try:
        code, [first], _ = poll(workdir, env)
        assert code == 0 and (first["items_seen"], first["items_new"]) == (2, 2)
        blob, taken = digests()
        assert blob is not None and len(blob) == 16 and taken is not None
        current["body"] = next(versions)
        code, [second], _ = poll(workdir, env)
        assert code == 0
        assert (second["items_seen"], second["items_new"], second["matched"]) == (3, 1, 0)
        blob2, taken2 = digests()
        assert blob2 is not None and len(blob2) == 24 and blob[:16] in blob2
        assert taken2 == taken  # parsed item by item: the whole-parse time stays
        current["body"] = next(versions)
        code, [third], _ = poll(workdir, env)
        assert code == 0 and (third["items_new"], third["updated"]) == (0, 1)
        blob3, taken3 = digests()
        assert blob3 is not None and len(blob3) == 24 and taken3 is not None and taken3 > taken
    finally:
        engine.dispose()


def test_failing_sources_are_recorded_and_never_stop_the_others(
    workdir: Path, env: dict[str, str], hostile_server: HostileServer
) -> None:
    hostile_server.route("/good.xml", respond(rss([MSS_REPORT])))
    hostile_server.route("/missing.xml", status(404))
    hostile_server.route("/broken.xml", respond(b"<rss><channel><item><title>oops</channel>"))
    hostile_server.route(
        "/page.html", respond(b"<html><body><p>Welcome</p></body></html>", content_type="text/html")
    )
    write_config(
        workdir,
        hostile_server,
        """
        - {name: good, url: "SERVER/good.xml"}
        - {name: missing, url: "SERVER/missing.xml"}
        - {name: broken, url: "SERVER/broken.xml"}
        - {name: page, url: "SERVER/page.html"}
        - {name: refused, url: "http://127.0.0.1:9/feed.xml"}
        """,
    )
    init(workdir, env)
    code, reports, _ = poll(workdir, env)
    assert code == 1
    by_name = {r["source"]: r for r in reports}
    assert by_name["good"]["status"] == "ok" and by_name["good"]["articles_new"] == 1
    for name in ("missing", "broken", "page", "refused"):
        assert by_name[name]["status"] == "error", by_name[name]
        assert by_name[name]["error"]
    assert "404" in by_name["missing"]["error"]
    states = json.loads(run_monitor("sources", "--format", "json", cwd=workdir, env=env).stdout)
    state = {s["name"]: s for s in states}
    assert state["missing"]["state"] == "failing"
    assert state["missing"]["consecutive_failures"] == 1
    assert "404" in state["missing"]["last_error"]
    assert state["good"]["state"] == "ok" and state["good"]["last_error"] is None


def test_article_pages_are_read_for_sources_that_ask(
    workdir: Path, env: dict[str, str], hostile_server: HostileServer
) -> None:
    # the feed item says nothing about the topics; the article page does, deep in its body
    paragraphs = [f"Paragraph {i} about the regional economy and trade routes." for i in range(8)]
    paragraphs.append("Meanwhile, Kenyan officers of the mission in Haiti reported progress.")
    hostile_server.route(
        "/story.html",
        respond(article_page("Regional economy", paragraphs), content_type="text/html"),
    )
    teaser = Entry(
        guid="t-1",
        title="Regional economy roundup",
        link=hostile_server.url("/story.html"),
        description="Trade and markets this week.",
    )
    hostile_server.route("/feed.xml", respond(rss([teaser])))
    write_config(
        workdir, hostile_server, '- {name: outlet, url: "SERVER/feed.xml", fetch_article: true}'
    )
    init(workdir, env)

    # article links pointing at a private address are refused by default (SSRF rule)
    code, reports, _ = poll(workdir, env)
    assert code == 0, reports
    assert reports[0]["matched"] == 0
    assert hostile_server.hits("/story.html") == 0

    allowed = {**env, "MONITOR_ALLOW_PRIVATE_ADDRESSES": "1"}
    other = workdir / "other"
    other.mkdir()
    (other / "sources.yaml").write_text((workdir / "sources.yaml").read_text())
    fresh = {**allowed, "MONITOR_DATABASE_URL": f"sqlite:///{other / 'm.db'}"}
    init(other, fresh)
    code, reports, _ = poll(other, fresh)
    assert code == 0, reports
    assert hostile_server.hits("/story.html") == 1
    assert reports[0]["matched"] == 1 and reports[0]["articles_new"] == 1


def test_unknown_source_name_is_a_usage_error(
    workdir: Path, env: dict[str, str], hostile_server: HostileServer
) -> None:
    write_config(workdir, hostile_server, '- {name: outlet, url: "SERVER/feed.xml"}')
    init(workdir, env)
    code, _, err = poll(workdir, env, "--source", "nope")
    assert code == 2
    assert "no source named 'nope'" in err


LONG_STORY = " ".join(
    [
        "Police officers from Kenya and Jamaica escorted a convoy of fuel trucks from the port of",
        "Varreux to the centre of Port-au-Prince on Thursday, the first such convoy in three weeks.",
        "The trucks had been stranded since armed groups blocked the coastal road in early November,",
        "leaving hospitals and water pumping stations in the capital without diesel. A spokesperson",
        "for the mission said the convoy of forty-two trucks reached the terminal in Delmas without",
        "incident after a journey of six hours. Residents of Cité Soleil watched from rooftops as",
        "armoured vehicles cleared barricades of burnt cars and rubble along Route Nationale 1.",
        "The Haitian National Police said two suspects were arrested near the Varreux terminal and",
        "that patrols would continue through the weekend. Fuel prices on the informal market had",
        "tripled during the blockade, according to traders interviewed in the Croix-des-Bossales",
        "market, and several schools had closed because teachers could not reach them. The ministry",
        "of commerce said a second convoy was planned for Monday if the road remained open, and that",
        "priority would go to hospitals, bakeries and the national water authority. Diplomats in the",
        "capital welcomed the operation but warned that without a lasting presence on the road the",
        "gangs would return within days, as they had after previous operations in September.",
    ]
)


@pytest.mark.postgres
def test_two_processes_meeting_the_same_new_article_store_it_once(
    workdir: Path, postgres_url: str, hostile_server: HostileServer
) -> None:
    """Near copies (and an identical URL) served to two `monitor poll` processes at one instant."""
    import subprocess
    import sys
    import threading

    original = Entry(
        guid="a-1",
        title="Convoy reaches Port-au-Prince under Kenyan escort",
        link="https://outlet-a.example/convoy",
        content=LONG_STORY,
    )
    edited = LONG_STORY.replace("forty-two", "42").replace("six hours", "about six hours")
    copy = Entry(
        guid="b-1",
        title="Fuel convoy escorted by Kenyan police arrives in Haitian capital",
        link="https://outlet-b.example/world/convoy",
        content="(AFP) " + edited,
    )
    shared = replace(MSS_REPORT, guid="shared")
    barrier = threading.Barrier(2, timeout=20)

    def together(body: bytes):  # type: ignore[no-untyped-def]
        def handler(request, conn) -> None:  # type: ignore[no-untyped-def]
            barrier.wait()
            conn.send(200, body, [("Content-Type", "application/rss+xml")])

        return handler

    hostile_server.route("/a.xml", together(rss([original, shared])))
    hostile_server.route("/b.xml", together(rss([copy, replace(shared, guid="shared-b")])))
    write_config(
        workdir,
        hostile_server,
        """
        - {name: outlet-a, url: "SERVER/a.xml"}
        - {name: outlet-b, url: "SERVER/b.xml"}
        """,
    )
    env = {"MONITOR_DATABASE_URL": postgres_url}
    init(workdir, env)
    environment = child_env(env)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "monitor", "poll", "--source", name, "--format", "json"],
            cwd=workdir,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("outlet-a", "outlet-b")
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    engine = make_engine(postgres_url)
    with engine.connect() as connection:
        titles = (
            connection.execute(select(Article.title).where(Article.is_seed.is_(False)))
            .scalars()
            .all()
        )
        assert len(titles) == 2, titles  # the convoy story once, the shared report once
        places = connection.execute(
            select(Article.title, func.count())
            .join(Sighting)
            .where(Article.is_seed.is_(False))
            .group_by(Article.title)
        ).all()
        assert sorted(count for _, count in places) == [2, 2], places  # each seen at both outlets
    engine.dispose()


def test_html_listing_and_news_sitemap_sources(
    workdir: Path, env: dict[str, str], hostile_server: HostileServer
) -> None:
    from datetime import UTC, datetime, timedelta

    listing = (
        b"<html><body><main>"
        b'<div class="story"><a class="go" href="/news/kenyan-police-haiti">Kenyan police in Haiti</a>'
        b'<p class="lede">Officers of the MSS mission patrol Port-au-Prince.</p></div>'
        b'<div class="story"><a class="go" href="/news/weather">Weather for the weekend</a>'
        b'<p class="lede">Sunny with light winds.</p></div>'
        b"</main></body></html>"
    )
    now = datetime.now(UTC)
    recent = (now - timedelta(hours=3)).isoformat()
    old = (now - timedelta(days=30)).isoformat()
    child = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        "<url><loc>https://daily.example.ke/haiti-mission-update</loc><news:news>"
        "<news:publication><news:name>Daily</news:name><news:language>en</news:language></news:publication>"
        f"<news:publication_date>{recent}</news:publication_date>"
        "<news:title>Kenya sends more officers to the Haiti mission</news:title></news:news></url>"
        "<url><loc>https://daily.example.ke/old-haiti-story</loc><news:news>"
        "<news:publication><news:name>Daily</news:name><news:language>en</news:language></news:publication>"
        f"<news:publication_date>{old}</news:publication_date>"
        "<news:title>An old story about Haiti</news:title></news:news></url>"
        "</urlset>"
    ).encode()
    index = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{hostile_server.url('/news-sitemap-1.xml')}</loc><lastmod>{recent}</lastmod></sitemap>"
        "</sitemapindex>"
    ).encode()
    hostile_server.route("/latest", respond(listing, content_type="text/html; charset=utf-8"))
    hostile_server.route("/sitemap.xml", respond(index, content_type="application/xml"))
    hostile_server.route("/news-sitemap-1.xml", respond(child, content_type="application/xml"))
    write_config(
        workdir,
        hostile_server,
        """
        - name: listing
          type: html
          url: "SERVER/latest"
          selectors: {item: "div.story", link: "a.go", summary: "p.lede"}
        - {name: sitemap, type: sitemap, url: "SERVER/sitemap.xml"}
        """,
    )
    # the child sitemap is on a private address: allowed for this test's local server
    allowed = {**env, "MONITOR_ALLOW_PRIVATE_ADDRESSES": "1"}
    init(workdir, allowed)
    code, reports, err = poll(workdir, allowed)
    assert code == 0, (reports, err)
    by_name = {r["source"]: r for r in reports}
    assert by_name["listing"]["items_seen"] == 2 and by_name["listing"]["articles_new"] == 1
    assert by_name["sitemap"]["items_seen"] == 1  # the 30-day-old entry is outside the window
    assert by_name["sitemap"]["articles_new"] == 1
    articles = json.loads(run_monitor("query", "--format", "json", cwd=workdir, env=allowed).stdout)
    urls = {a["url"] for a in articles}
    assert urls == {
        hostile_server.url("/news/kenyan-police-haiti"),
        "https://daily.example.ke/haiti-mission-update",
    }


@pytest.fixture
def writer_db(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A GroupWriter over a SQLite file with one table ``t (v INTEGER)``; closed afterwards."""
    from sqlalchemy import text

    from monitor.poll import GroupWriter

    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (v INTEGER)"))
    writer = GroupWriter(engine)
    yield engine, writer
    writer.close()
    engine.dispose()


def _stored(engine) -> list[int]:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with engine.connect() as connection:
        return sorted(connection.execute(text("SELECT v FROM t")).scalars())


def test_grouped_writes_commit_together_and_a_failing_one_alone(writer_db: tuple) -> None:
    """The SQLite writer commits the writes queued meanwhile in one transaction; when one of
    them fails, the others are committed one by one and only the failing poll sees its error."""
    import asyncio
    import threading

    from sqlalchemy import text

    engine, writer = writer_db
    gate = threading.Event()
    grouped: list[int] = []

    def within(value: int):  # type: ignore[no-untyped-def]
        def run(connection):  # type: ignore[no-untyped-def]
            grouped.append(value)
            if value == 3:
                raise RuntimeError("bad write")
            connection.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})

        return run

    def alone(value: int):  # type: ignore[no-untyped-def]
        def run() -> None:
            if value == 0:
                gate.wait(10)  # hold the writer until the others are queued
            with engine.begin() as connection:
                within(value)(connection)

        return run

    async def scenario() -> list[BaseException | None]:
        first = asyncio.ensure_future(writer.write(within(0), alone(0)))
        await asyncio.sleep(0.2)
        rest = [asyncio.ensure_future(writer.write(within(v), alone(v))) for v in (1, 2, 3, 4)]
        await asyncio.sleep(0.1)
        gate.set()
        results = await asyncio.gather(first, *rest, return_exceptions=True)
        return [r if isinstance(r, BaseException) else None for r in results]

    errors = asyncio.run(scenario())
    writer.close()
    assert [str(e) if e else None for e in errors] == [None, None, None, "bad write", None]
    assert grouped[:4] == [0, 1, 2, 3]  # 1-3 tried together after 0 alone; 3 failed the group
    assert _stored(engine) == [0, 1, 2, 4]


def test_a_committed_group_wakes_the_event_loop_once(writer_db: tuple) -> None:
    """The polls whose writes were committed together hear of it in one call into their event
    loop, not one each."""
    import asyncio
    import threading

    from sqlalchemy import text

    engine, writer = writer_db
    gate = threading.Event()
    wake_ups: list[int] = []

    def within(value: int):  # type: ignore[no-untyped-def]
        def run(connection):  # type: ignore[no-untyped-def]
            if value == 0:
                gate.wait(10)  # hold the writer until the others are queued
            connection.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})

        return run

    def alone(value: int):  # type: ignore[no-untyped-def]
        def run() -> None:  # a group of one runs alone
            with engine.begin() as connection:
                within(value)(connection)

        return run

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        call = loop.call_soon_threadsafe

        def counted(callback, *args):  # type: ignore[no-untyped-def]
            if threading.current_thread() is writer._thread:
                wake_ups.append(len(args[0]) if args else 0)
            return call(callback, *args)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        first = asyncio.ensure_future(writer.write(within(0), alone(0)))
        await asyncio.sleep(0.2)
        rest = [asyncio.ensure_future(writer.write(within(v), alone(v))) for v in (1, 2, 3, 4)]
        await asyncio.sleep(0.1)
        gate.set()
        await asyncio.gather(first, *rest)

    asyncio.run(scenario())
    writer.close()
    assert wake_ups == [1, 4]  # the first write alone, then the four queued behind it together
    assert _stored(engine) == [0, 1, 2, 3, 4]


def test_two_polls_at_once_do_not_poll_the_same_source(
    workdir: Path, env: dict[str, str], hostile_server: HostileServer
) -> None:
    """A second `monitor poll` started while the first still polls a slow source skips that
    source (each run leases under a name of its own) and polls the others."""
    import subprocess
    import sys
    import threading

    release = threading.Event()  # the slow source answers once the second run is done

    def slow(request, conn) -> None:  # type: ignore[no-untyped-def]
        release.wait(25)
        respond(rss([MSS_REPORT]))(request, conn)

    hostile_server.route("/slow.xml", slow)
    hostile_server.route("/quick.xml", respond(rss([UNRELATED])))
    write_config(
        workdir,
        hostile_server,
        """
        - {name: slow, url: "SERVER/slow.xml"}
        - {name: quick, url: "SERVER/quick.xml"}
        """,
        settings="timeouts: {connect: 2s, read: 30s, total: 40s}",
    )
    init(workdir, env)
    environment = child_env(env)
    first = subprocess.Popen(
        [sys.executable, "-m", "monitor", "poll", "--source", "slow", "--format", "json"],
        cwd=workdir,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not hostile_server.requests("/slow.xml") and time.monotonic() < deadline:
        time.sleep(0.05)  # the first run has claimed the slow source and is fetching it
    try:
        code, second, err = poll(workdir, env)
    finally:
        release.set()
    out, first_err = first.communicate(timeout=60)
    by_name = {r["source"]: r for r in second}
    assert by_name["slow"]["status"] == "skipped", (second, err)
    assert by_name["slow"]["error"] == "being polled by another instance"
    assert by_name["quick"]["status"] == "ok"
    assert code == 1  # a skipped source counts as not done
    assert [r["status"] for r in json.loads(out)] == ["ok"], first_err
    assert len(hostile_server.requests("/slow.xml")) == 1


def test_a_body_sent_again_without_validators_is_not_parsed_again(
    workdir: Path, env: dict[str, str], hostile_server: HostileServer
) -> None:
    """A server with no ETag or Last-Modified that sends the same bytes again: the poll sees
    the body digest unchanged and reads nothing; a changed body is read."""
    body = {"feed": rss([MSS_REPORT])}
    hostile_server.route("/plain.xml", lambda request, conn: respond(body["feed"])(request, conn))
    write_config(workdir, hostile_server, "- {name: plain, url: 'SERVER/plain.xml'}")
    init(workdir, env)
    first = poll(workdir, env)
    again = poll(workdir, env)
    body["feed"] = rss([MSS_REPORT, UNRELATED])
    changed = poll(workdir, env)
    assert [r["status"] for r in first[1]] == ["ok"], first
    assert first[1][0]["items_new"] == 1
    assert [(r["status"], r["http_status"], r["items_seen"]) for r in again[1]] == [
        ("not_modified", 200, 0)
    ]
    assert [(r["status"], r["items_new"]) for r in changed[1]] == [("ok", 1)]


FORK_WATCH = """
import json, os, sqlite3, sys
from sqlite3 import dbapi2

opened = []  # the SQLite connections this process opened, in order
connect = sqlite3.connect

def counting(*args, **kwargs):
    opened.append(1)
    return connect(*args, **kwargs)

sqlite3.connect = dbapi2.connect = counting
at_fork = []  # how many it had opened at each fork
os.register_at_fork(before=lambda: at_fork.append(len(opened)))
from monitor.cli import main
try:
    main(["poll", "--format", "json"])
except SystemExit:
    pass
print(json.dumps({"at_fork": at_fork, "opened": len(opened)}), file=sys.stderr)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_a_poll_forks_its_workers_before_it_opens_the_database(
    workdir: Path, sqlite_url: str, hostile_server: HostileServer
) -> None:
    """`monitor poll` forks its parse workers before its first connection to the database: a
    connection must be closed before a fork, and closing the last one to a SQLite file
    checkpoints the log the previous poll left. The poll still reads and writes as usual."""
    body = {"feed": rss([UNRELATED])}
    hostile_server.route("/a.xml", lambda request, conn: respond(body["feed"])(request, conn))
    write_config(workdir, hostile_server, "- {name: a, url: 'SERVER/a.xml'}", "parse_workers: 2")
    env = {"MONITOR_DATABASE_URL": sqlite_url}
    init(workdir, env)
    code, _, err = poll(workdir, env)  # leaves its log for the next poll
    assert code == 0, err
    body["feed"] = rss([MSS_REPORT, UNRELATED])
    environment = child_env(env)
    done = subprocess.run(
        [sys.executable, "-c", FORK_WATCH],
        cwd=workdir,
        env={**environment, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    watched = json.loads(done.stderr.strip().splitlines()[-1])
    assert watched["at_fork"] == [0, 0], watched  # two workers, forked before any connection
    assert watched["opened"] >= 1  # then the poll opened the database
    [report] = json.loads(done.stdout)
    assert report["status"] == "ok"  # the workers read the new item, the poll stored it
    assert (report["items_new"], report["matched"], report["articles_new"]) == (1, 1, 1)


def test_a_write_that_stores_articles_waits_for_company_and_others_do_not(
    writer_db: tuple,
) -> None:
    """A write that asks to linger holds its commit open (for the writer's linger) for the
    writes that come meanwhile; a write that does not is committed at once, alone."""
    import asyncio

    from sqlalchemy import event, text

    from monitor.poll import GroupWriter

    engine, quick = writer_db
    quick.close()  # this test's writer lingers long enough to tell the two cases apart
    writer = GroupWriter(engine, linger_seconds=1.0)
    commits: list[str] = []
    event.listen(engine, "commit", lambda connection: commits.append("commit"))

    def within(value: int):  # type: ignore[no-untyped-def]
        def run(connection):  # type: ignore[no-untyped-def]
            connection.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})

        return run

    def alone(value: int):  # type: ignore[no-untyped-def]
        def run() -> None:
            with engine.begin() as connection:
                within(value)(connection)

        return run

    async def pair(first: int, linger: bool) -> None:
        one = asyncio.ensure_future(writer.write(within(first), alone(first), linger=linger))
        await asyncio.sleep(0.2)  # the second write comes well within the linger
        two = asyncio.ensure_future(writer.write(within(first + 1), alone(first + 1)))
        await asyncio.gather(one, two)

    try:
        asyncio.run(pair(1, linger=True))
        lingered = len(commits)
        asyncio.run(pair(3, linger=False))
        direct = len(commits) - lingered
    finally:
        writer.close()
    assert lingered == 1  # 1 waited, and 2 shared its commit
    assert direct == 2  # 3 was committed before 4 came
    assert _stored(engine) == [1, 2, 3, 4]
