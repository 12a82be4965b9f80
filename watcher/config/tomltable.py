"""Reading one TOML table with type checks whose errors name the dotted key and say what is wrong."""

from __future__ import annotations

import difflib
import math
import re
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from watcher.config.duration import EXAMPLES, parse_duration
from watcher.config.problems import Problems
from watcher.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Collection

T = TypeVar("T")
S = TypeVar("S", bound=str)


def did_you_mean(name: str, known: Collection[str]) -> str:
    """A hint naming the closest known key, or listing them all."""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"


_TOML_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "table"}


def toml_type(kind: type, *, article: bool = False) -> str:
    """What TOML calls a Python type: the words a person editing the file knows."""
    name = _TOML_TYPES.get(kind, kind.__name__)
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}" if article else name


def described(value: object) -> str:
    """A value as an error shows it: its TOML type and a short repr."""
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"{toml_type(type(value))} {shown}"


class Table:
    """Reads one TOML table, type-checking each key; keys outside ``known`` are rejected up front."""

    def __init__(self, name: str, raw: object, known: Collection[str], problems: Problems | None = None) -> None:
        if not isinstance(raw, dict):
            raise ConfigError(name, "must be a table")
        self.name, self.raw = name, raw
        self.problems = Problems() if problems is None else problems
        # A typo must not fall back to a default silently, nor hide behind the error its default causes.
        for key in raw:
            if key not in known:
                self.problems.add(ConfigError(self.key(key), "unknown key" + did_you_mean(key, known)))

    def get(self, key: str, kind: type[T], default: T) -> T:
        """The value of ``key`` if present and of the right type, else the default."""
        if key not in self.raw:
            return default
        value = self.raw[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            wanted = toml_type(kind, article=True)
            raise ConfigError(self.key(key), f"must be {wanted}, got {described(value)}")
        return value

    def key(self, key: str) -> str:
        """The dotted name of a key in this section."""
        return f"{self.name}.{key}"


def choice(sec: Table, key: str, choices: tuple[S, ...], default: S) -> S:
    """A string that must be one of ``choices``, typed as the choice it is (a Literal for mypy)."""
    value = sec.get(key, str, default)
    for known in choices:
        if value == known:
            return known
    raise ConfigError(sec.key(key), f"must be one of {', '.join(choices)}; got {value!r}")


def seconds(sec: Table, key: str, default: float, *, zero_ok: bool = False) -> float:
    """A finite duration, positive (or zero when ``zero_ok``): a number of seconds or a string like ``"2m"``."""
    raw = sec.raw.get(key, default)
    if isinstance(raw, str):
        try:
            value = parse_duration(raw)
        except ValueError as exc:
            raise ConfigError(sec.key(key), str(exc)) from None
    elif isinstance(raw, bool) or not isinstance(raw, int | float):
        wanted = f"a number of seconds or a duration such as {EXAMPLES}"
        raise ConfigError(sec.key(key), f"must be {wanted}, got {described(raw)}")
    else:
        value = float(raw)
    if not math.isfinite(value):
        raise ConfigError(sec.key(key), f"must be a finite number, got {value}")
    if value < 0 or (value == 0 and not zero_ok):
        raise ConfigError(sec.key(key), f"must be {'>=' if zero_ok else '>'} 0, got {value}")
    return value


def positive_int(sec: Table, key: str, default: int) -> int:
    """An integer of at least 1."""
    value = sec.get(key, int, default)
    if value < 1:
        raise ConfigError(sec.key(key), f"must be >= 1, got {value}")
    return value


def url(sec: Table, key: str, *, required: bool) -> str:
    """An http(s) URL without credentials, query or fragment, trailing slash removed."""
    value = sec.get(key, str, "")
    if not value:
        if required:
            raise ConfigError(sec.key(key), "is required, e.g. 'https://dli.cn-north-4.myhuaweicloud.com'")
        return ""
    if "@" in value.partition("//")[2].partition("/")[0]:
        raise ConfigError(sec.key(key), "must not contain credentials; secrets go in [auth] *_env / *_file")
    try:
        parts = urlsplit(value)
        valid = parts.port is None or parts.port > 0  # .port raises ValueError when out of range
    except ValueError:
        valid = False
    if not valid or parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", value):
        raise ConfigError(sec.key(key), f"must be an http(s) URL, got {value!r}")
    if parts.query or parts.fragment:
        raise ConfigError(sec.key(key), f"must not have a query or fragment, got {value!r}")
    return value.rstrip("/")
