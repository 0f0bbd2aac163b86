"""Benchmark the daily digest: write_digest for a day with 5,000 new articles.

Run: ``.venv/bin/python benchmarks/bench_digest.py [--articles 5000] [--runs 3]``. Fills a fresh
SQLite database (in a temporary folder) with the articles discovered on one local day, with one
to three topics each, copies seen elsewhere for a third of them, and a day of polls of 20 sources;
then times write_digest (Markdown, HTML, JSON and the Atom feed) for that day. Target: under 2 s.
This is a script, not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, insert  # noqa: E402

from monitor.config import Config, DigestSettings, Settings, TopicConfig  # noqa: E402
from monitor.dedup import canonical_url, fingerprint, url_key  # noqa: E402
from monitor.digest import day_bounds, write_digest  # noqa: E402
from monitor.items import TermHit, TopicMatch  # noqa: E402
from monitor.store.articles import NewArticle, add_sighting, insert_article  # noqa: E402
from monitor.store.db import make_engine, upgrade  # noqa: E402
from monitor.store.schema import Poll, Source  # noqa: E402

DAY = date(2026, 11, 20)
ZONE = "America/Port-au-Prince"
TARGET_SECONDS = 2.0
TOPICS = {
    "haiti": ["Haiti", "Port-au-Prince"],
    "kenya": ["Kenya", "Kenyan(s)", "Nairobi"],
    "mss": ["Multinational Security Support"],
    "gsf": ["Gang Suppression Force"],
}
WORDS = [
    "police",
    "officers",
    "mission",
    "council",
    "security",
    "gangs",
    "roads",
    "airport",
    "elections",
    "transition",
    "government",
    "minister",
    "deployment",
    "court",
    "budget",
    "funding",
    "residents",
    "displaced",
    "violence",
    "humanitarian",
    "aid",
    "ports",
    "fuel",
    "schools",
    "hospitals",
    "patrol",
    "commander",
    "troops",
    "vote",
]


def fill(engine: Engine, articles: int, seed: int = 7) -> None:
    """Sources, a day of polls, `articles` articles with topics, and copies of a third of them."""
    rng = random.Random(seed)
    start, end = day_bounds(DAY, ZONE)
    seconds = (end - start).total_seconds()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        sources = [
            connection.execute(
                insert(Source)
                .values(
                    name=f"Source {n:02d}",
                    url=f"https://source{n}.example/feed",
                    type="feed",
                    config="{}",
                    enabled=True,
                    created_at=now,
                    updated_at=now,
                    consecutive_failures=0,
                    interval_seconds=900.0,
                )
                .returning(Source.id)
            ).scalar_one()
            for n in range(20)
        ]
        connection.execute(
            insert(Poll),
            [
                {
                    "source_id": source,
                    "started_at": start + timedelta(minutes=15 * slot),
                    "finished_at": start + timedelta(minutes=15 * slot, seconds=3),
                    "status": "error" if source == sources[0] and slot > 80 else "ok",
                    "items_seen": 50,
                }
                for source in sources
                for slot in range(96)
            ],
        )
        for n in range(articles):
            chosen = rng.sample(list(TOPICS), rng.choice((1, 1, 2, 3)))
            title = (
                f"{' '.join(rng.choices(WORDS, k=6)).capitalize()} in {TOPICS[chosen[0]][0]} #{n}"
            )
            summary = (
                " ".join(rng.choices(WORDS, k=60))
                + f" {TOPICS[chosen[-1]][-1]} "
                + " ".join(rng.choices(WORDS, k=30))
            )
            url = f"https://source{n % 20}.example/news/{n}"
            discovered = start + timedelta(seconds=rng.uniform(0, seconds - 1))
            article_id, _ = insert_article(
                connection,
                NewArticle(
                    url=url,
                    url_key=url_key(url),
                    canonical_url=canonical_url(url),
                    guid=None,
                    source_id=sources[n % 20],
                    title=title,
                    summary=summary,
                    text=summary * 3,
                    author=None,
                    language="en",
                    published_at=discovered - timedelta(minutes=20),
                    discovered_at=discovered,
                    fingerprint=fingerprint(title, summary),
                    topics=tuple(
                        TopicMatch(
                            topic,
                            round(rng.uniform(0.2, 1.0), 3),
                            (TermHit(TOPICS[topic][0], "title", 1),),
                        )
                        for topic in chosen
                    ),
                ),
            )
            if n % 3 == 0:
                for copy in range(rng.randint(1, 3)):
                    copy_url = f"https://copies{copy}.example/{n}"
                    add_sighting(
                        connection,
                        article_id=article_id,
                        source_id=sources[(n + copy + 1) % 20],
                        url=copy_url,
                        url_key=url_key(copy_url),
                        seen_at=min(
                            discovered + timedelta(minutes=30 * (copy + 1)),
                            end - timedelta(seconds=1),
                        ),
                        published_at=None,
                        reason=rng.choice(("url", "content", "near")),
                        similarity=round(rng.uniform(0.5, 0.99), 3),
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        upgrade(engine)
        began = time.perf_counter()
        fill(engine, args.articles)
        print(f"filled {args.articles} articles in {time.perf_counter() - began:.1f} s")
        config = Config(
            path=Path("sources.yaml"),
            settings=Settings(digest=DigestSettings(timezone=ZONE, dir=Path(folder) / "digests")),
            topics={name: TopicConfig(terms=terms) for name, terms in TOPICS.items()},
            sources=(),
        )
        timings, cpu = [], []
        for _ in range(args.runs):
            began, began_cpu = time.perf_counter(), time.process_time()
            files = write_digest(engine, config, DAY, None)
            timings.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        sizes = ", ".join(f"{p.suffix[1:]} {p.stat().st_size / 1e6:.1f} MB" for p in files.paths)
        best, median = min(timings), statistics.median(timings)
        print(f"write_digest: {files.articles} articles; {sizes}")
        print(
            f"write_digest: median {median:.2f} s (CPU {statistics.median(cpu):.2f} s),"
            f" best {best:.2f} s over {args.runs} runs"
            f" (target < {TARGET_SECONDS:.0f} s: {'ok' if median < TARGET_SECONDS else 'SLOW'})"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
