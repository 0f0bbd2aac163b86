"""HTML listing pages (monitor/parse/listing.py) on fixtures in tests/fixtures/listings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.items import ParsedSource
from monitor.parse import parse_source
from monitor.parse.listing import ListingSelectors, parse_listing

LISTINGS = Path(__file__).parent / "fixtures" / "listings"

WORDPRESS = ListingSelectors(
    item="article.post", link="h2.entry-title a", summary=".entry-summary", date="time.entry-date"
)
FRENCH = ListingSelectors(
    item="div.lq-article", link="a.lq-link", title="h2", summary="p.chapo", date=".lq-date"
)
SEARCH = ListingSelectors(
    item="li.result",
    link="a.headline",
    summary="p.snippet",
    date="span.meta",
    date_attr="data-timestamp",
)


def parse(name: str, base_url: str, selectors: ListingSelectors, **kwargs: object) -> ParsedSource:
    return parse_listing(
        (LISTINGS / name).read_bytes(),
        base_url=base_url,
        selectors=selectors,
        **kwargs,  # type: ignore[arg-type]
    )


def test_wordpress_category_page() -> None:
    source = parse(
        "wordpress_category.html", "https://nairobiledger.example.co.ke/category/haiti/", WORDPRESS
    )
    assert (source.kind, source.language) == ("html", "en-us")
    assert source.title == "Haiti Archives - The Nairobi Ledger"
    assert [item.title for item in source.items] == [
        "Kenyan police contingent departs for Haiti as MSS mission begins",
        "Haiti: what the UN Security Council resolution says about the MSS",
        "High Court clears way for Haiti deployment",
    ]
    first, second, third = source.items
    assert first.url == first.guid
    assert second.url == (
        "https://nairobiledger.example.co.ke/2024/06/23/haiti-un-resolution-explainer/"
    )
    # <time datetime> is read from its attribute; without one, from its text.
    assert first.published == datetime(2024, 6, 25, 17, 45, tzinfo=UTC)
    assert third.published == datetime(2024, 6, 10, tzinfo=UTC)
    assert second.summary == (
        "Resolution 2699 authorised a one-year non-UN mission led by Kenya.\n"
        "It was adopted with 13 votes."
    )
    assert first.language == "en-us"


def test_french_front_page_with_base_href() -> None:
    source = parse("french_front_page.html", "https://lequotidien.example.ht/une/", FRENCH)
    assert source.language == "fr"
    assert len(source.items) == 3  # the block without a link is skipped
    patrol, economy, carnival = source.items
    # <base href> (not the page URL) resolves the relative links.
    assert patrol.url == (
        "https://lequotidien.example.ht/article/251001/"
        "securite-les-policiers-kenyans-patrouillent-au-champ-de-mars"
    )
    assert patrol.title == "Sécurité : les policiers kényans patrouillent au Champ-de-Mars"
    assert patrol.summary == "Des agents de la MMAS ont été aperçus mardi au Champ-de-Mars."
    assert patrol.published == datetime(2024, 3, 5, 10, 30, tzinfo=UTC)
    assert economy.published == datetime(2024, 3, 4, tzinfo=UTC)
    # No h2 and no link text (an image link): the link's title attribute names the item.
    assert carnival.title == "Culture : le Carnaval des Fleurs reporté"
    assert carnival.published == datetime(2024, 3, 1, tzinfo=UTC)


def test_windows_1252_search_page_with_timestamps_and_duplicates() -> None:
    source = parse(
        "search_results_cp1252.html", "https://coaststar.example.co.ke/q?s=Haiti", SEARCH
    )
    assert source.title == "Search results: “Haiti” – The Coast Star"
    assert source.language is None
    # The repeated result is listed once and the mailto: link is dropped.
    assert [item.url for item in source.items] == [
        "https://coaststar.example.co.ke/news/2024/06/26/kenyan-officers-first-patrol.html",
        "https://coaststar.example.co.ke/news/2024/06/25/mombasa-port-haiti-shipment.html",
    ]
    patrol = source.items[0]
    assert patrol.title == "Kenyan officers’ first patrol in Port-au-Prince"
    assert patrol.summary == "The officers – wearing blue berets – drove through Delmas."
    assert patrol.published == datetime(2024, 6, 26, 12, tzinfo=UTC)  # data-timestamp


def test_date_format_from_configuration() -> None:
    selectors = ListingSelectors(
        item="li.result", link="a.headline", date="span.meta", date_format="%d/%m/%Y"
    )
    source = parse("search_results_cp1252.html", "https://coaststar.example.co.ke/", selectors)
    assert source.items[0].published == datetime(2024, 6, 26, tzinfo=UTC)


def test_link_selector_may_match_the_item_itself() -> None:
    page = b'<ul><li><a class="s" href="/a">Alpha</a></li><li><a class="s" href="/b">Beta</a></ul>'
    source = parse_listing(
        page,
        base_url="https://example.org/list",
        selectors=ListingSelectors(item="a.s", link="a.none"),
    )
    assert [(i.title, i.url) for i in source.items] == [
        ("Alpha", "https://example.org/a"),
        ("Beta", "https://example.org/b"),
    ]
    assert all(item.published is None and item.summary == "" for item in source.items)


def test_links_to_the_page_itself_are_skipped() -> None:
    page = (
        b'<div class="i"><a href="#">Top</a></div><div class="i"><a href="/list#c">Comments</a>'
        b'</div><div class="i"><a href="/story">Story</a></div>'
    )
    source = parse_listing(
        page, base_url="https://example.org/list", selectors=ListingSelectors(item="div.i")
    )
    assert [item.url for item in source.items] == ["https://example.org/story"]


def test_items_without_any_link_are_an_error() -> None:
    page = (
        b'<div class="i"><span>no link</span></div>'
        b'<div class="i"><a href="mailto:x@y.z">m</a></div>'
    )
    with pytest.raises(ParseError, match=r"2 elements match the item selector 'div\.i' but none"):
        parse_listing(
            page, base_url="https://example.org/", selectors=ListingSelectors(item="div.i")
        )


def test_max_items() -> None:
    source = parse(
        "wordpress_category.html", "https://nairobiledger.example.co.ke/", WORDPRESS, max_items=2
    )
    assert len(source.items) == 2


def test_selector_matching_nothing_is_an_error() -> None:
    with pytest.raises(ParseError, match=r"no element matches the item selector 'div\.story'"):
        parse("wordpress_category.html", "https://x.example/", ListingSelectors(item="div.story"))


@pytest.mark.parametrize(
    "selectors",
    [ListingSelectors(item="div..bad"), ListingSelectors(item="article.post", link="a[[")],
)
def test_invalid_selector_is_an_error(selectors: ListingSelectors) -> None:
    with pytest.raises(ParseError, match="invalid CSS selector"):
        parse("wordpress_category.html", "https://x.example/", selectors)


def test_empty_page_is_an_error() -> None:
    with pytest.raises(ParseError, match="empty document"):
        parse_listing(b"  ", base_url="https://x.example/", selectors=WORDPRESS)


def test_parse_source_html() -> None:
    body = (LISTINGS / "wordpress_category.html").read_bytes()
    base = "https://nairobiledger.example.co.ke/category/haiti/"
    expected = parse_listing(body, base_url=base, selectors=WORDPRESS)
    assert parse_source("html", body, base_url=base, selectors=WORDPRESS) == expected
    with pytest.raises(ParseError, match="needs CSS selectors"):
        parse_source("html", body, base_url=base)
