"""Each config key declared once: its parser, default, documentation line, reload class and old names.

A key is declared on its dataclass field (``key(...)`` puts a ``Decl`` in the field's metadata);
parsing, the reload classification and the tests of the README and config.example.toml read it there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from watcher.config.tomltable import Table, choice, positive_int, seconds
from watcher.errors import ConfigError

if TYPE_CHECKING:
    from watcher.config.problems import Problems
    from watcher.core.vocabulary import FlavorName

T = TypeVar("T")
S = TypeVar("S", bound=str)
Env = Mapping[str, str]
# applied: a reload applies it; lowered: applied when lowered, raised it needs a restart; restart: needs a restart
Reload = Literal["applied", "lowered", "restart"]
RELOADS: tuple[Reload, ...] = ("applied", "lowered", "restart")


@dataclass(frozen=True, slots=True)
class Ctx:
    """What a key's parser may need besides its table: the environment and what was parsed before it."""

    env: Env
    offline: bool
    flavor: FlavorName = "dli"
    problems: Problems | None = None  # for a key whose items are each a problem of their own
    values: dict[str, Any] = field(default_factory=dict)  # the section's values parsed so far


Parser = Callable[[Table, str, Any, Ctx], Any]


@dataclass(frozen=True, slots=True)
class Decl:
    """One config key: how it is read, its default as the file writes it, what it does and what a reload does."""

    parse: Parser
    doc: str
    reload: Reload
    name: str = ""  # the key in the file; empty: the field's name
    default: Any = None  # the default handed to the parser (as the file would write it)
    aliases: tuple[str, ...] = ()  # dotted old names (or exporter-toolkit flag names) still read, deprecated
    fields: tuple[str, ...] = ()  # the fields one key fills (metrics.listen: host and port); empty: its own
    late: bool = False  # parsed after the section's other keys (it reads their values)
    file_keys: tuple[str, ...] = ()  # the keys the file spells it with ("{}_env": name_env), when not ``name``


def key(
    default: T,
    parse: Parser,
    doc: str,
    reload: Reload,
    *,
    name: str = "",
    file_default: object = MISSING,
    aliases: tuple[str, ...] = (),
    fields: tuple[str, ...] = (),
    late: bool = False,
    file_keys: tuple[str, ...] = (),
    repr: bool = True,  # noqa: A002 - dataclasses.field's own name
) -> T:
    """A dataclass field declaring its config key (the field's default is the key's unless ``file_default``)."""
    given = default if file_default is MISSING else file_default
    decl = Decl(parse, doc, reload, name, given, aliases, fields, late, file_keys)
    made: T = field(default=default, repr=repr, metadata={"key": decl})
    return made


def key_factory(factory: Callable[[], T], parse: Parser, doc: str, reload: Reload, file_default: object) -> T:
    """A declared field whose default is built (a mutable or non-hashable default)."""
    decl = Decl(parse, doc, reload, "", file_default)
    made: T = field(default_factory=factory, metadata={"key": decl})
    return made


def part_of(default: T, owner: str) -> T:
    """A field filled by another field's key (metrics.port by metrics.listen)."""
    made: T = field(default=default, metadata={"part_of": owner})
    return made


def declared(cls: type) -> list[tuple[Field[Any], Decl]]:
    """The declared fields of a config section, with their key names filled in."""
    out = []
    for f in fields(cls):
        decl = f.metadata.get("key")
        if decl is not None:
            out.append((f, decl if decl.name else replace(decl, name=f.name)))
    return out


def key_of(cls: type, field_name: str) -> str:
    """The file key that sets a field (the owner's for a field another key fills)."""
    for f in fields(cls):
        if f.name == field_name:
            owner = f.metadata.get("part_of")
            if owner is not None:
                return key_of(cls, owner)
            decl = f.metadata.get("key")
            return decl.name or f.name if decl is not None else f.name
    return field_name


def file_keys(cls: type) -> list[str]:
    """Every key a section's table accepts (a secret's ``*_env`` and ``*_file`` instead of its name)."""
    return [k.format(decl.name) for _, decl in declared(cls) for k in (decl.file_keys or (decl.name,))]


def parse_section(sec: Table, cls: type, ctx: Ctx, problems: Problems) -> dict[str, Any]:
    """Every declared key of ``cls`` read from ``sec``; a failed key is left out (its field keeps the default)."""
    decls = declared(cls)
    for f, decl in [*(d for d in decls if not d[1].late), *(d for d in decls if d[1].late)]:
        with problems.guard():
            value = decl.parse(sec, decl.name, decl.default, ctx)
            if decl.fields:
                ctx.values.update(zip(decl.fields, value, strict=True))
            else:
                ctx.values[f.name] = value
    return ctx.values


# the parsers most keys share: (table, key, default, context) -> value


def text(sec: Table, name: str, default: Any, ctx: Ctx) -> str:
    """A string."""
    value: str = sec.get(name, str, default)
    return value


def flag(sec: Table, name: str, default: Any, ctx: Ctx) -> bool:
    """A boolean."""
    value: bool = sec.get(name, bool, default)
    return value


def count(sec: Table, name: str, default: Any, ctx: Ctx) -> int:
    """An integer of at least 1."""
    return positive_int(sec, name, default)


def duration(sec: Table, name: str, default: Any, ctx: Ctx) -> float:
    """A positive duration."""
    return seconds(sec, name, default)


def duration0(sec: Table, name: str, default: Any, ctx: Ctx) -> float:
    """A duration of zero or more."""
    return seconds(sec, name, default, zero_ok=True)


def one_of(choices: tuple[S, ...]) -> Parser:
    """One of ``choices``."""
    return lambda sec, name, default, ctx: choice(sec, name, choices, default)


def by_auth(sec: Table, name: str, default: Any, ctx: Ctx) -> str:
    """An [auth] key: read by ``credentials.parse_auth`` (the method decides which are needed), never here."""
    raise NotImplementedError(name)  # pragma: no cover - parse_auth reads [auth]


@dataclass(frozen=True, slots=True)
class Deprecated:
    """A key given by an old name: read as ``key``, and said once as a ``watcher.deprecated_key`` warning."""

    key: str
    alias: str

    @property
    def message(self) -> str:
        """What to change."""
        return f"{self.alias} is an old name of {self.key}: rename it (the old name will stop working)"


def aliases(sections: Mapping[str, type]) -> dict[str, str]:
    """Every declared old name, dotted, to the key it means."""
    out = {}
    for section, cls in sections.items():
        for _, decl in declared(cls):
            out.update(dict.fromkeys(decl.aliases, f"{section}.{decl.name}"))
    return out


def resolve_aliases(
    data: Mapping[str, Any], sections: Mapping[str, type], problems: Problems
) -> tuple[dict[str, Any], list[Deprecated]]:
    """The document with each key given by an old name moved to its key, and the old names that were used."""
    doc = {name: dict(table) if isinstance(table, dict) else table for name, table in data.items()}
    used = []
    for alias, target in aliases(sections).items():
        found, value = _pop(doc, alias.split("."))
        if not found:
            continue
        section, name = target.split(".", 1)
        table = doc.setdefault(section, {})
        if not isinstance(table, dict):
            continue  # "must be a table" is said when the section is read
        if name in table:
            problems.add(ConfigError(alias, f"cannot be set with {target} (it is that key's old name)"))
            continue
        table[name] = value
        used.append(Deprecated(target, alias))
    return doc, used


def _pop(doc: dict[str, Any], path: list[str]) -> tuple[bool, Any]:
    """Remove the value at ``path`` from nested tables, dropping tables it leaves empty."""
    head, *rest = path
    if head not in doc:
        return False, None
    if not rest:
        return True, doc.pop(head)
    inner = doc[head]
    if not isinstance(inner, dict):
        return False, None
    inner = dict(inner)
    found, value = _pop(inner, rest)
    if found:
        if inner:
            doc[head] = inner
        else:
            del doc[head]
    return found, value
