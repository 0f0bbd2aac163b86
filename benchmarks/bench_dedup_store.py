"""Benchmark the dedup decision against the near-duplicate index stored in the database.

    .venv/bin/python benchmarks/bench_dedup_store.py                     # 100k and 1M, both dbs
    .venv/bin/python benchmarks/bench_dedup_store.py --quick             # 10k: about a minute
    .venv/bin/python benchmarks/bench_dedup_store.py --sizes 100000 --db sqlite --keep

For each store size and database, N synthetic articles (300-600 words each, drawn from a
60,000-word vocabulary plus topic words and shared stock phrases; deterministic seed) are
stored with their real fingerprints, their 64 LSH band rows and one sighting each, in a fresh
SQLite file under /tmp and a fresh PostgreSQL database ``bench_dedup_<N>``. The schema is made
by ``monitor.store.db.upgrade``, so the tables and indexes are the real ones; the rows are
built directly and bulk-loaded (executemany on SQLite, COPY on PostgreSQL; foreign-key checks
are skipped, as every row is known to be valid). The full-text index takes no part in a dedup
decision and costs as much load time as all the rest, so it is left empty unless
--search-index (bench_query.py measures it); everything else is as `monitor` writes it.

Then 1,000 probe items (half light edits of stored articles, half new articles from the same
generator) are decided exactly as ``Poller._decide`` does for an item without a GUID: URL key
lookup, content hash lookup, ``near_candidates`` on the item's bands, ``decide_near``. Printed
per size and database: median and p95 ms per decision (and per step), candidates per lookup,
recall of the copies, new items wrongly merged, and what the index costs on disk.

Fingerprinting is the slow part of generating (about 0.3 ms per article), so it runs in two
processes and its output (fingerprint blobs, band hashes, URL keys) is cached in
/tmp/bench_dedup_cache/; the texts are regenerated from the seed when they are stored. The
databases are deleted at the end unless --keep; --reuse takes a kept one as it is.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import multiprocessing
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from monitor.dedup import (  # noqa: E402
    BANDS,
    DEFAULT_THRESHOLDS,
    Fingerprint,
    decide_near,
    fingerprint,
    url_key,
)
from monitor.store import articles as store  # noqa: E402
from monitor.store.db import make_engine, upgrade  # noqa: E402

SEED = 20_261_127
GENERATOR_VERSION = 1
BLOCK = 100  # articles drawn from one random stream: article i is cheap to regenerate alone
CHUNK = 20_000  # articles per fingerprint cache file and per insert transaction
CACHE_DIR = Path("/tmp/bench_dedup_cache")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PROBES = 1_000
WARMUP = 100
NEW_BASE = 10**9  # generator index of the new probe articles: never stored
EPOCH = datetime(2026, 11, 27, tzinfo=UTC)  # the newest stored article; the oldest is a year before

Int64s = npt.NDArray[np.int64]

# --------------------------------------------------------------------------------------------
# The text generator
# --------------------------------------------------------------------------------------------


def _split(words: str) -> list[str]:
    """Words of a space-separated list (kept as prose for readability)."""
    return words.split()


FUNCTION_WORDS = _split(
    "the of and to a in that for is on was with said as by at from his it has an be are have "
    "were but not this who their they had been which its after will would also more about over "
    "than into when other up out there new all one two last could we some what no them those "
    "while during since before against under between where because both many most each such "
    "through only any these our may can so if her she him you then just made first three "
    "another several including despite among until"
)
TOPIC_WORDS = _split(
    "Haiti Haitian Haitians Port-au-Prince Cap-Haitien Kenya Kenyan Kenyans Nairobi police "
    "officers gang gangs mission Multinational Security Support Gang Suppression Force United "
    "Nations Council deployment violence Ruto Viv Ansanm Cherizier transitional government "
    "troops armed capital residents displaced humanitarian Jamaica Bahamas Guatemala Salvador "
    "contingent funding mandate Washington airport Delmas Petion-Ville Artibonite"
)
BOILERPLATE = _split(
    "Sign up for our morning newsletter and get the stories that matter in your inbox every "
    "weekday. We use cookies to improve your experience; by continuing you agree to our policy. "
    "Related stories: markets close higher as investors weigh new data. Watch our correspondent "
    "report from the capital. Copyright 2026 Example Media Group. All rights reserved."
)
TOPIC_SHARE = 0.12  # of content words
CONTENT_WORDS = 60_000
TABLE_BITS = 22  # inverse-CDF lookup table: 4M entries, every word gets several slots
STOCK_PHRASES = 400


class Corpus:
    """Deterministic synthetic news articles: article ``i`` is always the same text.

    Words come in units of [function word (p 0.7)] content word [content word (p 0.3)], so two
    function words never meet (real text has no "of the of the" 4-grams); content words follow
    a Zipf law that starts flat (rank + 30), with topic words making 12% of them; every
    article also carries 1-4 of 400 stock phrases ("according to ..."), the shared shingles
    that same-topic news really has. About 460 words and 3.2 KB per article.
    """

    def __init__(self, seed: int = SEED) -> None:
        self.seed = seed
        rng = np.random.default_rng((seed, 0xC0FFEE))
        content = _invented_words(rng, CONTENT_WORDS)
        words = FUNCTION_WORDS + TOPIC_WORDS + content
        nf, nt = len(FUNCTION_WORDS), len(TOPIC_WORDS)
        # three spellings per word: plain, ending a sentence, ending a paragraph
        self.words: npt.NDArray[np.object_] = np.array(
            words + [w + "." for w in words] + [w + ".\n\n" for w in words], dtype=object
        )
        self.n_words = len(words)
        size = 1 << TABLE_BITS
        quantiles = (np.arange(size) + 0.5) / size
        fw = 1.0 / np.arange(1, nf + 1)
        self.function_table = np.searchsorted(np.cumsum(fw / fw.sum()), quantiles).astype(np.int32)
        cw = 1.0 / (np.arange(len(content)) + 30.0)
        weights = np.concatenate(
            [np.full(nt, TOPIC_SHARE / nt), cw / cw.sum() * (1.0 - TOPIC_SHARE)]
        )
        cdf = np.cumsum(weights)
        cdf /= cdf[-1]
        self.content_table = (np.searchsorted(cdf, quantiles) + nf).astype(np.int32)
        self.phrases = [
            " ".join(self._tokens(rng, int(rng.integers(3, 5)))[0]) for _ in range(STOCK_PHRASES)
        ]

    def _tokens(self, rng: np.random.Generator, units: int) -> tuple[list[str], Int64s]:
        """``units`` word units as words, and the number of words per unit."""
        picks = rng.integers(0, 1 << TABLE_BITS, size=(units, 3))
        coins = rng.random((units, 3))
        ids = np.empty((units, 3), dtype=np.int64)
        ids[:, 0] = np.where(coins[:, 0] < 0.7, self.function_table[picks[:, 0]], -1)
        ids[:, 1] = self.content_table[picks[:, 1]]
        ids[:, 2] = np.where(coins[:, 1] < 0.3, self.content_table[picks[:, 2]], -1)
        # sentence ends after ~1 unit in 8, paragraph ends after ~1 in 50
        last = np.where(ids[:, 2] >= 0, 2, 1)
        rows = np.arange(units)
        ends = np.where(coins[:, 2] < 0.02, 2, np.where(coins[:, 2] < 0.125, 1, 0))
        ids[rows, last] += ends * self.n_words
        per_unit = (ids >= 0).sum(axis=1).astype(np.int64)
        flat = ids.ravel()
        return self.words[flat[flat >= 0]].tolist(), per_unit

    def block(self, b: int) -> list[tuple[str, str]]:
        """(title, text) of articles ``b * BLOCK`` to ``(b + 1) * BLOCK - 1``."""
        rng = np.random.default_rng((self.seed, b))
        units = rng.integers(300, 601, size=BLOCK) // 2
        words, per_unit = self._tokens(rng, int(units.sum()))
        ends = np.cumsum(per_unit)[np.cumsum(units) - 1].tolist()
        phrase_count = rng.integers(1, 5, size=BLOCK).tolist()
        phrase_ids = rng.integers(0, len(self.phrases), size=(BLOCK, 4)).tolist()
        places = rng.random((BLOCK, 5)).tolist()
        out = []
        start = 0
        for a in range(BLOCK):
            body = words[start : ends[a]]
            start = ends[a]
            for j in range(phrase_count[a]):
                body.insert(int(places[a][j] * len(body)), self.phrases[phrase_ids[a][j]])
            at = int(places[a][4] * (len(body) - 12))
            title = " ".join(w.rstrip(".\n") for w in body[at : at + 6 + a % 7])
            out.append((title[:1].upper() + title[1:], " ".join(body)))
        return out

    def articles(self, start: int, stop: int) -> list[tuple[str, str]]:
        """(title, text) of articles ``start`` to ``stop - 1``."""
        out: list[tuple[str, str]] = []
        for b in range(start // BLOCK, (stop - 1) // BLOCK + 1):
            first = b * BLOCK
            out.extend(self.block(b)[max(start, first) - first : stop - first])
        return out

    def article(self, i: int) -> tuple[str, str]:
        """(title, text) of article ``i``."""
        return self.block(i // BLOCK)[i % BLOCK]

    def random_words(self, rng: np.random.Generator, n: int) -> list[str]:
        """``n`` words drawn like the articles' (for edits)."""
        return self._tokens(rng, max(1, n // 2))[0][:n]


def _invented_words(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct pronounceable words of one to three syllables."""
    onsets = [*_split("b br c ch d dr f g gr h j k l m n p pr r s sh st t tr v w z"), ""]
    nuclei = _split("a e i o u a e i o ai ea ou")
    codas = ["", "", "", "n", "r", "s", "t", "l", "m", "nd"]
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        syllables = rng.choice([1, 2, 2, 2, 3], size=4 * n)
        parts = [
            rng.integers(0, len(options), size=(4 * n, 3)) for options in (onsets, nuclei, codas)
        ]
        for k in range(4 * n):
            word = "".join(
                onsets[parts[0][k, s]] + nuclei[parts[1][k, s]] + codas[parts[2][k, s]]
                for s in range(syllables[k])
            )
            if len(word) > 2 and word not in seen:
                seen.add(word)
                out.append(word)
                if len(out) == n:
                    break
    return out


SOURCES = [f"outlet{k:02d}.example" for k in range(40)]


def article_url(i: int, title: str) -> str:
    """The (already canonical) URL of stored article ``i``."""
    slug = "-".join(title.lower().split()[:6])
    return f"https://{SOURCES[i % len(SOURCES)]}/news/{i}/{slug}"


def discovered_at(i: int, n: int) -> datetime:
    """Stored articles are spread over the year before EPOCH, in id order."""
    return EPOCH - timedelta(days=365) * (1 - (i + 1) / n)


# --------------------------------------------------------------------------------------------
# Fingerprints, in two processes, cached on disk
# --------------------------------------------------------------------------------------------

_CORPUS: Corpus | None = None


def _corpus() -> Corpus:
    """This process's Corpus, built on first use (1 s: the vocabulary and tables)."""
    global _CORPUS
    if _CORPUS is None:
        _CORPUS = Corpus()
    return _CORPUS


def _sample_fingerprint() -> Fingerprint:
    """A fixed text's fingerprint: its bytes key the cache to the fingerprint format."""
    return fingerprint("", " ".join(f"word{k % 97} other{k % 89}" for k in range(200)))


FP_BYTES = len(_sample_fingerprint().to_bytes())


def cache_folder() -> Path:
    """The cache folder for this generator, seed and fingerprint format (a change starts anew)."""
    sample = _sample_fingerprint()
    key = hashlib.sha256(
        repr(
            (
                GENERATOR_VERSION,
                SEED,
                BLOCK,
                CHUNK,
                np.__version__,
                sample.to_bytes(),
                sample.bands(),
            )
        ).encode()
    ).hexdigest()[:16]
    return CACHE_DIR / key


@dataclass(frozen=True)
class Prints:
    """What the store keeps per article: fingerprint blob, band hashes, URL key."""

    blobs: npt.NDArray[np.uint8]  # (n, FP_BYTES)
    bands: Int64s  # (n, BANDS)
    url_keys: npt.NDArray[np.bytes_]  # (n,) 32 hex digits

    def __len__(self) -> int:
        return len(self.blobs)


def _fingerprint_chunk(task: tuple[int, str]) -> int:
    """Fingerprint one chunk of articles and save it to the cache folder."""
    chunk, folder = task
    corpus = _corpus()
    start = chunk * CHUNK
    texts = corpus.articles(start, start + CHUNK)
    blobs = np.empty((CHUNK, FP_BYTES), dtype=np.uint8)
    bands = np.empty((CHUNK, BANDS), dtype=np.int64)
    keys = np.empty(CHUNK, dtype="S32")
    for j, (title, body) in enumerate(texts):
        fp = fingerprint(title, body)
        blobs[j] = np.frombuffer(fp.to_bytes(), dtype=np.uint8)
        bands[j] = fp.bands()
        keys[j] = url_key(article_url(start + j, title)).encode()
    path = Path(folder) / f"chunk_{chunk:05d}.npz"
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, blobs=blobs, bands=bands, url_keys=keys)
    partial.replace(path)
    return chunk


def load_prints(n: int, processes: int = 2) -> tuple[Prints, float]:
    """Fingerprints of articles 0..n-1 (computing the missing chunks); and seconds spent."""
    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    chunks = range((n + CHUNK - 1) // CHUNK)
    missing = [c for c in chunks if not (folder / f"chunk_{c:05d}.npz").exists()]
    started = time.perf_counter()
    if missing:
        print(f"   fingerprinting {len(missing) * CHUNK:,} articles in {processes} processes ...")
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            for done, _ in enumerate(
                pool.imap_unordered(_fingerprint_chunk, [(c, str(folder)) for c in missing]), 1
            ):
                if done % 10 == 0 or done == len(missing):
                    print(
                        f"     {done}/{len(missing)} chunks, {time.perf_counter() - started:.0f} s"
                    )
    parts = [np.load(folder / f"chunk_{c:05d}.npz") for c in chunks]
    prints = Prints(
        blobs=np.concatenate([p["blobs"] for p in parts])[:n],
        bands=np.concatenate([p["bands"] for p in parts])[:n],
        url_keys=np.concatenate([p["url_keys"] for p in parts])[:n],
    )
    return prints, time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# Rows and bulk loads
# --------------------------------------------------------------------------------------------


def _texts(chunk: int) -> tuple[int, list[tuple[str, str]]]:
    """Worker: the texts of one chunk."""
    return chunk, _corpus().articles(chunk * CHUNK, (chunk + 1) * CHUNK)


def text_chunks(n: int, first: int = 0) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """The texts of articles 0..n-1 by chunk (from chunk `first`), generated in a second
    process meanwhile."""
    chunks = range(first, (n + CHUNK - 1) // CHUNK)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        for chunk, texts in pool.imap(_texts, chunks):
            yield chunk, texts[: n - chunk * CHUNK]


@dataclass(frozen=True)
class ArticleRow:
    """One stored article and its original sighting, ready for either database."""

    id: int
    url: str
    url_key: str
    source_id: int
    title: str
    summary: str
    text: str
    published_at: datetime
    discovered_at: datetime
    content_hash: str
    fingerprint: bytes


def article_rows(
    start: int, texts: Sequence[tuple[str, str]], prints: Prints, n: int
) -> list[ArticleRow]:
    """Rows of articles ``start`` .. ``start + len(texts) - 1`` (ids are index + 1)."""
    rows = []
    for j, (title, body) in enumerate(texts):
        i = start + j
        blob = prints.blobs[i].tobytes()
        seen = discovered_at(i, n)
        rows.append(
            ArticleRow(
                id=i + 1,
                url=article_url(i, title),
                url_key=prints.url_keys[i].decode(),
                source_id=i % len(SOURCES) + 1,
                title=title,
                summary=" ".join(body.split(" ", 40)[:40]),
                text=body,
                published_at=seen - timedelta(minutes=17),
                discovered_at=seen,
                content_hash=Fingerprint.from_bytes(blob).content_hash,
                fingerprint=blob,
            )
        )
    return rows


def sorted_bands(prints: Prints) -> tuple[Int64s, Int64s]:
    """All (band_hash, article_id) pairs, sorted like the primary key (an append-only load)."""
    n = len(prints)
    bands = prints.bands.ravel()
    ids = np.repeat(np.arange(1, n + 1, dtype=np.int64), BANDS)
    order = np.lexsort((ids, bands))
    return bands[order], ids[order]


def sqlite_time(value: datetime) -> str:
    """How SQLAlchemy stores an aware datetime in SQLite (naive UTC text)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _check_sqlite_time(engine: Engine) -> None:
    """Stop if sqlite_time() no longer writes what SQLAlchemy writes (queries compare text)."""
    from monitor.store.schema import Article

    column_type = Article.__table__.c.discovered_at.type
    processor = column_type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    sample = discovered_at(12_345, 1_000_000)
    expected = processor(sample) if processor else sample
    if expected != sqlite_time(sample):
        raise SystemExit(f"SQLite time format differs: {expected!r} != {sqlite_time(sample)!r}")


@contextlib.contextmanager
def sqlite_bulk(path: Path, search_index: bool = True) -> Iterator[sqlite3.Connection]:
    """A raw connection for loading: no journal, no fsync, no FK checks, search triggers off.

    The FTS triggers on `articles` are dropped for the load and re-created from their own DDL
    afterwards, then the FTS index is rebuilt in one pass (the same end state, much faster).
    Without `search_index` the rebuild is skipped: the FTS index stays empty (a bench-only
    state: searching or deleting articles in that database would be wrong).
    """
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA foreign_keys=OFF")
    connection.execute("PRAGMA cache_size=-1000000")
    triggers = connection.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'articles'"
    ).fetchall()
    fts = [
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND sql LIKE 'CREATE VIRTUAL TABLE%fts5%content=''articles''%'"
        )
    ]
    for name, _ in triggers:
        connection.execute(f'DROP TRIGGER "{name}"')
    try:
        yield connection
    finally:
        for _, sql in triggers:
            connection.execute(sql)
        for name in fts if search_index else []:
            connection.execute(f'INSERT INTO "{name}"("{name}") VALUES (\'rebuild\')')
        connection.execute("PRAGMA journal_mode=WAL")
        connection.close()


def insert_sources_sqlite(connection: sqlite3.Connection) -> None:
    """The outlets as configured sources."""
    now = sqlite_time(EPOCH)
    connection.executemany(
        "INSERT INTO sources (id, name, url, type, config, enabled, created_at, updated_at,"
        " interval_seconds, consecutive_failures) VALUES (?, ?, ?, 'rss', '{}', 1, ?, ?, 900, 0)",
        [(k + 1, host, f"https://{host}/feed", now, now) for k, host in enumerate(SOURCES)],
    )


def load_sqlite(path: Path, prints: Prints, timings: dict[str, float], search_index: bool) -> None:
    """A fresh SQLite database at `path` with the schema of `upgrade` and `prints` stored."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    _check_sqlite_time(engine)
    engine.dispose()
    n = len(prints)
    started = time.perf_counter()
    with sqlite_bulk(path, search_index) as connection:
        connection.execute("BEGIN")
        insert_sources_sqlite(connection)
        for chunk, texts in text_chunks(n):
            rows = article_rows(chunk * CHUNK, texts, prints, n)
            connection.executemany(
                "INSERT INTO articles (id, url, url_key, canonical_url, source_id, title,"
                " summary, text, language, published_at, discovered_at, score, content_hash,"
                " fingerprint, is_seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'en', ?, ?, 1.0, ?, ?, 0)",
                [
                    (
                        r.id,
                        r.url,
                        r.url_key,
                        r.url,
                        r.source_id,
                        r.title,
                        r.summary,
                        r.text,
                        sqlite_time(r.published_at),
                        sqlite_time(r.discovered_at),
                        r.content_hash,
                        r.fingerprint,
                    )
                    for r in rows
                ],
            )
            connection.executemany(
                "INSERT INTO sightings (article_id, source_id, url, url_key, seen_at,"
                " published_at, reason) VALUES (?, ?, ?, ?, ?, ?, 'original')",
                [
                    (
                        r.id,
                        r.source_id,
                        r.url,
                        r.url_key,
                        sqlite_time(r.discovered_at),
                        sqlite_time(r.published_at),
                    )
                    for r in rows
                ],
            )
        connection.execute("COMMIT")
        timings["articles"] = time.perf_counter() - started
        started = time.perf_counter()
        bands, ids = sorted_bands(prints)
        connection.execute("BEGIN")
        step = 1_000_000
        for at in range(0, len(bands), step):
            connection.executemany(
                "INSERT OR IGNORE INTO lsh_bands (band_hash, article_id) VALUES (?, ?)",
                zip(bands[at : at + step].tolist(), ids[at : at + step].tolist(), strict=True),
            )
        connection.execute("COMMIT")
        timings["bands"] = time.perf_counter() - started
        started = time.perf_counter()
    if search_index:
        timings["search index"] = time.perf_counter() - started


def pg_url(database: str, admin: str = PG_ADMIN) -> str:
    """The SQLAlchemy URL of `database` on the server of `admin`."""
    return make_url(admin).set(database=database).render_as_string(hide_password=False)


def pg_dsn(url: str) -> str:
    """A libpq URL (no driver suffix) for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_recreate(database: str, admin: str = PG_ADMIN) -> None:
    """Drop `database` if it exists and create it empty."""
    with psycopg.connect(pg_dsn(admin), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')


def pg_drop(database: str, admin: str = PG_ADMIN) -> None:
    """Drop `database` if it exists."""
    with psycopg.connect(pg_dsn(admin), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def pg_exists(database: str, admin: str = PG_ADMIN) -> bool:
    """Whether `database` exists."""
    with psycopg.connect(pg_dsn(admin), autocommit=True) as connection:
        row = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        return row.fetchone() is not None


@contextlib.contextmanager
def pg_bulk(url: str, search_index: bool = True) -> Iterator[psycopg.Connection[Any]]:
    """A loading session: FK triggers off (session_replication_role), GIN index built after.

    The full-text GIN index on `articles` is dropped for the load and re-created from its own
    definition (pg_indexes.indexdef) afterwards (not at all without `search_index`); the tables
    are then VACUUM ANALYZEd, the steady state autovacuum reaches (index-only scans need the
    visibility map).
    """
    connection = psycopg.connect(pg_dsn(url))
    connection.execute("SET session_replication_role = replica")
    connection.execute("SET synchronous_commit = off")
    connection.execute("SET maintenance_work_mem = '1GB'")
    gin = connection.execute(
        "SELECT indexname, indexdef FROM pg_indexes"
        " WHERE tablename = 'articles' AND indexdef ILIKE '%USING gin%'"
    ).fetchall()
    for name, _ in gin:
        connection.execute(f'DROP INDEX "{name}"')
    connection.commit()
    try:
        yield connection
        for _, definition in gin if search_index else []:
            connection.execute(definition)
        for table in ("articles", "sightings", "sources"):
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 1) FROM {table}))"
            )
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")
    finally:
        connection.close()


PG_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
PG_BINARY_TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_BAND_ROW = np.dtype(
    [("fields", ">i2"), ("len1", ">i4"), ("band", ">i4"), ("len2", ">i4"), ("id", ">i4")]
)


def pg_band_rows(bands: Int64s, ids: Int64s) -> bytes:
    """(band_hash INTEGER, article_id INTEGER) rows in COPY BINARY form, built by numpy."""
    rows = np.empty(len(bands), dtype=PG_BAND_ROW)
    rows["fields"] = 2
    rows["len1"] = 4
    rows["band"] = bands  # 32-bit values (monitor.dedup._bands)
    rows["len2"] = 4
    rows["id"] = ids
    return rows.tobytes()


def copy_sources_pg(cursor: psycopg.Cursor[Any], when: datetime) -> None:
    """The outlets as configured sources (COPY)."""
    with cursor.copy(
        "COPY sources (id, name, url, type, config, enabled, created_at, updated_at,"
        " interval_seconds, consecutive_failures) FROM STDIN"
    ) as copy:
        for k, host in enumerate(SOURCES):
            copy.write_row(
                (k + 1, host, f"https://{host}/feed", "rss", "{}", True, when, when, 900, 0)
            )


def load_postgres(url: str, prints: Prints, timings: dict[str, float], search_index: bool) -> None:
    """The schema of `upgrade` in the (fresh) database at `url`, with `prints` stored."""
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    n = len(prints)
    started = time.perf_counter()
    with pg_bulk(url, search_index) as connection:
        with connection.cursor() as cursor:
            copy_sources_pg(cursor, EPOCH)
            for chunk, texts in text_chunks(n):
                rows = article_rows(chunk * CHUNK, texts, prints, n)
                with cursor.copy(
                    "COPY articles (id, url, url_key, canonical_url, source_id, title, summary,"
                    " text, language, published_at, discovered_at, score, content_hash,"
                    " fingerprint, is_seed) FROM STDIN"
                ) as copy:
                    for r in rows:
                        copy.write_row(
                            (
                                r.id,
                                r.url,
                                r.url_key,
                                r.url,
                                r.source_id,
                                r.title,
                                r.summary,
                                r.text,
                                "en",
                                r.published_at,
                                r.discovered_at,
                                1.0,
                                r.content_hash,
                                r.fingerprint,
                                False,
                            )
                        )
                with cursor.copy(
                    "COPY sightings (article_id, source_id, url, url_key, seen_at, published_at,"
                    " reason) FROM STDIN"
                ) as copy:
                    for r in rows:
                        copy.write_row(
                            (
                                r.id,
                                r.source_id,
                                r.url,
                                r.url_key,
                                r.discovered_at,
                                r.published_at,
                                "original",
                            )
                        )
                connection.commit()
        timings["articles"] = time.perf_counter() - started
        started = time.perf_counter()
        bands, ids = sorted_bands(prints)
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY lsh_bands (band_hash, article_id) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.write(PG_BINARY_HEADER)
            step = 1_000_000
            for at in range(0, len(bands), step):
                copy.write(pg_band_rows(bands[at : at + step], ids[at : at + step]))
            copy.write(PG_BINARY_TRAILER)
        connection.commit()
        timings["bands"] = time.perf_counter() - started
        started = time.perf_counter()
    timings["search index + vacuum analyze" if search_index else "vacuum analyze"] = (
        time.perf_counter() - started
    )


# --------------------------------------------------------------------------------------------
# Probes: light edits of stored articles, and new articles
# --------------------------------------------------------------------------------------------

EDIT_KINDS = ("edits", "boilerplate", "trimmed")


@dataclass(frozen=True)
class Probe:
    """One incoming item: its URL key and fingerprint; the stored article it copies, if any."""

    url_key: str
    fingerprint: Fingerprint
    original: int | None  # article id
    kind: str


def light_copy(body: str, kind: str, rng: np.random.Generator, corpus: Corpus) -> str:
    """A republisher's copy: a few words changed, site boilerplate, or the end cut off."""
    words = body.split(" ")
    share = 0.04 if kind == "edits" else 0.02
    at = rng.choice(len(words), size=int(len(words) * share), replace=False)
    for k, word in zip(at.tolist(), corpus.random_words(rng, len(at)), strict=False):
        words[k] = word
    if kind == "boilerplate":
        words = BOILERPLATE[:30] + words + BOILERPLATE[30:]
    if kind == "trimmed":
        words = words[: int(len(words) * 0.8)]
    return " ".join(words)


def make_probes(n: int, count: int = PROBES + WARMUP) -> tuple[list[Probe], float]:
    """`count` probes, alternating copy and new; and the mean ms to fingerprint one."""
    corpus = _corpus()
    rng = np.random.default_rng((SEED, n, 7))
    originals = rng.choice(n, size=count // 2, replace=False).tolist()
    new_texts = corpus.articles(NEW_BASE, NEW_BASE + count - count // 2)
    probes: list[Probe] = []
    spent = 0.0
    for k in range(count):
        if k % 2 == 0 and k // 2 < len(originals):
            i = originals[k // 2]
            kind = EDIT_KINDS[(k // 2) % len(EDIT_KINDS)]
            title, body = corpus.article(i)
            title, body = "Update: " + title, light_copy(body, kind, rng, corpus)
            original: int | None = i + 1
            url = f"https://syndicator.example/world/{k}-{i}"
        else:
            title, body = new_texts[k // 2]
            kind, original = "new", None
            url = f"https://newcomer.example/story/{k}"
        started = time.perf_counter()
        fp = fingerprint(title, body)
        spent += time.perf_counter() - started
        probes.append(Probe(url_key(url), fp, original, kind))
    return probes, spent / count * 1e3


@dataclass(frozen=True)
class Decision:
    """One probe decided: milliseconds in all and per step, what the index returned, the verdict."""

    kind: str
    total_ms: float
    step_ms: tuple[float, ...]
    candidates: int  # as returned by near_candidates (at most MAX_CANDIDATES)
    original_candidate: bool  # a copy's original was among them
    right: bool  # a copy decided as a copy of its original, a new item decided as new
    wrong_article: bool  # a copy attached to another article


STEPS = ("url key", "content hash", "bands()", "near_candidates", "decide_near")


def decide_all(engine: Engine, probes: Sequence[Probe]) -> list[Decision]:
    """Decide every probe as Poller._decide does (no GUID), timing each step.

    One connection and one transaction for all of them, as a poll's write does; the first
    WARMUP probes are not recorded.
    """
    out: list[Decision] = []
    clock = time.perf_counter
    with engine.begin() as connection:
        for number, probe in enumerate(probes):
            fp = probe.fingerprint
            t0 = clock()
            found = store.article_by_url_key(connection, probe.url_key)
            t1 = clock()
            if found is None and fp.content_hash:
                found = store.article_by_content(connection, fp.content_hash)
            t2 = clock()
            bands = fp.bands()
            t3 = clock()
            candidates = store.near_candidates(connection, bands)
            t4 = clock()
            verdict = decide_near(fp, candidates, DEFAULT_THRESHOLDS)
            t5 = clock()
            if found is not None:
                raise SystemExit(f"probe {number} matched by URL or content: not a near copy")
            if number < WARMUP:
                continue
            copy_of = verdict.article_id if verdict.kind == "copy" else None
            out.append(
                Decision(
                    kind=probe.kind,
                    total_ms=(t5 - t0) * 1e3,
                    step_ms=tuple(
                        (b - a) * 1e3 for a, b in itertools.pairwise((t0, t1, t2, t3, t4, t5))
                    ),
                    candidates=len(candidates),
                    original_candidate=probe.original in {c.article_id for c in candidates},
                    right=copy_of == probe.original,
                    wrong_article=probe.original is not None
                    and copy_of not in (None, probe.original),
                )
            )
    return out


@dataclass(frozen=True)
class IndexHits:
    """What the item's 64 bands match in lsh_bands, uncapped (counted outside the timings)."""

    rows: list[int]
    articles: list[int]


def index_hits(engine: Engine, probes: Sequence[Probe]) -> IndexHits:
    """Per probe: lsh_bands rows and distinct articles its bands match (no cap)."""
    sqlite = engine.dialect.name == "sqlite"
    query = text(
        "SELECT count(*), count(DISTINCT article_id) FROM lsh_bands WHERE band_hash IN"
        + (" (SELECT value FROM json_each(:bands))" if sqlite else " (SELECT unnest(:bands))")
    )
    hits = IndexHits([], [])
    with engine.connect() as connection:
        for probe in probes:
            bands = list(probe.fingerprint.bands())
            value: Any = json.dumps(bands) if sqlite else bands
            rows, articles = connection.execute(query, {"bands": value}).one()
            hits.rows.append(int(rows))
            hits.articles.append(int(articles))
    return hits


# --------------------------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------------------------


def sqlite_storage(path: Path) -> dict[str, int]:
    """Bytes per table and index group, from the dbstat virtual table, plus the file."""
    connection = sqlite3.connect(path)
    try:
        sizes: dict[str, int] = dict(
            connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        )
        owners: dict[str, str] = dict(
            connection.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
        )
    finally:
        connection.close()
    out: dict[str, int] = {}
    for name, size in sizes.items():
        table = owners.get(name, name)
        group = "articles_fts" if table.startswith("articles_fts") else table
        key = f"{group} (indexes)" if name in owners else group
        out[key] = out.get(key, 0) + int(size)
    out["file"] = path.stat().st_size
    return out


def pg_storage(url: str) -> dict[str, int]:
    """Bytes of lsh_bands (heap, indexes), articles (heap, TOAST, indexes), sightings, database."""
    with psycopg.connect(pg_dsn(url)) as connection:
        row = connection.execute(
            "SELECT pg_relation_size('lsh_bands'), pg_indexes_size('lsh_bands'),"
            " pg_total_relation_size('lsh_bands'), pg_relation_size('articles'),"
            " pg_total_relation_size('articles') - pg_relation_size('articles')"
            " - pg_indexes_size('articles'), pg_indexes_size('articles'),"
            " pg_total_relation_size('sightings'), pg_database_size(current_database())"
        ).fetchone()
    assert row is not None
    names = (
        "lsh_bands",
        "lsh_bands (indexes)",
        "lsh_bands total",
        "articles",
        "articles (toast)",
        "articles (indexes)",
        "sightings total",
        "database",
    )
    return dict(zip(names, (int(v) for v in row), strict=True))


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def quantile(values: Sequence[float], q: float) -> float:
    """The value at quantile `q` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def mb(size: int) -> str:
    """Bytes as megabytes for the report."""
    return f"{size / 1e6:,.0f} MB"


def noise_floor(target_ms: float, runs: int = PROBES) -> list[float]:
    """ms of a fixed CPU-only task as long as a median decision, `runs` times: the jitter
    this machine adds to any timing of that length (other processes, scheduling)."""
    clock = time.perf_counter

    def task(k: int) -> int:
        return sum(i * i for i in range(k))

    k = 1_000
    while True:
        started = clock()
        task(k)
        if (clock() - started) * 1e3 >= target_ms / 4:
            break
        k *= 2
    k = max(1, int(k * target_ms / statistics.median(_timed(task, k, 21))))
    return _timed(task, k, runs)


def _timed(task: Callable[[int], int], k: int, runs: int) -> list[float]:
    """ms of `task(k)`, `runs` times."""
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        task(k)
        out.append((time.perf_counter() - started) * 1e3)
    return out


def round_trip_ms(engine: Engine, runs: int = PROBES) -> list[float]:
    """ms of `SELECT 1` through SQLAlchemy: the floor under each of a decision's 4-5 queries."""
    out = []
    with engine.connect() as connection:
        for _ in range(runs):
            started = time.perf_counter()
            connection.execute(text("SELECT 1")).scalar()
            out.append((time.perf_counter() - started) * 1e3)
    return out


def band_deletes(engine: Engine, n: int) -> dict[str, float]:
    """ms to delete one article's band rows by article_id, as revise_article (every edited item)
    and merge_article do, and as ON DELETE CASCADE needs: the primary key (band_hash,
    article_id) cannot find them. Timed on 5 articles (rolled back), then again with a
    prototype index on article_id, whose size is reported; the index is dropped afterwards."""
    ids = [n // 7, n // 3, n // 2, 2 * n // 3, n - 5]
    out: dict[str, float] = {}

    def timed(label: str) -> None:
        ms = []
        with engine.connect() as connection:
            for article_id in ids:
                transaction = connection.begin()
                started = time.perf_counter()
                deleted = connection.execute(
                    text("DELETE FROM lsh_bands WHERE article_id = :id"), {"id": article_id}
                ).rowcount
                ms.append((time.perf_counter() - started) * 1e3)
                transaction.rollback()
                if deleted != BANDS:
                    raise SystemExit(f"article {article_id}: {deleted} band rows, not {BANDS}")
        out[f"{label} median ms"] = statistics.median(ms)
        out[f"{label} max ms"] = max(ms)

    timed("no index")
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("CREATE INDEX ix_lsh_bands_article_id ON lsh_bands (article_id)"))
    out["index build s"] = time.perf_counter() - started
    with engine.connect() as connection:
        size = connection.scalar(
            text(
                "SELECT sum(pgsize) FROM dbstat WHERE name = 'ix_lsh_bands_article_id'"
                if engine.dialect.name == "sqlite"
                else "SELECT pg_relation_size('ix_lsh_bands_article_id')"
            )
        )
    out["index MB"] = int(size or 0) / 1e6
    try:
        timed("with index")
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_lsh_bands_article_id"))
    return out


def bucket_sizes(engine: Engine) -> dict[int, int]:
    """How many band hashes are shared by k articles: {k: number of band hashes}."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT size, count(*) FROM (SELECT count(*) AS size FROM lsh_bands"
                " GROUP BY band_hash) AS buckets GROUP BY size"
            )
        ).all()
    return {int(size): int(count) for size, count in rows}


def without_rowid_layout(path: Path, probes: Sequence[Probe]) -> dict[str, float]:
    """The same band index as a WITHOUT ROWID table (one B-tree instead of table + index):
    its size and the band query's ms over the probes, beside the current table's."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("DROP TABLE IF EXISTS lsh_bands_wr")
        connection.execute(
            "CREATE TABLE lsh_bands_wr (band_hash INTEGER NOT NULL, article_id INTEGER NOT NULL,"
            " PRIMARY KEY (band_hash, article_id)) WITHOUT ROWID"
        )
        started = time.perf_counter()
        connection.execute(
            "INSERT INTO lsh_bands_wr SELECT band_hash, article_id FROM lsh_bands"
            " ORDER BY band_hash, article_id"
        )
        connection.commit()
        copy_s = time.perf_counter() - started
        sizes = dict(
            connection.execute(
                "SELECT name, sum(pgsize) FROM dbstat WHERE name IN"
                " ('lsh_bands', 'sqlite_autoindex_lsh_bands_1', 'lsh_bands_wr') GROUP BY name"
            ).fetchall()
        )
        marks = ", ".join("?" * BANDS)
        out: dict[str, float] = {
            "rowid table + index MB": (sizes["lsh_bands"] + sizes["sqlite_autoindex_lsh_bands_1"])
            / 1e6,
            "WITHOUT ROWID MB": sizes["lsh_bands_wr"] / 1e6,
            "copy s": copy_s,
        }
        for table in ("lsh_bands", "lsh_bands_wr", "lsh_bands"):
            query = f"SELECT article_id FROM {table} WHERE band_hash IN ({marks})"
            ms = []
            for probe in probes:
                bands = probe.fingerprint.bands()
                started = time.perf_counter()
                connection.execute(query, bands).fetchall()
                ms.append((time.perf_counter() - started) * 1e3)
            out[f"{table} band query median ms"] = statistics.median(ms)
            out[f"{table} band query p95 ms"] = quantile(ms, 0.95)
        connection.execute("DROP TABLE lsh_bands_wr")
        connection.commit()
    finally:
        connection.close()
    return out


@dataclass
class Result:
    """Everything measured for one store size and database."""

    n: int
    db: str
    load_s: dict[str, float]
    passes: list[list[Decision]]
    hits: IndexHits
    storage: dict[str, int]
    load_average: float
    noise_ms: list[float]
    round_trip_ms: list[float]
    buckets: dict[int, int]
    layouts: dict[str, float]
    deletes: dict[str, float]


def stats(values: Sequence[float], digits: int = 2) -> str:
    """median, p95 and max of `values`."""
    return (
        f"median {statistics.median(values):.{digits}f}, p95 {quantile(values, 0.95):.{digits}f},"
        f" max {max(values):.{digits}f}"
    )


def lsh_bytes(storage: dict[str, int]) -> int:
    """Bytes of lsh_bands with its indexes, from either database's storage dict."""
    return storage.get("lsh_bands total") or (
        storage.get("lsh_bands", 0) + storage.get("lsh_bands (indexes)", 0)
    )


def print_result(result: Result, probes: Sequence[Probe]) -> None:
    """The detailed report of one store size and database."""
    print(f"== {result.db}, {result.n:,} stored articles (load average {result.load_average:.1f})")
    if result.load_s:
        print("   load: " + ", ".join(f"{k} {v:.0f} s" for k, v in result.load_s.items()))
    for number, decisions in enumerate(result.passes, 1):
        totals = [d.total_ms for d in decisions]
        steps = ", ".join(
            f"{name} {statistics.median(d.step_ms[k] for d in decisions):.3f}"
            for k, name in enumerate(STEPS)
        )
        print(
            f"   pass {number}: ms per decision {stats(totals)}, p99 {quantile(totals, 0.99):.2f};"
            f" steps (median ms): {steps}"
        )
    last = result.passes[-1]
    noise = result.noise_ms
    print(
        f"   noise floor (a fixed CPU task of the median's length, {len(noise)} runs):"
        f" {stats(noise)}, p99 {quantile(noise, 0.99):.2f}"
    )
    print(f"   one query round trip (SELECT 1): {stats(result.round_trip_ms, 3)}")
    for low, high in ((0, 0), (1, 1), (2, 9), (10, 64)):
        group = [d.total_ms for d in last if low <= d.candidates <= high]
        if group:
            print(
                f"   items with {low}-{high} candidates: {len(group):4d}, ms per decision"
                f" {stats(group)}"
            )
    measured = probes[WARMUP:]
    for label in ("copies", "new"):
        wanted = [(p.original is None) == (label == "new") for p in measured]
        rows = [r for keep, r in zip(wanted, result.hits.rows, strict=True) if keep]
        articles = [a for keep, a in zip(wanted, result.hits.articles, strict=True) if keep]
        verified = [d.candidates for d in last if pick_kind(d.kind, label)]
        print(
            f"   {label:6s}: band rows matched {stats(rows, 0)}; distinct articles {stats(articles, 0)};"
            f" verified (capped at 64) {stats(verified, 0)}"
        )
    by_kind = ", ".join(
        f"{kind} {sum(d.right for d in last if d.kind == kind)}/"
        f"{sum(d.kind == kind for d in last)}"
        f" (original among candidates {sum(d.original_candidate for d in last if d.kind == kind)})"
        for kind in EDIT_KINDS
    )
    new = [d for d in last if d.kind == "new"]
    print(
        f"   copies found: {by_kind}; attached to a wrong article:"
        f" {sum(d.wrong_article for d in last)}; new items wrongly merged:"
        f" {sum(not d.right for d in new)}/{len(new)}"
    )
    shown = {k: v for k, v in sorted(result.storage.items()) if k in SHOWN_STORAGE}
    print("   storage: " + ", ".join(f"{k} {mb(v)}" for k, v in shown.items()))
    lsh = lsh_bytes(result.storage)
    print(f"   lsh_bands: {lsh / result.n:,.0f} bytes per article, {mb(lsh)} in all")
    if result.buckets:
        hashes = sum(result.buckets.values())
        band_rows = sum(size * count for size, count in result.buckets.items())
        shared = sum(size * count for size, count in result.buckets.items() if size > 1)
        top = sorted(result.buckets, reverse=True)[:5]
        print(
            f"   band buckets: {hashes:,} distinct hashes for {band_rows:,} rows; rows in shared"
            f" buckets {shared / band_rows:.2%}; largest buckets {top}"
        )
    if result.deletes:
        print(
            "   DELETE FROM lsh_bands WHERE article_id = ? (revise/merge/cascade): "
            + ", ".join(f"{k} {v:,.2f}" for k, v in result.deletes.items())
        )
    if result.layouts:
        print(
            "   WITHOUT ROWID layout: "
            + ", ".join(f"{k} {v:,.2f}" for k, v in result.layouts.items())
        )


SHOWN_STORAGE = frozenset(
    {
        "articles",
        "articles (indexes)",
        "articles (toast)",
        "articles_fts",
        "lsh_bands",
        "lsh_bands (indexes)",
        "lsh_bands total",
        "sightings",
        "sightings (indexes)",
        "sightings total",
        "file",
        "database",
    }
)


def pick_kind(kind: str, label: str) -> bool:
    """Whether a decision of `kind` belongs to the `copies` or `new` group."""
    return (kind == "new") == (label == "new")


def print_summary(results: Sequence[Result]) -> None:
    """One line per store size and database."""
    print("\n== summary (last pass)")
    print(
        f"   {'db':9s} {'articles':>10s} {'median ms':>10s} {'p95 ms':>8s} {'cands':>6s}"
        f" {'rows/new':>9s} {'recall':>9s} {'merged':>7s} {'lsh_bands':>10s} {'B/article':>10s}"
        f" {'db size':>10s}"
    )
    for r in results:
        last = r.passes[-1]
        totals = [d.total_ms for d in last]
        copies = [d for d in last if d.kind != "new"]
        new = [d for d in last if d.kind == "new"]
        new_rows = [rows for d, rows in zip(last, r.hits.rows, strict=True) if d.kind == "new"]
        lsh = lsh_bytes(r.storage)
        size = r.storage.get("database") or r.storage.get("file", 0)
        print(
            f"   {r.db:9s} {r.n:>10,} {statistics.median(totals):>10.2f}"
            f" {quantile(totals, 0.95):>8.2f} {statistics.median(d.candidates for d in last):>6.0f}"
            f" {statistics.median(new_rows):>9.0f}"
            f" {sum(d.right for d in copies):>4d}/{len(copies):<4d}"
            f" {sum(not d.right for d in new) + sum(d.wrong_article for d in copies):>7d}"
            f" {mb(lsh):>10s} {lsh / r.n:>10,.0f} {mb(size):>10s}"
        )


def run_one(
    n: int, db: str, prints: Prints, probes: Sequence[Probe], args: argparse.Namespace
) -> Result:
    """Load (or reuse) one database, decide the probes, measure the storage, clean up."""
    timings: dict[str, float] = {}
    if db == "sqlite":
        path = Path(args.sqlite_dir) / f"bench_dedup_{n}.sqlite"
        url = f"sqlite:///{path}"
        if not (args.reuse and path.exists()):
            load_sqlite(path, prints, timings, args.search_index)
    else:
        database = f"bench_dedup_{n}"
        url = pg_url(database, args.pg_admin)
        if not (args.reuse and pg_exists(database, args.pg_admin)):
            pg_recreate(database, args.pg_admin)
            load_postgres(url, prints, timings, args.search_index)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            stored = connection.scalar(text("SELECT count(*) FROM articles"))
        if stored != n:
            raise SystemExit(f"{url}: {stored} articles stored, expected {n}")
        load_average = os.getloadavg()[0]
        passes = [decide_all(engine, probes) for _ in range(args.passes)]
        noise = noise_floor(statistics.median(d.total_ms for d in passes[-1]))
        round_trip = round_trip_ms(engine)
        hits = index_hits(engine, probes[WARMUP:])
        sizes = sqlite_storage(path) if db == "sqlite" else pg_storage(url)
        buckets = bucket_sizes(engine) if args.buckets else {}
        deletes = band_deletes(engine, n) if args.deletes else {}
        layouts = (
            without_rowid_layout(path, probes[WARMUP:]) if args.layouts and db == "sqlite" else {}
        )
    finally:
        engine.dispose()
        if not args.keep:
            if db == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            else:
                pg_drop(f"bench_dedup_{n}", args.pg_admin)
    return Result(
        n,
        db,
        timings,
        passes,
        hits,
        sizes,
        load_average,
        noise,
        round_trip,
        buckets,
        layouts,
        deletes,
    )


def main() -> int:
    """Parse the options, run every size x database, print the reports."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="stored articles, comma list")
    parser.add_argument("--db", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--quick", action="store_true", help="10,000 articles only")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--reuse", action="store_true", help="use a kept database as it is")
    parser.add_argument(
        "--search-index",
        action="store_true",
        help="also build the full-text index (no part in dedup; as slow as the rest of the load)",
    )
    parser.add_argument(
        "--buckets", action="store_true", help="histogram of articles per band hash (a full scan)"
    )
    parser.add_argument(
        "--deletes",
        action="store_true",
        help="time deleting one article's band rows (revise/merge), without and with an index",
    )
    parser.add_argument(
        "--layouts",
        action="store_true",
        help="SQLite: also measure lsh_bands as a WITHOUT ROWID table (size, band query ms)",
    )
    parser.add_argument("--passes", type=int, default=2, help="timed passes over the probes")
    parser.add_argument("--processes", type=int, default=2, help="for fingerprinting")
    parser.add_argument("--sqlite-dir", default="/tmp")
    parser.add_argument("--pg-admin", default=PG_ADMIN, help="URL of a database to connect to")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    databases = [d.strip() for d in args.db.split(",") if d.strip()]
    for db in databases:
        if db not in ("sqlite", "postgres"):
            parser.error(f"unknown database {db!r}")
    results = []
    started = time.perf_counter()
    for n in sizes:
        print(f"== {n:,} articles")
        prints, seconds = load_prints(n, args.processes)
        print(f"   fingerprints ready in {seconds:.0f} s (cache: {cache_folder()})")
        probes, fp_ms = make_probes(n)
        print(f"   {len(probes)} probes; fingerprint() {fp_ms:.2f} ms per probe (not timed below)")
        for db in databases:
            result = run_one(n, db, prints, probes, args)
            print_result(result, probes)
            results.append(result)
        del prints
    print_summary(results)
    print(f"   whole run {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
