"""The database schema (SQLAlchemy 2). Alembic migrations in ./migrations create and upgrade it.

One row per distinct article in `articles`; every place an article was seen in `sightings`; the
near-duplicate index in `lsh_bands` (one row per article and band, looked up by band hash, so every
worker shares it); per-source polling state in `sources`; what each source already sent in
`seen_items`, so a warm poll skips old items with one query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python, on SQLite too (which stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Source(Base):
    """A configured source (mirrored from sources.yaml by `monitor init`) and its polling state."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(20))
    config: Mapped[str] = mapped_column(Text, default="{}")  # the source's YAML entry, as JSON
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # gone from the config
    # polling state
    interval_seconds: Mapped[float] = mapped_column(
        Float, default=900.0
    )  # current effective interval
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_new_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last poll with new items
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))  # skip an unchanged body cheaply
    # 8-byte digests of the feed's items as last read, and when the whole feed was last parsed
    item_digests: Mapped[bytes | None] = mapped_column(LargeBinary)
    item_digests_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    permanent_redirect: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Article(Base):
    """One distinct article. Copies of it are sightings, never new rows."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    url_key: Mapped[str] = mapped_column(String(40), unique=True)  # hash of the canonical URL
    canonical_url: Mapped[str] = mapped_column(Text)
    guid: Mapped[str | None] = mapped_column(Text, index=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), index=True)
    origin: Mapped[str | None] = mapped_column(
        Text
    )  # who published it, when not a configured source
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(20))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    content_hash: Mapped[str] = mapped_column(String(64), index=True, unique=True)
    fingerprint: Mapped[bytes | None] = mapped_column(LargeBinary)
    is_seed: Mapped[bool] = mapped_column(Boolean, default=False)


class ArticleTopic(Base):
    __tablename__ = "article_topics"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(100), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    terms: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [{term, field, count}]

    __table_args__ = (Index("ix_article_topics_topic", "topic", "article_id"),)


class ArticleRevision(Base):
    """A change a source made to an item it had sent before: corrections are news too."""

    __tablename__ = "article_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    previous_title: Mapped[str] = mapped_column(Text)
    previous_content_hash: Mapped[str] = mapped_column(String(64))


class Sighting(Base):
    """One place an article was seen: its original, and every copy recognised since."""

    __tablename__ = "sightings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"))
    url: Mapped[str] = mapped_column(Text)
    url_key: Mapped[str] = mapped_column(String(40))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(20))  # original | url | guid | content | near | seed
    similarity: Mapped[float | None] = mapped_column(Float)

    # one sighting per place: the same URL at two sources is two places
    __table_args__ = (
        UniqueConstraint("article_id", "source_id", "url_key", name="uq_sightings_place"),
    )


class LshBand(Base):
    """The near-duplicate index: one row per article and LSH band, looked up by band hash."""

    __tablename__ = "lsh_bands"

    band_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )

    # revising, merging or deleting an article finds its band rows by article: without this index
    # that is a full scan (2.8 s per article at 1,000,000 stored, benchmarks/bench_dedup_store.py)
    __table_args__ = (Index("ix_lsh_bands_article_id", "article_id"),)


class SeenItem(Base):
    """An item a source already sent, matching or not, so the next poll skips it cheaply."""

    __tablename__ = "seen_items"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    item_key: Mapped[str] = mapped_column(String(40), primary_key=True)  # hash of guid or URL
    item_hash: Mapped[str] = mapped_column(String(40))  # of the item as sent: detects edits
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Poll(Base):
    """One poll of one source: what happened, how long it took."""

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))  # ok | not_modified | error
    http_status: Mapped[int | None] = mapped_column(Integer)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    articles_new: Mapped[int] = mapped_column(Integer, default=0)
    copies: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    instance: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (Index("ix_polls_source_started", "source_id", "started_at"),)


class Digest(Base):
    """A digest written for one day; its unique day makes one instance the writer."""

    __tablename__ = "digests"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD in digest zone
    status: Mapped[str] = mapped_column(String(20))  # writing | done | failed
    instance: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    articles: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
