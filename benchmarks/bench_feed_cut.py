"""Micro-benchmark the feed parser's hot path on feedfarm documents (no server, no database).

Run: ``.venv/bin/python benchmarks/bench_feed_cut.py [--feeds 200] [--items 50] [--repeat 3]
[--typographic] [--module OTHER_FEEDS_PY]``.

Builds the documents of ``--feeds`` feedfarm feeds (every 4th one Atom, ~200 KB each), then
the same feeds after 2 new items arrived (a warm poll), and prints the CPU time of each step of
a cold poll (whole parse, then the item digests kept for the next poll) and of a warm one
(``parse_feed_changes``), in ms per 1,000 documents (least of ``--repeat`` runs). Farm feeds
are ASCII; ``--typographic`` adds a curly apostrophe to most sentences, as in most real UTF-8
feeds. ``--module`` measures another copy of monitor/parse/feeds.py (e.g. an older version, as
long as it works with the current monitor/items.py).
A few seconds in all: small enough to run on a shared machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from feedfarm import Farm  # noqa: E402

from monitor.parse import feeds  # noqa: E402
from monitor.parse.encoding import decode  # noqa: E402

BASE = "http://127.0.0.1:8080"
CONTENT_TYPE = "application/rss+xml; charset=utf-8"


def documents(
    n: int, items: int, advance: int = 2, typographic: bool = False
) -> tuple[list[bytes], list[bytes]]:
    """The bodies of ``n`` feeds, before and after ``advance`` new items."""
    farm = Farm(BASE, n, items, 1, gzip_on=False)
    cold = [f.raw200[f.body_start :] for f in farm.feeds]
    farm.advance(advance)
    warm = [f.raw200[f.body_start :] for f in farm.feeds]
    if typographic:  # the same change to every copy of an item: its digest still matches
        cold, warm = ([d.replace(b" the ", " the’s ".encode()) for d in ds] for ds in (cold, warm))
    return cold, warm


def each(fn: Callable[..., object], args: list[Any]) -> Callable[[], None]:
    """Call ``fn`` on each of ``args`` (a tuple is spread), keeping no result: one document's
    memory at a time, as in the worker."""

    def run() -> None:
        for arg in args:
            if isinstance(arg, tuple):
                fn(*arg)
            else:
                fn(arg)

    return run


def timed(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best


def load(path: str | None) -> ModuleType:
    """monitor.parse.feeds, or another copy of it (an older version, to compare)."""
    if path is None:
        return feeds
    spec = importlib.util.spec_from_file_location("feeds_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--typographic", action="store_true", help="non-ASCII documents")
    ap.add_argument("--module", help="a copy of monitor/parse/feeds.py to measure instead")
    args = ap.parse_args()
    feeds = load(args.module)
    cold, warm = documents(args.feeds, args.items, typographic=args.typographic)
    n = len(cold)
    texts = [decode(c, CONTENT_TYPE)[0] for c in cold]
    warm_texts = [decode(c, CONTENT_TYPE)[0] for c in warm]
    cuts = [feeds.cut_items(t) for t in texts]
    assert all(c is not None for c in cuts)
    chunks = [c[1] for c in cuts if c is not None]
    known = [set(feeds.item_digests(c)) for c in chunks]
    lazy = [feeds.parse_feed(c, base_url=BASE, content_type=CONTENT_TYPE, lazy=True) for c in cold]
    drafts = [d for p in lazy for d in p.drafts]
    roots = [feeds.parse_xml(t, BASE) for t in texts]
    # what _guid_elsewhere is given on a warm poll: the drafts of the 2 new items, and where
    # the other items are (as chunks in older versions, as spans of the text or bytes now)
    by_spans = "spans" in inspect.signature(feeds._guid_elsewhere).parameters
    elsewhere = []
    for text, kn, body in zip(warm_texts, known, warm, strict=True):
        cut = feeds.cut_items(text)
        assert cut is not None
        digests = feeds.item_digests(cut[1])
        fresh = [i for i, d in enumerate(digests) if d not in kn]
        changes = feeds.parse_feed_changes(body, base_url=BASE, content_type=CONTENT_TYPE, known=kn)
        assert changes is not None and len(changes[0].drafts) == len(fresh) == 2
        if by_spans:
            text, codec = decode(body, CONTENT_TYPE)
            source, spans = feeds._cut(feeds._utf8_source(body, text, codec), text)
            elsewhere.append((changes[0].drafts, source, spans, fresh))
        else:
            new = [cut[1][i] for i in fresh]
            elsewhere.append((changes[0].drafts, cut[1], new))

    def cold_poll(body: bytes) -> None:
        parsed = feeds.parse_feed(body, base_url=BASE, content_type=CONTENT_TYPE, lazy=True)
        if parsed.item_digests is None:  # a whole parse gives them (it did not always)
            feeds.feed_item_digests(body, CONTENT_TYPE, args.items)

    def warm_poll(body: bytes, digests: set[bytes]) -> None:
        feeds.parse_feed_changes(body, base_url=BASE, content_type=CONTENT_TYPE, known=digests)

    steps: dict[str, Callable[[], object]] = {
        "decode": each(decode, [(c, CONTENT_TYPE) for c in cold]),
        "cut_items": each(feeds.cut_items, texts),
        "item_digests": each(feeds.item_digests, chunks),
        "feed_item_digests (alone)": each(
            feeds.feed_item_digests, [(c, CONTENT_TYPE, args.items) for c in cold]
        ),
        "parse_xml": each(feeds.parse_xml, [(t, BASE) for t in texts]),
        "_dispatch": each(feeds._dispatch, [(r, BASE, 500, False) for r in roots]),
        "draft_text": each(feeds.draft_text, drafts),
        "parse_feed(lazy)": each(
            lambda c: feeds.parse_feed(c, base_url=BASE, content_type=CONTENT_TYPE, lazy=True),
            cold,
        ),
        "cold: parse_feed(lazy), item digests included": each(cold_poll, cold),
        "_guid_elsewhere": each(feeds._guid_elsewhere, elsewhere),
        "warm: parse_feed_changes": each(warm_poll, list(zip(warm, known, strict=True))),
    }
    size = sum(map(len, cold)) / n / 1024
    print(f"{n} feeds x {args.items} items, {size:.0f} KB each; ms per 1,000 documents")
    for name, fn in steps.items():
        fn()  # warm-up
        print(f"{name:<45}{timed(fn, args.repeat) * 1000 * 1000 / n:>10.1f}")


if __name__ == "__main__":
    main()
