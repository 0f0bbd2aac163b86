"""Writes and lookups of articles, sightings, the LSH index and seen items.

Every write tolerates a concurrent twin: articles are unique by canonical URL key and by content
hash, sightings by (article, source, URL key), seen items by (source, item key). An insert that loses a race
returns the row that won, so two workers that meet the same article store it once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from monitor.dedup import Candidate, Fingerprint, StoredPrint, Thresholds, decide_near
from monitor.items import TopicMatch
from monitor.store.driver import execute, execute_many
from monitor.store.schema import (
    Article,
    ArticleRevision,
    ArticleTopic,
    LshBand,
    SeenItem,
    Sighting,
)

MAX_CANDIDATES = 64  # near-duplicate candidates verified per item; band collisions beyond are noise


@dataclass(frozen=True)
class NewArticle:
    """An article about to be stored, with everything dedup and the digest need."""

    url: str
    url_key: str
    canonical_url: str
    guid: str | None
    source_id: int | None
    title: str
    summary: str
    text: str
    author: str | None
    language: str | None
    published_at: datetime | None
    discovered_at: datetime
    fingerprint: Fingerprint
    topics: tuple[TopicMatch, ...] = ()
    is_seed: bool = False
    origin: str | None = None

    @property
    def score(self) -> float:
        return max((t.score for t in self.topics), default=0.0)


def stored_content_hash(article: NewArticle) -> str:
    """The unique content key; an article without words gets one of its own, never a shared ''."""
    return article.fingerprint.content_hash or f"empty:{article.url_key}"[:64]


def insert_ignore(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], conflict: Sequence[str]
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL, as one executemany."""
    statement = _insert_ignore_statement(connection.dialect.name, table, tuple(conflict))
    execute_many(connection, statement, rows)


def _dialect_module(dialect_name: str) -> Any:
    """The module with the dialect's INSERT ... ON CONFLICT. PostgreSQL's is imported only
    when used: its package loads all its drivers' dialects, 15 ms of a SQLite poll's start."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql
    return sqlite


@functools.cache
def _insert_ignore_statement(dialect_name: str, table: Table, conflict: tuple[str, ...]) -> Any:
    dialect = _dialect_module(dialect_name)
    return dialect.insert(table).on_conflict_do_nothing(index_elements=list(conflict))


# The lookups run for every new item, so they are built once, with bound parameters: building a
# statement and its cache key on each call costs several times more than running it.
_BY_URL_KEY = select(Article.id).where(Article.url_key == bindparam("url_key"))
_BY_CONTENT = select(Article.id).where(Article.content_hash == bindparam("content_hash"))
_EXACT_WAYS = ("url", "guid", "content")  # in order of precedence
_EXACT_TWINS = union_all(
    select(literal(0).label("way"), Article.id.label("article_id")).where(
        Article.url_key == bindparam("url_key")
    ),
    select(literal(1), Sighting.article_id)
    .join(Article, Article.id == Sighting.article_id)
    .where(Sighting.source_id == bindparam("source_id"), Article.guid == bindparam("guid")),
    select(literal(2), Article.id).where(Article.content_hash == bindparam("content_hash")),
).subquery()
_EXACT_TWIN = (
    select(_EXACT_TWINS.c.way, _EXACT_TWINS.c.article_id)
    .order_by(_EXACT_TWINS.c.way, _EXACT_TWINS.c.article_id)
    .limit(1)
)


def article_by_url_key(connection: Connection, url_key: str) -> int | None:
    return connection.scalar(_BY_URL_KEY, {"url_key": url_key})


def article_by_content(connection: Connection, content_hash: str) -> int | None:
    return connection.scalar(_BY_CONTENT, {"content_hash": content_hash})


def exact_twin(
    connection: Connection,
    *,
    url_key: str,
    source_id: int | None,
    guid: str | None,
    content_hash: str | None,
) -> tuple[str, int] | None:
    """The stored article an item is an exact copy of, and by what: its URL key (``url``),
    the GUID its source gave it before (``guid``), or its text (``content``), in that order
    of precedence; one query for the three. A None GUID or content hash matches nothing."""
    rows = execute(
        connection,
        _EXACT_TWIN,
        {"url_key": url_key, "source_id": source_id, "guid": guid, "content_hash": content_hash},
    )
    return (_EXACT_WAYS[rows[0][0]], rows[0][1]) if rows else None


def near_candidates(connection: Connection, bands: Iterable[int]) -> list[Candidate]:
    """Stored articles sharing at least one LSH band with `bands`: the (at most 64) sharing most.

    One query: the database counts the shared bands (ties: the older article first).
    """
    band_list = list(bands)
    if not band_list:
        return []
    values = {f"band{i}": band for i, band in enumerate(band_list)}
    found = execute(connection, _near_statement(len(band_list)), values)
    candidates = []
    for article_id, blob in found:
        try:
            candidates.append(Candidate(article_id, _stored_print(bytes(blob))))
        except (ValueError, TypeError):  # made by another fingerprint version: not comparable
            continue
    return candidates


@functools.lru_cache(maxsize=8)
def _near_statement(bands: int) -> Any:
    """The stored articles sharing most of ``bands`` LSH bands (a parameter each: an expanding
    IN list would be rendered anew on every call)."""
    shared = (
        select(LshBand.article_id, func.count().label("shared"))
        .where(LshBand.band_hash.in_([bindparam(f"band{i}") for i in range(bands)]))
        .group_by(LshBand.article_id)
        .order_by(func.count().desc(), LshBand.article_id)
        .limit(MAX_CANDIDATES)
        .subquery()
    )
    return select(Article.id, Article.fingerprint).join(shared, shared.c.article_id == Article.id)


_INSERT_ARTICLE = insert(Article).returning(Article.id)
_INSERT_TOPIC = insert(ArticleTopic)


@functools.cache
def _insert_article_statement(dialect_name: str) -> Any:
    dialect = _dialect_module(dialect_name)
    return dialect.insert(Article).on_conflict_do_nothing().returning(Article.id)


@functools.lru_cache(maxsize=16384)  # about 1.3 KB each, the blob it is keyed by included
def _stored_print(blob: bytes) -> StoredPrint:
    """StoredPrint.from_bytes, cached: the same stored articles are candidates again and again."""
    return StoredPrint.from_bytes(blob)


def insert_article(connection: Connection, article: NewArticle) -> tuple[int, bool]:
    """Store a new article with its topics, LSH bands and original sighting.

    Returns (id, True), or (id of the twin, False) when a concurrent writer stored the same URL or
    content first.
    """
    values = {
        "url": article.url,
        "url_key": article.url_key,
        "canonical_url": article.canonical_url,
        "guid": article.guid,
        "source_id": article.source_id,
        "title": article.title,
        "summary": article.summary,
        "text": article.text,
        "author": article.author,
        "language": article.language,
        "published_at": article.published_at,
        "discovered_at": article.discovered_at,
        "score": article.score,
        "content_hash": stored_content_hash(article),
        "fingerprint": article.fingerprint.to_bytes(),
        "is_seed": article.is_seed,
        "origin": article.origin,
    }
    # ON CONFLICT DO NOTHING returns no row when a twin holds the URL key or content hash: no
    # savepoint is needed to survive the conflict (a savepoint and its release cost two
    # statements per article). Only if no twin is found then is the insert redone the old way,
    # inside a savepoint, so that the error says what really failed.
    inserted = execute(connection, _insert_article_statement(connection.dialect.name), values)
    article_id = inserted[0][0] if inserted else None
    if article_id is None:
        twin = article_by_url_key(connection, article.url_key) or article_by_content(
            connection, stored_content_hash(article)
        )
        if twin is not None:
            return twin, False
        try:
            with connection.begin_nested():
                article_id = connection.execute(_INSERT_ARTICLE, values).scalar_one()
        except IntegrityError:
            twin = article_by_url_key(connection, article.url_key) or article_by_content(
                connection, stored_content_hash(article)
            )
            if twin is None:
                raise
            return twin, False
    # a new row: no topics to delete, and its score already is the topics' best
    execute_many(connection, _INSERT_TOPIC, _topic_rows(article_id, article.topics))
    insert_ignore(
        connection,
        LshBand.__table__,
        [
            {"band_hash": band, "article_id": article_id}
            for band in set(article.fingerprint.bands())
        ],
        ("band_hash", "article_id"),
    )
    add_sighting(
        connection,
        article_id=article_id,
        source_id=article.source_id,
        url=article.url,
        url_key=article.url_key,
        seen_at=article.discovered_at,
        published_at=article.published_at,
        reason="seed" if article.is_seed else "original",
        similarity=None,
    )
    return article_id, True


def _topic_rows(article_id: int, topics: Iterable[TopicMatch]) -> list[dict[str, Any]]:
    return [
        {
            "article_id": article_id,
            "topic": match.topic,
            "score": match.score,
            "terms": json.dumps(
                [{"term": h.term, "field": h.field, "count": h.count} for h in match.hits],
                ensure_ascii=False,
            ),
        }
        for match in topics
    ]


def write_topics(connection: Connection, article_id: int, topics: Iterable[TopicMatch]) -> None:
    connection.execute(delete(ArticleTopic).where(ArticleTopic.article_id == article_id))
    rows = _topic_rows(article_id, topics)
    if rows:
        connection.execute(insert(ArticleTopic), rows)
    score = max((match.score for match in topics), default=0.0) if rows else 0.0
    connection.execute(update(Article).where(Article.id == article_id).values(score=score))


def add_sighting(
    connection: Connection,
    *,
    article_id: int,
    source_id: int | None,
    url: str,
    url_key: str,
    seen_at: datetime,
    published_at: datetime | None,
    reason: str,
    similarity: float | None,
) -> None:
    insert_ignore(
        connection,
        Sighting.__table__,
        [
            {
                "article_id": article_id,
                "source_id": source_id,
                "url": url,
                "url_key": url_key,
                "seen_at": seen_at,
                "published_at": published_at,
                "reason": reason,
                "similarity": similarity,
            }
        ],
        ("article_id", "source_id", "url_key"),
    )


def revise_article(
    connection: Connection,
    article_id: int,
    *,
    title: str,
    summary: str,
    text: str,
    fingerprint: Fingerprint,
    topics: Sequence[TopicMatch],
    now: datetime,
) -> bool:
    """Apply a source's update of an item it sent before, keeping the previous title.

    Returns False when the new content equals another stored article, or when the title,
    summary and text are those stored (an edit of the markup alone): then nothing changes.
    """
    row = connection.execute(
        select(Article.title, Article.summary, Article.content_hash).where(Article.id == article_id)
    ).one_or_none()
    if row is None:
        return False
    content_hash = fingerprint.content_hash or f"empty:{article_id}"
    if (row.title, row.summary, row.content_hash) == (title, summary, content_hash):
        return False
    try:
        with connection.begin_nested():
            connection.execute(
                update(Article)
                .where(Article.id == article_id)
                .values(
                    title=title,
                    summary=summary,
                    text=text,
                    content_hash=content_hash,
                    fingerprint=fingerprint.to_bytes(),
                    updated_at=now,
                )
            )
    except IntegrityError:
        return False
    connection.execute(
        insert(ArticleRevision).values(
            article_id=article_id,
            changed_at=now,
            previous_title=row.title,
            previous_content_hash=row.content_hash,
        )
    )
    connection.execute(delete(LshBand).where(LshBand.article_id == article_id))
    insert_ignore(
        connection,
        LshBand.__table__,
        [{"band_hash": band, "article_id": article_id} for band in set(fingerprint.bands())],
        ("band_hash", "article_id"),
    )
    if topics:
        write_topics(connection, article_id, topics)
    return True


class SeenRow(NamedTuple):
    """What a source's item looked like when it was last seen."""

    item_hash: str
    article_id: int | None
    last_seen_at: datetime


def seen_items(connection: Connection, source_id: int, keys: Sequence[str]) -> dict[str, SeenRow]:
    """item_key -> SeenRow for the keys this source sent before (one query per 512 keys)."""
    found: dict[str, SeenRow] = {}
    for start in range(0, len(keys), _SEEN_CHUNK):
        chunk = list(keys[start : start + _SEEN_CHUNK])
        size = 1 << (len(chunk) - 1).bit_length()  # a few statements serve every chunk size
        chunk += chunk[-1:] * (size - len(chunk))
        values: dict[str, Any] = {f"key{i}": key for i, key in enumerate(chunk)}
        values["source_id"] = source_id
        for key, item_hash, article_id, last_seen_at in execute(
            connection, _seen_statement(size), values
        ):
            found[key] = SeenRow(item_hash, article_id, last_seen_at)
    return found


_SEEN_CHUNK = 512


@functools.lru_cache(maxsize=16)
def _seen_statement(keys: int) -> Any:
    """The seen items of a source among ``keys`` keys (a parameter each, see _near_statement)."""
    return select(
        SeenItem.item_key, SeenItem.item_hash, SeenItem.article_id, SeenItem.last_seen_at
    ).where(
        SeenItem.source_id == bindparam("source_id"),
        SeenItem.item_key.in_([bindparam(f"key{i}") for i in range(keys)]),
    )


def remember_items(
    connection: Connection,
    source_id: int,
    items: Sequence[tuple[str, str, int | None]],
    now: datetime,
) -> None:
    """Record (item_key, item_hash, article_id) as seen; refresh the ones seen before.

    One executemany of one prepared upsert (see :func:`insert_ignore` for why).
    """
    if not items:
        return
    rows = [
        {
            "source_id": source_id,
            "item_key": key,
            "item_hash": item_hash,
            "article_id": article_id,
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for key, item_hash, article_id in items
    ]
    execute_many(connection, _remember_statement(connection.dialect.name), rows)


@functools.cache
def _remember_statement(dialect_name: str) -> Any:
    dialect = _dialect_module(dialect_name)
    statement = dialect.insert(SeenItem.__table__)
    return statement.on_conflict_do_update(
        index_elements=["source_id", "item_key"],
        set_={
            "item_hash": statement.excluded.item_hash,
            "last_seen_at": statement.excluded.last_seen_at,
            "article_id": func.coalesce(statement.excluded.article_id, SeenItem.article_id),
        },
    )


def merge_article(
    connection: Connection, duplicate_id: int, original_id: int, similarity: float | None
) -> None:
    """Fold an article stored by a concurrent twin into the older one: its places become sightings.

    The duplicate's own sightings move to the original (its first one as a `near` copy); rows that
    would repeat a place already recorded are dropped; then the duplicate row goes.
    """
    rows = connection.execute(
        select(Sighting.__table__).where(Sighting.article_id == duplicate_id)
    ).all()
    for row in rows:
        add_sighting(
            connection,
            article_id=original_id,
            source_id=row.source_id,
            url=row.url,
            url_key=row.url_key,
            seen_at=row.seen_at,
            published_at=row.published_at,
            reason="near" if row.reason == "original" else row.reason,
            similarity=similarity if row.reason == "original" else row.similarity,
        )
    connection.execute(
        update(SeenItem).where(SeenItem.article_id == duplicate_id).values(article_id=original_id)
    )
    connection.execute(delete(Sighting).where(Sighting.article_id == duplicate_id))
    connection.execute(delete(LshBand).where(LshBand.article_id == duplicate_id))
    connection.execute(delete(ArticleTopic).where(ArticleTopic.article_id == duplicate_id))
    connection.execute(delete(ArticleRevision).where(ArticleRevision.article_id == duplicate_id))
    connection.execute(delete(Article).where(Article.id == duplicate_id))


def verify_new_articles(
    connection: Connection, article_ids: Iterable[int], thresholds: Thresholds
) -> dict[int, int]:
    """The verified insert: re-check new articles against what other workers committed meanwhile.

    Two workers that meet near copies of one new article at the same moment both find nothing in
    the index and both store it. Afterwards each looks for near twins of its new articles, and
    whichever of a pair is newer (higher id) is folded into the older, whichever worker notices
    first, so the pair ends as one article however the commits interleave. Returns
    {merged id: kept id}.
    """
    merged: dict[int, int] = {}
    for article_id in sorted(article_ids):
        blob = connection.scalar(select(Article.fingerprint).where(Article.id == article_id))
        if not blob:
            continue
        print_ = Fingerprint.from_bytes(blob)
        twins: dict[int, float | None] = {}
        for candidate in near_candidates(connection, print_.bands()):
            if candidate.article_id == article_id:
                continue
            verdict = decide_near(print_, [candidate], thresholds)
            if verdict.kind == "copy":
                twins[candidate.article_id] = verdict.similarity
        if not twins:
            continue
        oldest = min(twins)
        if oldest < article_id:
            merge_article(connection, article_id, oldest, twins[oldest])
            merged[article_id] = oldest
        else:
            for newer in sorted(twins):
                merge_article(connection, newer, article_id, twins[newer])
                merged[newer] = article_id
    return merged
