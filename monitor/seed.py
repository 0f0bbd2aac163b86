"""Reference articles: the texts in storage/seed/ that every new database starts with.

Each reference article is a `NAME.txt` file (the text) with an optional `NAME.yaml` sidecar (title,
source, url, published, language). They are stored like any article, fingerprinted and indexed, so
a republished copy found later is recorded as a sighting of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import yaml
from sqlalchemy import Engine

from monitor.dedup import canonical_url, fingerprint, url_key
from monitor.errors import ConfigError
from monitor.match import Matcher
from monitor.store.articles import NewArticle, article_by_url_key, insert_article

SIDECAR_KEYS = {"title", "source", "url", "published", "language"}


@dataclass(frozen=True)
class ReferenceArticle:
    name: str
    text: str
    title: str
    source: str
    url: str
    published: datetime | None
    language: str | None


def read_seed_dir(folder: Path) -> list[ReferenceArticle]:
    """The reference articles in `folder`, sorted by file name; a missing folder holds none."""
    if not folder.is_dir():
        return []
    articles = []
    for path in sorted(folder.glob("*.txt")):
        meta_path = path.with_suffix(".yaml")
        meta: dict[str, object] = {}
        if meta_path.exists():
            try:
                loaded = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"{meta_path}: invalid YAML: {exc}") from None
            if not isinstance(loaded, dict):
                raise ConfigError(
                    f"{meta_path}: expected a mapping of {', '.join(sorted(SIDECAR_KEYS))}"
                )
            unknown = set(loaded) - SIDECAR_KEYS
            if unknown:
                raise ConfigError(
                    f"{meta_path}: unknown key {sorted(unknown)[0]!r}; known: {', '.join(sorted(SIDECAR_KEYS))}"
                )
            meta = loaded
        text = path.read_text(encoding="utf-8").strip()
        first_line = text.splitlines()[0] if text else path.stem
        articles.append(
            ReferenceArticle(
                name=path.stem,
                text=text,
                title=str(meta.get("title") or first_line[:120]),
                source=str(meta.get("source") or "reference"),
                url=str(meta.get("url") or f"urn:monitor:seed:{path.stem}"),
                published=_as_datetime(meta.get("published"), meta_path),
                language=str(meta["language"]) if meta.get("language") else None,
            )
        )
    return articles


def _as_datetime(value: object, where: Path) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(
            f"{where}: published: expected a date like 2025-01-15, got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def lead(text: str, limit: int = 300) -> str:
    """The opening of a text, cut at a word boundary."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def seed_url_key(url: str) -> tuple[str, str]:
    """(canonical form, key) of a reference article's URL; URN identifiers are kept as they are."""
    if url.startswith(("http://", "https://")):
        canonical = canonical_url(url)
        return canonical, url_key(url)
    return url, hashlib.sha1(url.encode()).hexdigest()


def load_seeds(
    engine: Engine, folder: Path, matcher: Matcher, now: datetime | None = None
) -> list[tuple[str, bool]]:
    """Store the reference articles not yet stored; return (name, newly stored) for each."""
    now = now or datetime.now(UTC)
    results = []
    with engine.begin() as connection:
        for reference in read_seed_dir(folder):
            canonical, key = seed_url_key(reference.url)
            if article_by_url_key(connection, key) is not None:
                results.append((reference.name, False))
                continue
            verdict = matcher.match(title=reference.title, body=reference.text)
            _, created = insert_article(
                connection,
                NewArticle(
                    url=reference.url,
                    url_key=key,
                    canonical_url=canonical,
                    guid=None,
                    source_id=None,
                    title=reference.title,
                    summary=lead(reference.text),
                    text=reference.text,
                    author=None,
                    language=reference.language,
                    published_at=reference.published,
                    discovered_at=now,
                    fingerprint=fingerprint(reference.title, reference.text),
                    topics=verdict.topics,
                    is_seed=True,
                    origin=reference.source,
                ),
            )
            results.append((reference.name, created))
    return results
