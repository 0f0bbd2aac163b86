"""sources.yaml + environment -> typed, validated settings.

Every problem is reported at once, each naming the file, the line where known, the source and the
field: ``sources.yaml:41: sources[3] 'nation': interval: expected a duration like 30s, 15m or 2h,
got 'soon'``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.dedup import DEFAULT_THRESHOLDS
from monitor.errors import ConfigError

DEFAULT_CONFIG = "sources.yaml"
DEFAULT_DATABASE_URL = "sqlite:///storage/monitor.db"
UNDER_A_MINUTE_WARNING = "an interval under a minute is allowed but polls the server very often"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?\s*$", re.IGNORECASE)
_SIZE_BYTES = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def parse_duration(value: Any) -> timedelta:
    """'30s', '15m', '2h', '1d' or a number of seconds -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 15m or 2h, got {value!r}")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"expected a duration like 30s, 15m or 2h, got {value!r}")
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _UNIT_SECONDS[(unit or "s").lower()])


def parse_size(value: Any) -> int:
    """'10MB', '512KiB' or a number of bytes -> int bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"expected a size like 10MB or 512KB, got {value!r}")
    number, unit = match.groups()
    return int(float(number) * _SIZE_BYTES[(unit or "b").lower()])


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(_Strict):
    connect: Duration = timedelta(seconds=10)
    read: Duration = timedelta(seconds=20)
    total: Duration = timedelta(seconds=60)


class DigestSettings(_Strict):
    time: dt.time = dt.time(7, 0)
    timezone: str = "UTC"
    dir: Path = Path("storage/digests")
    atom_items: int = Field(100, ge=1)

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        if isinstance(value, int):  # YAML 1.1 reads 07:00 as a sexagesimal number
            return dt.time(value // 60 % 24, value % 60)
        if isinstance(value, str) and not re.match(r"^\d{1,2}:\d{2}(:\d{2})?$", value.strip()):
            raise ValueError(f"expected a time of day like 07:00, got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use a name like UTC or America/Port-au-Prince"
            ) from None
        return value


class DedupSettings(_Strict):
    """Near-duplicate thresholds; the defaults are the measured ones in monitor/dedup.py."""

    jaccard: float = Field(DEFAULT_THRESHOLDS.jaccard, gt=0, le=1)
    containment: float = Field(DEFAULT_THRESHOLDS.containment, gt=0, le=1)
    min_shingles: int = Field(DEFAULT_THRESHOLDS.min_shingles, ge=1)


class RetentionSettings(_Strict):
    seen_items: Duration = timedelta(days=90)
    polls: Duration = timedelta(days=30)


class Settings(_Strict):
    database_url: str = DEFAULT_DATABASE_URL
    user_agent: str = (
        "monitor/0.1 (news coverage monitor; +https://github.com/monitor-news/monitor)"
    )
    default_interval: Duration = timedelta(minutes=15)
    min_interval: Duration = timedelta(minutes=5)  # bounds of `interval: auto`
    max_interval: Duration = timedelta(hours=6)
    max_backoff: Duration = timedelta(hours=6)
    jitter: float = Field(0.1, ge=0, le=0.5)  # fraction of the interval
    concurrency: int = Field(32, ge=1, le=1024)
    # processes that parse and match fetched documents; "auto": one per core (at most 4), none
    # on a single core
    parse_workers: int | Literal["auto"] = "auto"
    per_host: int = Field(2, ge=1, le=64)
    min_host_delay: Duration = timedelta(seconds=0)
    timeouts: Timeouts = Timeouts()
    max_body: Size = 10 * 1024 * 1024
    max_items: int = Field(500, ge=1)
    retries: int = Field(2, ge=0, le=10)
    allow_private_addresses: bool = False
    sitemap_window: Duration = timedelta(days=2)
    lease: Duration = timedelta(minutes=5)  # a dead instance's sources are taken over after this
    dispatch_interval: Duration = timedelta(
        seconds=5
    )  # how often the service looks for due sources
    shutdown_grace: Duration = timedelta(seconds=10)  # in-flight polls may finish within this
    seed_dir: Path = Path("storage/seed")
    digest: DigestSettings = DigestSettings()
    dedup: DedupSettings = DedupSettings()
    retention: RetentionSettings = RetentionSettings()

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError(
                f"expected sqlite:///path/to/file.db or postgresql+psycopg://user@host/db, got {value!r}"
            )
        return value

    @field_validator("parse_workers", mode="before")
    @classmethod
    def _workers(cls, value: Any) -> int | str:
        if isinstance(value, str) and value.strip().isdigit():  # from the environment
            value = int(value)
        if value == "auto" or (type(value) is int and 0 <= value <= 16):
            return value  # type: ignore[no-any-return]
        raise ValueError(f"expected 'auto' or a number of processes from 0 to 16, got {value!r}")

    @field_validator("user_agent")
    @classmethod
    def _ua(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty: servers use it to contact the operator")
        return value


class Selectors(_Strict):
    """CSS selectors that read a listing page: one `item` per entry, the rest inside it."""

    item: str
    link: str = "a"
    title: str | None = None
    summary: str | None = None
    date: str | None = None
    date_attr: str | None = None
    date_format: str | None = None


class TopicConfig(_Strict):
    """Matching rules of one topic; monitor/match.py documents each field."""

    terms: list[str] = []
    acronyms: list[str] = []
    exclude: list[str] = []
    require: list[str] = []
    near: int | None = Field(None, ge=1)
    weak: list[str] = []

    @model_validator(mode="after")
    def _not_empty(self) -> TopicConfig:
        if not self.terms and not self.acronyms:
            raise ValueError("a topic needs at least one of `terms` or `acronyms`")
        return self


SourceType = Literal["feed", "html", "sitemap"]


class SourceConfig(_Strict):
    name: str = Field(min_length=1, max_length=200)
    url: str
    type: SourceType = "feed"
    interval: Duration | Literal["auto"] | None = None
    cron: str | None = None
    enabled: bool = True
    fetch_article: bool = False
    selectors: Selectors | None = None
    headers: dict[str, str] = {}
    topics: list[str] | None = None
    language: str | None = None
    conditional: bool = True
    ignore_robots: bool = False
    max_items: int | None = Field(None, ge=1)

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        if value is None or value == "auto":
            return value
        delta = parse_duration(value)
        if delta.total_seconds() < 1:
            raise ValueError(f"must be at least 1s, got {value!r}")
        return delta

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value.strip()

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise ValueError(
                    f"expected a crontab expression like '*/20 * * * *': {exc}"
                ) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SourceConfig:
        if self.type == "html" and self.selectors is None:
            raise ValueError(
                "an html source needs `selectors` (at least `item`) to read its listing page"
            )
        if self.type != "html" and self.selectors is not None:
            raise ValueError(
                f"`selectors` only applies to html sources, this one is type {self.type!r}"
            )
        if self.cron is not None and self.interval is not None:
            raise ValueError("give either `interval` or `cron`, not both")
        return self


class ConfigFile(_Strict):
    settings: Settings = Settings()
    topics: dict[str, TopicConfig] = {}
    sources: list[SourceConfig] = []


@dataclass(frozen=True)
class Config:
    """A loaded configuration: the validated file plus where it came from and its warnings."""

    path: Path
    settings: Settings
    topics: Mapping[str, TopicConfig]
    sources: tuple[SourceConfig, ...]
    warnings: tuple[str, ...] = ()

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(
            f"{self.path.name}: no source named {name!r}; `monitor sources` lists them"
        )

    def interval_of(self, source: SourceConfig) -> timedelta:
        if isinstance(source.interval, timedelta):
            return source.interval
        return self.settings.default_interval

    def topics_of(self, source: SourceConfig) -> list[str]:
        return list(source.topics) if source.topics is not None else list(self.topics)


# --- environment -----------------------------------------------------------------------------

ENV_PREFIX = "MONITOR_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """MONITOR_<SETTING> (and MONITOR_<GROUP>_<FIELD> for nested groups) -> settings overrides."""
    overrides: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            group: dict[str, Any] = {}
            for sub in nested.model_fields:
                key = f"{ENV_PREFIX}{name}_{sub}".upper()
                if key in environ:
                    group[sub] = environ[key]
            if group:
                overrides[name] = group
            continue
        key = f"{ENV_PREFIX}{name}".upper()
        if key in environ:
            value: Any = environ[key]
            if field.annotation is bool:
                lowered = value.strip().lower()
                if lowered not in _TRUE | _FALSE:
                    raise ConfigError(
                        f"environment: {key}: expected 1/0, true/false, got {value!r}"
                    )
                value = lowered in _TRUE
            overrides[name] = value
    return overrides


# --- loading ---------------------------------------------------------------------------------

# libyaml parses a 1,000-source file in 0.012 s where PyYAML's pure-Python scanner takes 0.08 s, and
# every `monitor poll` pays that. It builds the same data and the same line marks; only its error
# wording differs, so a file it rejects is read again by PyYAML, whose messages we have always shown.
try:
    from yaml import CSafeLoader as _FastLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _FastLoader  # type: ignore[assignment]


def _read_yaml(text: str, name: str) -> tuple[Any, type[yaml.SafeLoader | yaml.CSafeLoader]]:
    """The YAML document in `text` and the loader that read it; ConfigError if it is not YAML."""
    try:
        return yaml.load(text, Loader=_FastLoader), _FastLoader
    except (yaml.YAMLError, UnicodeError):  # libyaml cannot take lone surrogates
        pass
    try:
        return yaml.load(text, Loader=yaml.SafeLoader), yaml.SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{name}{line}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: invalid YAML: {exc}") from None


class _Lines(Mapping[tuple[Any, ...], int]):
    """Key path -> line number in the YAML text, composed on the first lookup.

    Only a message about a problem or a warning looks a line up, so a valid file, which is what
    every poll reads, is parsed once and carries no line bookkeeping.
    """

    def __init__(self, text: str, loader: type[yaml.SafeLoader | yaml.CSafeLoader]) -> None:
        self._text = text
        self._loader = loader

    @cached_property
    def _index(self) -> dict[tuple[Any, ...], int]:
        node = yaml.compose(self._text, Loader=self._loader)
        return _line_index(node) if node is not None else {}

    def __getitem__(self, key: tuple[Any, ...]) -> int:
        return self._index[key]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map every key path in a composed YAML document to its 1-based line number."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            lines.update(_line_index(value, sub))
            lines[sub] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            lines.update(_line_index(value, (*path, index)))
    return lines


def _describe(loc: tuple[Any, ...], data: Any) -> str:
    """('sources', 3, 'interval') -> "sources[3] 'nation': interval"."""
    prefix, rest = "", loc
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        entries = data.get("sources") if isinstance(data, dict) else None
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        prefix = f"sources[{loc[1]}]" + (f" {name!r}" if isinstance(name, str) else "")
        rest = loc[2:]
    elif len(loc) >= 2 and loc[0] == "topics":
        prefix, rest = f"topics {loc[1]!r}", loc[2:]
    field = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in rest).lstrip(".")
    return f"{prefix}: {field}" if prefix and field else prefix or field


def _message(error: dict[str, Any]) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required, but missing"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"expected one of {expected}, got {error.get('input')!r}"
    if kind in {"value_error", "assertion_error"}:
        return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return f"{msg}, got {error.get('input')!r}" if "input" in error else msg


def _loc_for_display(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic adds union member names ("timedelta", "literal['auto']") and validator names to loc
    return tuple(k for k in loc if not (isinstance(k, str) and ("[" in k or k in _UNION_TAGS)))


_UNION_TAGS = {"timedelta", "function-before[parse_duration(), timedelta]"}


def _validation_problems(
    exc: ValidationError, data: Any, lines: Mapping[tuple[Any, ...], int], name: str
) -> list[str]:
    problems: list[str] = []
    seen: set[tuple[tuple[Any, ...], str]] = set()
    for error in exc.errors():
        loc = _loc_for_display(tuple(error["loc"]))
        message = _message(error)
        if error["type"] == "extra_forbidden":
            message = _unknown_key_message(loc, data)
        if (loc, message) in seen:
            continue
        seen.add((loc, message))
        line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
        where = f"{name}:{line}" if line else name
        problems.append(
            f"{where}: {_describe(loc, data)}: {message}" if loc else f"{where}: {message}"
        )
    return problems


def _unknown_key_message(loc: tuple[Any, ...], data: Any) -> str:
    model = _model_at(loc[:-1], data)
    key = str(loc[-1])
    known = list(model.model_fields) if model else []
    close = difflib.get_close_matches(key, known, n=1)
    hint = (
        f"; did you mean {close[0]!r}?"
        if close
        else (f"; known keys: {', '.join(known)}" if known else "")
    )
    return f"unknown key{hint}"


def _model_at(loc: tuple[Any, ...], data: Any) -> type[BaseModel] | None:
    model: type[BaseModel] | None = ConfigFile
    for key in loc:
        if model is None:
            return None
        if isinstance(key, int):
            continue
        field = model.model_fields.get(str(key))
        if field is None:
            if model is ConfigFile:
                return None
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if model is None:
            for arg in args:  # list[SourceConfig], dict[str, TopicConfig]
                inner = getattr(arg, "__args__", ())
                model = next(
                    (c for c in inner if isinstance(c, type) and issubclass(c, BaseModel)), None
                )
                if model:
                    break
            if model is None and str(key) in {"sources"}:
                model = SourceConfig
            if model is None and str(key) in {"topics"}:
                model = TopicConfig
    return model


def load_config(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Read, validate and return the configuration; raise ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    path = Path(path or environ.get(f"{ENV_PREFIX}CONFIG") or DEFAULT_CONFIG)
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file; create it from the sources.yaml shipped with the monitor, or pass --config"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_config(text, name=name, path=path, environ=environ)


def parse_config(
    text: str,
    *,
    name: str = DEFAULT_CONFIG,
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    environ = {} if environ is None else environ
    data, loader = _read_yaml(text, name)
    if data is None:
        raise ConfigError(f"{name}: the file is empty; it needs at least a `sources:` list")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{name}:1: expected a mapping with `settings`, `topics` and `sources`, got {type(data).__name__}"
        )
    lines = _Lines(text, loader)

    overrides = env_overrides(environ)
    if overrides:
        settings = dict(data.get("settings") or {})
        for key, value in overrides.items():
            if isinstance(value, dict):
                settings[key] = {**(settings.get(key) or {}), **value}
            else:
                settings[key] = value
        data = {**data, "settings": settings}

    try:
        parsed = ConfigFile.model_validate(data)
    except ValidationError as exc:
        problems = _validation_problems(exc, data, lines, name) + _raw_checks(data, lines, name)
        raise ConfigError(sorted(set(problems), key=_line_of)) from None

    problems, warnings = _cross_checks(parsed, lines, name)
    if problems:
        raise ConfigError(sorted(set(problems), key=_line_of))
    return Config(
        path=path or Path(name),
        settings=parsed.settings,
        topics=parsed.topics,
        sources=tuple(parsed.sources),
        warnings=tuple(warnings),
    )


def _line_of(problem: str) -> int:
    match = re.match(r"^[^:]+:(\d+):", problem)
    return int(match.group(1)) if match else 0


def _where(lines: Mapping[tuple[Any, ...], int], name: str, *loc: Any) -> str:
    line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
    return f"{name}:{line}" if line else name


def _raw_checks(
    data: Mapping[str, Any], lines: Mapping[tuple[Any, ...], int], name: str
) -> list[str]:
    """Cross-field checks on the raw YAML, so they are reported beside field errors."""
    sources = data.get("sources")
    topics = data.get("topics")
    known_topics = set(topics) if isinstance(topics, dict) else set()
    if not isinstance(sources, list):
        return []
    problems = []
    first_seen: dict[str, int] = {}
    for index, source in enumerate(sources):
        if not isinstance(source, dict):
            continue
        source_name = source.get("name")
        label = f"sources[{index}] {source_name!r}"
        if isinstance(source_name, str):
            if source_name in first_seen:
                problems.append(
                    f"{_where(lines, name, 'sources', index, 'name')}: {label}: name: duplicate of"
                    f" sources[{first_seen[source_name]}]; names must be unique"
                )
            else:
                first_seen[source_name] = index
        wanted = source.get("topics")
        if isinstance(wanted, list):
            for topic in wanted:
                if topic not in known_topics:
                    known = ", ".join(sorted(known_topics)) or "none defined"
                    problems.append(
                        f"{_where(lines, name, 'sources', index, 'topics')}: {label}: topics:"
                        f" unknown topic {topic!r} (topics: {known})"
                    )
    return problems


def _cross_checks(
    parsed: ConfigFile, lines: Mapping[tuple[Any, ...], int], name: str
) -> tuple[list[str], list[str]]:
    """Rules that span fields: unique names, topics that exist, rules the matcher can compile."""
    raw = parsed.model_dump(mode="json", include={"sources", "topics"})
    problems = _raw_checks(raw, lines, name)
    warnings: list[str] = []
    for index, source in enumerate(parsed.sources):
        if isinstance(source.interval, timedelta) and source.interval < timedelta(minutes=1):
            warnings.append(
                f"{_where(lines, name, 'sources', index, 'interval')}: sources[{index}]"
                f" {source.name!r}: interval: {UNDER_A_MINUTE_WARNING}"
            )
    if not parsed.sources:
        warnings.append(f"{name}: no sources configured; nothing will be polled")
    for topic_name, topic in parsed.topics.items():
        for required in topic.require:
            if required not in parsed.topics:
                problems.append(
                    f"{_where(lines, name, 'topics', topic_name, 'require')}: topics"
                    f" {topic_name!r}: require: unknown topic {required!r}"
                )
    if not problems:
        from monitor.match import Matcher

        try:
            Matcher(topic_rules(parsed.topics))
        except ValueError as exc:
            problems.append(f"{_where(lines, name, 'topics')}: topics: {exc}")
    if parsed.settings.min_interval > parsed.settings.max_interval:
        problems.append(
            f"{_where(lines, name, 'settings', 'min_interval')}: settings.min_interval:"
            " must not exceed max_interval"
        )
    return problems, warnings


def topic_rules(topics: Mapping[str, TopicConfig]) -> list[Any]:
    """Convert validated topic configs to the matcher's rules."""
    from monitor.match import rules_from_mapping

    return rules_from_mapping(
        {name: topic.model_dump(exclude_none=True) for name, topic in topics.items()}
    )
