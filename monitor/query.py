"""Reading the coverage: filters in, articles with their topics and sightings out.

The JSON shape of `ArticleView.to_json()` is documented in the README and kept stable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import Engine, Select, and_, exists, func, literal_column, or_, select, text

from monitor.config import parse_duration
from monitor.store.db import read_only
from monitor.store.schema import Article, ArticleTopic, Sighting, Source
from monitor.store.search import catch_up

Sort = Literal["newest", "oldest", "relevance"]


@dataclass(frozen=True)
class QueryFilter:
    since: datetime | None = None
    until: datetime | None = None
    topics: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    search: str | None = None
    language: str | None = None
    limit: int | None = 100
    include_seed: bool = False
    sort: Sort = "newest"
    ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class SightingView:
    url: str
    source: str | None
    seen_at: datetime
    reason: str
    similarity: float | None


@dataclass(frozen=True)
class ArticleView:
    id: int
    url: str
    title: str
    source: str | None
    published_at: datetime | None
    discovered_at: datetime
    language: str | None
    topics: list[str]
    matched_terms: list[dict[str, Any]]
    score: float
    summary: str
    is_seed: bool
    sightings: list[SightingView] = field(default_factory=list)

    @property
    def first_seen_by(self) -> str | None:
        dated = [s for s in self.sightings if s.source]
        return min(dated, key=lambda s: s.seen_at).source if dated else self.source

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("published_at", "discovered_at"):
            data[key] = _iso(data[key])
        data["sightings"] = [{**s, "seen_at": _iso(s["seen_at"])} for s in data["sightings"]]
        data["first_seen_by"] = self.first_seen_by
        return data


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def parse_when(value: str, now: datetime | None = None) -> datetime:
    """'24h', '7d' (ago), '2026-11-20' or an ISO time -> aware UTC datetime."""
    now = now or datetime.now(UTC)
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?\s*[smhdw]", value):
        return now - parse_duration(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"expected a date (2026-11-20), a time (2026-11-20T08:00) or an age (24h, 7d), got {value!r}"
        ) from None
    if isinstance(parsed, date) and not isinstance(parsed, datetime):  # pragma: no cover
        parsed = datetime(parsed.year, parsed.month, parsed.day)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


def fts5_query(search: str) -> str:
    """A user's search ('kenyan police "gang violence"') as a safe FTS5 query: all terms, phrases kept."""
    parts = []
    for phrase, word in _TOKEN.findall(search):
        term = (phrase or word).replace('"', " ").strip()
        if term:
            parts.append('"' + term + '"')
    return " AND ".join(parts)


def _pg_document() -> Any:
    return func.to_tsvector(
        literal_column("'simple'"),
        func.coalesce(Article.title, "")
        + " "
        + func.coalesce(Article.summary, "")
        + " "
        + func.coalesce(Article.text, ""),
    )


def build_query(engine: Engine, filters: QueryFilter) -> Select[Any]:
    statement = select(Article.id)
    conditions = []
    rank = None
    if filters.ids:
        conditions.append(Article.id.in_(filters.ids))
    if filters.since:
        conditions.append(Article.discovered_at >= filters.since)
    if filters.until:
        conditions.append(Article.discovered_at < filters.until)
    if not filters.include_seed:
        conditions.append(Article.is_seed.is_(False))
    if filters.language:  # "en" matches en and regional variants (en-us), as data, no wildcards
        code = filters.language.lower()
        language = func.lower(Article.language)
        conditions.append(
            or_(language == code, func.substr(language, 1, len(code) + 1) == code + "-")
        )
    if filters.topics:
        conditions.append(
            exists().where(
                ArticleTopic.article_id == Article.id, ArticleTopic.topic.in_(filters.topics)
            )
        )
    if filters.sources:
        conditions.append(
            exists().where(
                Sighting.article_id == Article.id,
                Sighting.source_id == Source.id,
                Source.name.in_(filters.sources),
            )
        )
    if filters.search:
        if engine.dialect.name == "sqlite":
            match = fts5_query(filters.search)
            if not match:
                conditions.append(text("0"))
            else:
                fts = (
                    select(
                        literal_column("rowid").label("id"),
                        literal_column("bm25(articles_fts)").label("rank"),
                    )
                    .select_from(text("articles_fts"))
                    .where(text("articles_fts MATCH :match").bindparams(match=match))
                    .subquery()
                )
                statement = statement.join(fts, fts.c.id == Article.id)
                rank = fts.c.rank.asc()
        else:
            tsquery = func.websearch_to_tsquery(literal_column("'simple'"), filters.search)
            conditions.append(_pg_document().op("@@")(tsquery))
            rank = func.ts_rank(_pg_document(), tsquery).desc()
    if conditions:
        statement = statement.where(and_(*conditions))
    if filters.sort == "relevance":
        order = [rank] if rank is not None else []
        order += [Article.score.desc(), Article.discovered_at.desc()]
    elif filters.sort == "oldest":
        order = [Article.discovered_at.asc()]
    else:
        order = [Article.discovered_at.desc()]
    statement = statement.order_by(*order, Article.id.desc())
    if filters.limit:
        statement = statement.limit(filters.limit)
    return statement


def find_articles(engine: Engine, filters: QueryFilter) -> list[ArticleView]:
    """The articles that pass `filters`, in the requested order, with topics and sightings."""
    if filters.search:
        catch_up(engine)  # the articles stored since the last poll ended
    with read_only(engine) as connection:
        ids = list(connection.execute(build_query(engine, filters)).scalars())
        return load_articles(connection, ids)


def load_articles(connection: Any, ids: Sequence[int]) -> list[ArticleView]:
    if not ids:
        return []
    views: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = connection.execute(
            select(Article.__table__, Source.name.label("source_name"))
            .outerjoin(Source, Source.id == Article.source_id)
            .where(Article.id.in_(chunk))
        )
        for article in rows:
            views[article.id] = {
                "id": article.id,
                "url": article.url,
                "title": article.title,
                "source": article.source_name or article.origin,
                "published_at": article.published_at,
                "discovered_at": article.discovered_at,
                "language": article.language,
                "topics": [],
                "matched_terms": [],
                "score": round(article.score, 4),
                "summary": article.summary,
                "is_seed": article.is_seed,
                "sightings": [],
            }
        topic_rows = connection.execute(
            select(ArticleTopic.__table__)
            .where(ArticleTopic.article_id.in_(chunk))
            .order_by(ArticleTopic.article_id, ArticleTopic.score.desc(), ArticleTopic.topic)
        )
        for topic in topic_rows:
            view = views[topic.article_id]
            view["topics"].append(topic.topic)
            for term in json.loads(topic.terms):
                view["matched_terms"].append({"topic": topic.topic, **term})
        sighting_rows = connection.execute(
            select(Sighting.__table__, Source.name.label("source_name"))
            .outerjoin(Source, Source.id == Sighting.source_id)
            .where(Sighting.article_id.in_(chunk))
            .order_by(Sighting.seen_at, Sighting.id)
        )
        for sighting in sighting_rows:
            views[sighting.article_id]["sightings"].append(
                SightingView(
                    url=sighting.url,
                    source=sighting.source_name,
                    seen_at=sighting.seen_at,
                    reason=sighting.reason,
                    similarity=round(sighting.similarity, 4)
                    if sighting.similarity is not None
                    else None,
                )
            )
    return [ArticleView(**views[i]) for i in ids if i in views]


def count_since(engine: Engine, since: datetime) -> int:
    with read_only(engine) as connection:
        return connection.scalar(
            select(func.count()).select_from(Article).where(Article.discovered_at >= since)
        )
