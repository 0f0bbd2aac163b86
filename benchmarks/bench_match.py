"""Items per second of monitor.match on generated news items, against a naive baseline.

Generates realistic items (title, summary, 2-4 KB body; some HTML, links, French and Spanish
accents; about 5% mentioning a topic) and times:

- ``Matcher(backend="aho")``: Aho-Corasick automata (ahocorasick_rs, else pyahocorasick; the
  default);
- ``Matcher(backend="regex")``: one compiled trie regex;
- a naive baseline: the same cleaning and folding, then one compiled regex per term spelling,
  with none of the vetoes or context rules (so it does less than the matcher).

Run: ``.venv/bin/python benchmarks/bench_match.py [--items 10000] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from monitor.match import Matcher, TopicRule, clean, expand_term, fold, rules_from_mapping

TOPICS_YAML = Path(__file__).resolve().parent.parent / "sources.yaml"

SUBJECTS = [
    "The finance ministry",
    "The central bank",
    "Opposition lawmakers",
    "The health department",
    "Farmers in the highlands",
    "The teachers' union",
    "Investors",
    "The transport minister",
    "Le gouvernement",
    "La banque centrale",
    "Les syndicats",
    "El Ministerio de Hacienda",
    "Los agricultores",
    "La comisión electoral",
    "Police",
    "The city council",
    "Analysts",
]
VERBS = [
    "said",
    "warned",
    "announced",
    "reported",
    "denied",
    "confirmed",
    "a annoncé",
    "a démenti",
    "informó",
    "anunció",
    "expects",
    "promised",
    "rejected",
    "welcomed",
]
OBJECTS = [
    "that tax receipts were running ahead of forecasts",
    "a sharp rise in malaria cases after weeks of heavy rain",
    "plans for a new commuter rail line linking the capital with its suburbs",
    "that maize prices fell by about 12 percent at wholesale markets",
    "que les écoles rouvriraient avec moins d'enseignants qu'il y a un an",
    "une hausse de 10 % du prix de l'électricité en février",
    "que la recaudación superó lo previsto en el primer semestre",
    "un aumento de los casos de dengue en las zonas bajas",
    "a funding round worth $45 million for two payment start-ups",
    "that the security council would meet again next week",
    "new support for small businesses hit by the port strike",
    "that the firm would close its regional office",
    "a commission of inquiry into the collapse of the bridge",
    "that the storm had forced fishermen to stay in port",
]
TAILS = [
    "",
    " on Thursday",
    " despite criticism",
    ", according to officials",
    " after a long debate",
    " lundi soir",
    " selon l'AFP",
    " el martes",
    " según fuentes oficiales",
]
SLUGS = ["budget-review", "rail-line", "malaria-cases", "teachers-strike", "maize-prices"]
MENTIONS = [
    "Kenyan police officers of the Multinational Security Support mission patrolled Port-au-Prince.",
    "In Haiti, the MSS said two armoured vehicles had been damaged.",
    "La Mission multinationale d'appui à la sécurité en Haïti a reçu des renforts.",
    "The Gang Suppression Force will replace the Kenyan-led mission in Haiti.",
    "Kenya's president said the deployment would continue.",
    "Haitian migrants crossed the border at Ouanaminthe.",
    "La policía keniana llegó a Puerto Príncipe el martes.",
    "Flooding in Mombasa cut the main road to Nairobi.",
]
TRAPS = [
    "Kenyatta University students marched.",
    "Tahiti hosted the surf final.",
    "The MSSQL cluster was migrated.",
    "The multinational firm pledged security support.",
    "Managed security services (MSS) grew 12%.",
]


def sentence(rng: random.Random) -> str:
    s = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(TAILS)}."
    return s


def paragraph(rng: random.Random, html: bool) -> str:
    text = " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))
    if html:
        slug = "haiti-kenya-story" if rng.random() < 0.02 else rng.choice(SLUGS)
        link = f'<a href="https://news.example.com/{rng.randint(1, 9999)}/{slug}">'
        text = f"<p>{text} {link}Read more</a></p>"
    return text


def make_items(n: int, seed: int, share: float = 0.05) -> list[tuple[str, str, str]]:
    """``n`` items (title, summary, body) with bodies of 2-4 KB; ``share`` mention a topic."""
    rng = random.Random(seed)
    items = []
    for _ in range(n):
        html = rng.random() < 0.2
        target = rng.randint(2048, 4096)
        paragraphs: list[str] = []
        while sum(len(p) + 2 for p in paragraphs) < target:
            paragraphs.append(paragraph(rng, html))
        title = sentence(rng)[:80]
        summary = sentence(rng)
        if rng.random() < 0.03:
            paragraphs.insert(rng.randrange(len(paragraphs) + 1), rng.choice(TRAPS))
        if rng.random() < share:
            where = rng.random()
            mention = rng.choice(MENTIONS)
            if where < 0.3:
                title = mention[:90]
            elif where < 0.5:
                summary = mention
            else:
                paragraphs.insert(rng.randrange(len(paragraphs) + 1), mention)
        body = "\n\n".join(paragraphs)
        while len(body.encode()) > 4096:
            paragraphs.pop()
            body = "\n\n".join(paragraphs)
        items.append((title, summary, body))
    return items


class NaiveMatcher:
    """One regex per spelling of every term and acronym, run over cleaned and folded text."""

    def __init__(self, rules: Sequence[TopicRule]) -> None:
        self.patterns: list[tuple[str, re.Pattern[str], bool]] = []
        for rule in rules:
            for term in rule.terms:
                for spelling in expand_term(term):
                    key = " ".join(fold(spelling).split())
                    regex = re.compile(r"(?<!\w)" + re.escape(key) + r"(?!\w)")
                    self.patterns.append((rule.name, regex, False))
            for acronym in rule.acronyms:
                regex = re.compile(r"(?<!\w)" + re.escape(acronym) + r"(?!\w)")
                self.patterns.append((rule.name, regex, True))

    def match(self, title: str, summary: str, body: str) -> set[str]:
        text = "\n|\n".join((clean(title), clean(summary), clean(body)))
        folded = fold(text)
        found = set()
        for topic, regex, exact in self.patterns:
            if topic not in found and regex.search(text if exact else folded):
                found.add(topic)
        return found


def timed(
    name: str, func: Callable[[str, str, str], object], items: list, repeat: int = 1
) -> tuple[float, int]:
    """Run ``func`` over all items (best of ``repeat`` runs); print (items/s, items matched)."""
    best = math.inf
    matched = 0
    for _ in range(repeat):
        matched = 0
        start = time.perf_counter()
        for title, summary, body in items:
            if func(title, summary, body):
                matched += 1
        best = min(best, time.perf_counter() - start)
    rate = len(items) / best
    print(f"{name:28} {rate:10,.0f} items/s  {best:6.2f} s  matched {matched}")
    return rate, matched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs (naive: 1 run)")
    args = parser.parse_args()

    with open(TOPICS_YAML, encoding="utf-8") as f:
        rules = rules_from_mapping(yaml.safe_load(f)["topics"])
    items = make_items(args.items, args.seed)
    size = sum(len(t) + len(s) + len(b.encode()) for t, s, b in items) / len(items)
    print(f"{len(items)} items, {size:,.0f} bytes on average, {len(rules)} topics")

    aho = Matcher(rules, backend="aho")
    trie = Matcher(rules, backend="regex")
    naive = NaiveMatcher(rules)

    def with_aho(title: str, summary: str, body: str) -> object:
        return aho.match(title=title, summary=summary, body=body).topics

    def with_trie(title: str, summary: str, body: str) -> object:
        return trie.match(title=title, summary=summary, body=body).topics

    def explained(title: str, summary: str, body: str) -> object:
        return aho.explain(title=title, summary=summary, body=body).result.topics

    timed("Matcher (aho)", with_aho, items, args.repeat)
    timed("Matcher (trie regex)", with_trie, items, args.repeat)
    timed("naive regex per term", naive.match, items)
    timed("Matcher.explain (aho)", explained, items, args.repeat)


if __name__ == "__main__":
    main()
