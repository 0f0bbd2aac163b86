"""Writes and lookups of articles, sightings, the LSH index and seen items.

Every write tolerates a concurrent twin: articles are unique by canonical URL key and by content
hash, sightings by (article, source, URL key), seen items by (source, item key). An insert that loses a race
returns the row that won, so two workers that meet the same article store it once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from monitor.dedup import Candidate, Fingerprint
from monitor.items import TopicMatch
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
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL."""
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(table)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=list(conflict))
    )
    connection.execute(statement)


def article_by_url_key(connection: Connection, url_key: str) -> int | None:
    return connection.scalar(select(Article.id).where(Article.url_key == url_key))


def article_by_guid(connection: Connection, source_id: int, guid: str) -> int | None:
    return connection.scalar(
        select(Sighting.article_id)
        .join(Article, Article.id == Sighting.article_id)
        .where(Sighting.source_id == source_id, Article.guid == guid)
        .limit(1)
    )


def article_by_content(connection: Connection, content_hash: str) -> int | None:
    return connection.scalar(select(Article.id).where(Article.content_hash == content_hash))


def near_candidates(connection: Connection, bands: Iterable[int]) -> list[Candidate]:
    """Stored articles sharing at least one LSH band with `bands`, most shared bands first."""
    band_list = list(bands)
    if not band_list:
        return []
    rows = connection.execute(
        select(LshBand.article_id).where(LshBand.band_hash.in_(band_list))
    ).scalars()
    counts: dict[int, int] = {}
    for article_id in rows:
        counts[article_id] = counts.get(article_id, 0) + 1
    best = sorted(counts, key=counts.__getitem__, reverse=True)[:MAX_CANDIDATES]
    if not best:
        return []
    found = connection.execute(
        select(Article.id, Article.fingerprint).where(Article.id.in_(best))
    ).all()
    candidates = []
    for row in found:
        try:
            candidates.append(Candidate(row.id, Fingerprint.from_bytes(row.fingerprint)))
        except (ValueError, TypeError):  # made by another fingerprint version: not comparable
            continue
    return candidates


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
    try:
        with connection.begin_nested():
            article_id = connection.execute(
                insert(Article).values(**values).returning(Article.id)
            ).scalar_one()
    except IntegrityError:
        twin = article_by_url_key(connection, article.url_key) or article_by_content(
            connection, stored_content_hash(article)
        )
        if twin is None:
            raise
        return twin, False
    write_topics(connection, article_id, article.topics)
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


def write_topics(connection: Connection, article_id: int, topics: Iterable[TopicMatch]) -> None:
    connection.execute(delete(ArticleTopic).where(ArticleTopic.article_id == article_id))
    rows = [
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

    Returns False when the new content equals another stored article (then nothing changes).
    """
    row = connection.execute(
        select(Article.title, Article.content_hash).where(Article.id == article_id)
    ).one_or_none()
    if row is None:
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
                    content_hash=fingerprint.content_hash or f"empty:{article_id}",
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


def seen_items(
    connection: Connection, source_id: int, keys: Sequence[str]
) -> dict[str, tuple[str, int | None]]:
    """item_key -> (item_hash, article_id) for the keys this source sent before (one query)."""
    found: dict[str, tuple[str, int | None]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = connection.execute(
            select(SeenItem.item_key, SeenItem.item_hash, SeenItem.article_id).where(
                SeenItem.source_id == source_id, SeenItem.item_key.in_(chunk)
            )
        )
        found.update({row.item_key: (row.item_hash, row.article_id) for row in rows})
    return found


def remember_items(
    connection: Connection,
    source_id: int,
    items: Sequence[tuple[str, str, int | None]],
    now: datetime,
) -> None:
    """Record (item_key, item_hash, article_id) as seen; refresh the ones seen before."""
    if not items:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
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
    for start in range(0, len(rows), 500):
        statement = dialect.insert(SeenItem.__table__).values(rows[start : start + 500])
        statement = statement.on_conflict_do_update(
            index_elements=["source_id", "item_key"],
            set_={
                "item_hash": statement.excluded.item_hash,
                "last_seen_at": statement.excluded.last_seen_at,
                "article_id": func.coalesce(statement.excluded.article_id, SeenItem.article_id),
            },
        )
        connection.execute(statement)
