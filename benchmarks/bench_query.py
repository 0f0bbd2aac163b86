"""Benchmark `monitor query` over a year of coverage: 1,000,000 articles in SQLite (or PostgreSQL).

    .venv/bin/python benchmarks/bench_query.py                        # SQLite, 1M articles
    .venv/bin/python benchmarks/bench_query.py --db sqlite,postgres   # both
    .venv/bin/python benchmarks/bench_query.py --articles 100000 --keep
    .venv/bin/python benchmarks/bench_query.py --reuse --keep --explain

The database is made by ``monitor.store.db.upgrade`` and bulk-loaded (see bench_dedup_store.py,
whose text generator and loaders this reuses): N articles (3.2 KB texts, a summary, a 537-byte
fingerprint blob), discovered over the 365 days up to the moment of the fill, in id order;
1-3 topics each among haiti/kenya/mss/gsf; 1-3 sightings each; 0.2% seed articles.

Timed, for each query: ``monitor.query.find_articles`` in this process (the first call, then
the median of the next --repeat calls, and the id query alone), and the whole CLI process
(``.venv/bin/monitor query ... --format json`` with MONITOR_DATABASE_URL set; interpreter start
and imports included, and `monitor --version` as the floor). The queries: ``--topic T --since
7d`` for each topic, ``--since`` alone, and ``--search`` with a common word, a stock phrase and
a rare word, with and without ``--since 7d`` / ``--topic``. Every query slower than --target ms
gets its plan printed (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE); --explain prints them all.

--fix prototypes the recommended changes in the bench database (see FIXES) and times the
same queries again, so the report has before and after numbers from the same data.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_dedup_store as base
from sqlalchemy import (
    Engine,
    Select,
    column,
    event,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.exc import OperationalError

import monitor.query
from monitor.query import QueryFilter, build_query, find_articles, fts5_query, parse_when
from monitor.store.db import current_revision, make_engine, upgrade
from monitor.store.schema import Article

ROOT = base.ROOT
MONITOR = ROOT / ".venv" / "bin" / "monitor"
TOPICS = ("haiti", "kenya", "mss", "gsf")
TOPIC_WEIGHTS = np.array([0.40, 0.30, 0.20, 0.10])
TERMS = {
    "haiti": ("Haiti", "Port-au-Prince"),
    "kenya": ("Kenya", "Nairobi"),
    "mss": ("Multinational Security Support",),
    "gsf": ("Gang Suppression Force",),
}
LANGUAGES = ("en", "en", "en", "en", "en", "en", "en", "fr", "fr", "es")
SEED_SHARE = 0.002
SIGHTING_REASONS = ("near", "url", "content")


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


@dataclass
class Rows:
    """One chunk's rows for articles, article_topics and sightings (database-neutral values)."""

    articles: list[tuple[Any, ...]] = field(default_factory=list)
    topics: list[tuple[Any, ...]] = field(default_factory=list)
    sightings: list[tuple[Any, ...]] = field(default_factory=list)


ARTICLE_COLUMNS = (
    "id, url, url_key, canonical_url, source_id, title, summary, text, language, published_at,"
    " discovered_at, score, content_hash, fingerprint, is_seed"
)
TOPIC_COLUMNS = "article_id, topic, score, terms"
SIGHTING_COLUMNS = "article_id, source_id, url, url_key, seen_at, published_at, reason, similarity"


def chunk_rows(start: int, texts: Sequence[tuple[str, str]], n: int, newest: datetime) -> Rows:
    """Rows of articles ``start`` .. ``start + len(texts) - 1`` (ids are index + 1)."""
    count = len(texts)
    rng = np.random.default_rng((base.SEED, 99, start))
    spread = timedelta(days=365)
    topic_count = rng.choice([1, 2, 3], size=count, p=[0.5, 0.35, 0.15]).tolist()
    # weighted sampling without replacement (Efraimidis-Spirakis): the k largest keys
    keys = rng.random((count, len(TOPICS))) ** (1.0 / TOPIC_WEIGHTS)
    ranked = np.argsort(-keys, axis=1).tolist()
    scores = rng.uniform(0.5, 12.0, size=(count, len(TOPICS))).round(3).tolist()
    extra_sightings = rng.choice([0, 1, 2], size=count, p=[0.6, 0.3, 0.1]).tolist()
    seeds = (rng.random(count) < SEED_SHARE).tolist()
    languages = rng.integers(0, len(LANGUAGES), size=count).tolist()
    blobs = rng.integers(0, 256, size=(count, base.FP_BYTES), dtype=np.uint8)
    rows = Rows()
    for j, (title, body) in enumerate(texts):
        i = start + j
        article_id = i + 1
        url = base.article_url(i, title)
        key = hashlib.blake2b(url.encode(), digest_size=16).hexdigest()
        seen = newest - spread * (1 - (i + 1) / n)
        published = seen - timedelta(minutes=17)
        source_id = i % len(base.SOURCES) + 1
        chosen = [TOPICS[t] for t in ranked[j][: topic_count[j]]]
        topic_scores = [scores[j][TOPICS.index(t)] for t in chosen]
        rows.articles.append(
            (
                article_id,
                url,
                key,
                url,
                source_id,
                title,
                " ".join(body.split(" ", 40)[:40]),
                body,
                LANGUAGES[languages[j]],
                published,
                seen,
                max(topic_scores),
                hashlib.blake2b(body.encode(), digest_size=16).hexdigest(),
                blobs[j].tobytes(),
                seeds[j],
            )
        )
        for topic, score in zip(chosen, topic_scores, strict=True):
            terms = [
                {"term": term, "field": field_name, "count": 1 + (i + k) % 3}
                for k, term in enumerate(TERMS[topic])
                for field_name in ("title", "text")[: 1 + k % 2]
            ]
            rows.topics.append((article_id, topic, score, json.dumps(terms)))
        rows.sightings.append((article_id, source_id, url, key, seen, published, "original", None))
        for k in range(extra_sightings[j]):
            other = (source_id + 7 * (k + 1)) % len(base.SOURCES) + 1
            copy_url = f"https://{base.SOURCES[other - 1]}/world/{i}-{k}"
            copy_key = hashlib.blake2b(copy_url.encode(), digest_size=16).hexdigest()
            rows.sightings.append(
                (
                    article_id,
                    other,
                    copy_url,
                    copy_key,
                    seen + timedelta(minutes=30 * (k + 1)),
                    published + timedelta(minutes=30 * (k + 1)),
                    SIGHTING_REASONS[(i + k) % len(SIGHTING_REASONS)],
                    0.8,
                )
            )
    return rows


def _sqlite_values(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row with datetimes and booleans as SQLAlchemy stores them in SQLite."""
    return tuple(
        base.sqlite_time(v) if isinstance(v, datetime) else (int(v) if isinstance(v, bool) else v)
        for v in row
    )


def fill_sqlite(path: Path, n: int, newest: datetime) -> dict[str, float]:
    """A fresh SQLite database at `path` holding `n` articles; seconds per phase."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    base._check_sqlite_time(engine)
    engine.dispose()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with base.sqlite_bulk(path) as connection:
        connection.execute("BEGIN")
        base.insert_sources_sqlite(connection)
        for chunk, texts in base.text_chunks(n):
            rows = chunk_rows(chunk * base.CHUNK, texts, n, newest)
            connection.executemany(
                f"INSERT INTO articles ({ARTICLE_COLUMNS}) VALUES ({', '.join('?' * 15)})",
                map(_sqlite_values, rows.articles),
            )
            connection.executemany(
                f"INSERT INTO article_topics ({TOPIC_COLUMNS}) VALUES (?, ?, ?, ?)", rows.topics
            )
            connection.executemany(
                f"INSERT INTO sightings ({SIGHTING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                map(_sqlite_values, rows.sightings),
            )
            if chunk % 10 == 9:
                print(
                    f"   {(chunk + 1) * base.CHUNK:,} articles, {time.perf_counter() - started:.0f} s"
                )
        connection.execute("COMMIT")
        timings["rows"] = time.perf_counter() - started
        started = time.perf_counter()
    timings["search index"] = time.perf_counter() - started
    return timings


PG_RETRY_S = 10  # wait after losing the server (other test suites restart it) before resuming
PG_COMPLETE = "bench_query: complete"  # table comment marking a finished fill


def fill_postgres(
    url: str, n: int, newest: datetime | None, prepare: Sequence[str]
) -> dict[str, float]:
    """Fill the database at `url` with `n` articles, or finish a fill that was cut short.

    Resumable, because the shared server gets restarted by other test suites: rows go in by
    chunk, one transaction each (articles, topics, sightings) with every index in place (the
    full-text GIN index is maintained as rows arrive rather than built in one long statement
    at the end), and a lost connection resumes after the last committed chunk. `prepare` runs
    once, on the empty schema. `newest` None: take it from the rows already there.
    """
    engine = make_engine(url)
    if current_revision(engine) is None:
        upgrade(engine)
        with engine.begin() as connection:
            for statement in prepare:
                print(f"   before the rows: {statement}")
                connection.execute(text(statement))
    engine.dispose()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    while True:
        try:
            if _pg_fill_rows(url, n, newest):
                timings["rows + indexes"] = time.perf_counter() - started
                started = time.perf_counter()
                _pg_finish(url)
                timings["vacuum analyze"] = time.perf_counter() - started
            return timings
        except psycopg.OperationalError as exc:
            print(
                f"   server lost ({str(exc).strip().splitlines()[0]}); resuming in {PG_RETRY_S} s"
            )
            time.sleep(PG_RETRY_S)


def _pg_fill_rows(url: str, n: int, newest: datetime | None) -> bool:
    """Load the chunks not loaded yet; False when the fill was already complete."""
    with psycopg.connect(base.pg_dsn(url)) as connection:
        if connection.execute("SELECT obj_description('articles'::regclass)").fetchone() == (
            PG_COMPLETE,
        ):
            return False
        connection.execute("SET session_replication_role = replica")  # no FK checks
        connection.execute("SET synchronous_commit = off")
        stored = connection.execute("SELECT count(*) FROM articles").fetchone()
        last = connection.execute(
            "SELECT id, discovered_at FROM articles ORDER BY id DESC LIMIT 1"
        ).fetchone()
        count = stored[0] if stored else 0
        if last is not None and newest is None:  # invert the spread of discovered_at
            newest = last[1] + timedelta(days=365) * (1 - last[0] / n)
        newest = newest or datetime.now(UTC)
        if count % base.CHUNK and count != n:
            raise SystemExit(f"{url}: {count} articles is not a whole number of chunks")
        started = time.perf_counter()
        with connection.cursor() as cursor:
            if connection.execute("SELECT count(*) FROM sources").fetchone() == (0,):
                base.copy_sources_pg(cursor, newest)
                connection.commit()
            for chunk, texts in base.text_chunks(n, count // base.CHUNK):
                rows = chunk_rows(chunk * base.CHUNK, texts, n, newest)
                for table, columns, values in (
                    ("articles", ARTICLE_COLUMNS, rows.articles),
                    ("article_topics", TOPIC_COLUMNS, rows.topics),
                    ("sightings", SIGHTING_COLUMNS, rows.sightings),
                ):
                    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in values:
                            copy.write_row(row)
                connection.commit()
                if chunk % 5 == 4:
                    print(
                        f"   {(chunk + 1) * base.CHUNK:,} articles,"
                        f" {time.perf_counter() - started:.0f} s"
                    )
    return True


def _pg_finish(url: str) -> None:
    """Sequences past the loaded ids, VACUUM ANALYZE (the state autovacuum reaches), marked."""
    with psycopg.connect(base.pg_dsn(url), autocommit=True) as connection:
        for table in ("articles", "sightings", "sources"):
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 1) FROM {table}))"
            )
        connection.execute("VACUUM ANALYZE")
        connection.execute(f"COMMENT ON TABLE articles IS '{PG_COMPLETE}'")


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One `monitor query` invocation: its CLI arguments."""

    args: tuple[str, ...]

    @property
    def label(self) -> str:
        """The arguments as typed on a command line."""
        return " ".join(f'"{a}"' if " " in a else a for a in self.args)

    def filters(self) -> QueryFilter:
        """The QueryFilter the CLI builds from these arguments (same defaults)."""
        values: dict[str, Any] = {"topics": [], "limit": 100}
        args = list(self.args)
        while args:
            flag, value = args.pop(0), args.pop(0)
            if flag == "--topic":
                values["topics"].append(value)
            elif flag == "--since":
                values["since"] = parse_when(value)
            elif flag == "--search":
                values["search"] = value
            elif flag == "--limit":
                values["limit"] = int(value) or None
            elif flag == "--sort":
                values["sort"] = value
            else:
                raise ValueError(flag)
        values["topics"] = tuple(values["topics"])
        return QueryFilter(**values)


def cases(phrase: str, rare: str) -> list[Case]:
    """The queries timed, with the generator's stock phrase and rare word."""
    out = [Case(("--topic", topic, "--since", "7d")) for topic in ("mss", *TOPICS[:2], "gsf")]
    out += [
        Case(("--topic", "mss", "--since", "30d")),
        Case(("--topic", "gsf", "--since", "365d")),
        Case(("--since", "7d")),
        Case(("--topic", "mss")),
    ]
    for term in ("Kenyan", phrase, rare):
        out.append(Case(("--search", term)))
        out.append(Case(("--search", term, "--since", "7d")))
    out.append(Case(("--search", "Kenyan", "--topic", "mss", "--since", "7d")))
    out.append(Case(("--search", "Kenyan", "--sort", "relevance")))
    return out


@dataclass
class Timing:
    """One query's measurements."""

    case: Case
    first_ms: float
    ms: list[float]  # warm calls of find_articles
    ids_ms: list[float]  # the id query alone (build_query + execute)
    ids: list[int]  # what find_articles returned
    cli_ms: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median ms of the warm find_articles calls."""
        return statistics.median(self.ms)


Builder = Callable[[Engine, QueryFilter], Select[Any]]


@contextlib.contextmanager
def query_builder(builder: Builder) -> Iterator[None]:
    """find_articles with `builder` in place of monitor.query.build_query (a prototype)."""
    original = monitor.query.build_query
    setattr(monitor.query, "build_query", builder)  # noqa: B010
    try:
        yield
    finally:
        setattr(monitor.query, "build_query", original)  # noqa: B010


SLOW_MS = 5_000.0  # a query this slow is repeated once, and explained without ANALYZE


def time_case(engine: Engine, case: Case, repeat: int, builder: Builder) -> Timing:
    """find_articles once cold, then `repeat` times; the id query alone `repeat` times."""
    ms, ids_ms = [], []
    with query_builder(builder):
        started = time.perf_counter()
        result = find_articles(engine, case.filters())
        first = (time.perf_counter() - started) * 1e3
        for _ in range(1 if first > SLOW_MS else repeat):
            started = time.perf_counter()
            find_articles(engine, case.filters())
            ms.append((time.perf_counter() - started) * 1e3)
            started = time.perf_counter()
            with engine.connect() as connection:
                connection.execute(builder(engine, case.filters())).all()
            ids_ms.append((time.perf_counter() - started) * 1e3)
    return Timing(case, first, ms, ids_ms, [view.id for view in result])


T = TypeVar("T")


class ProcessFailed(Exception):
    """A `monitor` process exited with an error."""


def with_retries(call: Callable[[], T], attempts: int = 3) -> T:
    """`call()`, again after a pause when the database server went away meanwhile (the shared
    PostgreSQL is restarted by other test suites); other errors pass."""
    for attempt in range(attempts):
        try:
            return call()
        except (OperationalError, psycopg.OperationalError, ProcessFailed) as exc:
            if attempt == attempts - 1:
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            print(f"   (lost the database: {first[:100]}; again in {PG_RETRY_S} s)")
            time.sleep(PG_RETRY_S)
    raise AssertionError("unreachable")


def time_cli(url: str, args: Sequence[str], repeat: int) -> tuple[list[float], int]:
    """Wall ms of whole `monitor` processes, and the number of articles printed."""
    env = {**os.environ, "MONITOR_DATABASE_URL": url}
    ms, count = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(
            [str(MONITOR), *args], env=env, capture_output=True, check=False, cwd="/tmp"
        )
        ms.append((time.perf_counter() - started) * 1e3)
        if done.returncode != 0:
            raise ProcessFailed(f"monitor {' '.join(args)}: {done.stderr.decode()[-300:]}")
        if args and args[0] == "query":
            count = len(json.loads(done.stdout))
    return ms, count


def explain(engine: Engine, case: Case, builder: Builder, analyze: bool = True) -> str:
    """The plan of the case's id query: EXPLAIN QUERY PLAN, or EXPLAIN ANALYZE on PostgreSQL
    (plain EXPLAIN without `analyze`: the statement is only captured, not run to the end)."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    query = builder(engine, case.filters())
    if analyze or engine.dialect.name == "sqlite":
        event.listen(engine, "before_cursor_execute", capture)
        try:
            with engine.connect() as connection:
                connection.execute(query).all()
        finally:
            event.remove(engine, "before_cursor_execute", capture)
    else:  # too slow to run again: compile it (pyformat parameters, as psycopg takes them)
        compiled = query.compile(
            dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        captured.append((str(compiled), compiled.params))
    statement, parameters = captured[-1]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            plan = "\n".join(f"      {row[3]}" for row in cursor.fetchall())
        else:
            options = "(ANALYZE, BUFFERS) " if analyze else ""
            cursor.execute(f"EXPLAIN {options}" + statement, parameters)
            plan = "\n".join(f"      {row[0]}" for row in cursor.fetchall())
    finally:
        raw.close()
    sql = " ".join(statement.split())
    return f"    {sql}\n{plan}"


# --------------------------------------------------------------------------------------------
# The fixes prototyped with --fix
# --------------------------------------------------------------------------------------------


def bounded_search_query(engine: Engine, filters: QueryFilter) -> Select[Any]:
    """build_query with the proposed SQLite full-text rewrite for --search, newest first.

    Today the FTS5 subquery returns every match, each is looked up in `articles` and all are
    sorted, so a common word costs O(matches). Instead (the proposed `_newest_matches` in
    monitor/query.py, written here against build_query's other conditions):

    1. `recent`: the first `limit` matches that pass the filters in descending rowid order,
       which FTS5 streams (ORDER BY rowid DESC is consumed by the virtual table) and stops;
    2. T = their oldest discovered_at. Every article of the true top `limit` (discovered_at
       DESC, id DESC) has discovered_at >= T, as `recent` already holds `limit` passing
       articles that new; so its id is >= F = min(id) of the articles discovered since T,
       read from ix_articles_discovered_at (``id + 0`` keeps SQLite's min() shortcut, which
       would walk the whole rowid tree, out of it);
    3. only the matches with rowid >= F are sorted, exactly as before.

    The same result whatever the order of ids and times; fast because ids grow with
    discovered_at (it is `now` at insert). --since/--until bound the rowid range the same
    exact way.
    """
    match = fts5_query(filters.search or "")
    if not (
        engine.dialect.name == "sqlite" and filters.sort == "newest" and filters.limit and match
    ):
        return build_query(engine, filters)
    plain = build_query(engine, replace(filters, search=None))
    conditions = [] if plain.whereclause is None else [plain.whereclause]
    fts = table("articles_fts", column("rowid"))
    other = Article.__table__.alias()
    where: list[Any] = [text("articles_fts MATCH :match").bindparams(match=match), *conditions]
    if filters.until:
        last = select(func.max(other.c.id + 0)).where(other.c.discovered_at < filters.until)
        where.append(fts.c.rowid <= last.scalar_subquery())
    recent_where = list(where)
    if filters.since:
        first = select(func.min(other.c.id + 0)).where(other.c.discovered_at >= filters.since)
        recent_where.append(fts.c.rowid >= first.scalar_subquery())
    joined = fts.join(Article, Article.id == fts.c.rowid)
    recent = (
        select(Article.discovered_at.label("t"))
        .select_from(joined)
        .where(*recent_where)
        .order_by(fts.c.rowid.desc())
        .limit(filters.limit)
        .cte("recent")
    )
    oldest = select(func.min(recent.c.t)).scalar_subquery()
    floor = select(func.min(other.c.id + 0)).where(other.c.discovered_at >= oldest)
    return (
        select(Article.id)
        .select_from(joined)
        .where(*where, fts.c.rowid >= floor.scalar_subquery())
        .order_by(Article.discovered_at.desc(), Article.id.desc())
        .limit(filters.limit)
    )


PG_DOCUMENT = (
    "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(summary, '') || ' '"
    " || coalesce(text, ''))"
)


def stored_tsvector_query(engine: Engine, filters: QueryFilter) -> Select[Any]:
    """build_query reading a stored tsvector column (PostgreSQL) instead of re-parsing text.

    Today `@@` and ts_rank run on to_tsvector(title || summary || text): the GIN index finds
    candidates, but every recheck (phrases, lossy bitmap pages), every row of a plan that
    walks ix_articles_discovered_at and filters, and every ts_rank re-parses ~3 KB of text.
    """
    if engine.dialect.name != "postgresql" or not filters.search:
        return build_query(engine, filters)
    plain = build_query(engine, replace(filters, search=None))
    tsquery = func.websearch_to_tsquery(literal_column("'simple'"), filters.search)
    vector: Any = literal_column("articles.search_vector")
    conditions: list[Any] = [vector.op("@@")(tsquery)]
    if plain.whereclause is not None:
        conditions.append(plain.whereclause)
    if filters.sort == "relevance":
        order = [func.ts_rank(vector, tsquery).desc(), Article.score.desc()]
        order.append(Article.discovered_at.desc())
    elif filters.sort == "oldest":
        order = [Article.discovered_at.asc()]
    else:
        order = [Article.discovered_at.desc()]
    statement = select(Article.id).where(*conditions).order_by(*order, Article.id.desc())
    return statement.limit(filters.limit) if filters.limit else statement


@dataclass(frozen=True)
class Fix:
    """A prototyped change: statements run in the bench database, and/or a query builder."""

    description: str
    dialects: frozenset[str]
    before_fill: dict[str, list[str]] = field(default_factory=dict)  # also run before the rows
    ddl: dict[str, list[str]] = field(default_factory=dict)
    builder: Builder | None = None


FIXES: dict[str, Fix] = {
    "bounded-search": Fix(
        "SQLite --search, newest first: stream FTS5 in rowid order, then sort a bounded range",
        frozenset({"sqlite"}),
        builder=bounded_search_query,
    ),
    "pg-tsvector": Fix(
        "PostgreSQL --search: a stored tsvector column with its own GIN index",
        frozenset({"postgresql"}),
        # created on the empty schema when the fill starts, so one fill serves both runs
        # (the baseline never reads the column); IF NOT EXISTS for a database filled without
        before_fill={
            "postgresql": [
                "ALTER TABLE articles ADD COLUMN IF NOT EXISTS search_vector tsvector"
                f" GENERATED ALWAYS AS ({PG_DOCUMENT}) STORED",
                "CREATE INDEX IF NOT EXISTS ix_articles_search_vector ON articles"
                " USING GIN (search_vector)",
            ]
        },
        ddl={"postgresql": ["ANALYZE articles"]},
        builder=stored_tsvector_query,
    ),
}


def apply_fixes(engine: Engine, names: Sequence[str]) -> Builder:
    """Run the fixes' statements; return the query builder to time (the last one given)."""
    builder: Builder = build_query
    with engine.begin() as connection:
        for name in names:
            fix = FIXES[name]
            print(f"   fix {name}: {fix.description}")
            statements = fix.before_fill.get(engine.dialect.name, [])
            for statement in statements + fix.ddl.get(engine.dialect.name, []):
                print(f"     {statement}")
                connection.execute(text(statement))
            builder = fix.builder or builder
    return builder


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def db_dialect(db: str) -> str:
    """The SQLAlchemy dialect name of a --db choice."""
    return "postgresql" if db == "postgres" else db


def search_terms() -> tuple[str, str]:
    """A stock phrase (in ~0.6% of articles) and a rare invented word from the generator."""
    corpus = base._corpus()
    phrase = next(p for p in corpus.phrases if len(p.split()) >= 4 and "." not in p)
    rare = str(corpus.words[len(base.FUNCTION_WORDS) + len(base.TOPIC_WORDS) + 20_000])
    return phrase, rare


def run(
    engine: Engine,
    url: str,
    label: str,
    args: argparse.Namespace,
    terms: tuple[str, str],
    builder: Builder = build_query,
    expected: dict[Case, list[int]] | None = None,
) -> list[Timing]:
    """Time every case; with `expected`, check the ids equal those of the first run."""
    print(f"== {label}: load average {os.getloadavg()[0]:.1f}")
    print(
        f"   {'query':58s} {'rows':>5s} {'first ms':>9s} {'warm ms':>8s} {'p95':>7s}"
        f" {'ids ms':>7s} {'cli ms':>7s}"
    )
    timings = []
    for case in cases(*terms):
        timing = with_retries(functools.partial(time_case, engine, case, args.repeat, builder))
        same = ""
        if expected is not None:
            same = " same ids" if expected[case] == timing.ids else " DIFFERENT IDS"
        cli_cases = CLI_CASES if builder is build_query else set()  # a process has no prototype
        if not args.no_cli and (case.args in cli_cases or args.cli_all):
            arguments = ["query", *case.args, "--format", "json"]
            timing.cli_ms, printed = with_retries(
                functools.partial(time_cli, url, arguments, args.cli_repeat)
            )
            if printed != len(timing.ids):
                raise SystemExit(f"{case.label}: CLI printed {printed}, in-process {timing.ids}")
        cli = f"{statistics.median(timing.cli_ms):7.0f}" if timing.cli_ms else f"{'':7s}"
        print(
            f"   {case.label[:58]:58s} {len(timing.ids):>5d} {timing.first_ms:>9.1f}"
            f" {timing.median:>8.1f} {base.quantile(timing.ms, 0.95):>7.1f}"
            f" {statistics.median(timing.ids_ms):>7.1f} {cli}{same}"
        )
        if args.explain or timing.median > args.target:
            print(explain(engine, case, builder, analyze=timing.median < SLOW_MS))
        timings.append(timing)
    return timings


CLI_CASES = {
    ("--topic", "mss", "--since", "7d"),
    ("--search", "Kenyan"),
    ("--search", "Kenyan", "--since", "7d"),
}


def main() -> int:
    """Parse the options, fill (or reuse) each database, time the queries, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--db", default="sqlite", help="sqlite, postgres or both")
    parser.add_argument("--repeat", type=int, default=10, help="warm in-process calls per query")
    parser.add_argument("--cli-repeat", type=int, default=5, help="whole processes per query")
    parser.add_argument("--cli-all", action="store_true", help="time every query as a process")
    parser.add_argument("--no-cli", action="store_true")
    parser.add_argument("--target", type=float, default=100.0, help="ms; slower ones explained")
    parser.add_argument("--explain", action="store_true", help="print every query plan")
    parser.add_argument("--analyze", action="store_true", help="also time after ANALYZE")
    parser.add_argument(
        "--fix", default="", help=f"comma list of fixes to time after: {', '.join(FIXES)}"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use a kept database as it is")
    parser.add_argument("--sqlite-dir", default="/tmp")
    parser.add_argument("--pg-admin", default=base.PG_ADMIN)
    args = parser.parse_args()
    fixes = [f for f in args.fix.split(",") if f]
    for name in fixes:
        if name not in FIXES:
            parser.error(f"unknown fix {name!r}; known: {', '.join(FIXES)}")
    n = args.articles
    started = time.perf_counter()
    floor, _ = time_cli("sqlite://", ["--version"], args.cli_repeat)
    print(f"== `monitor --version` (interpreter + CLI imports): {statistics.median(floor):.0f} ms")
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        newest = datetime.now(UTC)
        prepare: list[str] = []
        if db == "sqlite":
            path = Path(args.sqlite_dir) / f"bench_query_{n}.sqlite"
            url = f"sqlite:///{path}"
            if not (args.reuse and path.exists()):
                print(f"== filling {path} with {n:,} articles")
                timings = fill_sqlite(path, n, newest)
                print("   " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
            size = f"{path.stat().st_size / 1e9:.2f} GB"
        elif db == "postgres":
            database = f"bench_query_{n}"
            url = base.pg_url(database, args.pg_admin)
            prepare = [s for f in fixes for s in FIXES[f].before_fill.get("postgresql", [])]
            if args.reuse and base.pg_exists(database, args.pg_admin):
                timings = fill_postgres(url, n, None, prepare)  # finishes a cut-short fill
            else:
                print(f"== filling PostgreSQL database {database} with {n:,} articles")
                base.pg_recreate(database, args.pg_admin)
                timings = fill_postgres(url, n, newest, prepare)
            if timings:
                print("   " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
            size = ""
        else:
            parser.error(f"unknown database {db!r}")
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                count = connection.scalar(text("SELECT count(*) FROM articles"))
                week = connection.scalar(
                    text("SELECT count(*) FROM articles WHERE discovered_at >= :since"),
                    {
                        "since": base.sqlite_time(parse_when("7d"))
                        if db == "sqlite"
                        else parse_when("7d")
                    },
                )
                if db == "postgres":
                    size = connection.scalar(
                        text("SELECT pg_size_pretty(pg_database_size(current_database()))")
                    )
            if count != n:
                raise SystemExit(
                    f"{url}: {count} articles, expected {n}: fill it again (no --reuse)"
                )
            print(f"   {count:,} articles, {week:,} in the last 7 days; database {size}")
            terms = search_terms()
            label = f"{db}, as created by upgrade"
            if db == "postgres" and prepare:
                label += " (plus the fix's column and index, unused by these queries)"
            before = run(engine, url, label, args, terms)
            expected = {t.case: t.ids for t in before}
            if args.analyze and db == "sqlite":  # PostgreSQL was analyzed after the fill
                with engine.begin() as connection:
                    connection.execute(text("ANALYZE"))
                run(engine, url, f"{db}, after ANALYZE", args, terms, expected=expected)
                with engine.begin() as connection:  # back to no statistics, as created
                    connection.execute(text("DELETE FROM sqlite_stat1"))
                    connection.execute(text("ANALYZE sqlite_schema"))
                engine.dispose()
            fixes_here = [f for f in fixes if db_dialect(db) in FIXES[f].dialects]
            if fixes_here:
                builder = apply_fixes(engine, fixes_here)
                label = f"{db}, with {', '.join(fixes_here)}"
                run(engine, url, label, args, terms, builder, expected)
        finally:
            engine.dispose()
            if not args.keep:
                if db == "sqlite":
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{path}{suffix}").unlink(missing_ok=True)
                else:
                    base.pg_drop(f"bench_query_{n}", args.pg_admin)
    print(f"== whole run {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
