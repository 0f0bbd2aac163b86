"""Tuning the rules on stored data: re-apply changed topic rules, explain dedup decisions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, Engine, select

from monitor.dedup import Fingerprint, Thresholds, similarity, url_key
from monitor.match import Matcher
from monitor.query import load_articles
from monitor.store.articles import near_candidates, write_topics
from monitor.store.db import read_only
from monitor.store.schema import Article, ArticleTopic, Sighting

BATCH = 500


@dataclass
class RematchReport:
    """What re-applying the topic rules changed (or would change)."""

    dry_run: bool
    articles: int = 0
    changed: int = 0
    added: dict[str, list[int]] = field(default_factory=dict)  # topic -> article ids
    removed: dict[str, list[int]] = field(default_factory=dict)
    unmatched: list[int] = field(default_factory=list)  # articles that now match no topic

    def to_json(self) -> dict[str, Any]:
        topics = sorted(set(self.added) | set(self.removed))
        return {
            "dry_run": self.dry_run,
            "articles": self.articles,
            "changed": self.changed,
            "topics": {
                t: {"added": self.added.get(t, []), "removed": self.removed.get(t, [])}
                for t in topics
            },
            "unmatched": self.unmatched,
        }


def _articles(connection: Connection) -> Iterator[Any]:
    last = 0
    while True:
        rows = connection.execute(
            select(Article.id, Article.title, Article.summary, Article.text, Article.source_id)
            .where(Article.id > last)
            .order_by(Article.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def rematch(
    engine: Engine,
    matcher: Matcher,
    topics_of: dict[int | None, list[str]] | None = None,
    *,
    dry_run: bool,
) -> RematchReport:
    """Match every stored article again; rewrite its topics unless `dry_run`.

    An article that no longer matches any topic keeps its row (and its sightings): coverage is
    never deleted, it only leaves the topic listings.
    """
    report = RematchReport(dry_run=dry_run)
    with engine.begin() as connection:
        current: dict[int, set[str]] = {}
        for article_id, topic in connection.execute(
            select(ArticleTopic.article_id, ArticleTopic.topic)
        ):
            current.setdefault(article_id, set()).add(topic)
        for row in list(_articles(connection)):
            report.articles += 1
            allowed = (topics_of or {}).get(row.source_id)
            result = matcher.match(
                title=row.title, summary=row.summary, body=row.text, topics=allowed
            )
            new = {t.topic for t in result.topics}
            old = current.get(row.id, set())
            if new == old:
                continue
            report.changed += 1
            for topic in new - old:
                report.added.setdefault(topic, []).append(row.id)
            for topic in old - new:
                report.removed.setdefault(topic, []).append(row.id)
            if not new:
                report.unmatched.append(row.id)
            if not dry_run:
                write_topics(connection, row.id, result.topics)
        if dry_run:
            connection.rollback()
    return report


@dataclass(frozen=True)
class Neighbour:
    article_id: int
    title: str
    jaccard: float
    containment: float
    copy: bool  # whether these similarities pass the thresholds


def explain_dedup(engine: Engine, target: str, thresholds: Thresholds) -> dict[str, Any]:
    """Why an article (by id) or a URL was judged new or a copy, with its nearest stored neighbours."""
    with read_only(engine) as connection:
        article_id: int | None = int(target) if target.isdigit() else None
        sighting = None
        if article_id is None:
            try:
                key = url_key(target)
            except ValueError:
                raise ValueError(
                    f"expected an article id or an http(s) URL, got {target!r}"
                ) from None
            sighting = connection.execute(
                select(Sighting.__table__)
                .where(Sighting.url_key == key)
                .order_by(Sighting.seen_at)
                .limit(1)
            ).first()
            if sighting is None:
                raise LookupError(f"no stored article was seen at {target}")
            article_id = sighting.article_id
        views = load_articles(connection, [article_id])
        if not views:
            raise LookupError(f"no article with id {article_id}")
        view = views[0]
        blob = connection.scalar(select(Article.fingerprint).where(Article.id == article_id))
        neighbours: list[Neighbour] = []
        if blob:
            fp = Fingerprint.from_bytes(blob)
            for candidate in near_candidates(connection, fp.bands()):
                if candidate.article_id == article_id:
                    continue
                jaccard, containment = similarity(fp, candidate.fingerprint)
                title = connection.scalar(
                    select(Article.title).where(Article.id == candidate.article_id)
                )
                passes = (
                    min(fp.shingles, candidate.fingerprint.shingles) >= thresholds.min_shingles
                    and containment >= thresholds.containment
                    and jaccard >= thresholds.jaccard
                )
                neighbours.append(
                    Neighbour(
                        candidate.article_id,
                        title or "",
                        round(jaccard, 3),
                        round(containment, 3),
                        passes,
                    )
                )
        neighbours.sort(key=lambda n: n.containment, reverse=True)
    result: dict[str, Any] = {
        "article": view.to_json(),
        "thresholds": {
            "jaccard": thresholds.jaccard,
            "containment": thresholds.containment,
            "min_shingles": thresholds.min_shingles,
        },
        "neighbours": [n.__dict__ for n in neighbours[:10]],
    }
    if sighting is not None:
        result["sighting"] = {
            "url": sighting.url,
            "reason": sighting.reason,
            "similarity": sighting.similarity,
            "seen_at": sighting.seen_at.astimezone(UTC).isoformat(),
        }
    return result


def render_dedup(explanation: dict[str, Any]) -> str:
    article = explanation["article"]
    lines = []
    sighting = explanation.get("sighting")
    if sighting:
        reason = sighting["reason"]
        if reason in {"original", "seed"}:
            lines.append(f"{sighting['url']} was stored as a new article (#{article['id']}).")
        else:
            similarity_text = (
                f", similarity {sighting['similarity']:.3f}" if sighting["similarity"] else ""
            )
            lines.append(
                f"{sighting['url']} was judged a copy of article #{article['id']} by {reason}{similarity_text}."
            )
    lines.append(f"#{article['id']} {article['title']!r} ({article['source']}, {article['url']})")
    lines.append(f"seen at {len(article['sightings'])} place(s):")
    for s in article["sightings"]:
        similarity_text = f" {s['similarity']:.3f}" if s["similarity"] is not None else ""
        lines.append(
            f"  {s['seen_at']}  {s['reason']:<8}{similarity_text}  {s['source'] or '-'}  {s['url']}"
        )
    t = explanation["thresholds"]
    lines.append(
        f"nearest stored articles (a copy needs containment >= {t['containment']}, Jaccard >= {t['jaccard']},"
        f" both texts >= {t['min_shingles']} shingles):"
    )
    if not explanation["neighbours"]:
        lines.append("  none share an LSH band")
    for n in explanation["neighbours"]:
        verdict = "copy" if n["copy"] else "distinct"
        lines.append(
            f"  #{n['article_id']} containment {n['containment']:.3f} Jaccard {n['jaccard']:.3f} -> {verdict}: {n['title']!r}"
        )
    return "\n".join(lines)
