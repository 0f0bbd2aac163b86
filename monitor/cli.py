"""The command line: parse arguments, call one function, print.

Exit codes: 0 success; 1 some work failed (e.g. a source could not be polled; the rest was done);
2 usage or configuration error; 3 database error; 4 capability not available.

Each command imports what it needs inside its function: `monitor poll` runs every few minutes and
should not pay for the query, digest or table code, nor `monitor --help` for any of it.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from monitor import __version__
from monitor.errors import ConfigError, MonitorError, NotAvailableError, StoreError
from monitor.output import printable, stdout_is_terminal, to_json

if TYPE_CHECKING:
    from rich.console import Console

    from monitor.config import Config
    from monitor.items import PollReport

EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_STORE = 3
EXIT_UNAVAILABLE = 4

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class App:
    """What every command needs: the configuration, the database and the consoles, on first use."""

    config_path: str | None
    db_url: str | None
    verbosity: int = 0
    log_format: str = "text"

    @cached_property
    def console(self) -> Console:
        from rich.console import Console

        return Console()

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True)

    @cached_property
    def config(self) -> Config:
        from monitor.config import load_config

        config = load_config(self.config_path)
        for warning in config.warnings:
            self.err.print(f"[yellow]warning:[/] {printable(warning)}", highlight=False)
        return config

    @property
    def database_url(self) -> str:
        return self.db_url or self.config.settings.database_url

    @cached_property
    def engine(self):  # type: ignore[no-untyped-def]
        from monitor.store.db import make_engine

        return make_engine(self.database_url)

    def ready_engine(self):  # type: ignore[no-untyped-def]
        """The engine of a database that `monitor init` has prepared."""
        from monitor.store.db import require_current

        require_current(self.engine)
        end_of_start_up()  # every command that works on the database is set up by now
        return self.engine


def start_up() -> None:
    """Hold the cyclic garbage collector while the command imports its modules and reads the config.

    Start-up builds some 100,000 objects that live as long as the process (modules, classes, the
    config) and next to no garbage, yet the collector scans them all, again and again, and once
    more at exit: 0.1 to 0.2 s of CPU in a poll of 1,000 feeds that all answer 304, a seventh of
    it. `end_of_start_up` turns it back on; the commands that never get there (`check`, `init`,
    `match`) are short, and the collector is back on when the command ends anyway.
    """
    gc.disable()


#: New container objects between two collections of the youngest generation (Python's is 700).
#: A poll keeps most of what it makes (tasks, reports, parsed outcomes waiting for the writer),
#: and every collection scans it again. Polls of 1,000 feeds, time in the collector (slow hour):
#: cold 160-210 collections, 0.19-0.24 s -> 5, 0.02-0.04 s; all 304s 130, 36-47 ms -> 4,
#: 7-26 ms. A service holds at most that many more objects before its cycles are collected.
YOUNG_COLLECTION_THRESHOLD = 10_000


def end_of_start_up() -> None:
    """Move what start-up built out of the collector's sight for good, then turn it back on,
    collecting the youngest objects less often (see YOUNG_COLLECTION_THRESHOLD).

    Later full collections, the one at exit included, scan only what the command's work created.
    """
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
    gc.enable()


def handle_errors(func: F) -> F:
    """Turn the monitor's errors into a clear message and a meaningful exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"error: {printable(problem)}", err=True)
            sys.exit(EXIT_USAGE)
        except StoreError as exc:
            click.echo(f"error: database: {printable(exc)}", err=True)
            sys.exit(EXIT_STORE)
        except NotAvailableError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_UNAVAILABLE)
        except MonitorError as exc:
            click.echo(f"error: {printable(exc)}", err=True)
            sys.exit(EXIT_FAILURES)

    return wrapper  # type: ignore[return-value]


def setup_logging(verbosity: int, log_format: str) -> None:
    from monitor.logs import configure

    configure(verbosity, log_format)


format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default=None,
    help="Output format (default: table in a terminal, json otherwise).",
)


def pick_format(fmt: str | None) -> str:
    return fmt or ("table" if stdout_is_terminal() else "json")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    envvar="MONITOR_CONFIG",
    type=click.Path(dir_okay=False),
    help="The sources file (default ./sources.yaml, env MONITOR_CONFIG).",
)
@click.option(
    "--db",
    "db_url",
    envvar="MONITOR_DATABASE_URL",
    help="Database URL (default sqlite:///storage/monitor.db, env MONITOR_DATABASE_URL).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="MONITOR_LOG_FORMAT",
    help="Log lines as text or JSON (for log shippers).",
)
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def main(
    ctx: click.Context,
    config_path: str | None,
    db_url: str | None,
    verbose: int,
    quiet: bool,
    log_format: str,
) -> None:
    """Follow one story across the world's press.

    Polls the sources in sources.yaml, keeps the items about your topics, records each article
    once with every place it was seen, and writes a daily digest.
    """
    start_up()
    ctx.call_on_close(gc.enable)  # for commands that never reach end_of_start_up
    verbosity = -1 if quiet else verbose
    setup_logging(verbosity, log_format)
    ctx.obj = App(
        config_path=config_path, db_url=db_url, verbosity=verbosity, log_format=log_format
    )


pass_app = click.pass_obj


@main.command()
@format_option
@pass_app
@handle_errors
def check(app: App, fmt: str | None) -> None:
    """Validate the configuration and print a summary (exit 2 listing every error)."""
    from monitor.config import format_duration
    from monitor.output import key_value_table
    from monitor.store.db import redact_url

    config = app.config

    by_type: dict[str, int] = {}
    for source in config.sources:
        by_type[source.type] = by_type.get(source.type, 0) + 1
    enabled = sum(1 for s in config.sources if s.enabled)
    summary = {
        "config": str(config.path),
        "valid": True,
        "sources": len(config.sources),
        "enabled": enabled,
        "by_type": by_type,
        "topics": list(config.topics),
        "database": redact_url(app.database_url),
        "default_interval": format_duration(config.settings.default_interval),
        "digest": f"{config.settings.digest.time:%H:%M} {config.settings.digest.timezone}",
        "warnings": list(config.warnings),
    }
    if pick_format(fmt) == "json":
        click.echo(to_json(summary))
        return
    app.console.print(f"[green]{printable(config.path)} is valid[/]")
    rows = [
        (
            "sources",
            f"{len(config.sources)} ({enabled} enabled; "
            + ", ".join(f"{n} {t}" for t, n in sorted(by_type.items()))
            + ")",
        ),
        ("topics", ", ".join(config.topics) or "none"),
        ("database", summary["database"]),
        ("default interval", summary["default_interval"]),
        ("digest", summary["digest"]),
    ]
    app.console.print(key_value_table(rows))


@main.command()
@format_option
@pass_app
@handle_errors
def init(app: App, fmt: str | None) -> None:
    """Create or upgrade the database, mirror the sources, load the reference articles.

    Safe to run again: a second run changes nothing.
    """
    from monitor.config import topic_rules
    from monitor.match import Matcher
    from monitor.seed import load_seeds
    from monitor.store.db import redact_url, upgrade
    from monitor.store.sources import sync_sources

    config = app.config
    engine = app.engine
    before, after = upgrade(engine)
    sync = sync_sources(engine, config)
    seeds = load_seeds(engine, config.settings.seed_dir, Matcher(topic_rules(config.topics)))
    result = {
        "database": redact_url(app.database_url),
        "schema": {"before": before, "after": after},
        "sources": {"added": sync.added, "changed": sync.changed, "disabled": sync.disabled},
        "seeds": {
            "added": [n for n, new in seeds if new],
            "present": [n for n, new in seeds if not new],
        },
    }
    if pick_format(fmt) == "json":
        click.echo(to_json(result))
        return
    schema = "created" if before is None else ("upgraded" if before != after else "up to date")
    app.console.print(
        f"database {printable(result['database'])}: schema {schema} (revision {after})"
    )
    app.console.print(
        f"sources: {len(sync.added)} added, {len(sync.changed)} changed,"
        f" {len(sync.disabled)} disabled (removed from the config)"
    )
    added = result["seeds"]["added"]
    app.console.print(
        f"reference articles: {len(added)} added, {len(seeds) - len(added)} already stored"
    )


@main.command()
@click.option("--since", help="Discovered since: 24h, 7d, 2026-11-20 or an ISO time.")
@click.option("--until", help="Discovered before: same forms as --since.")
@click.option("--topic", "topics", multiple=True, help="Only this topic (repeatable).")
@click.option(
    "--source", "sources", multiple=True, help="Only articles seen at this source (repeatable)."
)
@click.option("--search", help='Full-text search; "quoted phrases" allowed.')
@click.option("--language", help="Language code, e.g. en, fr.")
@click.option(
    "--limit", type=click.IntRange(min=0), default=100, show_default=True, help="0 for no limit."
)
@click.option("--include-seed", is_flag=True, help="Include the reference articles.")
@click.option(
    "--sort",
    type=click.Choice(["newest", "oldest", "relevance"]),
    default="newest",
    show_default=True,
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "jsonl", "csv", "md"]),
    default=None,
    help="Output format (default: table in a terminal, json otherwise).",
)
@pass_app
@handle_errors
def query(
    app: App,
    since: str | None,
    until: str | None,
    topics: tuple[str, ...],
    sources: tuple[str, ...],
    search: str | None,
    language: str | None,
    limit: int,
    include_seed: bool,
    sort: str,
    fmt: str | None,
) -> None:
    """List stored articles, newest first, with their topics and sightings."""
    from monitor.output import render_articles
    from monitor.query import QueryFilter, find_articles, parse_when

    try:
        filters = QueryFilter(
            since=parse_when(since) if since else None,
            until=parse_when(until) if until else None,
            topics=topics,
            sources=sources,
            search=search,
            language=language,
            limit=limit or None,
            include_seed=include_seed,
            sort=sort,  # type: ignore[arg-type]
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    articles = find_articles(app.ready_engine(), filters)
    output = render_articles(articles, pick_format(fmt), console=app.console)  # type: ignore[arg-type]
    if output:
        click.echo(output)


def not_yet(what: str) -> None:
    raise NotAvailableError(f"{what} is not available in this version of the monitor yet")


@main.command()
@click.option("--source", "names", multiple=True, help="Poll only this source (repeatable).")
@format_option
@pass_app
@handle_errors
def poll(app: App, names: tuple[str, ...], fmt: str | None) -> None:
    """Poll the sources now, once, and print a summary per source.

    Exit 0 when every source succeeded, 1 when some failed (the others are still stored).
    """
    import asyncio

    from monitor.poll import fork_parse_workers, poll_once
    from monitor.store.sources import sync_sources

    config = app.config
    # Start-up ends here, before the parse workers are forked: they inherit its objects frozen
    # (their collector never scans them), and the fork comes before the database is opened
    # (see fork_parse_workers). The poll closes the workers; this is for a poll never begun.
    end_of_start_up()
    pool = fork_parse_workers(config, app.engine)
    with contextlib.ExitStack() as stack:
        if pool is not None:
            stack.callback(pool.close)
        engine = app.ready_engine()
        sync_sources(engine, config)
        fmt = pick_format(fmt)
        progress = None
        task = None
        if fmt == "table" and app.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=app.console,
                transient=True,
            )
            stack.callback(progress.stop)

        def started(total: int) -> None:
            nonlocal task
            if progress is not None:
                progress.start()
                task = progress.add_task("polling", total=total)

        def done(report: PollReport) -> None:
            if progress is not None and task is not None:
                progress.advance(task)

        reports = asyncio.run(
            poll_once(config, engine, names, on_start=started, on_done=done, pool=pool)
        )
    if fmt == "json":
        click.echo(to_json(reports))
    else:
        app.console.print(poll_table(reports))
    if any(r.status in {"error", "skipped"} for r in reports):
        sys.exit(EXIT_FAILURES)


def poll_table(reports: list[PollReport]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(header_style="bold", expand=True)
    for column in (
        "source",
        "status",
        "http",
        "items",
        "new",
        "matched",
        "articles",
        "copies",
        "s",
    ):
        table.add_column(column, justify="left" if column in {"source", "status"} else "right")
    table.add_column("error", ratio=1)
    style = {"ok": "green", "not_modified": "cyan", "error": "red", "skipped": "yellow"}
    for r in reports:
        table.add_row(
            Text(printable(r.source)),
            Text(r.status, style=style.get(r.status, "")),
            str(r.http_status or ""),
            str(r.items_seen),
            str(r.items_new),
            str(r.matched),
            str(r.articles_new),
            str(r.copies),
            f"{r.seconds:.2f}",
            Text(printable(r.error or ""), style="red"),
        )
    failed = sum(r.status == "error" for r in reports)
    table.caption = (
        f"{len(reports)} sources, {failed} failed, "
        f"{sum(r.articles_new for r in reports)} new articles, {sum(r.copies for r in reports)} copies"
    )
    return table


@main.command()
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    envvar="MONITOR_METRICS_PORT",
    help="Serve Prometheus /metrics and /healthz on this port.",
)
@click.option(
    "--metrics-host", default="127.0.0.1", show_default=True, envvar="MONITOR_METRICS_HOST"
)
@click.option("--instance", help="A name for this instance in leases and logs (default host-pid).")
@pass_app
@handle_errors
def run(app: App, metrics_port: int | None, metrics_host: str, instance: str | None) -> None:
    """Run as a background service: scheduled polls, the daily digest, housekeeping.

    Stops cleanly on SIGTERM or SIGINT (in-flight polls get a grace period); a second signal exits
    at once. Several instances may share one PostgreSQL database.
    """
    import asyncio

    from monitor.service import Service

    service = Service(
        app.config, app.ready_engine(), metrics_port=metrics_port, metrics_host=metrics_host
    )
    if instance:
        service.instance = instance
    sys.exit(asyncio.run(service.run()))


@main.command()
@click.option("--date", "day", help="The day to write (YYYY-MM-DD; default: yesterday).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Print the written paths as lines of text or as JSON.",
)
@pass_app
@handle_errors
def digest(app: App, day: str | None, out: Path | None, fmt: str) -> None:
    """Write the daily digest (Markdown, HTML, JSON) for one day, and refresh coverage.atom.

    The day is a date in the digest time zone (settings.digest.timezone); the files go to
    settings.digest.dir unless --out is given. Writing a past day again gives identical files.
    """
    from datetime import date as Date

    from monitor.digest import write_digest

    try:
        wanted = Date.fromisoformat(day) if day else None
    except ValueError:
        raise click.BadParameter(
            f"expected a date like 2026-11-20, got {day!r}", param_hint="--date"
        ) from None
    files = write_digest(app.ready_engine(), app.config, wanted, out)
    if fmt == "json":
        click.echo(
            to_json(
                {
                    "date": files.day.isoformat(),
                    "articles": files.articles,
                    "files": {
                        "markdown": str(files.markdown),
                        "html": str(files.html),
                        "json": str(files.json),
                        "atom": str(files.atom),
                    },
                }
            )
        )
        return
    for path in files.paths:
        click.echo(str(path))


@main.command()
@click.option("--text", help="The text to match.")
@click.option("--title", default="", help="A title to match with the text.")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Match a text file.",
)
@click.option("--url", help="Fetch a page, extract its article text and match it.")
@click.option("--topic", "topics", multiple=True, help="Only these topics (repeatable).")
@format_option
@pass_app
@handle_errors
def match(
    app: App,
    text: str | None,
    title: str,
    path: Path | None,
    url: str | None,
    topics: tuple[str, ...],
    fmt: str | None,
) -> None:
    """Explain a matching decision: which terms matched where, which exclusions fired, the score."""
    from monitor.config import topic_rules
    from monitor.match import Matcher

    given = [x for x in (text, path, url) if x]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --text, --file or --url")
    if path is not None:
        text = path.read_text(encoding="utf-8", errors="replace")
    elif url is not None:
        title, text = fetch_article_text(app, url, title)
    matcher = Matcher(topic_rules(app.config.topics))
    unknown = [t for t in topics if t not in app.config.topics]
    if unknown:
        raise click.BadParameter(f"unknown topic {unknown[0]!r}", param_hint="--topic")
    explanation = matcher.explain(title=title, body=text or "", topics=topics or None)
    if pick_format(fmt) == "json":
        click.echo(
            to_json(
                {
                    "matched": explanation.result.matched,
                    "topics": [
                        {
                            "topic": t.topic,
                            "score": t.score,
                            "hits": [
                                {"term": h.term, "field": h.field, "count": h.count} for h in t.hits
                            ],
                        }
                        for t in explanation.result.topics
                    ],
                    "vetoed": list(explanation.result.vetoed),
                    "dropped": [h.term for h in explanation.dropped],
                }
            )
        )
        return
    click.echo(printable(explanation.render()))
    click.echo(
        "kept: matches " + ", ".join(t.topic for t in explanation.result.topics)
        if explanation.result.matched
        else "not kept: no topic matched"
    )


def fetch_article_text(app: App, url: str, title: str) -> tuple[str, str]:
    import asyncio

    from monitor.fetch import Fetcher
    from monitor.parse import extract_article
    from monitor.poll import fetch_policy

    async def get() -> tuple[str, str]:
        async with Fetcher(fetch_policy(app.config)) as fetcher:
            page = await fetcher.fetch(url)
        article = extract_article(page.content, url=page.url, content_type=page.content_type)
        return title or article.title or "", article.text

    return asyncio.run(get())


@main.command()
@click.option("--dry-run", is_flag=True, help="Report what would change, change nothing.")
@format_option
@pass_app
@handle_errors
def rematch(app: App, dry_run: bool, fmt: str | None) -> None:
    """Re-apply the topic rules to the stored articles; report what is added and removed."""
    from sqlalchemy import select

    from monitor.config import topic_rules
    from monitor.match import Matcher
    from monitor.store.db import read_only
    from monitor.store.schema import Source
    from monitor.tuning import rematch as apply_rules

    engine = app.ready_engine()
    config = app.config
    with read_only(engine) as connection:
        ids = dict(connection.execute(select(Source.name, Source.id)).all())
    topics_of = {ids[s.name]: config.topics_of(s) for s in config.sources if s.name in ids}
    report = apply_rules(engine, Matcher(topic_rules(config.topics)), topics_of, dry_run=dry_run)
    if pick_format(fmt) == "json":
        click.echo(to_json(report.to_json()))
        return
    verb = "would change" if dry_run else "changed"
    click.echo(f"{report.articles} articles matched again; {report.changed} {verb}")
    for topic, change in report.to_json()["topics"].items():
        click.echo(f"  {topic}: +{len(change['added'])} -{len(change['removed'])}")
    if report.unmatched:
        click.echo(f"  {len(report.unmatched)} no longer match any topic (kept, listed under none)")


@main.command()
@click.option(
    "--explain", "target", required=True, metavar="URL_OR_ID", help="An article id or a URL seen."
)
@format_option
@pass_app
@handle_errors
def dedup(app: App, target: str, fmt: str | None) -> None:
    """Explain a dedup decision: copy of what, why, with which similarity, and near neighbours."""
    from monitor.dedup import Thresholds
    from monitor.tuning import explain_dedup, render_dedup

    s = app.config.settings.dedup
    thresholds = Thresholds(
        jaccard=s.jaccard, containment=s.containment, min_shingles=s.min_shingles
    )
    try:
        explanation = explain_dedup(app.ready_engine(), target, thresholds)
    except (LookupError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--explain") from None
    if pick_format(fmt) == "json":
        click.echo(to_json(explanation))
        return
    click.echo(printable(render_dedup(explanation)))


@main.command()
@format_option
@pass_app
@handle_errors
def sources(app: App, fmt: str | None) -> None:
    """Show each source's state: last success, last error, failures, next poll."""
    from monitor.status import render_sources, source_states

    states = source_states(app.ready_engine())
    if pick_format(fmt) == "json":
        click.echo(to_json([s.to_json() for s in states]))
        return
    app.console.print(render_sources(states))


if __name__ == "__main__":  # pragma: no cover
    main()
