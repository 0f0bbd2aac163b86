"""Benchmark the pure part of deduplication (monitor/dedup.py); prints numbers, asserts nothing.

    python benchmarks/bench_dedup_pure.py [--articles 100000] [--copies 1000]

1. Microseconds per fingerprint of a 3 KB article: the production path (rensa RMinHash), its
   parts, and alternatives over the same shingles (rensa CMinHash; a numpy MinHash; datasketch
   when installed).
2. Microseconds per similarity check, decide_near over 10 candidates, canonical_url, bands.
3. LSH recall in memory: N synthetic same-topic articles are fingerprinted and indexed by band
   hash (as the database's band table does); 1,000 near copies (copy-edits, excerpts,
   boilerplate, syndication, reordering) are looked up: how many find their original among the
   candidates, how many candidates a query returns, and what decide_near makes of them.
   Needs numpy for the index (``pip install numpy``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rensa import CMinHash, RMinHash  # noqa: E402

from monitor.dedup import (  # noqa: E402
    BANDS,
    DEFAULT_THRESHOLDS,
    NUM_PERM,
    SHINGLE_SIZE,
    Candidate,
    Fingerprint,
    canonical_url,
    content_hash,
    content_words,
    decide_near,
    fingerprint,
    shingles,
    similarity,
)

DATA = ROOT / "tests" / "data" / "dedup_pairs.jsonl"


def per_call_us(fn: Callable[[], object], min_seconds: float = 0.5) -> float:
    """Median microseconds per call over a few timed batches."""
    fn()
    batch, start = 1, time.perf_counter()
    while time.perf_counter() - start < 0.05:
        fn()
        batch += 1
    rounds = []
    deadline = time.perf_counter() + min_seconds
    while time.perf_counter() < deadline or len(rounds) < 3:
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        rounds.append((time.perf_counter() - t0) / batch * 1e6)
    return statistics.median(rounds)


def base_articles() -> dict[str, tuple[str, str]]:
    """The labeled set's original articles: id -> (title, text)."""
    out: dict[str, tuple[str, str]] = {}
    with DATA.open(encoding="utf-8") as handle:
        for line in handle:
            pair = json.loads(line)
            if pair["label"] == "copy" and pair["kind"] == "restyled":
                out[pair["a_base"]] = (pair["a"]["title"], pair["a"]["text"])
    return out


def three_kb_article(articles: dict[str, tuple[str, str]]) -> tuple[str, str]:
    title, text = articles["nd-first-deploy"]
    while len(text.encode("utf-8")) < 3000:
        text += "\n\n" + articles["seed-rubio"][1]
    return title, text.encode("utf-8")[:3072].decode("utf-8", "ignore")


def section_speed(articles: dict[str, tuple[str, str]]) -> None:
    title, text = three_kb_article(articles)
    words = content_words(title, text)
    grams = list(shingles(words))
    fp = fingerprint(title, text)
    print(f"== speed: one {len(text.encode('utf-8'))}-byte article, {len(words)} words, ")
    print(
        f"   {len(grams)} shingles of {SHINGLE_SIZE} words, {NUM_PERM} permutations, {BANDS} bands"
    )

    def rensa_r() -> object:
        minhash = RMinHash(NUM_PERM, 1)
        minhash.update(grams)
        return minhash.digest()

    def rensa_c() -> object:
        minhash = CMinHash(NUM_PERM, 1)
        minhash.update(grams)
        return minhash.digest()

    rows: list[tuple[str, float]] = [
        (
            "fingerprint() total (production: rensa RMinHash)",
            per_call_us(lambda: fingerprint(title, text)),
        ),
        ("  normalize + words (content_words)", per_call_us(lambda: content_words(title, text))),
        ("  shingles", per_call_us(lambda: shingles(words))),
        ("  rensa RMinHash over the shingles", per_call_us(rensa_r)),
        ("  content_hash (normalises again)", per_call_us(lambda: content_hash(title, text))),
        ("alternative: rensa CMinHash over the shingles", per_call_us(rensa_c)),
    ]
    try:
        import numpy as np

        rng = np.random.default_rng(7)
        a = rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)
        b = rng.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)

        def numpy_minhash() -> object:
            hashes = np.fromiter(
                (
                    int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little")
                    for g in grams
                ),
                dtype=np.uint64,
                count=len(grams),
            )
            mixed = (a[:, None] * hashes[None, :] + b[:, None]) >> np.uint64(32)
            return mixed.min(axis=1).astype(np.uint32)

        rows.append(
            ("alternative: numpy MinHash (blake2b + multiply-shift)", per_call_us(numpy_minhash))
        )
    except ImportError:
        rows.append(("alternative: numpy MinHash: numpy not installed", float("nan")))
    try:
        from datasketch import MinHash  # type: ignore[import-not-found]

        def datasketch_minhash() -> object:
            minhash = MinHash(num_perm=NUM_PERM, seed=1)
            minhash.update_batch([g.encode() for g in grams])
            return minhash.digest()

        rows.append(("alternative: datasketch MinHash", per_call_us(datasketch_minhash)))
    except ImportError:
        rows.append(("alternative: datasketch: not installed", float("nan")))

    other = fingerprint(*articles["cw-first-deploy"])
    candidates = [
        Candidate(i, fingerprint(*body)) for i, body in enumerate(list(articles.values())[:10])
    ]
    data = fp.to_bytes()
    rows += [
        ("similarity(a, b)", per_call_us(lambda: similarity(fp, other))),
        ("decide_near over 10 candidates", per_call_us(lambda: decide_near(other, candidates))),
        ("Fingerprint.bands()", per_call_us(fp.bands)),
        (
            f"to_bytes ({len(data)} bytes) + from_bytes",
            per_call_us(lambda: Fingerprint.from_bytes(fp.to_bytes())),
        ),
        (
            "canonical_url (tracking + AMP URL)",
            per_call_us(
                lambda: canonical_url(
                    "http://amp.example.co.ke/amp/news/kenya/haiti-mission-4668290/"
                    "?utm_source=x&utm_medium=y&fbclid=z&id=5#top"
                )
            ),
        ),
    ]
    for name, us in rows:
        print(f"   {name:56s} {us:9.1f} us")


# ------------------------------------------------------------------------------------------
# LSH recall at scale
# ------------------------------------------------------------------------------------------

BOILERPLATE_TEXT = (
    "Home News World Africa Americas Business Sport Opinion Video Subscribe Sign in. We use "
    "cookies to improve your experience and to show you personalised content and ads; by "
    "continuing you agree to our cookie policy. Accept all. Manage preferences. Related "
    "stories: Markets close higher as investors weigh new data. Opinion: what the region "
    "owes its neighbours. Watch: our correspondent reports from the capital. Sign up for our "
    "free morning newsletter and get the stories that matter in your inbox every weekday. "
    "About us. Contact. Advertise. Careers. Terms of use. Privacy policy. Copyright 2025 "
    "Example Media Group. All rights reserved."
)
BOILERPLATE = BOILERPLATE_TEXT.split()


def make_corpus(n: int, words_per_article: int, seed: int) -> tuple[list[list[str]], list[str]]:
    """Synthetic same-topic articles: words drawn Zipf-like from the labeled set's vocabulary,
    with stock phrases of the real articles mixed in (so different articles share some
    shingles, as same-topic news does)."""
    import numpy as np

    articles = base_articles()
    real = [w for _, text in articles.values() for w in text.split()]
    vocab = sorted(set(real)) + [f"w{i}" for i in range(30_000)]
    phrases = [real[i : i + random.Random(i).randint(4, 9)] for i in range(0, len(real) - 9, 7)]
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 0.9
    weights /= weights.sum()
    picks = rng.choice(len(vocab), size=(n, words_per_article), p=weights)
    phrase_picks = rng.integers(0, len(phrases), size=(n, 6))
    corpus = []
    for row, extra in zip(picks, phrase_picks, strict=True):
        words = [vocab[i] for i in row]
        for k, p in enumerate(extra):
            at = (k + 1) * len(words) // 7
            words[at:at] = phrases[p]
        corpus.append(words)
    return corpus, vocab


def near_copy(words: list[str], kind: str, rng: random.Random, vocab: list[str]) -> list[str]:
    """A copy the way republishers make them."""
    if kind in ("edits", "syndicated"):
        words = list(words)
        for i in rng.sample(range(len(words)), len(words) // 20):
            words[i] = rng.choice(vocab)
    if kind == "excerpt":
        words = words[: int(len(words) * 0.6)]
    if kind == "syndicated":
        words = BOILERPLATE[:40] + words[: int(len(words) * 0.7)] + BOILERPLATE[40:]
    if kind == "boilerplate":
        words = BOILERPLATE[:40] + words + BOILERPLATE[40:]
    if kind == "reordered":
        chunks = [words[i : i + 50] for i in range(0, len(words), 50)]
        rng.shuffle(chunks)
        words = [w for chunk in chunks for w in chunk]
    return words


def section_recall(n: int, copies: int, words_per_article: int) -> None:
    try:
        import numpy as np
    except ImportError:
        print("== LSH recall: skipped, numpy is not installed")
        return
    print(
        f"== LSH recall: {n:,} synthetic articles of ~{words_per_article + 40} words, "
        f"{copies:,} near copies, {BANDS} bands x {NUM_PERM // BANDS} rows"
    )
    t0 = time.perf_counter()
    corpus, vocab = make_corpus(n, words_per_article, seed=11)
    t1 = time.perf_counter()
    signatures = np.empty((n, NUM_PERM), dtype=np.uint32)
    sizes = np.empty(n, dtype=np.int64)
    bands = np.empty((n, BANDS), dtype=np.int64)
    hashes: list[str] = []
    for i, words in enumerate(corpus):
        fp = fingerprint("", " ".join(words))
        signatures[i] = fp.signature
        sizes[i] = fp.shingles
        bands[i] = fp.bands()
        hashes.append(fp.content_hash)
    t2 = time.perf_counter()
    order = np.argsort(bands, axis=0, kind="stable")
    sorted_bands = np.take_along_axis(bands, order, axis=0)
    t3 = time.perf_counter()
    print(
        f"   corpus {t1 - t0:.1f} s; fingerprint + bands {t2 - t1:.1f} s "
        f"({(t2 - t1) / n * 1e6:.0f} us/article); index build {t3 - t2:.2f} s"
    )

    def stored(i: int) -> Fingerprint:
        return Fingerprint(tuple(int(v) for v in signatures[i]), int(sizes[i]), hashes[i])

    rng = random.Random(5)
    kinds = ("edits", "excerpt", "boilerplate", "syndicated", "reordered")
    found = {k: 0 for k in kinds}
    judged = {k: 0 for k in kinds}
    wrong = 0
    total = {k: 0 for k in kinds}
    counts: list[int] = []
    per_kind: dict[str, list[int]] = {k: [] for k in kinds}
    t4 = time.perf_counter()
    for j, original in enumerate(rng.sample(range(n), copies)):
        kind = kinds[j % len(kinds)]
        total[kind] += 1
        fp = fingerprint("", " ".join(near_copy(corpus[original], kind, rng, vocab)))
        query = np.array(fp.bands(), dtype=np.int64)
        candidates: set[int] = set()
        for b in range(BANDS):
            lo = np.searchsorted(sorted_bands[:, b], query[b], side="left")
            hi = np.searchsorted(sorted_bands[:, b], query[b], side="right")
            candidates.update(int(i) for i in order[lo:hi, b])
        counts.append(len(candidates))
        per_kind[kind].append(len(candidates))
        if original in candidates:
            found[kind] += 1
        verdict = decide_near(fp, [Candidate(i, stored(i)) for i in sorted(candidates)])
        if verdict.kind == "copy":
            if verdict.article_id == original:
                judged[kind] += 1
            else:
                wrong += 1
    t5 = time.perf_counter()
    print(f"   {copies} lookups (band search + decide_near) {(t5 - t4) / copies * 1e3:.2f} ms each")
    for kind in kinds:
        print(
            f"   {kind:12s} candidates found {found[kind]:4d}/{total[kind]}   "
            f"judged copy of the original {judged[kind]:4d}/{total[kind]}   "
            f"candidates: median {statistics.median(per_kind[kind]):.0f}, "
            f"max {max(per_kind[kind])}"
        )
    print(
        f"   all          candidates found {sum(found.values()):4d}/{copies}   "
        f"judged copy of the original {sum(judged.values()):4d}/{copies}; "
        f"attached to a wrong article: {wrong}"
    )
    counts.sort()
    print(
        f"   candidates per lookup: median {statistics.median(counts):.0f}, "
        f"p99 {counts[int(len(counts) * 0.99) - 1]}, max {counts[-1]} "
        f"(thresholds {DEFAULT_THRESHOLDS})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--copies", type=int, default=1_000)
    parser.add_argument("--words", type=int, default=380, help="words per synthetic article")
    args = parser.parse_args()
    section_speed(base_articles())
    section_recall(args.articles, args.copies, args.words)
    return 0


if __name__ == "__main__":
    sys.exit(main())
