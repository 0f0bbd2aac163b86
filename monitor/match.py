"""Decide which configured topics a news item mentions: few false alarms, one pass, no I/O.

How an item is read:

1. Each field (title, summary, body) is cleaned: HTML entities decoded, ``<script>``/``<style>``
   blocks, comments and tags (with their attributes) dropped, URLs, e-mail addresses and bare
   domains (``kenyans.co.ke``) dropped, Unicode put in NFC, soft hyphens and zero-width characters
   removed, runs of spaces collapsed (line breaks kept, they end sentences). A word that only
   appears inside a link or an ``alt="..."`` attribute therefore never counts.
2. The three fields are joined into one text and *folded* character by character (so offsets
   stay the same): lower case, accents removed (Haïti -> haiti), curly apostrophes -> ``'``,
   hyphens and dashes -> space (Port-au-Prince == Port au Prince), line breaks -> space.
3. A prefilter first checks that the words of some rule phrase occur at all (most items stop
   here, before any cleaning). Then one scan finds every rule phrase of every topic (a
   pyahocorasick automaton, or one compiled trie regex), keeping only whole-word hits: a hit glued to a letter, digit or ``_`` on either
   side is dropped (Kenyatta is not Kenya, Tahiti is not Haiti, MSSQL is not MSS). Because hyphens
   fold to spaces, hyphen compounds DO count as the word: "Haitian-born", "Kenyan-led".
4. Acronyms are then compared case-sensitively with the cleaned (unfolded) text.
5. Exclusions veto hits, weak terms are kept only in context, and the remaining hits are scored.

See :class:`TopicRule` for the rule language and :meth:`Matcher.match` for the scoring.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any, Literal, Protocol

from monitor.items import Field, MatchResult, TermHit, TopicMatch

try:  # pragma: no cover - exercised implicitly
    import ahocorasick
except ImportError:  # pragma: no cover - the regex backend still works
    ahocorasick = None
try:  # pragma: no cover - exercised implicitly
    import ahocorasick_rs
except ImportError:  # pragma: no cover - pyahocorasick scans for the prefilter then
    ahocorasick_rs = None

__all__ = [
    "EXCLUDE_WINDOW",
    "Explanation",
    "HitInfo",
    "Matcher",
    "TopicRule",
    "VetoInfo",
    "clean",
    "expand_term",
    "fold",
    "rules_from_mapping",
]

FIELDS: tuple[Field, ...] = ("title", "summary", "body")
EXCLUDE_WINDOW = 10
"""An exclusion vetoes hits in the same sentence or at most this many words away."""
FIELD_WEIGHT: Mapping[Field, float] = {"title": 1.0, "summary": 0.6, "body": 0.4}
DEEP_BODY_CHARS = 1000
"""Body mentions after this many characters weigh :data:`DEEP_BODY_WEIGHT` only."""
DEEP_BODY_WEIGHT = 0.2
MAX_VARIANTS = 256
"""Most spellings one rule phrase may expand to; guards against typos like ``a(b)(c)(d)...``."""

Backend = Literal["auto", "aho", "regex"]
HitStatus = Literal["counted", "overlapped", "vetoed", "no_context"]

_SEP = "\n|\n"  # joins the fields; no rule phrase can contain "|", so no hit spans two fields


# --------------------------------------------------------------------------------------------
# Rules


@dataclass(frozen=True, slots=True)
class TopicRule:
    """What makes an item mention one topic; the ``topics:`` entries of sources.yaml.

    Fields (phrases are matched as whole words; see the module docstring for normalisation):

    - ``name``: the topic's name, as used by ``require`` and by per-source ``topics:`` lists.
    - ``terms``: words or phrases, case- and accent-insensitive ("Haiti" matches "HAÏTI" and
      "haïti"; "d'appui" matches "d’appui"; "Port-au-Prince" matches "Port au Prince").
      Inflection syntax, attached directly to a word (no space before the bracket):
      ``(x)`` optional, ``(x|y)`` optionally one of, ``[x|y]`` exactly one of; all combinations
      are expanded: ``Haitian(s)`` -> Haitian, Haitians; ``Haïtien(ne)(s)`` -> Haïtien,
      Haïtienne, Haïtiens, Haïtiennes; ``Kenian[o|a](s)`` -> Keniano, Kenianos, Keniana, Kenianas.
      A bracket after a space or at the start is literal text: ``services (MSS)``.
    - ``acronyms``: case-sensitive whole words, no inflection syntax ("MSS" never matches "mss",
      "Mss", "MSSQL" or "MSS_CONFIG").
    - ``exclude``: phrases (term syntax) that veto this topic's hits nearby. A veto removes
      (a) every hit in the same sentence or within :data:`EXCLUDE_WINDOW` words of the phrase
      (title and summary count as one sentence: a headline is one statement) - except hits of
      several words ("Multinational Security Support", "Port-au-Prince"), which are specific,
      (b) everywhere in the item, every hit of a term the phrase itself contains ("Kenya Moore"
      vetoes every "Kenya"; one sense per item), and (c) every weak hit of the topic in the item
      (an item about "Microsoft SQL Server" uses MSS in that sense throughout).
    - ``require``: names of other topics giving context: a weak hit counts only if one of them
      also matches, or if this topic's own strong term matched (the acronym was spelled out).
    - ``near``: with ``require``, a weak hit must also be at most this many words from a counted
      hit of a required topic; a required-topic hit in the title is near everything.
    - ``weak``: which entries need context. Empty means all ``acronyms``. Otherwise exactly the
      listed entries: an entry written exactly as in ``terms``/``acronyms`` marks that one weak,
      any other entry adds a weak case-insensitive term. Only meaningful with ``require``.
    """

    name: str
    terms: tuple[str, ...] = ()
    acronyms: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    near: int | None = None
    weak: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Accept lists for the tuple fields, and refuse rules the matcher could not honour."""
        where = f"topic {self.name!r}"
        if (
            not isinstance(self.name, str)
            or not self.name.strip()
            or self.name != self.name.strip()
        ):
            raise ValueError(f"{where}: the name must be a non-empty string without outer spaces")
        for f in ("terms", "acronyms", "exclude", "require", "weak"):
            value = getattr(self, f)
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise ValueError(f"{where}: field {f!r} must be a list of strings")
            value = tuple(value)
            for entry in value:
                if not isinstance(entry, str) or not entry.strip():
                    raise ValueError(f"{where}: field {f!r} has an empty or non-string entry")
            object.__setattr__(self, f, value)
        for f in ("terms", "exclude", "weak"):
            for entry in getattr(self, f):
                if entry in self.acronyms and f == "weak":
                    continue
                try:
                    expand_term(entry)
                except ValueError as exc:
                    raise ValueError(f"{where}: field {f!r}: {exc}") from None
        for acronym in self.acronyms:
            if "|" in acronym:
                raise ValueError(f"{where}: field 'acronyms': {acronym!r} may not contain '|'")
        if not (self.terms or self.acronyms or self.weak):
            raise ValueError(f"{where}: give at least one entry in 'terms' or 'acronyms'")
        if self.name in self.require:
            raise ValueError(f"{where}: field 'require' names the topic itself")
        if self.near is not None:
            if isinstance(self.near, bool) or not isinstance(self.near, int) or self.near < 1:
                raise ValueError(f"{where}: field 'near' must be a positive whole number of words")
            if not self.require:
                raise ValueError(f"{where}: field 'near' needs 'require' (near what?)")
        if self.weak and not self.require:
            raise ValueError(f"{where}: field 'weak' needs 'require' (weak terms need context)")

    def weak_entries(self) -> tuple[set[str], set[str], tuple[str, ...]]:
        """Split the weak set into (weak terms, weak acronyms, extra weak terms)."""
        if not self.require:
            return set(), set(), ()
        if not self.weak:
            return set(), set(self.acronyms), ()
        terms = {w for w in self.weak if w in self.terms}
        acronyms = {w for w in self.weak if w in self.acronyms}
        extra = tuple(w for w in self.weak if w not in terms and w not in acronyms)
        return terms, acronyms, extra


def expand_term(term: str) -> list[str]:
    """Every spelling of a rule phrase written in the inflection syntax, in reading order.

    ``Haïtien(ne)(s)`` -> ``["Haïtien", "Haïtiens", "Haïtienne", "Haïtiennes"]``. A bracket
    right after a word character or after another group opens a group; one after a space or at
    the start is literal text. Raises ValueError on nested or unbalanced brackets, empty groups,
    "|" outside a group, or more than :data:`MAX_VARIANTS` spellings.
    """
    parts: list[tuple[str, ...]] = []
    literal: list[str] = []
    after_group = False
    i = 0
    while i < len(term):
        ch = term[i]
        if ch in "([":
            close = ")" if ch == "(" else "]"
            j = term.find(close, i + 1)
            body = term[i + 1 : j]
            if j < 0 or any(c in "()[]" for c in body):
                raise ValueError(f"{term!r}: nested or unbalanced brackets")
            if after_group or (literal and _is_word(literal[-1])):
                alternatives = tuple(body.split("|"))
                if not body or not all(alternatives):
                    raise ValueError(f"{term!r}: empty group or alternative in {term[i : j + 1]!r}")
                parts.append(("".join(literal),))
                parts.append(("", *alternatives) if ch == "(" else alternatives)
                literal = []
                after_group = True
            else:
                if "|" in body:
                    raise ValueError(f"{term!r}: '|' in the literal text {term[i : j + 1]!r}")
                literal.append(term[i : j + 1])
                after_group = False
            i = j + 1
            continue
        if ch in ")]":
            raise ValueError(f"{term!r}: unbalanced brackets")
        if ch == "|":
            raise ValueError(f"{term!r}: '|' is only allowed inside (a|b) or [a|b]")
        literal.append(ch)
        after_group = False
        i += 1
    parts.append(("".join(literal),))
    count = math.prod(len(p) for p in parts)
    if count > MAX_VARIANTS:
        raise ValueError(f"{term!r}: expands to {count} spellings (at most {MAX_VARIANTS})")
    out: list[str] = []
    for combo in product(*parts):
        spelling = " ".join("".join(combo).split())
        if not spelling:
            raise ValueError(f"{term!r}: expands to an empty spelling")
        if spelling not in out:
            out.append(spelling)
    return out


_RULE_KEYS = ("terms", "acronyms", "exclude", "require", "near", "weak")


def rules_from_mapping(mapping: Any) -> list[TopicRule]:
    """Convert the YAML ``topics:`` mapping (name -> {terms, acronyms, ...}) to rules.

    Raises ValueError listing every problem, one per line, each naming the topic and the field,
    so the config layer can report them all at once.
    """
    if not isinstance(mapping, Mapping):
        raise ValueError(f"topics must be a mapping of topic name to rule, not {_kind(mapping)}")
    problems: list[str] = []
    rules: list[TopicRule] = []
    for name, spec in mapping.items():
        where = f"topic {name!r}"
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}: the name must be a non-empty string")
            continue
        if not isinstance(spec, Mapping):
            problems.append(f"{where}: expected a mapping with 'terms', 'acronyms', ...")
            continue
        unknown = sorted(str(k) for k in spec if k not in _RULE_KEYS)
        if unknown:
            problems.extend(
                f"{where}: unknown field {k!r} (expected one of {', '.join(_RULE_KEYS)})"
                for k in unknown
            )
            continue
        kwargs: dict[str, Any] = {}
        bad = False
        for key in _RULE_KEYS:
            value = spec.get(key)
            if value is None:
                continue
            if key == "near":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    problems.append(f"{where}: field 'near' must be a positive whole number")
                    bad = True
                kwargs[key] = value
                continue
            if isinstance(value, str) or not isinstance(value, list):
                problems.append(
                    f"{where}: field {key!r} must be a list of strings, not {_kind(value)}"
                )
                bad = True
                continue
            for entry in value:
                if not isinstance(entry, str) or not entry.strip():
                    problems.append(f"{where}: field {key!r} has an empty or non-string entry")
                    bad = True
            kwargs[key] = tuple(value)
        if bad:
            continue
        try:
            rules.append(TopicRule(name=name, **kwargs))
        except ValueError as exc:
            problems.append(str(exc))
    if not problems:
        problems.extend(_cross_topic_problems(rules))
    if problems:
        raise ValueError("\n".join(problems))
    return rules


def _kind(value: object) -> str:
    """A YAML-ish name for a value's type, for error messages."""
    names = {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true/false",
        list: "a list",
    }
    if value is None:
        return "nothing"
    return names.get(
        type(value), "a mapping" if isinstance(value, Mapping) else type(value).__name__
    )


def _cross_topic_problems(rules: Sequence[TopicRule]) -> list[str]:
    """Duplicate names, requires naming unknown topics, and require cycles."""
    problems: list[str] = []
    names = [r.name for r in rules]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"topic {name!r}: defined more than once")
    known = set(names)
    for rule in rules:
        for req in rule.require:
            if req not in known:
                problems.append(f"topic {rule.name!r}: field 'require' names unknown topic {req!r}")
    if problems:
        return problems
    by_name = {r.name: r for r in rules}
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*path[path.index(name) :], name])
            problems.append(f"topic {name!r}: field 'require' forms a cycle: {cycle}")
            return
        state[name] = 1
        for req in by_name[name].require:
            visit(req, [*path, name])
        state[name] = 2

    for rule in rules:
        visit(rule.name, [])
    return problems


# --------------------------------------------------------------------------------------------
# Normalisation

_BLOCK_RE = re.compile(
    r"<(script|style|noscript|template)\b.*?(?:</\1\s*>|$)|<!--.*?(?:-->|$)", re.I | re.S
)
_TAG_RE = re.compile(r"<(?:/?[A-Za-z][^>]*|![^>]*|\?[^>]*)(?:>|$)")
_URL_RE = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"']+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.I
)
_TLDS = "com|org|net|info|news|gov|edu|int|io|co|ke|ht|fr|uk|ca|de|tv|africa|online|site|blog"
_TLD_HINT_RE = re.compile(rf"\.(?:{_TLDS})\b", re.I)
_DOMAIN_RE = re.compile(rf"\b[\w-]+(?:\.[\w-]+)*\.(?:{_TLDS})\b(?:/[^\s<>\"']*)?", re.I)
_INVISIBLE_RE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_NON_ASCII_RE = re.compile(r"([^\x00-\x7f])")
_ALNUM_RUN_RE = re.compile(r"[a-z0-9]+")
_ASCII_FOLD = str.maketrans({"-": " ", "\n": " ", "`": "'"})
_HYPHENS = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_APOSTROPHES = "\u2018\u2019\u201b\u02bc\u02b9\u00b4\u2032\uff07"
_FOLD_CACHE: dict[str, str] = {}
_SENTENCE_END_RE = re.compile(r"[.!?\u2026]+(?=\s|$)|\n")
_WORD_RE = re.compile(r"\w+")


def decode(text: str) -> str:
    """Entities decoded, soft hyphens and zero-width characters removed, Unicode in NFC."""
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii():
        if _INVISIBLE_RE.search(text):
            text = _INVISIBLE_RE.sub("", text)
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
    return text


def strip_markup(text: str) -> str:
    """A decoded field without tags, attributes, URLs or domains; single spaces; lines kept."""
    if "<" in text:
        text = _TAG_RE.sub(" ", _BLOCK_RE.sub(" ", text))
    if "://" in text or "www." in text or "@" in text:
        text = _URL_RE.sub(" ", text)
    if _TLD_HINT_RE.search(text):
        text = _DOMAIN_RE.sub(" ", text)
    return "\n".join(filter(None, (" ".join(line.split()) for line in text.splitlines())))


def clean(text: str) -> str:
    """The plain text of one field, as matched and as positions in explanations refer to."""
    return strip_markup(decode(text)) if text else ""


def _fold_char(ch: str) -> str:
    """One non-ASCII character folded to exactly one lower-case, accent-free character."""
    out = _FOLD_CACHE.get(ch)
    if out is not None:
        return out
    if ch in _HYPHENS:
        out = " "
    elif ch in _APOSTROPHES:
        out = "'"
    else:
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out = base.lower()
        if len(out) != 1 or out.lower() != out:
            out = ch.lower()
            if len(out) != 1 or out.lower() != out:
                out = "\ufffd"
    _FOLD_CACHE[ch] = out
    return out


def fold(text: str) -> str:
    """Lower-case, accent-free, hyphens as spaces; ``len(fold(t)) == len(t)`` always."""
    if not text.isascii():
        parts = _NON_ASCII_RE.split(text)  # odd items are the non-ASCII characters
        get = _FOLD_CACHE.get
        parts[1::2] = [get(c) or _fold_char(c) for c in parts[1::2]]
        text = "".join(parts)
    return text.lower().translate(_ASCII_FOLD)


def skeleton(text: str) -> str:
    """Lower-case ASCII letters only (accents and other non-ASCII dropped): for the prefilter.

    Not offset-preserving, but every run of ASCII letters and digits in the fold of a phrase
    reappears in the skeleton of any text whose fold contains the phrase.
    """
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()


def _skeleton_bytes(text: str) -> bytes:
    """``skeleton(text).encode("ascii")``, with fewer copies (ASCII lower case is the same on
    bytes and on str)."""
    if text.isascii():
        return text.encode("ascii").lower()
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").lower()


def _fold_phrase(phrase: str) -> str:
    """The folded form of a rule phrase, as it must appear in a folded text."""
    return " ".join(fold(clean(phrase)).split())


def _soft(text: str) -> str:
    """Lower case with hyphens/apostrophes unified but accents kept: picks among same-fold terms."""
    text = text.lower()
    if not text.isascii():
        text = "".join(" " if c in _HYPHENS else "'" if c in _APOSTROPHES else c for c in text)
    return " ".join(text.replace("-", " ").split())


def _is_word(ch: str) -> bool:
    """The word characters of Python's ``\\w``: letters, digits, underscore."""
    return ch.isalnum() or ch == "_"


# --------------------------------------------------------------------------------------------
# Scanning


@dataclass(frozen=True, slots=True)
class _Entry:
    """One rule phrase a pattern stands for."""

    topic: int
    term: str  # as written in the rule
    exclude: bool
    weak: bool
    exact: str | None  # acronyms: the exact spelling required in the cleaned text
    spellings: frozenset[str]  # _soft forms, to pick among terms of one topic with the same fold


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A folded phrase and every rule entry that uses it."""

    key: str
    word_start: bool
    word_end: bool
    entries: tuple[_Entry, ...]


Candidate = tuple[int, int, _Pattern]


class _Scanner(Protocol):
    def scan(self, folded: str) -> list[Candidate]: ...


class _AhoScanner:
    """All whole-word occurrences of all patterns, overlapping ones included, in one pass:
    with ahocorasick_rs, else pyahocorasick (the same hits in the same order; ahocorasick_rs
    scans the text of a matched item 3.5x faster, 15 us against 53)."""

    def __init__(self, patterns: Mapping[str, _Pattern]) -> None:
        self._patterns = list(patterns.values())
        self._empty = not patterns
        self._rs: Any = None
        self._auto: Any = None
        if ahocorasick_rs is not None:
            if patterns:
                self._rs = ahocorasick_rs.AhoCorasick(
                    list(patterns), matchkind=ahocorasick_rs.MatchKind.Standard
                )
            return
        if ahocorasick is None:  # pragma: no cover
            raise ValueError("the 'aho' backend needs ahocorasick_rs or pyahocorasick")
        self._auto = ahocorasick.Automaton()
        for key, pattern in patterns.items():
            self._auto.add_word(key, pattern)
        if patterns:
            self._auto.make_automaton()

    def _hits(self, folded: str) -> Iterable[tuple[int, int, _Pattern]]:
        if self._rs is not None:
            patterns = self._patterns
            for index, start, stop in self._rs.find_matches_as_indexes(folded, overlapping=True):
                yield start, stop, patterns[index]
            return
        for last, pattern in self._auto.iter(folded):
            yield last + 1 - len(pattern.key), last + 1, pattern

    def scan(self, folded: str) -> list[Candidate]:
        if self._empty:
            return []
        out: list[Candidate] = []
        n = len(folded)
        for start, stop, pattern in self._hits(folded):
            if pattern.word_start and start > 0 and _is_word(folded[start - 1]):
                continue
            if pattern.word_end and stop < n and _is_word(folded[stop]):
                continue
            out.append((start, stop, pattern))
        return out


class _RegexScanner:
    """The same hits from one compiled trie regex (``re``), for comparison and as a fallback.

    A zero-width lookahead tries every position, so overlapping hits are found; at one position
    the regex reports the longest pattern and the shorter ones are read off its prefixes.
    """

    def __init__(self, patterns: Mapping[str, _Pattern]) -> None:
        self._patterns = dict(patterns)
        keys = sorted(patterns)
        self._prefixes = {
            k: tuple(patterns[p] for p in keys if p != k and k.startswith(p)) for k in keys
        }
        word = [k for k in keys if _is_word(k[0])]
        other = [k for k in keys if not _is_word(k[0])]
        alts = []
        if word:
            alts.append(r"(?<!\w)" + _trie_regex(word))
        if other:
            alts.append(_trie_regex(other))
        self._regex = re.compile("(?=(" + "|".join(alts) + "))") if alts else None

    def scan(self, folded: str) -> list[Candidate]:
        if self._regex is None:
            return []
        out: list[Candidate] = []
        n = len(folded)
        for m in self._regex.finditer(folded):
            key = m.group(1)
            start = m.start()
            out.append((start, start + len(key), self._patterns[key]))
            for shorter in self._prefixes[key]:
                stop = start + len(shorter.key)
                if shorter.word_end and stop < n and _is_word(folded[stop]):
                    continue
                out.append((start, stop, shorter))
        return out


def _trie_regex(keys: Iterable[str], *, whole_words: bool = True) -> str:
    """A regex matching any of ``keys``, longest first at one position; ``whole_words`` adds
    a no-word-character-follows check after keys ending in a word character."""
    trie: dict[str, Any] = {}
    for key in keys:
        node = trie
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any], last: str) -> str:
        alts = [re.escape(ch) + emit(child, ch) for ch, child in sorted(node.items()) if ch]
        if "" in node:
            alts.append(r"(?!\w)" if whole_words and _is_word(last) else "")
        if len(alts) == 1:
            return alts[0]
        return "(?:" + "|".join(alts) + ")"

    return emit(trie, "")


#: Texts a prefilter scans before it picks its anchors again, by what those texts held.
LEARN_TEXTS = 100


@dataclass(frozen=True, slots=True)
class _Scan:
    """The ahocorasick_rs scan for one choice of anchors, replaced whole when they change (a
    thread scanning meanwhile keeps the tables it started with)."""

    anchored: dict[str, list[tuple[str, ...]]]  # anchor -> the other words of its spellings
    words: list[str]  # the anchors, sorted: their indexes are the automaton's pattern ids
    automaton: Any
    # per anchor (by index in words), as bytes: the anchors inside it, the anchors that can
    # start inside it and end after it (with the number of bytes they share with its end),
    # and the other words of each of its spellings
    inside: list[tuple[int, ...]]
    overhangs: list[tuple[tuple[bytes, int, int], ...]]
    rests: list[tuple[tuple[bytes, ...], ...]]

    @classmethod
    def build(cls, anchored: dict[str, list[tuple[str, ...]]]) -> _Scan:
        words = sorted(anchored)
        raw = [w.encode("ascii") for w in words]
        return cls(
            anchored,
            words,
            ahocorasick_rs.BytesAhoCorasick(
                raw, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
            ),
            [tuple(j for j, x in enumerate(raw) if x in w) for w in raw],
            [
                tuple(
                    (x, j, k)
                    for j, x in enumerate(raw)
                    for k in range(1, min(len(w), len(x)))
                    if w.endswith(x[:k])
                )
                for w in raw
            ],
            [tuple(tuple(r.encode("ascii") for r in rest) for rest in anchored[w]) for w in words],
        )


class _Prefilter:
    """A quick necessary test: could the item match at all?

    Each term and acronym spelling needs its *words*: the runs of ASCII letters and digits of
    its :func:`skeleton` (those of 4 or more characters, or else the longest). An item can only
    match a spelling if all of that spelling's words occur somewhere in the skeleton of its
    decoded text. Markup stripping and space collapsing only remove or separate text, so the test
    holds before cleaning, and items failing it (most) skip the cleaning.

    The scan looks for one *anchor* per spelling only: an item's text is full of common words
    such as "security" or "port", and every occurrence the scan reports costs time. The other
    words of a spelling whose anchor occurs are then looked up in the text directly, which gives
    the same answer whichever word anchors it. The first anchor is the longest word, and that
    can be a common one ("national" in "Multi-National Security Support": in 93% of the items
    of the benchmark's feeds). So with ahocorasick_rs the prefilter counts, over the first
    :data:`LEARN_TEXTS` texts it scans, in how many each word of a spelling occurs, and then
    anchors each spelling on its rarest word ("multi" or "support" there): 3.8 us an item less.

    With ahocorasick_rs the scan is a leftmost-longest one over the skeleton's bytes: 3-4x
    faster than an overlapping scan (it skips ahead with SIMD where that one steps through every
    byte), and the anchors it passes over are recovered exactly (see :meth:`_anchors`).
    """

    def __init__(self, keys: Iterable[str], backend: str) -> None:
        needs: set[frozenset[str]] = set()
        self._always = False
        for key in keys:
            runs = _ALNUM_RUN_RE.findall(skeleton(key))
            if not runs:
                self._always = True  # a phrase of punctuation only: nothing to look for
                continue
            long_runs = [r for r in runs if len(r) >= 4]
            needs.add(frozenset(long_runs or [max(runs, key=len)]))
        self._needs = sorted(needs, key=sorted)
        self._static_anchored = _anchor(self._needs, {})
        self._auto: Any = None
        self._scan: _Scan | None = None
        self._regex: re.Pattern[str] | None = None
        self._prefixes: dict[str, tuple[str, ...]] = {}
        # the words of the spellings of several words, and in how many of the texts scanned so
        # far each occurs: only the ahocorasick_rs scan learns (see the class docstring)
        self._several: list[tuple[str, bytes]] = []
        self._counts: dict[str, int] = {}
        self._learned = LEARN_TEXTS  # nothing to learn unless set below
        words = sorted(self._static_anchored)
        if not words:
            return
        if backend == "aho" and ahocorasick_rs is not None:
            # ahocorasick_rs scans 4x faster than pyahocorasick (5.5 vs 22 us for a 3.5 KB
            # item, overlapping), and this scan runs on every new item of every feed.
            self._scan = _Scan.build(self._static_anchored)
            several = {word for need in self._needs if len(need) > 1 for word in need}
            self._several = [(word, word.encode("ascii")) for word in sorted(several)]
            self._learned = 0 if several else LEARN_TEXTS
        elif backend == "aho":
            self._auto = ahocorasick.Automaton()
            for word in words:
                self._auto.add_word(word, word)
            self._auto.make_automaton()
        else:
            self._regex = re.compile("(?=(" + _trie_regex(words, whole_words=False) + "))")
            self._prefixes = {w: tuple(p for p in words if w.startswith(p)) for w in words}

    @property
    def _anchored(self) -> dict[str, list[tuple[str, ...]]]:
        """Anchor -> the other words of each spelling it anchors, as the scan uses them now."""
        return self._scan.anchored if self._scan is not None else self._static_anchored

    def _learn(self, skel: bytes) -> None:
        """Count the words of the spellings of several words in one more text; after
        LEARN_TEXTS, anchor each of those spellings on its word found in the fewest texts."""
        counts = self._counts
        for word, raw in self._several:
            if raw in skel:
                counts[word] = counts.get(word, 0) + 1
        self._learned += 1
        if self._learned == LEARN_TEXTS:
            self._scan = _Scan.build(_anchor(self._needs, dict(counts)))

    def _words_in(self, text: str) -> set[str]:
        """The anchors that occur in the skeleton ``text``."""
        scan = self._scan
        if scan is not None:
            skel = text.encode("ascii")
            return {
                scan.words[j]
                for j in self._anchors(scan, skel, scan.automaton.find_matches_as_indexes(skel))
            }
        if self._auto is not None:
            return {word for _, word in self._auto.iter(text)}
        found: set[str] = set()
        if self._regex is not None:
            for m in self._regex.finditer(text):
                found.update(self._prefixes[m.group(1)])
        return found

    @staticmethod
    def _anchors(scan: _Scan, skel: bytes, hits: Iterable[tuple[int, int, int]]) -> set[int]:
        """Every anchor (by index) that occurs in ``skel``, where the leftmost-longest scan
        reported ``hits``.

        From where its last match ended, the scan reports the match that starts first, the
        longest of those. So an occurrence X of an anchor that it passes over lies partly in a
        reported match M that starts before X, or at X and is longer: either X ends in M, and it
        is one of the anchors inside M's, or X starts in M and ends after it, and an end of M's
        anchor is the start of X's. Those are looked for in ``skel`` where they would be.
        """
        found: set[int] = set()
        inside = scan.inside
        overhangs = scan.overhangs
        for m, _, end in hits:
            found.update(inside[m])
            for other, j, k in overhangs[m]:
                if j not in found and skel.startswith(other, end - k):
                    found.add(j)
        return found

    @staticmethod
    def _spelled(scan: _Scan, skel: bytes, anchors: Iterable[int]) -> bool:
        """Are all the other words of a spelling of one of ``anchors`` in ``skel``?"""
        for a in anchors:
            for rest in scan.rests[a]:
                if all(word in skel for word in rest):
                    return True
        return False

    def any(self, text: str) -> bool:
        """Could ``text`` contain a term: are all the words of some spelling in it?"""
        if self._always:
            return True
        scan = self._scan
        if scan is not None:
            skel_bytes = _skeleton_bytes(text)
            if self._learned < LEARN_TEXTS:
                self._learn(skel_bytes)
            hits = scan.automaton.find_matches_as_indexes(skel_bytes)
            return bool(hits) and self._spelled(
                scan, skel_bytes, self._anchors(scan, skel_bytes, hits)
            )
        skel = skeleton(text)
        for anchor in self._words_in(skel):
            for rest in self._anchored[anchor]:
                if all(word in skel for word in rest):
                    return True
        return False


def _anchor(
    needs: Iterable[frozenset[str]], counts: Mapping[str, int]
) -> dict[str, list[tuple[str, ...]]]:
    """Anchor -> the other words of each spelling it anchors: a spelling's anchor is its word
    counted in the fewest texts (``counts``), then the longest (so usually the rarest)."""
    anchored: dict[str, list[tuple[str, ...]]] = {}
    for need in needs:
        anchor = min(need, key=lambda word: (counts.get(word, 0), -len(word), word))
        anchored.setdefault(anchor, []).append(tuple(sorted(need - {anchor})))
    return anchored


# --------------------------------------------------------------------------------------------
# Explanations


@dataclass(frozen=True, slots=True)
class HitInfo:
    """One occurrence of a rule term, and what became of it."""

    topic: str
    term: str  # as written in the rule
    field: Field
    start: int  # character offsets in the cleaned field text
    end: int
    text: str  # the words as they appear in the cleaned text
    weak: bool
    status: HitStatus
    reason: str = ""  # for vetoed / no_context / overlapped hits
    context: str = ""  # the surrounding words


@dataclass(frozen=True, slots=True)
class VetoInfo:
    """One occurrence of an exclusion phrase and how many hits it vetoed."""

    topic: str
    phrase: str  # as written in the rule
    field: Field
    start: int
    end: int
    text: str
    vetoed: int


@dataclass(frozen=True, slots=True)
class Explanation:
    """Everything :meth:`Matcher.match` decided about one item, for ``monitor match``."""

    result: MatchResult
    topics: tuple[str, ...]  # the topics considered (reported ones)
    scores: tuple[tuple[str, float], ...]
    hits: tuple[HitInfo, ...]
    vetoes: tuple[VetoInfo, ...]

    @property
    def dropped(self) -> tuple[HitInfo, ...]:
        """Weak hits that did not count for lack of context."""
        return tuple(h for h in self.hits if h.status == "no_context")

    def render(self) -> str:
        """A human-readable report: per topic the score, each hit and veto with its position."""
        lines: list[str] = []
        matched = {t.topic for t in self.result.topics}
        for topic, score in self.scores:
            verdict = "MATCH" if topic in matched else "no match"
            lines.append(f"{topic}: {verdict} (score {score:.3f})")
            for hit in (h for h in self.hits if h.topic == topic):
                mark = {"counted": "+", "overlapped": "~", "vetoed": "x", "no_context": "-"}
                weak = " weak" if hit.weak else ""
                lines.append(
                    f"  {mark[hit.status]} {hit.term!r}{weak} {hit.field}@{hit.start}"
                    f" {hit.status}{': ' + hit.reason if hit.reason else ''}"
                )
                if hit.context:
                    lines.append(f"      …{hit.context}…")
            for veto in (v for v in self.vetoes if v.topic == topic):
                lines.append(
                    f"  ! exclude {veto.phrase!r} {veto.field}@{veto.start} {veto.text!r}"
                    f" vetoed {veto.vetoed} hit(s)"
                )
        if self.result.vetoed:
            lines.append("vetoed: " + ", ".join(self.result.vetoed))
        if not lines:
            lines.append("no topics considered")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Matching


class _Hit:
    """A whole-word occurrence of a rule phrase in the joined text (mutable while deciding)."""

    __slots__ = ("end", "entry", "reason", "start", "status", "veto")

    def __init__(self, start: int, end: int, entry: _Entry) -> None:
        self.start = start
        self.end = end
        self.entry = entry
        self.status: HitStatus = "counted"
        self.reason = ""
        self.veto: _Hit | None = None


class _Text:
    """The joined, cleaned and folded item, with lazily built word and sentence indexes."""

    __slots__ = ("_ends", "_words", "clean", "folded", "offsets", "parts")

    def __init__(self, decoded: Sequence[str]) -> None:
        """``decoded``: title, summary and body, already passed through :func:`decode`."""
        self.parts = tuple(strip_markup(t) if t else "" for t in decoded)
        self.clean = _SEP.join(self.parts)
        self.folded = fold(self.clean)
        s_off = len(self.parts[0]) + len(_SEP)
        self.offsets = (0, s_off, s_off + len(self.parts[1]) + len(_SEP))
        self._words: list[int] | None = None
        self._ends: list[int] | None = None

    def field_of(self, pos: int) -> int:
        return 0 if pos < self.offsets[1] else 1 if pos < self.offsets[2] else 2

    def word(self, pos: int) -> int:
        """Index of the word at (or last before) character ``pos``."""
        if self._words is None:
            self._words = [m.start() for m in _WORD_RE.finditer(self.folded)]
        return bisect_right(self._words, pos) - 1

    def distance(self, a: _Hit, b: _Hit) -> int:
        """Words from the end of the earlier hit to the start of the later one (0 if overlapping)."""
        if a.start > b.start:
            a, b = b, a
        if b.start < a.end:
            return 0
        return max(0, self.word(b.start) - self.word(a.end - 1))

    def near_exclusion(self, hit: _Hit, ex: _Hit) -> bool:
        """Is ``hit`` in the window of exclusion ``ex``: same sentence, both in the headline
        (title and summary, one short statement), or at most EXCLUDE_WINDOW words apart?"""
        if self.field_of(hit.start) < 2 and self.field_of(ex.start) < 2:
            return True
        return self.same_sentence(hit, ex) or self.distance(hit, ex) <= EXCLUDE_WINDOW

    def same_sentence(self, a: _Hit, b: _Hit) -> bool:
        if a.start > b.start:
            a, b = b, a
        if b.start < a.end:
            return True
        if self._ends is None:
            self._ends = [m.start() for m in _SENTENCE_END_RE.finditer(self.clean)]
        i = bisect_left(self._ends, a.end)
        return i == len(self._ends) or self._ends[i] >= b.start


@dataclass(frozen=True, slots=True)
class _Scope:
    report: tuple[int, ...]  # topics to report, rule order
    evaluate: tuple[int, ...]  # topics to decide, requirements first
    members: frozenset[int]


class Matcher:
    """Compiled topic rules; :meth:`match` an item against all (or some) topics in one pass.

    ``backend``: "aho" (pyahocorasick automaton), "regex" (one trie regex) or "auto" (aho when
    installed). Both give the same results.
    """

    def __init__(self, rules: Iterable[TopicRule], *, backend: Backend = "auto") -> None:
        self._rules = tuple(rules)
        problems = _cross_topic_problems(self._rules)
        if problems:
            raise ValueError("\n".join(problems))
        self._index = {r.name: i for i, r in enumerate(self._rules)}
        self._order = self._topological_order()
        patterns = self._compile_patterns()
        if backend == "auto":
            backend = "aho" if ahocorasick is not None else "regex"
        if backend == "aho":
            self._scanner: _Scanner = _AhoScanner(patterns)
        elif backend == "regex":
            self._scanner = _RegexScanner(patterns)
        else:
            raise ValueError(f"unknown backend {backend!r} (expected 'auto', 'aho' or 'regex')")
        self.backend: str = backend
        self._prefilter = _Prefilter(
            (key for key, p in patterns.items() if any(not e.exclude for e in p.entries)), backend
        )
        self._scopes: dict[frozenset[str] | None, _Scope] = {}

    @property
    def topics(self) -> tuple[str, ...]:
        """The topic names, in rule order."""
        return tuple(r.name for r in self._rules)

    @property
    def rules(self) -> tuple[TopicRule, ...]:
        return self._rules

    def _topological_order(self) -> tuple[int, ...]:
        order: list[int] = []
        done: set[int] = set()

        def visit(i: int) -> None:
            if i in done:
                return
            done.add(i)
            for req in self._rules[i].require:
                visit(self._index[req])
            order.append(i)

        for i in range(len(self._rules)):
            visit(i)
        return tuple(order)

    def _compile_patterns(self) -> dict[str, _Pattern]:
        entries: dict[str, list[_Entry]] = {}

        def add(topic: int, phrase: str, *, exclude: bool, weak: bool, acronym: bool) -> None:
            spellings = [phrase] if acronym else expand_term(phrase)
            folded_forms: dict[str, set[str]] = {}
            for spelling in spellings:
                key = _fold_phrase(spelling)
                if key:
                    folded_forms.setdefault(key, set()).add(_soft(clean(spelling)))
            for key, softs in folded_forms.items():
                exact = " ".join(clean(phrase).split()) if acronym else None
                entry = _Entry(topic, phrase, exclude, weak, exact, frozenset(softs))
                entries.setdefault(key, []).append(entry)

        for i, rule in enumerate(self._rules):
            weak_terms, weak_acronyms, extra = rule.weak_entries()
            for term in rule.terms:
                add(i, term, exclude=False, weak=term in weak_terms, acronym=False)
            for term in extra:
                add(i, term, exclude=False, weak=True, acronym=False)
            for acronym in rule.acronyms:
                add(i, acronym, exclude=False, weak=acronym in weak_acronyms, acronym=True)
            for phrase in rule.exclude:
                add(i, phrase, exclude=True, weak=False, acronym=False)
        return {
            key: _Pattern(key, _is_word(key[0]), _is_word(key[-1]), tuple(found))
            for key, found in entries.items()
        }

    def _scope(self, topics: Collection[str] | None) -> _Scope:
        """Which topics to report and which to evaluate (reported ones plus their requirements)."""
        cache_key = None if topics is None else frozenset(topics)
        scope = self._scopes.get(cache_key)
        if scope is not None:
            return scope
        if cache_key is None:
            report = tuple(range(len(self._rules)))
        else:
            unknown = sorted(cache_key - self._index.keys())
            if unknown:
                raise ValueError(
                    f"unknown topic(s) {', '.join(map(repr, unknown))};"
                    f" known: {', '.join(self.topics)}"
                )
            report = tuple(sorted(self._index[t] for t in cache_key))
        needed: set[int] = set()
        stack = list(report)
        while stack:
            i = stack.pop()
            if i not in needed:
                needed.add(i)
                stack.extend(self._index[r] for r in self._rules[i].require)
        evaluate = tuple(i for i in self._order if i in needed)
        scope = _Scope(report, evaluate, frozenset(needed))
        if len(self._scopes) < 1024:
            self._scopes[cache_key] = scope
        return scope

    def could_match(self, text: str) -> bool:
        """A cheap necessary test: False means that no item whose title, summary and body are
        each a part of ``text`` (between line breaks) can match any topic.

        For items not yet cleaned (:func:`monitor.parse.draft_text`): text with extra words, or
        with words joined where tags were deleted, can only pass where the item would.
        """
        return self._prefilter.any(decode(text))

    def match(
        self,
        *,
        title: str = "",
        summary: str = "",
        body: str = "",
        topics: Collection[str] | None = None,
    ) -> MatchResult:
        """The topics the item mentions, most relevant first, and the exclusions that fired.

        ``topics`` restricts the result to those topics (their required context topics are still
        evaluated, but not reported); None means all. Unknown names raise ValueError.

        Score of a topic: ``1 - exp(-W)`` rounded to 3 places, where W sums one weight per
        counted hit: 1.0 in the title, 0.6 in the summary, 0.4 in the first 1,000 characters of
        the body and 0.2 deeper in it. One title mention scores 0.632, three 0.950; one deep
        body mention 0.181. More mentions always score higher, saturating towards 1.
        """
        scope = self._scope(topics)
        decoded = (decode(title), decode(summary), decode(body))
        if not self._prefilter.any("\n".join(decoded)):
            return MatchResult()
        text = _Text(decoded)
        candidates = self._scanner.scan(text.folded)
        if not candidates:
            return MatchResult()
        hits, excludes = self._decide(text, candidates, scope)
        return self._result(text, hits, excludes, scope)

    def explain(
        self,
        *,
        title: str = "",
        summary: str = "",
        body: str = "",
        topics: Collection[str] | None = None,
    ) -> Explanation:
        """Like :meth:`match`, keeping every hit, veto and dropped weak term with its position."""
        scope = self._scope(topics)
        text = _Text((decode(title), decode(summary), decode(body)))
        candidates = self._scanner.scan(text.folded)
        hits, excludes = self._decide(text, candidates, scope)
        result = self._result(text, hits, excludes, scope)
        scores = dict((t.topic, t.score) for t in result.topics)
        hit_infos: list[HitInfo] = []
        for topic in scope.report:
            for hit in sorted(hits.get(topic, ()), key=lambda h: h.start):
                f, start, end = self._locate(text, hit)
                hit_infos.append(
                    HitInfo(
                        topic=self._rules[topic].name,
                        term=hit.entry.term,
                        field=FIELDS[f],
                        start=start,
                        end=end,
                        text=text.clean[hit.start : hit.end],
                        weak=hit.entry.weak,
                        status=hit.status,
                        reason=hit.reason,
                        context=_context(text, hit),
                    )
                )
        veto_infos: list[VetoInfo] = []
        for topic in scope.report:
            for ex in excludes.get(topic, ()):
                f, start, end = self._locate(text, ex)
                count = sum(1 for h in hits.get(topic, ()) if h.veto is ex)
                veto_infos.append(
                    VetoInfo(
                        topic=self._rules[topic].name,
                        phrase=ex.entry.term,
                        field=FIELDS[f],
                        start=start,
                        end=end,
                        text=text.clean[ex.start : ex.end],
                        vetoed=count,
                    )
                )
        names = [self._rules[i].name for i in scope.report]
        return Explanation(
            result=result,
            topics=tuple(names),
            scores=tuple((n, scores.get(n, 0.0)) for n in names),
            hits=tuple(hit_infos),
            vetoes=tuple(veto_infos),
        )

    @staticmethod
    def _locate(text: _Text, hit: _Hit) -> tuple[int, int, int]:
        f = text.field_of(hit.start)
        return f, hit.start - text.offsets[f], hit.end - text.offsets[f]

    def _decide(
        self, text: _Text, candidates: list[Candidate], scope: _Scope
    ) -> tuple[dict[int, list[_Hit]], dict[int, list[_Hit]]]:
        """Turn scan candidates into per-topic hits with a status, and exclusion occurrences."""
        hits: dict[int, list[_Hit]] = {}
        excludes: dict[int, list[_Hit]] = {}
        members = scope.members
        for start, stop, pattern in candidates:
            chosen: dict[tuple[int, bool], _Entry] = {}
            soft: str | None = None
            for entry in pattern.entries:
                if entry.topic not in members:
                    continue
                if entry.exact is not None and text.clean[start:stop] != entry.exact:
                    continue
                key = (entry.topic, entry.exclude)
                current = chosen.get(key)
                if current is None:
                    chosen[key] = entry
                    continue
                if soft is None:  # several terms of one topic fold alike: keep the one written
                    soft = _soft(text.clean[start:stop])
                if soft not in current.spellings and soft in entry.spellings:
                    chosen[key] = entry
            for (topic, is_exclude), entry in chosen.items():
                target = excludes if is_exclude else hits
                target.setdefault(topic, []).append(_Hit(start, stop, entry))
        for topic_hits in hits.values():
            _mark_overlapped(topic_hits)
        for topic, occurrences in excludes.items():
            _mark_overlapped(occurrences)
            occurrences[:] = [ex for ex in occurrences if ex.status == "counted"]
            if topic in hits:
                self._veto(text, hits[topic], occurrences)
        for topic in scope.evaluate:
            if topic in hits:
                self._apply_context(text, topic, hits)
        return hits, excludes

    def _veto(self, text: _Text, topic_hits: list[_Hit], occurrences: list[_Hit]) -> None:
        """Apply a topic's exclusions (see :class:`TopicRule`, field ``exclude``)."""
        redefined: dict[str, _Hit] = {}
        for ex in occurrences:
            for hit in topic_hits:
                if hit.status == "counted" and ex.start <= hit.start and hit.end <= ex.end:
                    redefined.setdefault(hit.entry.term, ex)
        for hit in topic_hits:
            if hit.status != "counted":
                continue
            nearest = min(occurrences, key=lambda ex: abs(ex.start - hit.start))
            if hit.entry.term in redefined:
                by = redefined[hit.entry.term]
                how = "the phrase gives the word another sense in this item"
            elif hit.entry.weak:
                by, how = nearest, "weak terms take the excluded sense in this item"
            elif " " in text.folded[hit.start : hit.end]:
                continue  # a phrase of several words is specific: only (b) can veto it
            else:
                close = [ex for ex in occurrences if text.near_exclusion(hit, ex)]
                if not close:
                    continue
                by = min(close, key=lambda ex: abs(ex.start - hit.start))
                how = f"same sentence, headline or within {EXCLUDE_WINDOW} words"
            hit.status = "vetoed"
            hit.veto = by
            hit.reason = f"by {by.entry.term!r} ({how})"

    def _apply_context(self, text: _Text, topic: int, hits: dict[int, list[_Hit]]) -> None:
        """Keep a topic's weak hits only in the context its rule requires."""
        rule = self._rules[topic]
        if not rule.require:
            return
        mine = hits[topic]
        weak = [h for h in mine if h.status == "counted" and h.entry.weak]
        if not weak:
            return
        if any(h.status == "counted" and not h.entry.weak for h in mine):
            return  # the topic's own strong term matched: the acronym was spelled out
        context = [
            h
            for req in rule.require
            for h in hits.get(self._index[req], ())
            if h.status == "counted"
        ]
        needs = " or ".join(rule.require)
        for hit in weak:
            if not context:
                hit.status, hit.reason = "no_context", f"no {needs} in the item"
            elif rule.near is not None and not any(
                text.field_of(c.start) == 0 or text.distance(hit, c) <= rule.near for c in context
            ):
                hit.status = "no_context"
                hit.reason = f"no {needs} within {rule.near} words (nor in the title)"

    def _result(
        self,
        text: _Text,
        hits: dict[int, list[_Hit]],
        excludes: dict[int, list[_Hit]],
        scope: _Scope,
    ) -> MatchResult:
        matches: list[TopicMatch] = []
        vetoed: list[str] = []
        body_start = text.offsets[2]
        for topic in scope.report:
            name = self._rules[topic].name
            topic_hits = sorted(hits.get(topic, ()), key=lambda h: h.start)
            fired = {id(h.veto) for h in topic_hits if h.veto is not None}
            for ex in excludes.get(topic, ()):
                label = f"{name}: {ex.entry.term}"
                if id(ex) in fired and label not in vetoed:
                    vetoed.append(label)
            counted = [h for h in topic_hits if h.status == "counted"]
            if not counted:
                continue
            weight = 0.0
            counts: dict[tuple[str, int], int] = {}
            for hit in counted:
                f = text.field_of(hit.start)
                if f < 2:
                    weight += FIELD_WEIGHT[FIELDS[f]]
                elif hit.start - body_start < DEEP_BODY_CHARS:
                    weight += FIELD_WEIGHT["body"]
                else:
                    weight += DEEP_BODY_WEIGHT
                key = (hit.entry.term, f)
                counts[key] = counts.get(key, 0) + 1
            term_hits = tuple(TermHit(term, FIELDS[f], n) for (term, f), n in counts.items())
            score = round(1.0 - math.exp(-weight), 3)
            matches.append(TopicMatch(name, score, term_hits))
        order = {name: i for i, name in enumerate(self.topics)}
        matches.sort(key=lambda t: (-t.score, order[t.topic]))
        return MatchResult(topics=tuple(matches), vetoed=tuple(vetoed))


def _mark_overlapped(topic_hits: list[_Hit]) -> None:
    """Within one topic, a hit inside a longer one ("Haïtien" in "Cap-Haïtien") does not count."""
    topic_hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
    cover: _Hit | None = None
    for hit in topic_hits:
        if cover is not None and hit.end <= cover.end:
            hit.status = "overlapped"
            hit.reason = f"inside {cover.entry.term!r}"
        elif cover is None or hit.end > cover.end:
            cover = hit


def _context(text: _Text, hit: _Hit, width: int = 40) -> str:
    """The cleaned text around a hit, within its field, on one line."""
    f = text.field_of(hit.start)
    lo = max(text.offsets[f], hit.start - width)
    hi = min(text.offsets[f] + len(text.parts[f]), hit.end + width)
    return text.clean[lo:hi].replace("\n", " ")
