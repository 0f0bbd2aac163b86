"""The database schema (SQLAlchemy 2 Core). Alembic migrations in ./migrations create and
upgrade it.

One row per distinct article in `articles`; every place an article was seen in `sightings`; the
near-duplicate index in `lsh_bands` (one row per article and band, looked up by band hash, so every
worker shares it); per-source polling state in `sources`; what each source already sent in
`seen_items`, so a warm poll skips old items with one query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import SchemaItem
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


class Base:
    """A table declared as a class, without SQLAlchemy's ORM.

    Each :class:`Column` attribute becomes a column of that name, and the class stands for
    its table (``__table__``) wherever a statement takes one: ``select(Source.id)``,
    ``update(Source)``, ``insert(Poll)``. Nothing here builds objects from rows, and importing
    the ORM cost 50-70 ms of every command's start-up, with 40 ms more to map these classes.
    """

    metadata: ClassVar[MetaData] = MetaData(naming_convention=NAMING)
    __tablename__: ClassVar[str]
    __table__: ClassVar[Table]
    __table_args__: ClassVar[tuple[SchemaItem, ...]] = ()
    __table_options__: ClassVar[dict[str, Any]] = {}  # dialect options: sqlite_with_rowid=...

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        columns = []
        for key, value in vars(cls).items():
            if isinstance(value, Column):
                value.name = value.key = key  # as declarative mapping names them
                columns.append(value)
        cls.__table__ = Table(
            cls.__tablename__,
            cls.metadata,
            *columns,
            *cls.__table_args__,
            **cls.__table_options__,
        )

    @classmethod
    def __clause_element__(cls) -> Table:
        return cls.__table__


class Source(Base):
    """A configured source (mirrored from sources.yaml by `monitor init`) and its polling state."""

    __tablename__ = "sources"

    id = Column(Integer, primary_key=True)
    name = Column(String(200), unique=True, nullable=False)
    url = Column(Text, nullable=False)
    type = Column(String(20), nullable=False)
    config = Column(Text, default="{}", nullable=False)  # the source's YAML entry, as JSON
    enabled = Column(Boolean, default=True, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)
    removed_at = Column(UTCDateTime)  # gone from the config
    # polling state
    interval_seconds = Column(Float, default=900.0, nullable=False)  # current effective interval
    next_poll_at = Column(UTCDateTime, index=True)
    last_poll_at = Column(UTCDateTime)
    last_success_at = Column(UTCDateTime)
    last_new_at = Column(UTCDateTime)  # last poll with new items
    last_error = Column(Text)
    last_error_at = Column(UTCDateTime)
    consecutive_failures = Column(Integer, default=0, nullable=False)
    etag = Column(Text)
    last_modified = Column(Text)
    body_hash = Column(String(64))  # skip an unchanged body cheaply
    # 8-byte digests of the feed's items as last read, and when the whole feed was last parsed
    item_digests = Column(LargeBinary)
    item_digests_at = Column(UTCDateTime)
    permanent_redirect = Column(Text)
    lease_owner = Column(String(100))
    lease_until = Column(UTCDateTime)


class Article(Base):
    """One distinct article. Copies of it are sightings, never new rows."""

    __tablename__ = "articles"

    id = Column(Integer, primary_key=True)
    url = Column(Text, nullable=False)
    url_key = Column(String(40), unique=True, nullable=False)  # hash of the canonical URL
    canonical_url = Column(Text, nullable=False)
    guid = Column(Text, index=True)
    source_id = Column(ForeignKey("sources.id"), index=True)
    origin = Column(Text)  # who published it, when not a configured source
    title = Column(Text, default="", nullable=False)
    summary = Column(Text, default="", nullable=False)
    text = Column(Text, default="", nullable=False)
    author = Column(Text)
    language = Column(String(20))
    published_at = Column(UTCDateTime)
    discovered_at = Column(UTCDateTime, index=True, nullable=False)
    updated_at = Column(UTCDateTime)
    score = Column(Float, default=0.0, nullable=False)
    content_hash = Column(String(64), index=True, unique=True, nullable=False)
    fingerprint = Column(LargeBinary)
    is_seed = Column(Boolean, default=False, nullable=False)


class ArticleTopic(Base):
    __tablename__ = "article_topics"

    article_id = Column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    topic = Column(String(100), primary_key=True)
    score = Column(Float, nullable=False)
    terms = Column(Text, default="[]", nullable=False)  # JSON: [{term, field, count}]

    __table_args__ = (Index("ix_article_topics_topic", "topic", "article_id"),)


class ArticleRevision(Base):
    """A change a source made to an item it had sent before: corrections are news too."""

    __tablename__ = "article_revisions"

    id = Column(Integer, primary_key=True)
    article_id = Column(ForeignKey("articles.id", ondelete="CASCADE"), index=True, nullable=False)
    changed_at = Column(UTCDateTime, nullable=False)
    previous_title = Column(Text, nullable=False)
    previous_content_hash = Column(String(64), nullable=False)


class Sighting(Base):
    """One place an article was seen: its original, and every copy recognised since."""

    __tablename__ = "sightings"

    id = Column(Integer, primary_key=True)
    article_id = Column(ForeignKey("articles.id", ondelete="CASCADE"), index=True, nullable=False)
    source_id = Column(ForeignKey("sources.id"))
    url = Column(Text, nullable=False)
    url_key = Column(String(40), nullable=False)
    seen_at = Column(UTCDateTime, nullable=False)
    published_at = Column(UTCDateTime)
    reason = Column(String(20), nullable=False)  # original | url | guid | content | near | seed
    similarity = Column(Float)

    # one sighting per place: the same URL at two sources is two places
    __table_args__ = (
        UniqueConstraint("article_id", "source_id", "url_key", name="uq_sightings_place"),
    )


class LshBand(Base):
    """The near-duplicate index: one row per article and LSH band, looked up by band hash."""

    __tablename__ = "lsh_bands"

    band_hash = Column(Integer, primary_key=True)  # 32 bits (migration 0007)
    article_id = Column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)

    # revising, merging or deleting an article finds its band rows by article: without this index
    # that is a full scan (2.8 s per article at 1,000,000 stored, benchmarks/bench_dedup_store.py).
    # On SQLite the rows live in the key's B-tree, without a rowid (migration 0006).
    __table_args__ = (Index("ix_lsh_bands_article_id", "article_id"),)
    __table_options__: ClassVar[dict[str, Any]] = {"sqlite_with_rowid": False}


class SeenItem(Base):
    """An item a source already sent, matching or not, so the next poll skips it cheaply."""

    __tablename__ = "seen_items"

    source_id = Column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    item_key = Column(String(40), primary_key=True)  # hash of guid or URL
    item_hash = Column(String(40), nullable=False)  # of the item as sent: detects edits
    article_id = Column(ForeignKey("articles.id", ondelete="SET NULL"))
    first_seen_at = Column(UTCDateTime, nullable=False)
    last_seen_at = Column(UTCDateTime, index=True, nullable=False)


class Poll(Base):
    """One poll of one source: what happened, how long it took."""

    __tablename__ = "polls"

    id = Column(Integer, primary_key=True)
    source_id = Column(ForeignKey("sources.id", ondelete="CASCADE"), nullable=False)
    started_at = Column(UTCDateTime, index=True, nullable=False)
    finished_at = Column(UTCDateTime, nullable=False)
    status = Column(String(20), nullable=False)  # ok | not_modified | error
    http_status = Column(Integer)
    items_seen = Column(Integer, default=0, nullable=False)
    items_new = Column(Integer, default=0, nullable=False)
    matched = Column(Integer, default=0, nullable=False)
    articles_new = Column(Integer, default=0, nullable=False)
    copies = Column(Integer, default=0, nullable=False)
    updated = Column(Integer, default=0, nullable=False)
    error = Column(Text)
    seconds = Column(Float, default=0.0, nullable=False)
    instance = Column(String(100))

    __table_args__ = (Index("ix_polls_source_started", "source_id", "started_at"),)


class Digest(Base):
    """A digest written for one day; its unique day makes one instance the writer."""

    __tablename__ = "digests"

    day = Column(String(10), primary_key=True)  # YYYY-MM-DD in digest zone
    status = Column(String(20), nullable=False)  # writing | done | failed
    instance = Column(String(100))
    started_at = Column(UTCDateTime, nullable=False)
    finished_at = Column(UTCDateTime)
    articles = Column(Integer, default=0, nullable=False)
    error = Column(Text)
