"""Deduplication, the pure part: URL keys, content hashes and near-duplicate decisions.

Three layers, cheap to dear; the caller stops at the first hit:

1. identity: :func:`canonical_url` / :func:`url_key` fold the many URLs of one page
   (tracking parameters, AMP variants, ``www.``/``m.`` hosts, default ports, fragments,
   percent-encoding) into one key for a unique index;
2. exact content: :func:`content_hash` over :func:`normalize_text`, insensitive to case,
   whitespace, quotes, accents and punctuation;
3. near duplicate: :func:`fingerprint` makes a MinHash signature of word shingles whose
   :meth:`Fingerprint.bands` are the LSH keys the database indexes; :func:`decide_near`
   verifies the candidates that share a band.

Nothing here touches the network, the clock or the database: the store finds candidates by
band hash and hands them to :func:`decide_near`, which returns a :class:`~monitor.items.Verdict`.

The canonical URL is written with the standard library only, on purpose: its output is a key
stored in a unique index, so it must not change when a third-party library changes its rules.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import struct
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import SplitResult, urlsplit

from rensa import RMinHash

from monitor.items import Verdict, quick_pickle

__all__ = [
    "AMP_PARAMETERS",
    "BANDS",
    "DEFAULT_THRESHOLDS",
    "NUM_PERM",
    "ROWS",
    "SHINGLE_SIZE",
    "SHORT_TEXT_WORDS",
    "TRACKING_PARAMETERS",
    "TRACKING_PREFIXES",
    "Candidate",
    "Fingerprint",
    "StoredPrint",
    "Thresholds",
    "canonical_url",
    "content_hash",
    "content_words",
    "decide_near",
    "fingerprint",
    "is_tracking_parameter",
    "normalize_text",
    "shingles",
    "similarity",
    "url_key",
]

# --------------------------------------------------------------------------------------------
# Layer 1: canonical URL
# --------------------------------------------------------------------------------------------

#: Query parameters that only say who sent the reader (compared lower-cased). A deny-list on
#: purpose: an unknown parameter may select the article (``id=123``), so it is always kept.
TRACKING_PARAMETERS: Final[frozenset[str]] = frozenset(
    {
        # Google: Ads click ids, Analytics linker, Display & Video 360, campaign ids
        "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "_ga", "_gl",
        # Meta, Microsoft, Instagram, Twitter/X, TikTok, LinkedIn, Yandex
        "fbclid", "fb_action_ids", "fb_action_types", "fb_ref", "fb_source",
        "msclkid", "igshid", "igsh", "twclid", "ttclid", "li_fat_id", "yclid",
        "ref_src", "ref_url", "__twitter_impression",
        # Mailchimp, HubSpot, Marketo, Vero, Olytics, Adobe, Omniture/Webtrends
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "hsctatracking", "mkt_tok",
        "vero_id", "vero_conv", "oly_anon_id", "oly_enc_id", "s_cid", "s_kwcid", "wt.mc_id",
        # news publishers' own campaign tags (MSN ocid, Guardian CMP, NYT smid, AT Internet
        # xtor used by most French-language sites, Alibaba spm, generic cmpid/ncid)
        "cmpid", "cmp", "ocid", "spm", "smid", "smtyp", "xtor", "ncid", "sr_share", "rb_clickid",
        "at_medium", "at_campaign", "at_source", "at_custom1", "at_custom2", "at_custom3",
        "at_custom4",
    }
)  # fmt: skip

#: Parameter-name prefixes that are trackers whatever follows (Urchin/Google Analytics,
#: Matomo/Piwik, HubSpot ads).
TRACKING_PREFIXES: Final[tuple[str, ...]] = ("utm_", "pk_", "mtm_", "hsa_")

#: Query parameters that only ask for the AMP rendering of the same article:
#: name -> the values that mean "AMP" (an empty set means any value).
AMP_PARAMETERS: Final[dict[str, frozenset[str]]] = {
    "amp": frozenset(),
    "outputtype": frozenset({"amp"}),
    "output": frozenset({"amp"}),
}

_HOST_PREFIXES: Final[tuple[str, ...]] = ("www.", "m.", "mobile.", "amp.")
_DEFAULT_PORTS: Final[frozenset[int]] = frozenset({80, 443})
_UNRESERVED: Final[frozenset[str]] = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)
# Characters kept literally (besides unreserved and "%XX") in a path and in a query part; all
# others, including non-ASCII, are percent-encoded as UTF-8 so an IRI and its URI agree.
_PATH_SAFE: Final[frozenset[str]] = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE: Final[frozenset[str]] = _UNRESERVED | frozenset("!$'()*+,;:@/?")
_HEX: Final[frozenset[str]] = frozenset("0123456789abcdefABCDEF")
_HOST_SAFE: Final[frozenset[str]] = _UNRESERVED | frozenset(":")
_QUERY_NAME_SAFE: Final[frozenset[str]] = _QUERY_SAFE - frozenset("?")
_QUERY_VALUE_SAFE: Final[frozenset[str]] = _QUERY_SAFE | frozenset("=")
_AMP_CACHE_SUFFIX: Final[str] = ".cdn.ampproject.org"


def is_tracking_parameter(name: str) -> bool:
    """Whether a query parameter name (raw or decoded, any case) is a known tracker."""
    lowered = _unquote_lossy(name).lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Return the identity KEY of an article URL (never a URL to fetch).

    Two URLs of the same article give the same key: the scheme is folded to https, the host
    lower-cased without ``www.``/``m.``/``mobile.``/``amp.``, default ports, fragments and
    user info are dropped, tracking parameters are removed and the others sorted,
    percent-encoding is normalised (unreserved characters decoded, hex upper-cased), AMP
    variants are folded and a trailing slash is dropped. Raises ValueError for anything that
    is not an absolute http(s) URL.
    """
    text = url.strip()
    if text.startswith("//"):
        text = "https:" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # bad IPv6 literal or port
        raise ValueError(f"not a valid http(s) URL: {url!r} ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    amp_inner = _unwrap_amp_cache(parts)
    if amp_inner is not None:
        return canonical_url(amp_inner)

    host = _canonical_host(parts.hostname)
    if not host.strip("."):
        raise ValueError(f"not an absolute http(s) URL: {url!r} (no host name)")
    netloc = host if port is None or port in _DEFAULT_PORTS else f"{host}:{port}"
    path = _canonical_path(parts.path)
    query = _canonical_query(parts.query)
    return f"https://{netloc}{path}" + (f"?{query}" if query else "")


def url_key(url: str) -> str:
    """A short stable hash of :func:`canonical_url` (32 hex digits) for a unique index."""
    return canonical_key(canonical_url(url))


def canonical_key(canonical: str) -> str:
    """:func:`url_key` of a URL whose :func:`canonical_url` is ``canonical``."""
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).hexdigest()


def _unwrap_amp_cache(parts: SplitResult) -> str | None:
    """The publisher's URL inside a Google AMP cache or ``google.com/amp/`` URL, if it is one."""
    host = (parts.hostname or "").lower()
    path = parts.path
    if host.endswith(_AMP_CACHE_SUFFIX):
        match = re.match(r"^/[cv]/(?:s/)?(.+)$", path)
    elif host in ("google.com", "www.google.com") and path.startswith("/amp/"):
        match = re.match(r"^/amp/(?:s/)?(.+)$", path)
    else:
        return None
    if match is None or "." not in match.group(1).split("/", 1)[0]:
        return None
    inner = "https://" + match.group(1)
    return inner + (f"?{parts.query}" if parts.query else "")


def _canonical_host(hostname: str) -> str:
    """Lower-case, IDNA-encode and strip the mobile/AMP/www prefixes (keeping a registrable
    name: ``amp.dev`` stays ``amp.dev``)."""
    host = hostname.rstrip(".").lower()
    if not host.isascii():
        # an invalid IDN stays as it is and is percent-encoded below: still a stable key
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    host = _quote(host, _HOST_SAFE).lower()
    stripped = True
    while stripped:
        stripped = False
        for prefix in _HOST_PREFIXES:
            rest = host[len(prefix) :]
            if host.startswith(prefix) and "." in rest:
                host, stripped = rest, True
    if ":" in host:  # an IPv6 literal needs its brackets back
        host = f"[{host}]"
    return host


def _canonical_path(path: str) -> str:
    """Normalise percent-encoding, resolve dot segments and fold the AMP path variants.

    Repeated until nothing changes, so ``/story.amp.amp`` and ``/amp.amp`` fold all the way
    and the key is idempotent.
    """
    result = _quote(path, _PATH_SAFE)
    while True:
        folded = _fold_path(result)
        if folded == result:
            return folded
        result = folded


def _fold_path(path: str) -> str:
    segments = path.split("/")
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if out:
                out.pop()
        elif segment not in (".", "amp"):
            out.append(segment)
    if out:
        last = out[-1]
        if last.endswith(".amp.html"):
            out[-1] = last[: -len(".amp.html")] + ".html"
        elif last.endswith(".amp") and len(last) > len(".amp"):
            out[-1] = last[: -len(".amp")]
    return re.sub(r"/{2,}", "/", "/" + "/".join(out).strip("/"))


def _canonical_query(query: str) -> str:
    """Drop trackers, AMP flags and empty pairs; normalise encoding; sort what is left."""
    pairs: list[tuple[str, str]] = []
    for part in query.split("&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition("=")
        name = _quote(raw_name, _QUERY_NAME_SAFE)
        value = _quote(raw_value, _QUERY_VALUE_SAFE)
        if not name or is_tracking_parameter(name) or _is_amp_parameter(name, value):
            continue
        pairs.append((name, value))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def _is_amp_parameter(name: str, value: str) -> bool:
    values = AMP_PARAMETERS.get(_unquote_lossy(name).lower())
    if values is None:
        return False
    return not values or _unquote_lossy(value).lower() in values


def _quote(text: str, safe: frozenset[str]) -> str:
    """Percent-encode ``text`` canonically: decode %XX of unreserved characters, upper-case the
    other escapes, escape a stray ``%`` and every character outside ``safe`` (as UTF-8).

    Most parts of a URL need none of it: those are returned as they are, after one check made
    in C (the loop of :func:`_quote_each` costs about 0.1 us a character).
    """
    if "%" not in text and safe.issuperset(text):
        return text
    return _quote_each(text, safe)


def _quote_each(text: str, safe: frozenset[str]) -> str:
    """:func:`_quote`, one character at a time."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "%" and i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX:
            byte = int(text[i + 1 : i + 3], 16)
            decoded = chr(byte)
            out.append(decoded if decoded in _UNRESERVED else f"%{byte:02X}")
            i += 3
            continue
        if ch in safe:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def _unquote_lossy(text: str) -> str:
    """Decode %XX escapes for comparing names; bytes that are not UTF-8 become U+FFFD."""
    if "%" not in text:
        return text
    data = bytearray()
    i, n = 0, len(text)
    while i < n:
        if text[i] == "%" and i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX:
            data.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            data.extend(text[i].encode("utf-8", "surrogatepass"))
            i += 1
    return data.decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# Layer 2: exact content
# --------------------------------------------------------------------------------------------

_QUOTES: Final[dict[int, str]] = {
    **dict.fromkeys(map(ord, "\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a\u00b4"), "'"),
    **dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb"), '"'),
    **dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2e3a\u2e3b"), "-"),
    ord("\u00ad"): "",  # soft hyphen
    ord("\u200b"): "",  # zero-width space
    ord("\u200c"): "",
    ord("\u200d"): "",
    ord("\u2060"): "",
    ord("\ufeff"): "",
}
_WORD: Final[re.Pattern[str]] = re.compile(r"\w+")
# The same words in an ASCII text, found a fifth faster (Unicode \w looks each character up).
_ASCII_WORD: Final[re.Pattern[str]] = re.compile(r"\w+", re.ASCII)

#: Below this many words the text alone is too weak a key (a teaser, "Read more..."), so
#: :func:`content_words` prefixes the title; at or above it the title is left out, because
#: republishers rewrite headlines while keeping the body.
SHORT_TEXT_WORDS: Final[int] = 50


_NON_ASCII: Final[re.Pattern[str]] = re.compile(r"[^\x00-\x7f]+")


@functools.cache
def _mark_table() -> dict[int, None]:
    """A ``str.translate`` table deleting every combining mark (built on first use)."""
    return dict.fromkeys(cp for cp in range(sys.maxunicode + 1) if unicodedata.combining(chr(cp)))


def _translate_non_ascii(text: str, table: dict[int, str] | dict[int, None]) -> str:
    """``text.translate(table)`` for a table of non-ASCII keys, touching only non-ASCII runs
    (five times faster on mostly-ASCII news text)."""
    return _NON_ASCII.sub(lambda run: run.group().translate(table), text)


def _fold(text: str) -> str:
    """:func:`normalize_text` without the whitespace collapse (words need no such step)."""
    if text.isascii():  # the same result as the general path, much faster
        return text.replace("`", "'").lower()
    text = _translate_non_ascii(unicodedata.normalize("NFKC", text), _QUOTES)
    text = unicodedata.normalize("NFKD", text.replace("`", "'").casefold())
    return unicodedata.normalize("NFC", _translate_non_ascii(text, _mark_table()))


def normalize_text(text: str) -> str:
    """Fold the differences that never make two texts different articles.

    Unicode NFKC (full-width forms, ligatures, ``…``), casefold, accents removed, typographic
    quotes and dashes unified, invisible characters dropped, whitespace collapsed.
    """
    return " ".join(_fold(text).split())


def content_words(title: str, text: str) -> list[str]:
    """The normalised words that stand for an item's content (for the hash and the shingles).

    The body's words when it has at least :data:`SHORT_TEXT_WORDS` of them; otherwise the
    title's words followed by the body's, so two different stories with the same teaser (or
    the same recurring headline) are not one article. Punctuation is not a word.
    """
    words = _words(_fold(text))
    if len(words) >= SHORT_TEXT_WORDS:
        return words
    return _words(_fold(title)) + words


def _words(folded: str) -> list[str]:
    return (_ASCII_WORD if folded.isascii() else _WORD).findall(folded)


def content_hash(title: str, text: str) -> str:
    """Hash (32 hex digits) of :func:`content_words`: equal for texts that differ only in
    case, whitespace, punctuation, quotes, accents or Unicode form.

    Returns ``""`` when there are no words at all: empty content is not a key and must never
    make two items one article.
    """
    return _hash_words(content_words(title, text))


def _hash_words(words: list[str]) -> str:
    if not words:
        return ""
    return hashlib.blake2b(" ".join(words).encode("utf-8"), digest_size=16).hexdigest()


# --------------------------------------------------------------------------------------------
# Layer 3: near duplicates (MinHash + LSH)
# --------------------------------------------------------------------------------------------

#: Words per shingle. 4 keeps light copy-edits from destroying too many shingles (one edited
#: word breaks 4, not 5) while a shared stock phrase between different articles stays rare.
SHINGLE_SIZE: Final[int] = 4
#: MinHash permutations (signature length); 128 x 4 bytes = 512 bytes per article.
NUM_PERM: Final[int] = 128
#: LSH bands x rows = NUM_PERM. Two rows per band make a pair with Jaccard 0.2 a candidate with
#: probability 0.93 (0.3: 0.998), which excerpts and boilerplate-wrapped copies need.
BANDS: Final[int] = 64
ROWS: Final[int] = NUM_PERM // BANDS
_SEED: Final[int] = 1_729
# Bumped whenever normalisation, shingling, the seed or the band layout changes: fingerprints
# of another version cannot be compared and must be recomputed (from_bytes refuses them).
_FORMAT_VERSION: Final[int] = 1
_ALGORITHM: Final[int] = int(RMinHash.ALGORITHM_VERSION)
_HEADER: Final[struct.Struct] = struct.Struct("<BBHIB")
_EMPTY_SIGNATURE: Final[tuple[int, ...]] = (0xFFFFFFFF,) * NUM_PERM
# One keyed hasher per band: the key mixes in the band index and both versions.
_BAND_HASHERS: Final[tuple[hashlib.blake2b, ...]] = tuple(
    hashlib.blake2b(digest_size=8, salt=struct.pack("<HBB", band, _FORMAT_VERSION, _ALGORITHM))
    for band in range(BANDS)
)


def shingles(words: list[str], size: int = SHINGLE_SIZE) -> set[str]:
    """The distinct word ``size``-grams of ``words``; a shorter text is one shingle."""
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return set(map(" ".join, zip(*(words[i:] for i in range(size)), strict=False)))


@quick_pickle
@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the store keeps of an article's content to find its copies later."""

    signature: tuple[int, ...]  # NUM_PERM MinHash values (unsigned 32-bit)
    shingles: int  # number of distinct shingles, for containment estimates
    content_hash: str  # :func:`content_hash`, "" for no content
    # bands(), when computed with the signature: in a parse worker, off the process that
    # writes (100 us an article); not part of the fingerprint's identity
    band_hashes: tuple[int, ...] | None = field(default=None, compare=False, repr=False)
    # the signature as one integer, 32 bits a value (see equal_values); set when first needed
    lanes: int | None = field(default=None, compare=False, repr=False)

    def bands(self) -> tuple[int, ...]:
        """The LSH band hashes: one signed 32-bit int per band (fits an INTEGER column).

        The band index, format and MinHash algorithm versions are mixed in, so equal rows in
        different bands, or signatures from another version, never collide. Empty content
        has no bands: it may only ever match on :attr:`content_hash` (which is "" then).
        """
        if self.shingles == 0:
            return ()
        if self.band_hashes is not None:
            return self.band_hashes
        return _bands(self.signature)

    def to_bytes(self) -> bytes:
        """Compact binary form (about 530 bytes) for a BLOB/BYTEA column."""
        digest = bytes.fromhex(self.content_hash)
        header = _HEADER.pack(
            _FORMAT_VERSION, _ALGORITHM, len(self.signature), self.shingles, len(digest)
        )
        return header + digest + struct.pack(f"<{len(self.signature)}I", *self.signature)

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        """Inverse of :meth:`to_bytes`; ValueError for data of another format or version."""
        count, content, start = _read_header(data)
        signature = struct.unpack_from(f"<{NUM_PERM}I", data, start)
        lanes = int.from_bytes(data[start:], "little")  # the packed values, as they are stored
        return cls(signature, count, content, lanes=lanes)


@dataclass(frozen=True, slots=True)
class StoredPrint:
    """A stored fingerprint as a near-copy decision compares it: its values kept only packed.

    The database writer keeps the fingerprints of candidate articles in a cache, as the same
    stored articles are candidates again and again. A :class:`Fingerprint` read back holds its
    128 values as Python ints as well, about 5 KB; this holds the one 4,096-bit integer that
    :func:`similarity` compares (about 0.7 KB), and reading it unpacks nothing.
    """

    shingles: int
    content_hash: str
    lanes: int

    @classmethod
    def from_bytes(cls, data: bytes) -> StoredPrint:
        """From :meth:`Fingerprint.to_bytes`; ValueError as :meth:`Fingerprint.from_bytes`."""
        count, content, start = _read_header(data)
        return cls(count, content, int.from_bytes(data[start:], "little"))


def _read_header(data: bytes) -> tuple[int, str, int]:
    """(shingles, content hash, offset of the values) of stored fingerprint ``data``."""
    if len(data) < _HEADER.size:
        raise ValueError("fingerprint data is truncated")
    version, algorithm, perms, count, hash_len = _HEADER.unpack_from(data)
    if (version, algorithm, perms) != (_FORMAT_VERSION, _ALGORITHM, NUM_PERM):
        raise ValueError(
            f"fingerprint format v{version}/algorithm {algorithm}/{perms} permutations "
            f"differs from v{_FORMAT_VERSION}/{_ALGORITHM}/{NUM_PERM}: recompute it "
            "from the article text"
        )
    start = _HEADER.size + hash_len
    if len(data) != start + 4 * perms:
        raise ValueError("fingerprint data has the wrong length")
    return count, data[_HEADER.size : start].hex(), start


def fingerprint(title: str, text: str) -> Fingerprint:
    """MinHash fingerprint of an item's :func:`content_words` (rensa's RMinHash, seeded)."""
    words = content_words(title, text)
    grams = shingles(words)
    if not grams:
        return Fingerprint(_EMPTY_SIGNATURE, 0, "")
    minhash = RMinHash(NUM_PERM, _SEED)
    minhash.update(list(grams))
    signature = tuple(minhash.digest())
    return Fingerprint(signature, len(grams), _hash_words(words), _bands(signature))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored article whose fingerprint shares at least one band with the new item."""

    article_id: int
    fingerprint: Fingerprint | StoredPrint


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a candidate counts as a near copy: all three must hold.

    - both texts have at least ``min_shingles`` shingles: shorter texts (feed teasers, titles)
      only ever match on the exact content hash, as their estimates are noise and one shared
      quote would be most of them;
    - the estimated containment of the smaller text in the larger is at least
      ``containment``: excerpts and boilerplate-wrapped copies are copies;
    - the estimated Jaccard is at least ``jaccard``, a floor: a short brief that shares a
      quote with a long report can reach a containment of 0.6, but its Jaccard stays low.
    """

    jaccard: float = 0.2
    containment: float = 0.5
    min_shingles: int = 80


#: Measured on tests/data/dedup_pairs.jsonl (245 pairs; the test prints the table). Copies:
#: containment 0.54-1.00 and Jaccard 0.20-1.00 (the lowest: syndicated copies with boilerplate,
#: edits and a 70% cut, C 0.54-0.69; two-paragraph briefs of an article, J 0.20-0.41).
#: Distinct: containment at most 0.42 except short briefs sharing a quote (up to 0.61, with
#: Jaccard at most 0.14); Jaccard at most 0.27. 99.4% of copies caught, no distinct pair merged.
DEFAULT_THRESHOLDS: Final[Thresholds] = Thresholds()


@functools.lru_cache(maxsize=256)
def _bands(signature: tuple[int, ...]) -> tuple[int, ...]:
    """The band hashes of a signature: the high half of each band's keyed 64-bit hash, as a
    signed 32-bit int (the 64-bit value shifted right by 32, which is how migration 0007
    turned the hashes stored before into these).

    32 bits make each row of the index a third narrower: in a cold poll of 1,000 feeds
    inserting the 161,600 band rows took 10% less time, and the near-copy lookups 14% less
    (three pairs). The signature and the stored fingerprints are unchanged. An unrelated
    stored article shares one of a lookup's 64 band values by chance with a probability of
    about 64 x 64 / 2**32: about one such article per lookup at 1,000,000 stored articles,
    which the similarity check then dismisses.
    """
    rows = struct.pack(f"<{NUM_PERM}I", *signature)
    width = ROWS * 4
    out: list[int] = []
    for band, hasher in enumerate(_BAND_HASHERS):
        h = hasher.copy()
        h.update(rows[band * width : (band + 1) * width])
        out.append(int.from_bytes(h.digest()[4:], "little", signed=True))
    return tuple(out)


# 0x7FFFFFFF and 0x80000000 in each 32-bit lane of a packed signature
_LOW_BITS: Final[int] = int.from_bytes(b"\xff\xff\xff\x7f" * NUM_PERM, "little")
_HIGH_BITS: Final[int] = int.from_bytes(b"\x00\x00\x00\x80" * NUM_PERM, "little")


def _lanes(fp: Fingerprint | StoredPrint) -> int | None:
    """The values of ``fp`` packed in one integer; None if it does not hold NUM_PERM values."""
    lanes = fp.lanes
    if lanes is None:
        assert isinstance(fp, Fingerprint)
        if len(fp.signature) != NUM_PERM:
            return None
        lanes = int.from_bytes(struct.pack(f"<{NUM_PERM}I", *fp.signature), "little")
        object.__setattr__(fp, "lanes", lanes)  # a cache, not part of its identity
    return lanes


def equal_values(a: int, b: int) -> int:
    """How many of the NUM_PERM 32-bit values packed in ``a`` and ``b`` are equal.

    A few operations on two 4,096-bit integers instead of 128 comparisons in Python (1.3
    us instead of 3.4; a near-copy decision compares an article with up to 64 candidates). In
    each lane of ``a ^ b``, adding 0x7FFFFFFF to the low 31 bits sets the top bit exactly
    when those bits are not all zero, and cannot carry into the next lane; or-ed with the
    lane's own top bit, that marks the lanes that differ.
    """
    differ = a ^ b
    return NUM_PERM - ((((differ & _LOW_BITS) + _LOW_BITS) | differ) & _HIGH_BITS).bit_count()


def similarity(a: Fingerprint | StoredPrint, b: Fingerprint | StoredPrint) -> tuple[float, float]:
    """Estimated (Jaccard, containment of the smaller shingle set in the larger).

    Containment comes from the Jaccard estimate J and the set sizes:
    ``|A & B| = J (|A| + |B|) / (1 + J)``, divided by ``min(|A|, |B|)``, capped at 1.
    """
    if a.shingles == 0 or b.shingles == 0:
        return 0.0, 0.0
    lanes_a, lanes_b = _lanes(a), _lanes(b)
    if lanes_a is None or lanes_b is None:  # not NUM_PERM values: not comparable
        return 0.0, 0.0
    jaccard = equal_values(lanes_a, lanes_b) / NUM_PERM
    shared = jaccard * (a.shingles + b.shingles) / (1.0 + jaccard)
    return jaccard, min(1.0, shared / min(a.shingles, b.shingles))


def decide_near(
    fp: Fingerprint, candidates: Iterable[Candidate], thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> Verdict:
    """Judge a new item against the stored articles that share a band (or its content hash).

    An equal content hash makes a copy by ``content`` (similarity 1.0); otherwise the
    candidate with the highest estimated containment that passes ``thresholds`` makes a copy
    by ``near``, with that containment as similarity; ties go to the lowest (oldest) article
    id. No candidate passing: ``Verdict(kind="new")``.
    """
    best: tuple[float, float, int] | None = None  # (containment, jaccard, -article_id)
    exact: int | None = None
    for candidate in candidates:
        other = candidate.fingerprint
        if fp.content_hash and fp.content_hash == other.content_hash:
            if exact is None or candidate.article_id < exact:
                exact = candidate.article_id
            continue
        if exact is not None or min(fp.shingles, other.shingles) < thresholds.min_shingles:
            continue
        jaccard, containment = similarity(fp, other)
        if jaccard < thresholds.jaccard or containment < thresholds.containment:
            continue
        key = (containment, jaccard, -candidate.article_id)
        if best is None or key > best:
            best = key
    if exact is not None:
        return Verdict(kind="copy", article_id=exact, reason="content", similarity=1.0)
    if best is None:
        return Verdict(kind="new")
    return Verdict(kind="copy", article_id=-best[2], reason="near", similarity=best[0])
