"""Deduplication, the pure part: canonical URLs, content hashes, fingerprints, near copies.

The labeled evaluation at the end reads tests/data/dedup_pairs.jsonl (written by
tests/data/make_dedup_pairs.py) and judges every pair the way production does: the exact
content hash, else an LSH band collision, then :func:`decide_near` with the default thresholds.
"""

from __future__ import annotations

import json
import re
import string
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from monitor.dedup import (
    _HOST_SAFE,
    _PATH_SAFE,
    _QUERY_NAME_SAFE,
    _QUERY_VALUE_SAFE,
    AMP_PARAMETERS,
    BANDS,
    DEFAULT_THRESHOLDS,
    NUM_PERM,
    TRACKING_PARAMETERS,
    Candidate,
    Fingerprint,
    StoredPrint,
    Thresholds,
    _quote,
    _quote_each,
    canonical_url,
    content_hash,
    content_words,
    decide_near,
    equal_values,
    fingerprint,
    is_tracking_parameter,
    normalize_text,
    similarity,
    url_key,
)
from monitor.items import Verdict

DATA = Path(__file__).parent / "data" / "dedup_pairs.jsonl"

# ------------------------------------------------------------------------------------------
# canonical URL
# ------------------------------------------------------------------------------------------

KEY = "https://standardmedia.co.ke/world/article/2001497542/kenyan-police-arrive-in-haiti"
PATH = "/world/article/2001497542/kenyan-police-arrive-in-haiti"
BASE = "https://www.standardmedia.co.ke" + PATH

# Eleven URLs of one article, as feeds, social shares and AMP caches hand them out.
VARIANTS = [
    "http://www.standardmedia.co.ke" + PATH,  # http
    "https://standardmedia.co.ke" + PATH,  # no www
    "https://m.standardmedia.co.ke" + PATH,  # mobile host
    "https://amp.standardmedia.co.ke" + PATH,  # AMP host
    "https://www.standardmedia.co.ke/amp" + PATH,  # /amp/ path prefix
    BASE + "?outputType=amp",  # AMP query flag
    BASE + "?utm_source=twitter&utm_medium=social&utm_campaign=haiti&fbclid=IwAR2x&gclid=Cj0K",
    BASE + "#comments",  # fragment
    "https://www.standardmedia.co.ke:443" + PATH,  # default port
    BASE + "/",  # trailing slash
    "https://www.standardmedia.co.ke/world/article/2001497542/kenyan%2dpolice%2Darrive-in-haiti",
]

MORE_VARIANTS = [
    BASE + "/amp",  # trailing /amp segment
    BASE + "?amp=1",
    BASE + "?amp",
    "HTTPS://WWW.StandardMedia.CO.KE" + PATH,
    "https://mobile.standardmedia.co.ke" + PATH,
    "https://www.standardmedia.co.ke:80" + PATH + "?mc_cid=1&mc_eid=2&_ga=2.1&igshid=x&spm=a.b",
    BASE + "?ref_src=twsrc%5Etfw&cmpid=nl&ocid=msn&dclid=1&msclkid=2&UTM_Content=x",
    "https://www-standardmedia-co-ke.cdn.ampproject.org/c/s/www.standardmedia.co.ke" + PATH,
    "https://www.google.com/amp/s/www.standardmedia.co.ke" + PATH,
    "  " + BASE + "  ",
    "//www.standardmedia.co.ke" + PATH,
]


@pytest.mark.parametrize("url", VARIANTS + MORE_VARIANTS)
def test_variants_of_one_article_have_one_key(url: str) -> None:
    assert canonical_url(url) == KEY
    assert url_key(url) == url_key(BASE)


def test_the_eleven_variants_are_eleven_different_strings() -> None:
    assert len(set(VARIANTS)) == 11
    assert {url_key(url) for url in VARIANTS} == {url_key(KEY)}


def test_url_key_is_a_short_hex_hash() -> None:
    key = url_key(BASE)
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    assert key != url_key(BASE.replace("2001497542", "2001497543"))


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://example.org/news?id=123", "https://example.org/news?id=124"),
        ("https://example.org/news/haiti-mission", "https://example.org/news/kenya-mission"),
        ("https://example.org/news?page=1", "https://example.org/news?page=2"),
        ("https://example.org/news?lang=fr", "https://example.org/news?lang=en"),
        ("https://example.org/news?id=1", "https://example.org/news?id=1&section=2"),
        ("https://example.org/Story", "https://example.org/story"),  # paths are case-sensitive
        ("https://example.org/news", "https://example.com/news"),
        ("https://example.org/news", "https://example.org:8080/news"),
        ("https://amp.dev/docs", "https://dev/docs"),  # amp.dev is a site, not an AMP host
        ("https://example.org/a%2Fb", "https://example.org/a/b"),  # an escaped / is data
        ("https://example.org/news?q=a%26b", "https://example.org/news?q=a&b"),
    ],
)
def test_different_articles_keep_different_keys(one: str, other: str) -> None:
    assert canonical_url(one) != canonical_url(other)
    assert url_key(one) != url_key(other)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://example.org/news?b=2&a=1&c", "https://example.org/news?a=1&b=2&c="),
        ("https://Example.org", "https://example.org/"),
        ("https://example.org/a/./b/../c/", "https://example.org/a/c"),
        ("https://example.org/caf%c3%a9?q=%e2%82%ac", "https://example.org/caf%C3%A9?q=%E2%82%AC"),
        ("https://example.org/café?q=€", "https://example.org/caf%C3%A9?q=%E2%82%AC"),
        ("https://example.org/%7Euser/%41", "https://example.org/~user/A"),
        ("https://user:secret@example.org/x", "https://example.org/x"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("https://example.org/story.amp.html", "https://example.org/story.html"),
        ("https://example.org/news?outputType=html", "https://example.org/news?outputType=html"),
        ("https://example.org/a?xtor=RSS-1&at_medium=x&id=9", "https://example.org/a?id=9"),
        ("https://[2001:db8::1]:443/x", "https://[2001:db8::1]/x"),
    ],
)
def test_canonical_url_rules(url: str, key: str) -> None:
    assert canonical_url(url) == key


@pytest.mark.parametrize(
    "url", ["ftp://example.org/file", "mailto:desk@example.org", "example.org/news", "", "http://"]
)
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        canonical_url(url)


def test_the_tracker_list_is_a_deny_list() -> None:
    assert is_tracking_parameter("utm_source")
    assert is_tracking_parameter("UTM_CAMPAIGN")
    assert is_tracking_parameter("fbclid")
    assert is_tracking_parameter("%66bclid")  # percent-encoded "fbclid"
    for kept in ("id", "page", "p", "article", "lang", "q", "ref", "source", "s"):
        assert not is_tracking_parameter(kept), kept


_LABEL = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=10)
_HOST = st.builds(
    lambda prefix, labels, tld: prefix + ".".join([*labels, tld]),
    st.sampled_from(["", "www.", "m.", "amp."]),
    st.lists(_LABEL, min_size=1, max_size=3),
    st.sampled_from(["org", "com", "co.ke", "ht"]),
)
_SEGMENT = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="/?#%\\"
    ),
    max_size=12,
) | st.sampled_from(["%7E", "%2d", "%C3%A9", "%2F", ".", "..", "amp", "story.amp.html"])
_PATH = st.lists(_SEGMENT, max_size=4).map(lambda parts: "/" + "/".join(parts))
_SAFE_VALUE = st.text(alphabet=string.ascii_letters + string.digits + "-._~!$'()*+,;:@/é ")
_NAME = st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=8).filter(
    lambda name: not is_tracking_parameter(name) and name.lower() not in AMP_PARAMETERS
)
_PARAMS = st.lists(st.tuples(_NAME, _SAFE_VALUE), max_size=4)
_TRACKER = st.sampled_from(sorted(TRACKING_PARAMETERS)) | _LABEL.map(lambda s: "utm_" + s)


@dataclass(frozen=True)
class Url:
    """A URL built from parts, so a test can change one part and rebuild it."""

    scheme: str
    host: str
    port: str
    path: str
    params: tuple[tuple[str, str], ...]
    fragment: str

    def build(self) -> str:
        query = "&".join(f"{name}={value}" for name, value in self.params)
        fragment = f"#{self.fragment}" if self.fragment else ""
        return f"{self.scheme}://{self.host}{self.port}{self.path}?{query}{fragment}"


_URL = st.builds(
    Url,
    st.sampled_from(["http", "https", "HTTP", "Https"]),
    _HOST,
    st.sampled_from(["", ":80", ":443", ":8080"]),
    _PATH,
    _PARAMS.map(tuple),
    st.text(max_size=8).map(lambda s: s.replace("#", "")),
)


@given(_URL)
def test_canonical_url_is_idempotent(url: Url) -> None:
    key = canonical_url(url.build())
    assert canonical_url(key) == key


@given(st.text(max_size=60))
@example("http://[::1")
@example("http://example.org:99999/")
@example("https://\udcff.example/\ud800")
@example("http://exa mple.org/a b?c d#e")
@example("https://xn--.example/")
def test_canonical_url_returns_a_key_or_raises_value_error(tail: str) -> None:
    for text in (tail, "http://" + tail, "https://example.org/" + tail):
        try:
            key = canonical_url(text)
        except ValueError:
            continue
        assert key.startswith("https://")
        assert "#" not in key
        assert canonical_url(key) == key


@given(
    st.text(alphabet=st.sampled_from([*sorted(_PATH_SAFE), "%", "A", "f", "z", "é", " ", "#"])),
    st.sampled_from([_HOST_SAFE, _PATH_SAFE, _QUERY_NAME_SAFE, _QUERY_VALUE_SAFE]),
)
@example("/a%41/b", _PATH_SAFE)
@example("/already/plain-path_1~", _PATH_SAFE)
def test_a_url_part_left_as_it_is_is_what_escaping_each_character_gives(
    text: str, safe: frozenset[str]
) -> None:
    assert _quote(text, safe) == _quote_each(text, safe)


@given(_URL, _TRACKER, _SAFE_VALUE, st.integers(min_value=0, max_value=4), st.booleans())
def test_adding_a_tracker_never_changes_the_key(
    url: Url, tracker: str, value: str, where: int, upper: bool
) -> None:
    name = tracker.upper() if upper else tracker
    params = list(url.params)
    params.insert(min(where, len(params)), (name, value))
    tracked = Url(url.scheme, url.host, url.port, url.path, tuple(params), url.fragment)
    assert canonical_url(tracked.build()) == canonical_url(url.build())


@given(_URL, _NAME, _SAFE_VALUE, _SAFE_VALUE)
def test_changing_a_kept_parameter_value_always_changes_the_key(
    url: Url, name: str, one: str, other: str
) -> None:
    assume(one != other)

    def with_value(value: str) -> str:
        params = (*url.params, (name, value))
        return Url(url.scheme, url.host, url.port, url.path, params, url.fragment).build()

    assert canonical_url(with_value(one)) != canonical_url(with_value(other))


# ------------------------------------------------------------------------------------------
# exact content
# ------------------------------------------------------------------------------------------

LONG = (
    "The first Kenyan police officers of the Multinational Security Support mission landed "
    'in Port-au-Prince on Tuesday. "We have not come to Haiti as strangers," said the '
    "commander, who leads the contingent. The mission's launch was delayed by a ruling of "
    "Kenya's High Court, which found that the government could not send police abroad "
    "without a reciprocal agreement. Kenya has pledged 1,000 officers to the mission, which "
    "is expected to reach 2,500 personnel with contributions from other countries."
)


def test_normalize_text_folds_case_accents_quotes_and_spaces() -> None:
    folded = normalize_text("  L\u2019A\u00c9ROPORT\u00a0rouvre \u2014 \u201cenfin\u201d\u2026 ")
    assert folded == 'l\'aeroport rouvre - "enfin"...'
    assert normalize_text("\uff28\uff41\uff49\uff54\uff49 \ufb01nal Stra\u00dfe") == (
        "haiti final strasse"
    )
    assert normalize_text("Ha\u00efti") == normalize_text("Hai\u0308ti") == "haiti"


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_the_ascii_fast_path_agrees_with_the_unicode_path(text: str) -> None:
    assert normalize_text(text + "\u00a0") == normalize_text(text)
    assert content_words("", text + " \u00e9t\u00e9") == content_words("", text + " ete")
    assert content_words("", text) == re.findall(r"\w+", text.lower())  # Unicode's \w


@given(
    st.lists(st.sampled_from(["\u00a0", "  ", "\n", "\t", "\r\n", " \u200b"]), min_size=1),
    st.sampled_from([str.upper, str.lower, str.title, str.swapcase]),
    st.sampled_from([("\u201c", "\u201d"), ('"', '"'), ("\u00ab ", " \u00bb"), ("'", "'")]),
)
def test_content_hash_ignores_whitespace_case_and_quotes(
    spaces: list[str], case: Callable[[str], str], quotes: tuple[str, str]
) -> None:
    opening, closing = quotes
    words = LONG.replace('"We have', opening + "We have").replace(
        'strangers,"', "strangers," + closing
    )
    rebuilt = "".join(word + spaces[i % len(spaces)] for i, word in enumerate(words.split(" ")))
    changed = case(rebuilt).replace("'", "\u2019")
    assert changed != LONG
    assert content_hash("A title", changed) == content_hash("Another title", LONG)


def test_content_hash_sees_a_changed_word() -> None:
    assert content_hash("", LONG) != content_hash("", LONG.replace("1,000", "1,200"))
    assert content_hash("", LONG) != content_hash("", LONG + " More to follow.")


def test_short_texts_are_hashed_with_their_title() -> None:
    teaser = "Read the full story on our website."
    assert content_hash("Gangs attack a town", teaser) != content_hash("MPs query costs", teaser)
    assert content_hash("Headline one", LONG) == content_hash("A new headline", LONG)
    assert content_hash("Only a title", "") == content_hash("ONLY a title!", "")


def test_empty_content_has_no_hash() -> None:
    assert content_hash("", "") == ""
    assert content_hash("  ", " ... \u2014 ") == ""
    assert fingerprint("", "").bands() == ()


# ------------------------------------------------------------------------------------------
# fingerprints
# ------------------------------------------------------------------------------------------


def test_fingerprint_shape_and_bands() -> None:
    fp = fingerprint("A title", LONG)
    assert len(fp.signature) == NUM_PERM
    assert all(0 <= value < 2**32 for value in fp.signature)
    assert fp.content_hash == content_hash("A title", LONG)
    bands = fp.bands()
    assert len(bands) == BANDS == len(set(bands))
    assert all(-(2**31) <= band < 2**31 for band in bands)
    assert fingerprint("Other title", LONG) == fp
    assert fingerprint("Other title", LONG).bands() == bands


def test_fingerprint_is_pinned() -> None:
    """A rensa upgrade that changes its hashing would silently orphan every stored fingerprint;
    this pins the output (if it fails on purpose, bump the format version in dedup.py)."""
    fp = fingerprint("t", "one two three four five six seven eight")
    assert fp.shingles == 6  # the title counts: the text is short
    assert fp.signature[:4] == (3525476673, 3243208398, 1752330950, 3345994402)
    # the high halves of the 64-bit hashes stored before revision 0007 (-5876182177707541187,
    # -6394036743801675365): what the migration turned those into
    assert fp.bands()[:2] == (-1368155279, -1488727691)
    assert fp.content_hash == "a42b157ddd5389e99482d332bdb788af"


@given(st.text(max_size=300), st.text(max_size=30))
def test_fingerprint_bytes_round_trip(text: str, title: str) -> None:
    fp = fingerprint(title, text)
    data = fp.to_bytes()
    assert Fingerprint.from_bytes(data) == fp
    assert len(data) <= 9 + 16 + 4 * NUM_PERM  # header, content hash, signature


@pytest.mark.parametrize("kind", [Fingerprint, StoredPrint])
def test_fingerprint_from_foreign_bytes_is_refused(kind: type[Fingerprint | StoredPrint]) -> None:
    data = fingerprint("", LONG).to_bytes()
    with pytest.raises(ValueError, match="recompute"):
        kind.from_bytes(bytes([99]) + data[1:])
    with pytest.raises(ValueError):
        kind.from_bytes(data[:-4])
    with pytest.raises(ValueError):
        kind.from_bytes(data[:3])


def test_similarity_of_identical_excerpt_and_unrelated_texts() -> None:
    full = fingerprint("", LONG)
    assert similarity(full, full) == (1.0, 1.0)
    excerpt = fingerprint("", " ".join(LONG.split()[:45]))
    jaccard, containment = similarity(full, excerpt)
    assert jaccard < 0.8
    assert containment > 0.85
    other = fingerprint("", "Floods in the Rift Valley " * 3 + "displaced farmers near Nakuru")
    assert similarity(full, other)[1] < 0.1
    assert similarity(full, fingerprint("", "")) == (0.0, 0.0)


def test_decide_near_prefers_exact_content_then_the_best_near_copy() -> None:
    fp = fingerprint("", LONG)
    edited = fingerprint("", LONG.replace("Tuesday", "Monday").replace("pledged", "promised"))
    unrelated = fingerprint("", "Kenya floods " * 60)
    assert decide_near(fp, []) == Verdict(kind="new")
    assert decide_near(fp, [Candidate(7, unrelated)]) == Verdict(kind="new")

    near = decide_near(fp, [Candidate(7, unrelated), Candidate(9, edited)], DEFAULT_THRESHOLDS)
    assert (near.kind, near.article_id, near.reason) == ("copy", 9, "near")
    assert near.similarity is not None and 0.5 <= near.similarity < 1.0

    exact = decide_near(fp, [Candidate(9, edited), Candidate(12, fp), Candidate(11, fp)])
    assert exact == Verdict(kind="copy", article_id=11, reason="content", similarity=1.0)

    tie = decide_near(fp, [Candidate(5, edited), Candidate(3, edited)])
    assert tie.article_id == 3


def test_texts_below_min_shingles_only_match_exactly() -> None:
    short = "Gunmen attacked the town of Pont-Sonde overnight, killing dozens of residents."
    a = fingerprint("", short)
    b = fingerprint("", short.replace("dozens", "scores"))
    assert a.shingles < DEFAULT_THRESHOLDS.min_shingles
    assert decide_near(a, [Candidate(1, b)]) == Verdict(kind="new")
    loose = Thresholds(jaccard=0.2, containment=0.5, min_shingles=1)
    assert decide_near(a, [Candidate(1, b)], loose).kind == "copy"
    assert decide_near(a, [Candidate(1, fingerprint("", short))]).reason == "content"


# ------------------------------------------------------------------------------------------
# the labeled evaluation
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judged:
    label: str
    kind: str
    a_base: str
    b_base: str
    jaccard: float
    containment: float
    candidate: bool
    verdict: Verdict

    @property
    def merged(self) -> bool:
        return self.verdict.kind == "copy"


@cache
def labeled_pairs() -> tuple[dict[str, object], ...]:
    with DATA.open(encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle)


def _fp(side: object) -> Fingerprint:
    assert isinstance(side, dict)
    return fingerprint(side["title"], side["text"])


def judge(stored: Fingerprint, new: Fingerprint) -> tuple[bool, Verdict]:
    """Production's path for one stored article: the exact-content lookup, else a shared LSH
    band makes it a candidate for decide_near; no shared band means never compared."""
    exact = bool(new.content_hash) and new.content_hash == stored.content_hash
    candidate = exact or bool(set(new.bands()) & set(stored.bands()))
    if not candidate:
        return False, Verdict(kind="new")
    return True, decide_near(new, [Candidate(1, stored)], DEFAULT_THRESHOLDS)


@cache
def judged() -> tuple[Judged, ...]:
    out = []
    for pair in labeled_pairs():
        a, b = _fp(pair["a"]), _fp(pair["b"])
        candidate, verdict = judge(a, b)
        jaccard, containment = similarity(a, b)
        out.append(
            Judged(
                str(pair["label"]),
                str(pair["kind"]),
                str(pair["a_base"]),
                str(pair["b_base"]),
                jaccard,
                containment,
                candidate,
                verdict,
            )
        )
    return tuple(out)


def report(rows: Iterable[Judged]) -> str:
    by_kind: dict[tuple[str, str], list[Judged]] = defaultdict(list)
    for row in rows:
        by_kind[(row.label, row.kind)].append(row)
    lines = [f"{'label':9}{'kind':40}{'n':>4} {'Jaccard':>11} {'containment':>11} {'merged':>7}"]
    for (label, kind), group in sorted(by_kind.items()):
        js = [r.jaccard for r in group]
        cs = [r.containment for r in group]
        merged = sum(r.merged for r in group)
        lines.append(
            f"{label:9}{kind:40}{len(group):4} {min(js):5.2f}-{max(js):4.2f} "
            f"{min(cs):5.2f}-{max(cs):4.2f} {merged:5}/{len(group)}"
        )
    return "\n".join(lines)


def test_labeled_set_is_large_and_varied() -> None:
    pairs = labeled_pairs()
    assert len(pairs) >= 120
    bases = {p["a_base"] for p in pairs} | {p["b_base"] for p in pairs}
    assert len(bases) >= 16
    assert "seed-rubio" in bases
    kinds = {(p["label"], p["kind"]) for p in pairs}
    for kind in (
        "republished",
        "light_edits",
        "excerpt_60",
        "reordered",
        "boilerplate_wrap",
        "syndicated",
        "restyled",
    ):
        assert ("copy", kind) in kinds
    for kind in ("same_event_other_outlet", "different_event_same_topic", "follow_up_same_outlet"):
        assert ("distinct", kind) in kinds


def test_catch_rate_and_merge_rate_on_the_labeled_set() -> None:
    rows = judged()
    copies = [r for r in rows if r.label == "copy"]
    distinct = [r for r in rows if r.label == "distinct"]
    catch = sum(r.merged for r in copies) / len(copies)
    merge = sum(r.merged for r in distinct) / len(distinct)
    lsh_missed = sum(not r.candidate for r in copies)
    print()
    print(report(rows))
    print(
        f"copies caught {catch:.1%} of {len(copies)} (LSH missed {lsh_missed}); "
        f"distinct merged {merge:.1%} of {len(distinct)}; thresholds {DEFAULT_THRESHOLDS}"
    )
    assert catch >= 0.95, report(rows)
    assert merge <= 0.02, report(rows)


def test_restyled_copies_are_caught_by_the_exact_hash() -> None:
    rows = [r for r in judged() if r.kind == "restyled"]
    assert rows
    assert all(r.verdict.reason == "content" for r in rows)


def test_distinct_pairs_sharing_a_quote_stay_apart() -> None:
    hard = [r for r in judged() if r.kind.startswith("same_event") or r.kind.startswith("follow")]
    assert len(hard) >= 30
    assert not [r for r in hard if r.merged], report(hard)


def test_each_copy_finds_its_own_original_among_all_articles() -> None:
    """Index every base article by band, as the store does, and look each copy up: a copy must
    attach to its own original and never to another article; no original matches another."""
    originals: dict[str, Fingerprint] = {}
    for pair in labeled_pairs():
        if pair["label"] == "copy" and pair["kind"] == "restyled":
            originals[str(pair["a_base"])] = _fp(pair["a"])
    ids = {name: i for i, name in enumerate(sorted(originals), start=1)}
    index: dict[int, set[int]] = defaultdict(set)
    for name, fp in originals.items():
        for band in fp.bands():
            index[band].add(ids[name])
    by_id = {ids[name]: fp for name, fp in originals.items()}

    def lookup(fp: Fingerprint, exclude: int | None = None) -> Verdict:
        found = {i for band in fp.bands() for i in index.get(band, ())} - {exclude}
        found |= {i for i, other in by_id.items() if other.content_hash == fp.content_hash}
        found.discard(exclude)  # type: ignore[arg-type]
        return decide_near(fp, [Candidate(i, by_id[i]) for i in sorted(found)])

    wrong, caught, copies = [], 0, 0
    for pair in labeled_pairs():
        if pair["label"] != "copy":
            continue
        copies += 1
        verdict = lookup(_fp(pair["b"]))
        if verdict.kind == "copy":
            caught += 1
            if verdict.article_id != ids[str(pair["a_base"])]:
                wrong.append((pair["kind"], pair["a_base"], verdict))
    assert not wrong
    assert caught / copies >= 0.95
    for name, fp in originals.items():
        assert lookup(fp, exclude=ids[name]).kind == "new", name


def test_bands_computed_with_the_signature_are_the_bands_of_the_signature() -> None:
    """fingerprint() computes the LSH bands at once (in the parse worker); a fingerprint read
    back from the store computes them from its signature: both must be the same, and the
    precomputed ones play no part in equality."""
    from monitor.dedup import Fingerprint, fingerprint

    made = fingerprint("Kenya", "Kenyan police officers arrived in Port-au-Prince. " * 12)
    stored = Fingerprint.from_bytes(made.to_bytes())
    assert made.band_hashes is not None and stored.band_hashes is None
    assert made.bands() == stored.bands() and len(set(made.bands())) > 1
    assert made == stored


_EDGES = st.sampled_from([0, 1, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF])
_VALUE = st.one_of(_EDGES, st.integers(0, 0xFFFFFFFF))


@given(
    st.lists(_VALUE, min_size=NUM_PERM, max_size=NUM_PERM),
    st.lists(st.one_of(st.none(), _VALUE), min_size=NUM_PERM, max_size=NUM_PERM),
)
def test_equal_values_counts_what_a_comparison_value_by_value_counts(
    a: list[int], changes: list[int | None]
) -> None:
    """equal_values, on signatures packed 32 bits a value, agrees with comparing them one
    value at a time, edge values (0, top bit alone, all ones) and carries included."""
    import operator
    import struct

    b = [x if change is None else change for x, change in zip(a, changes, strict=True)]

    def packed(values: list[int]) -> int:
        return int.from_bytes(struct.pack(f"<{NUM_PERM}I", *values), "little")

    assert equal_values(packed(a), packed(b)) == sum(map(operator.eq, a, b))


def test_similarity_is_the_same_for_stored_and_fresh_fingerprints() -> None:
    """A fingerprint read back from the database (its values already packed) and one just
    computed give the same estimates; the packed form is no part of its identity."""
    text = "Kenyan police officers arrived in Port-au-Prince on Tuesday to lead the mission. "
    fresh = fingerprint("Kenya", text * 9)
    other = fingerprint("Kenya", text.replace("Tuesday", "Monday") * 9)
    stored = Fingerprint.from_bytes(fresh.to_bytes())
    assert stored == fresh and stored.lanes is not None and fresh.lanes is None
    expected = similarity(fresh, other)
    assert 0.0 < expected[0] < 1.0
    assert similarity(stored, Fingerprint.from_bytes(other.to_bytes())) == expected
    assert similarity(stored, other) == similarity(other, stored) == expected
    # the compact form the database writer caches for candidates compares the same
    packed = StoredPrint.from_bytes(fresh.to_bytes())
    assert (packed.shingles, packed.content_hash) == (fresh.shingles, fresh.content_hash)
    assert similarity(packed, other) == similarity(other, packed) == expected
    assert similarity(packed, StoredPrint.from_bytes(other.to_bytes())) == expected
    assert decide_near(other, [Candidate(3, packed)], Thresholds(0.0, 0.0, 1)) == decide_near(
        other, [Candidate(3, fresh)], Thresholds(0.0, 0.0, 1)
    )


def test_a_stored_print_takes_a_fraction_of_the_memory_of_a_fingerprint() -> None:
    """What makes a cache of 16,384 candidates affordable: no tuple of 128 ints."""
    import sys

    def deep(obj: object) -> int:
        slots = [getattr(obj, name) for name in type(obj).__slots__]
        inner = sum(sys.getsizeof(x) for v in slots if isinstance(v, tuple) for x in v)
        return sys.getsizeof(obj) + inner + sum(sys.getsizeof(v) for v in slots)

    data = fingerprint("Kenya", LONG).to_bytes()
    assert deep(StoredPrint.from_bytes(data)) * 4 < deep(Fingerprint.from_bytes(data))
