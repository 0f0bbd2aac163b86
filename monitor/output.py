"""Rendering data for people and programs: tables, JSON, JSON lines, CSV, Markdown.

Text that came from a feed is untrusted: it is stripped of terminal control sequences before it
reaches a terminal, and CSV cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # rich and the query layer are imported where used: `monitor poll` needs neither
    from rich.console import Console
    from rich.table import Table

    from monitor.query import ArticleView

Format = Literal["table", "json", "jsonl", "csv", "md"]

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def printable(value: object) -> str:
    """Text safe for a terminal: no escape sequences, no control or bidi-override characters."""
    text = "" if value is None else str(value)
    return _CONTROL.sub("", _ANSI.sub("", text))


def one_line(value: object, width: int | None = None) -> str:
    text = " ".join(printable(value).split())
    if width and len(text) > width:
        return text[: width - 1] + "…"
    return text


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: formulas (= + - @, tab, CR) are neutralised."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def to_json(data: Any, *, indent: int | None = 2) -> str:
    """``data`` as JSON; a list with one item per line (each item compact), anything else
    indented. One item per line is as readable for a list of flat records, such as the
    reports of ``monitor poll``, and json's C encoder writes it: indenting goes through its
    pure-Python one, 0.1 s for the reports of 1,000 sources."""
    if indent is None or not isinstance(data, list) or not data:
        return json.dumps(data, ensure_ascii=False, indent=indent, default=_default)
    pad = " " * indent
    lines = (pad + json.dumps(item, ensure_ascii=False, default=_default) for item in data)
    return "[\n" + ",\n".join(lines) + "\n]"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        # what dataclasses.asdict gives, one level at a time (json recurses), without its deep copy
        return {f.name: getattr(value, f.name) for f in fields(value)}
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _short_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


CSV_COLUMNS = (
    "id",
    "discovered_at",
    "published_at",
    "source",
    "topics",
    "score",
    "title",
    "url",
    "language",
    "places_seen",
    "summary",
)


def render_articles(
    articles: Sequence[ArticleView], fmt: Format, *, console: Console | None = None
) -> str:
    """The articles in `fmt`; `table` is printed to `console` directly and returns ''."""
    if fmt == "json":
        return to_json([a.to_json() for a in articles])
    if fmt == "jsonl":
        return "".join(to_json(a.to_json(), indent=None) + "\n" for a in articles).rstrip("\n")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for a in articles:
            row = a.to_json()
            row["topics"] = " ".join(a.topics)
            row["places_seen"] = len(a.sightings)
            writer.writerow([csv_cell(row[c]) for c in CSV_COLUMNS])
        return buffer.getvalue().rstrip("\n")
    if fmt == "md":
        return _markdown(articles)
    if console is None:
        from rich.console import Console

        console = Console()
    console.print(article_table(articles))
    return ""


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", one_line(text))


def _markdown(articles: Sequence[ArticleView]) -> str:
    lines = ["| discovered | source | topics | title |", "|---|---|---|---|"]
    for a in articles:
        url = printable(a.url).replace(">", "%3E").replace(" ", "%20")
        title = f"[{_md_escape(a.title or a.url)}](<{url}>)"
        lines.append(
            f"| {_short_time(a.discovered_at)} | {_md_escape(a.source or '')} |"
            f" {', '.join(a.topics)} | {title} |"
        )
    return "\n".join(lines)


def article_table(articles: Sequence[ArticleView]) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False, expand=True, header_style="bold")
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("discovered", no_wrap=True)
    table.add_column("source", max_width=18)
    table.add_column("topics", max_width=14)
    table.add_column("title", ratio=1)
    table.add_column("seen", justify="right", no_wrap=True)
    for a in articles:
        title = Text(one_line(a.title or "(no title)", 200))
        title.append("\n" + one_line(a.url, 120), style="dim")
        table.add_row(
            str(a.id),
            _short_time(a.discovered_at),
            Text(one_line(a.source or "", 40)),
            ", ".join(a.topics),
            title,
            str(len(a.sightings)),
        )
    if not articles:
        table.caption = "no articles match"
    return table


def key_value_table(rows: Iterable[tuple[str, object]], title: str | None = None) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=False, title=title, title_justify="left", box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, Text(printable(value)))
    return table


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
