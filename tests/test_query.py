"""`monitor query`: filters, formats and full-text search on a fixture database (SQLite, PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from monitor.dedup import canonical_url, fingerprint, url_key
from monitor.items import TermHit, TopicMatch
from monitor.query import QueryFilter, find_articles, fts5_query, parse_when
from monitor.store.articles import NewArticle, add_sighting, insert_article
from monitor.store.db import make_engine, upgrade
from monitor.store.schema import Source
from tests.conftest import run_monitor

NOW = datetime.now(UTC).replace(microsecond=0)

ARTICLES = [
    # (source, title, text, topics, language, age)
    (
        "nation",
        "Kenyan police arrive in Haiti for the MSS mission",
        "Kenyan police officers landed in Port-au-Prince to join the Multinational Security Support mission.",
        {"mss": 0.9, "kenya": 0.8, "haiti": 0.7},
        "en",
        timedelta(hours=2),
    ),
    (
        "nouvelliste",
        "Les policiers kényans patrouillent à Port-au-Prince",
        "La mission multinationale d'appui à la sécurité a commencé ses patrouilles dans la capitale haïtienne.",
        {"haiti": 0.9, "kenya": 0.6},
        "fr",
        timedelta(hours=30),
    ),
    (
        "nation",
        "Nairobi court hears petition on police deployment",
        "The High Court in Nairobi heard a petition against the deployment of police officers abroad.",
        {"kenya": 0.7},
        "en",
        timedelta(days=3),
    ),
    (
        "guardian",
        "Gang violence displaces thousands in Haiti",
        "Gang violence in Haiti displaced thousands of families, the gang suppression force said; gang leaders fled.",
        {"haiti": 0.95, "gsf": 0.5},
        "en",
        timedelta(days=10),
    ),
    (
        "guardian",
        '=HYPERLINK("http://evil.example","click")',
        "A hostile title that looks like a spreadsheet formula, about Haiti.",
        {"haiti": 0.3},
        "en",
        timedelta(hours=5),
    ),
]


@pytest.fixture
def populated(database_url: str) -> str:
    return populate(database_url)


def populate(database_url: str) -> str:
    """Create the schema at ``database_url`` and store the ARTICLES fixture in it."""
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as connection:
        ids = {}
        for name in ("nation", "nouvelliste", "guardian"):
            ids[name] = connection.execute(
                insert(Source)
                .values(
                    name=name,
                    url=f"https://{name}.example/feed",
                    type="feed",
                    config="{}",
                    enabled=True,
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(Source.id)
            ).scalar_one()
        for i, (source, title, text, topics, language, age) in enumerate(ARTICLES):
            url = f"https://{source}.example/story/{i}"
            article_id, _ = insert_article(
                connection,
                NewArticle(
                    url=url,
                    url_key=url_key(url),
                    canonical_url=canonical_url(url),
                    guid=str(i),
                    source_id=ids[source],
                    title=title,
                    summary=text[:80],
                    text=text,
                    author=None,
                    language=language,
                    published_at=NOW - age,
                    discovered_at=NOW - age,
                    fingerprint=fingerprint(title, text),
                    topics=tuple(
                        TopicMatch(t, s, (TermHit(t, "title", 1),)) for t, s in topics.items()
                    ),
                ),
            )
            if i == 0:  # the first story was also seen at the guardian
                copy = "https://guardian.example/world/kenya-police-haiti"
                add_sighting(
                    connection,
                    article_id=article_id,
                    source_id=ids["guardian"],
                    url=copy,
                    url_key=url_key(copy),
                    seen_at=NOW - age + timedelta(minutes=5),
                    published_at=None,
                    reason="near",
                    similarity=0.83,
                )
    engine.dispose()
    return database_url


def titles(url: str, **filters: object) -> list[str]:
    engine = make_engine(url)
    try:
        return [a.title for a in find_articles(engine, QueryFilter(**filters))]  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_newest_first_with_time_filters(populated: str) -> None:
    assert titles(populated)[0] == ARTICLES[0][1]
    assert len(titles(populated)) == 5
    assert titles(populated, since=NOW - timedelta(hours=24)) == [ARTICLES[0][1], ARTICLES[4][1]]
    assert titles(populated, until=NOW - timedelta(days=5)) == [ARTICLES[3][1]]
    assert titles(populated, sort="oldest")[0] == ARTICLES[3][1]


def test_topic_source_language_and_limit_filters(populated: str) -> None:
    assert set(titles(populated, topics=("mss",))) == {ARTICLES[0][1]}
    assert set(titles(populated, topics=("gsf", "mss"))) == {ARTICLES[0][1], ARTICLES[3][1]}
    # --source matches every place an article was seen, not only where it was first stored
    assert set(titles(populated, sources=("guardian",))) == {
        ARTICLES[0][1],
        ARTICLES[3][1],
        ARTICLES[4][1],
    }
    assert titles(populated, language="fr") == [ARTICLES[1][1]]
    assert len(titles(populated, limit=2)) == 2


def test_full_text_search_ranks_and_handles_phrases(populated: str) -> None:
    ranked = titles(populated, search="gang", sort="relevance")
    assert ranked[0] == ARTICLES[3][1]  # "gang" three times beats once
    assert titles(populated, search='"police officers" Nairobi') == [ARTICLES[2][1]]
    assert titles(populated, search="patrouillent") == [ARTICLES[1][1]]
    assert titles(populated, search="zebra") == []
    assert titles(populated, search="'; DROP TABLE articles; --") == []
    assert len(titles(populated)) == 5  # still there


def test_json_has_the_documented_fields_and_sightings(populated: str, workdir: Path) -> None:
    result = run_monitor(
        "query",
        "--format",
        "json",
        "--topic",
        "mss",
        cwd=workdir,
        env={"MONITOR_DATABASE_URL": populated},
    )
    assert result.returncode == 0, result.stderr
    [article] = json.loads(result.stdout)
    assert set(article) >= {
        "id",
        "url",
        "title",
        "source",
        "published_at",
        "discovered_at",
        "language",
        "topics",
        "matched_terms",
        "score",
        "summary",
        "sightings",
    }
    assert article["topics"] == ["mss", "kenya", "haiti"]  # strongest first
    assert article["score"] == 0.9
    assert [s["reason"] for s in article["sightings"]] == ["original", "near"]
    assert article["sightings"][1] == {
        "url": "https://guardian.example/world/kenya-police-haiti",
        "source": "guardian",
        "seen_at": article["sightings"][1]["seen_at"],
        "reason": "near",
        "similarity": 0.83,
    }
    assert article["first_seen_by"] == "nation"


def test_formats_jsonl_csv_md_and_table(populated: str, workdir: Path) -> None:
    env = {"MONITOR_DATABASE_URL": populated}
    lines = run_monitor("query", "--format", "jsonl", cwd=workdir, env=env).stdout.splitlines()
    assert len(lines) == 5 and all(json.loads(line)["id"] for line in lines)

    rows = list(
        csv.DictReader(
            io.StringIO(run_monitor("query", "--format", "csv", cwd=workdir, env=env).stdout)
        )
    )
    assert len(rows) == 5
    hostile = next(r for r in rows if "HYPERLINK" in r["title"])
    assert hostile["title"].startswith("'=")  # a spreadsheet shows it as text
    assert rows[0]["places_seen"] in {"1", "2"}

    md = run_monitor("query", "--format", "md", cwd=workdir, env=env).stdout
    assert md.startswith("| discovered | source | topics | title |")
    assert (
        "[Kenyan police arrive in Haiti for the MSS mission](<https://nation.example/story/0>)"
        in md
    )

    table = run_monitor(
        "query", "--format", "table", cwd=workdir, env={**env, "COLUMNS": "250"}
    ).stdout
    assert "Kenyan police arrive in Haiti" in table


def test_bad_filters_are_usage_errors(populated: str, workdir: Path) -> None:
    result = run_monitor(
        "query", "--since", "last tuesday", cwd=workdir, env={"MONITOR_DATABASE_URL": populated}
    )
    assert result.returncode == 2
    assert "expected a date (2026-11-20)" in result.stderr


def test_relative_and_absolute_times() -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert parse_when("24h", now) == now - timedelta(hours=24)
    assert parse_when("7d", now) == now - timedelta(days=7)
    assert parse_when("2026-11-20", now) == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_when("2026-11-20T08:30+01:00", now) == datetime(2026, 11, 20, 7, 30, tzinfo=UTC)


def test_fts5_query_quotes_every_term() -> None:
    assert fts5_query('kenya "gang violence" OR') == '"kenya" AND "gang violence" AND "OR"'
    assert fts5_query('"unbalanced') == '"unbalanced"'
    assert fts5_query("   ") == ""


def test_query_answers_while_a_writer_holds_the_sqlite_lock(workdir: Path) -> None:
    """Readers take no lock in WAL mode: a poll's open write transaction never delays a query."""
    import sqlite3

    populated = populate(f"sqlite:///{workdir / 'storage' / 'locked.db'}")

    path = populated.removeprefix("sqlite:///")
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")
        locker.execute("UPDATE sources SET enabled = enabled")
        # The busy timeout is 30 s: a query that queued behind the lock would hit the timeout.
        result = run_monitor(
            "query",
            "--format",
            "json",
            cwd=workdir,
            env={"MONITOR_DATABASE_URL": populated},
            timeout=15,
        )
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 5
