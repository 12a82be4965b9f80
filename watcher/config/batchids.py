"""Batch IDs: validation per API flavor, and the one-ID-per-line file re-read on SIGHUP."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from watcher.core.flavor import BY_NAME
from watcher.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from watcher.core.vocabulary import FlavorName


def _add(seen: dict[str, None], item: str, flavor: FlavorName, key: str, where: str, also: str = "") -> None:
    """Validate one ID and add it to ``seen``; errors name ``key`` and say where the ID came from."""
    if not BY_NAME[flavor].valid_id(item):
        raise ConfigError(key, f"{where}{item!r} is not a valid {flavor} batch ID")
    if item in seen:
        raise ConfigError(key, f"{where}duplicate batch ID {item!r}{also}")
    seen[item] = None


def parse_batch_ids(lines: list[str], flavor: FlavorName, key: str) -> tuple[str, ...]:
    """Validate batch IDs for the flavor; duplicates and malformed IDs are errors naming ``key[n]``."""
    seen: dict[str, None] = {}
    for n, item in enumerate(lines):
        _add(seen, item, flavor, f"{key}[{n}]", "")
    return tuple(seen)


def _numbered_ids(path: str) -> Iterator[tuple[int, str]]:
    """(line number, ID) for each ID in the file; blank lines and ``#`` comments are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("watch.batch_ids_file", f"cannot read {path!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError("watch.batch_ids_file", f"{path!r} is not UTF-8 text") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        item = line.split("#", 1)[0].strip()
        if item:
            yield lineno, item


def merge_file_ids(listed: tuple[str, ...], path: str, flavor: FlavorName) -> tuple[str, ...]:
    """The listed IDs plus the file's; a bad or repeated ID names the file and its line."""
    seen = dict.fromkeys(listed)
    for lineno, item in _numbered_ids(path):
        also = " (also in watch.batch_ids)" if item in listed else ""
        _add(seen, item, flavor, "watch.batch_ids_file", f"{path!r} line {lineno}: ", also)
    return tuple(seen)
