"""Article extraction (monitor/parse/article.py) on fixtures in tests/fixtures/articles.

Each ``NAME.html`` has a ``NAME.txt`` with the expected main text; quality is measured as
bag-of-words F1, as benchmarks/bench_parse.py does.
"""

from __future__ import annotations

import re
import socket
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.parse.article import extract_article, extract_paragraphs

ARTICLES = Path(__file__).parent / "fixtures" / "articles"
PAGES = sorted(ARTICLES.glob("*.html"))


def token_f1(predicted: str, expected: str) -> float:
    got = Counter(re.findall(r"\w+", predicted.lower()))
    want = Counter(re.findall(r"\w+", expected.lower()))
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Extraction must never fetch anything: any socket connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access during article extraction")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def extract(name: str) -> tuple[str, str]:
    page = ARTICLES / name
    article = extract_article(page.read_bytes(), url=f"https://news.example.org/{page.stem}")
    return article.text, page.with_suffix(".txt").read_text(encoding="utf-8")


def test_there_are_ten_pages_with_expected_text() -> None:
    assert len(PAGES) == 10
    assert all(page.with_suffix(".txt").exists() for page in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_main_text_quality(page: Path) -> None:
    text, expected = extract(page.name)
    assert token_f1(text, expected) >= 0.9, text
    # Boilerplate stays out.
    for noise in (
        "Subscribe",
        "All rights reserved",
        "Related stories",
        "cookies",
        "ADVERTISEMENT",
    ):
        assert noise not in text


def test_mean_f1() -> None:
    scores = [token_f1(*extract(page.name)) for page in PAGES]
    assert sum(scores) / len(scores) >= 0.95


@pytest.mark.parametrize(
    ("name", "title", "published", "language"),
    [
        (
            "01_kenya_daily_jsonld.html",
            "Kenyan police contingent departs for Haiti as MSS mission begins",
            datetime(2024, 6, 25, 17, 45, tzinfo=UTC),
            "en-gb",
        ),
        (
            "02_haiti_french_og.html",
            "Sécurité : les policiers kényans patrouillent au Champ-de-Mars",
            datetime(2024, 7, 2, 13, 15, tzinfo=UTC),
            "fr-ht",
        ),
        (
            "03_spanish_itemprop.html",
            "Haití: llegan los primeros policías kenianos a Puerto Príncipe",
            datetime(2024, 6, 25, 22, 30, tzinfo=UTC),
            "es",
        ),
        (
            "04_wire_time_only.html",
            "Kenya's parliament approves Haiti police deployment",
            datetime(2023, 11, 16, 14, 20, tzinfo=UTC),
            "en",
        ),
        (
            "05_amp_page.html",
            "Haiti council names new prime minister",
            datetime(2024, 11, 11, 15, tzinfo=UTC),
            "en",
        ),
        ("06_opinion_no_date.html", "Opinion: What Kenya owes Haiti", None, "en"),
        (
            "07_unrelated_tech_drupal.html",
            "Safaricom unveils cheaper data bundles",
            datetime(2024, 6, 22, 9, tzinfo=UTC),
            "en",
        ),
        (
            "08_legacy_cp1252_tables.html",
            "Diplomatie : le Kenya et Haïti discutent du déploiement",
            datetime(2024, 5, 13, tzinfo=UTC),
            None,
        ),
        (
            "09_inline_ads_also_read.html",
            "High Court clears way for Haiti deployment",
            datetime(2024, 6, 7, 13, 5, tzinfo=UTC),
            "en-ke",
        ),
        (
            "10_explainer_faq.html",
            "Explainer: What is the MSS mission in Haiti?",
            datetime(2024, 7, 10, 8, tzinfo=UTC),
            "en",
        ),
    ],
)
def test_metadata(name: str, title: str, published: datetime | None, language: str | None) -> None:
    page = ARTICLES / name
    article = extract_article(page.read_bytes(), url="https://news.example.org/a")
    assert article.title == title
    assert article.published == published
    assert article.language == language


def test_windows_1252_page_is_decoded() -> None:
    text, _ = extract("08_legacy_cp1252_tables.html")
    assert "« la souveraineté d'Haïti »" in text
    assert "Rubriques" not in text  # the layout table's navigation column


def test_http_charset_is_used() -> None:
    page = "<html><body><article>" + "<p>Le président haïtien a parlé à Pétion-Ville.</p>" * 5
    article = extract_article(
        (page + "</article></body></html>").encode("cp1252"),
        url="https://example.ht/a",
        content_type="text/html; charset=windows-1252",
    )
    assert "Le président haïtien a parlé à Pétion-Ville." in article.text


def test_title_falls_back_to_the_title_element_without_site_name() -> None:
    page = b"<html><head><title>Floods in Gonaives - Haiti Daily</title></head><body></body></html>"
    article = extract_article(page, url="https://example.ht/a")
    assert article.title == "Floods in Gonaives"
    assert article.text == ""
    assert article.published is None


def test_paragraph_baseline() -> None:
    _text, expected = extract("04_wire_time_only.html")
    baseline = extract_paragraphs((ARTICLES / "04_wire_time_only.html").read_bytes())
    assert token_f1(baseline, expected) > 0.9
    assert baseline.splitlines()[0].startswith("NAIROBI, Kenya")


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", None, "empty document"),
        (b"%PDF-1.7\n...", None, r"not an HTML page \(binary data\)"),
        (b"\x89PNG\r\n\x1a\n....", "image/png", r"not an HTML page \(image/png\)"),
        (b"<html></html>", "application/pdf", r"not an HTML page \(application/pdf\)"),
    ],
)
def test_non_html_is_refused(body: bytes, content_type: str | None, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        extract_article(body, url="https://example.org/a", content_type=content_type)


def test_control_characters_do_not_break_extraction() -> None:
    paragraph = "<p>Kenyan\x00 police\x01 officers patrolled Port-au-Prince on Tuesday morning.</p>"
    page = f"<html><body><article>{paragraph * 6}</article></body></html>".encode()
    article = extract_article(page, url="https://example.org/a")
    assert "Kenyan police officers patrolled Port-au-Prince" in article.text
    assert "\x00" not in article.text and "\x01" not in article.text
