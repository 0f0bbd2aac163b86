"""sources.yaml + environment -> typed, validated settings.

Every problem is reported at once, each naming the file, the line where known, the source and the
field: ``sources.yaml:41: sources[3] 'nation': interval: expected a duration like 30s, 15m or 2h,
got 'soon'``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from monitor.dedup import DEFAULT_THRESHOLDS
from monitor.errors import ConfigError

DEFAULT_CONFIG = "sources.yaml"
DEFAULT_DATABASE_URL = "sqlite:///storage/monitor.db"
T = TypeVar("T")
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
    """'30s', '15m', '2h', '1d' or a number of seconds -> timedelta (not negative)."""
    if isinstance(value, timedelta):
        return value
    wrong = f"expected a duration like 30s, 15m or 2h, got {value!r}"
    if isinstance(value, bool):
        raise ValueError(wrong)
    if isinstance(value, int | float):
        seconds = value
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(wrong)
        number, unit = match.groups()
        seconds = float(number) * _UNIT_SECONDS[(unit or "s").lower()]
    if not 0 <= seconds < math.inf:  # NaN too
        raise ValueError(wrong)
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{wrong}: longer than {timedelta.max.days} days") from None


def parse_size(value: Any) -> int:
    """'10MB', '512KiB' or a number of bytes -> int bytes (not negative)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
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


# --- validation --------------------------------------------------------------------------------
#
# The settings are frozen dataclasses; each field names the check that turns what YAML (or the
# environment) gives into its value, or raises ValueError with a message for the user. A small
# builder walks the document, collects every problem with its key path, and builds the objects
# only when there is none. Every command reads this file first, and a validation library costs
# a `monitor poll` more start-up time (0.2 s on 2 cores) than the polling of a few hundred
# sources that answer 304.

Check = Callable[[Any], Any]


class _Problems(Exception):
    """Problems found under one node: (key path relative to the node, message) pairs."""

    def __init__(self, problems: list[tuple[tuple[Any, ...], str]]) -> None:
        super().__init__(problems)
        self.problems = problems


def setting(default: Any = dataclasses.MISSING, check: Check | None = None) -> Any:
    """A dataclass field with the check its configured value passes through.

    `default` may be a class (list, dict) to give each instance its own empty one.
    """
    metadata = {"check": check}
    if isinstance(default, type):
        return dataclasses.field(default_factory=default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def build(model: type[T], data: Any) -> T:
    """Check `data` against `model`'s fields and build it; _Problems lists what is wrong."""
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a mapping of keys to values, got {data!r}")
    known = {field.name: field for field in dataclasses.fields(model)}  # type: ignore[arg-type]
    problems: list[tuple[tuple[Any, ...], str]] = []
    for key in data:
        if key not in known:
            problems.append(((key,), _unknown_key(key, list(known))))
    for name, field in known.items():
        required = field.default is dataclasses.MISSING is field.default_factory
        if required and name not in data:
            problems.append(((name,), "required, but missing"))
    values: dict[str, Any] = {}
    try:
        values = _each(
            (name, known[name].metadata["check"], data[name]) for name in known if name in data
        )
    except _Problems as exc:
        problems.extend(exc.problems)
    if problems:
        raise _Problems(problems)
    built = model(**values)
    check_whole = getattr(built, "check", None)  # rules across the fields
    if check_whole is not None:
        try:
            check_whole()
        except ValueError as exc:
            raise _Problems([((), str(exc))]) from None
    return built


def _unknown_key(key: Any, known: list[str]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key; known keys: {', '.join(known)}"


def nested(model: type[Any]) -> Check:
    def check(value: Any) -> Any:
        return build(model, value)

    return check


def optional(check: Check) -> Check:
    def optional_check(value: Any) -> Any:
        return None if value is None else check(value)

    return optional_check


def list_of(check: Check) -> Check:
    def check_list(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {value!r}")
        return list(_each((index, check, item) for index, item in enumerate(value)).values())

    return check_list


def mapping_of(check: Check) -> Check:
    def check_mapping(value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise ValueError(f"expected a mapping of names to values, got {value!r}")
        for key in value:
            if not isinstance(key, str):
                raise ValueError(f"expected names as keys, got {key!r}")
        return _each((key, check, item) for key, item in value.items())

    return check_mapping


def _each(entries: Iterable[tuple[Any, Check, Any]]) -> dict[Any, Any]:
    """Check the value of each (key, check, value) entry; report each problem under its key."""
    checked: dict[Any, Any] = {}
    problems: list[tuple[tuple[Any, ...], str]] = []
    for key, check, item in entries:
        try:
            checked[key] = check(item)
        except _Problems as inner:
            problems.extend(((key, *loc), message) for loc, message in inner.problems)
        except ValueError as exc:
            problems.append(((key,), str(exc)))
    if problems:
        raise _Problems(problems)
    return checked


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {value!r}")
    return value


def string_of_length(low: int, high: int) -> Check:
    def check(value: Any) -> str:
        value = string(value)
        if not low <= len(value) <= high:
            raise ValueError(f"expected {low} to {high} characters, got {len(value)}")
        return value

    return check


def whole(low: int | None = None, high: int | None = None) -> Check:
    """An int, from YAML or from the environment's text, within [low, high]."""

    def check(value: Any) -> int:
        number = value
        if isinstance(value, str) and re.match(r"^\s*[+-]?\d+\s*$", value):
            number = int(value)  # from the environment
        elif isinstance(value, float) and value.is_integer():  # 5.0
            number = int(value)
        if isinstance(number, bool) or not isinstance(number, int):
            raise ValueError(f"expected a whole number, got {value!r}")
        return _within(number, low, high)

    return check


def fraction(low: float, high: float, *, above_low: bool = False) -> Check:
    """A float within [low, high], or (low, high] with `above_low`."""

    def check(value: Any) -> float:
        number = value
        if isinstance(value, str):  # from the environment
            with contextlib.suppress(ValueError):
                number = float(value)
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ValueError(f"expected a number, got {value!r}")
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {value!r}")
        if above_low and number <= low:
            raise ValueError(f"must be greater than {low}, got {value!r}")
        return float(_within(number, low, high))

    return check


def _within(number: Any, low: Any, high: Any) -> Any:
    if low is not None and number < low:
        raise ValueError(f"must be at least {low}, got {number!r}")
    if high is not None and number > high:
        raise ValueError(f"must be at most {high}, got {number!r}")
    return number


_BOOLEANS = {"true": True, "yes": True, "on": True, "1": True}
_BOOLEANS |= {"false": False, "no": False, "off": False, "0": False}


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    raise ValueError(f"expected true or false, got {value!r}")


def one_of(*choices: str) -> Check:
    listed = ", ".join(map(repr, choices[:-1])) + f" or {choices[-1]!r}"

    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {listed}, got {value!r}")
        return value  # type: ignore[no-any-return]

    return check


def file_path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    return Path(string(value))


def time_of_day(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1 reads 07:00 as 420
        return dt.time(value // 60 % 24, value % 60)
    match = re.match(
        r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$", value if isinstance(value, str) else ""
    )
    if match:
        hour, minute, second = (int(part or 0) for part in match.groups())
        if hour < 24 and minute < 60 and second < 60:
            return dt.time(hour, minute, second)
    raise ValueError(f"expected a time of day like 07:00, got {value!r}")


def time_zone(value: Any) -> str:
    value = string(value)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use a name like UTC or America/Port-au-Prince"
        ) from None
    return value


def sql_url(value: Any) -> str:
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", string(value)):
        raise ValueError(
            f"expected sqlite:///path/to/file.db or postgresql+psycopg://user@host/db, got {value!r}"
        )
    return value  # type: ignore[no-any-return]


def contact_string(value: Any) -> str:
    if not string(value).strip():
        raise ValueError("must not be empty: servers use it to contact the operator")
    return value  # type: ignore[no-any-return]


def process_count(value: Any) -> int | str:
    if isinstance(value, str) and value.strip().isdigit():  # from the environment
        value = int(value)
    if value == "auto" or (type(value) is int and 0 <= value <= 16):
        return value  # type: ignore[no-any-return]
    raise ValueError(f"expected 'auto' or a number of processes from 0 to 16, got {value!r}")


def http_url(value: Any) -> str:
    value = string(value).strip()
    wrong = f"expected an http:// or https:// URL, got {value!r}"
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError as exc:  # an unclosed [IPv6 address, a port that is not a number
        raise ValueError(f"{wrong}: {exc}") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise ValueError(wrong)
    return value


def poll_interval(value: Any) -> timedelta | str | None:
    if value is None or value == "auto":
        return value  # type: ignore[no-any-return]
    delta = parse_duration(value)
    if delta.total_seconds() < 1:
        raise ValueError(f"must be at least 1s, got {value!r}")
    return delta


def crontab(value: Any) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(string(value))
    except ValueError as exc:
        raise ValueError(f"expected a crontab expression like '*/20 * * * *': {exc}") from None
    return value  # type: ignore[no-any-return]


def as_json(settings: Any, *, exclude_defaults: bool = False) -> dict[str, Any]:
    """A settings object as JSON-ready data, durations as ISO 8601 (`PT15M`)."""
    data = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if exclude_defaults and value == _default_of(field):
            continue
        data[field.name] = _json_value(value, exclude_defaults)
    return data


def _default_of(field: dataclasses.Field[Any]) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _json_value(value: Any, exclude_defaults: bool) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return as_json(value, exclude_defaults=exclude_defaults)
    if isinstance(value, timedelta):
        return iso_duration(value)
    if isinstance(value, Path | dt.time):
        return str(value)
    if isinstance(value, list):
        return [_json_value(item, exclude_defaults) for item in value]
    if isinstance(value, dict):
        return {key: _json_value(item, exclude_defaults) for key, item in value.items()}
    return value


def iso_duration(delta: timedelta) -> str:
    """timedelta(minutes=90) -> 'PT1H30M' (not negative): ISO 8601, as source configs are stored."""
    days, rest = divmod(round(delta / timedelta(microseconds=1)), 86_400_000_000)
    seconds, micros = divmod(rest, 1_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or micros:
        time += (f"{seconds}.{micros:06d}".rstrip("0") if micros else f"{seconds}") + "S"
    if not days and not time:
        return "PT0S"
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


# --- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeouts:
    connect: timedelta = setting(timedelta(seconds=10), parse_duration)
    read: timedelta = setting(timedelta(seconds=20), parse_duration)
    total: timedelta = setting(timedelta(seconds=60), parse_duration)


@dataclass(frozen=True)
class DigestSettings:
    time: dt.time = setting(dt.time(7, 0), time_of_day)
    timezone: str = setting("UTC", time_zone)
    dir: Path = setting(Path("storage/digests"), file_path)
    atom_items: int = setting(100, whole(1))


@dataclass(frozen=True)
class DedupSettings:
    """Near-duplicate thresholds; the defaults are the measured ones in monitor/dedup.py."""

    jaccard: float = setting(DEFAULT_THRESHOLDS.jaccard, fraction(0, 1, above_low=True))
    containment: float = setting(DEFAULT_THRESHOLDS.containment, fraction(0, 1, above_low=True))
    min_shingles: int = setting(DEFAULT_THRESHOLDS.min_shingles, whole(1))


@dataclass(frozen=True)
class RetentionSettings:
    seen_items: timedelta = setting(timedelta(days=90), parse_duration)
    polls: timedelta = setting(timedelta(days=30), parse_duration)


@dataclass(frozen=True)
class Settings:
    database_url: str = setting(DEFAULT_DATABASE_URL, sql_url)
    user_agent: str = setting(
        "monitor/0.1 (news coverage monitor; +https://github.com/monitor-news/monitor)",
        contact_string,
    )
    default_interval: timedelta = setting(timedelta(minutes=15), parse_duration)
    min_interval: timedelta = setting(
        timedelta(minutes=5), parse_duration
    )  # bounds of `interval: auto`
    max_interval: timedelta = setting(timedelta(hours=6), parse_duration)
    max_backoff: timedelta = setting(timedelta(hours=6), parse_duration)
    jitter: float = setting(0.1, fraction(0, 0.5))  # fraction of the interval
    concurrency: int = setting(32, whole(1, 1024))
    # processes that parse and match fetched documents; "auto": one per core (at most 4), none
    # on a single core
    parse_workers: int | str = setting("auto", process_count)
    per_host: int = setting(2, whole(1, 64))
    min_host_delay: timedelta = setting(timedelta(seconds=0), parse_duration)
    timeouts: Timeouts = setting(Timeouts(), nested(Timeouts))
    max_body: int = setting(10 * 1024 * 1024, parse_size)
    max_items: int = setting(500, whole(1))
    retries: int = setting(2, whole(0, 10))
    allow_private_addresses: bool = setting(False, boolean)
    sitemap_window: timedelta = setting(timedelta(days=2), parse_duration)
    # a dead instance's sources are taken over after this
    lease: timedelta = setting(timedelta(minutes=5), parse_duration)
    # how often the service looks for due sources
    dispatch_interval: timedelta = setting(timedelta(seconds=5), parse_duration)
    # in-flight polls may finish within this
    shutdown_grace: timedelta = setting(timedelta(seconds=10), parse_duration)
    seed_dir: Path = setting(Path("storage/seed"), file_path)
    digest: DigestSettings = setting(DigestSettings(), nested(DigestSettings))
    dedup: DedupSettings = setting(DedupSettings(), nested(DedupSettings))
    retention: RetentionSettings = setting(RetentionSettings(), nested(RetentionSettings))


@dataclass(frozen=True)
class Selectors:
    """CSS selectors that read a listing page: one `item` per entry, the rest inside it."""

    item: str = setting(check=string)
    link: str = setting("a", string)
    title: str | None = setting(None, optional(string))
    summary: str | None = setting(None, optional(string))
    date: str | None = setting(None, optional(string))
    date_attr: str | None = setting(None, optional(string))
    date_format: str | None = setting(None, optional(string))


@dataclass(frozen=True)
class TopicConfig:
    """Matching rules of one topic; monitor/match.py documents each field."""

    terms: list[str] = setting(list, list_of(string))
    acronyms: list[str] = setting(list, list_of(string))
    exclude: list[str] = setting(list, list_of(string))
    require: list[str] = setting(list, list_of(string))
    near: int | None = setting(None, optional(whole(1)))
    weak: list[str] = setting(list, list_of(string))

    def check(self) -> None:
        if not self.terms and not self.acronyms:
            raise ValueError("a topic needs at least one of `terms` or `acronyms`")


SourceType = Literal["feed", "html", "sitemap"]


@dataclass(frozen=True)
class SourceConfig:
    name: str = setting(check=string_of_length(1, 200))
    url: str = setting(check=http_url)
    type: SourceType = setting("feed", one_of(*get_args(SourceType)))
    interval: timedelta | Literal["auto"] | None = setting(None, poll_interval)
    cron: str | None = setting(None, optional(crontab))
    enabled: bool = setting(True, boolean)
    fetch_article: bool = setting(False, boolean)
    selectors: Selectors | None = setting(None, optional(nested(Selectors)))
    headers: dict[str, str] = setting(dict, mapping_of(string))
    topics: list[str] | None = setting(None, optional(list_of(string)))
    language: str | None = setting(None, optional(string))
    conditional: bool = setting(True, boolean)
    ignore_robots: bool = setting(False, boolean)
    max_items: int | None = setting(None, optional(whole(1)))

    def check(self) -> None:
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


@dataclass(frozen=True)
class ConfigFile:
    settings: Settings = setting(Settings(), nested(Settings))
    topics: dict[str, TopicConfig] = setting(dict, mapping_of(nested(TopicConfig)))
    sources: list[SourceConfig] = setting(list, list_of(nested(SourceConfig)))


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
    for field in dataclasses.fields(Settings):
        name = field.name
        if dataclasses.is_dataclass(field.default):
            group: dict[str, Any] = {}
            for sub in dataclasses.fields(field.default):
                key = f"{ENV_PREFIX}{name}_{sub.name}".upper()
                if key in environ:
                    group[sub.name] = environ[key]
            if group:
                overrides[name] = group
            continue
        key = f"{ENV_PREFIX}{name}".upper()
        if key in environ:
            value: Any = environ[key]
            if field.metadata["check"] is boolean:
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
        parsed = build(ConfigFile, data)
    except _Problems as exc:
        problems = [_problem(loc, message, data, lines, name) for loc, message in exc.problems]
        problems += _raw_checks(data, lines, name)
        raise ConfigError(sorted(dict.fromkeys(problems), key=_line_of)) from None

    problems, warnings = _cross_checks(parsed, data, lines, name)
    if problems:
        raise ConfigError(sorted(dict.fromkeys(problems), key=_line_of))
    return Config(
        path=path or Path(name),
        settings=parsed.settings,
        topics=parsed.topics,
        sources=tuple(parsed.sources),
        warnings=tuple(warnings),
    )


def _problem(
    loc: tuple[Any, ...], message: str, data: Any, lines: Mapping[tuple[Any, ...], int], name: str
) -> str:
    """One problem as the user reads it: `sources.yaml:41: sources[3] 'nation': interval: ...`."""
    where = _where(lines, name, *loc)
    return f"{where}: {_describe(loc, data)}: {message}" if loc else f"{where}: {message}"


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
    parsed: ConfigFile, data: Mapping[str, Any], lines: Mapping[tuple[Any, ...], int], name: str
) -> tuple[list[str], list[str]]:
    """Rules that span fields: unique names, topics that exist, rules the matcher can compile."""
    problems = _raw_checks(data, lines, name)
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
        {
            name: {key: value for key, value in vars(topic).items() if value is not None}
            for name, topic in topics.items()
        }
    )
