"""Small builders of feeds and pages for end-to-end tests (escaped, deterministic)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

SEED_TEXT = (
    Path(__file__).resolve().parent.parent / "storage" / "seed" / "rubio-kenyan-forces-haiti.txt"
).read_text()


@dataclass(frozen=True)
class Entry:
    guid: str
    title: str
    link: str
    description: str = ""
    content: str = ""
    published: datetime = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def rss(
    entries: list[Entry], title: str = "Test feed", link: str = "https://example.org/"
) -> bytes:
    items = []
    for e in entries:
        content = f"<content:encoded>{escape(e.content)}</content:encoded>" if e.content else ""
        items.append(
            f'<item><guid isPermaLink="false">{escape(e.guid)}</guid><title>{escape(e.title)}</title>'
            f"<link>{escape(e.link)}</link><description>{escape(e.description)}</description>"
            f"{content}<pubDate>{format_datetime(e.published)}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escape(title)}</title><link>{escape(link)}</link><description>t</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def article_page(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>"
        '<nav><a href="/">Home</a> <a href="/world">World</a></nav>'
        f"<article><h1>{escape(title)}</h1>{body}</article>"
        "<footer>Copyright Example News. All rights reserved.</footer></body></html>"
    ).encode()


UNRELATED = Entry(
    guid="u-1",
    title="City council approves new bicycle lanes downtown",
    link="https://example.org/news/bicycle-lanes",
    description="The council voted seven to two for the plan, which adds twelve kilometres of lanes.",
)

MSS_REPORT = Entry(
    guid="m-1",
    title="Kenyan police officers patrol Port-au-Prince as MSS mission expands",
    link="https://example.org/news/kenyan-police-port-au-prince",
    description=(
        "Officers of the Multinational Security Support mission began joint patrols with the Haitian"
        " National Police in the capital on Tuesday, the mission said in a statement."
    ),
    content=(
        "Officers of the Multinational Security Support mission began joint patrols with the Haitian"
        " National Police in the capital on Tuesday. The patrols covered the neighbourhoods of"
        " Delmas and Tabarre, where armed groups had blocked roads for weeks. A spokesperson for"
        " the mission said more officers from Kenya, Jamaica and Guatemala would join in the"
        " coming days, and that the operation would continue until the main roads reopened."
        " Residents said the presence of armored vehicles had allowed markets to reopen."
    ),
)


def seed_republished(
    guid: str = "r-1", link: str = "https://copycat.example/haiti/rubio-kenya"
) -> Entry:
    """The reference article republished: new headline, a dateline, boilerplate, its first 80%."""
    paragraphs = SEED_TEXT.strip().split("\n")
    kept = paragraphs[: int(len(paragraphs) * 0.8)]
    text = "WASHINGTON (Agencies) - " + "\n".join(kept) + "\nSubscribe to our newsletter for more."
    return Entry(
        guid=guid,
        title="US top diplomat lauds Kenyan police in Haiti mission",
        link=link,
        description=text[:280],
        content=text,
    )
