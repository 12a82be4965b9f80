"""The tree drawn in ``watcher/errors.py``'s docstring is the class hierarchy: every class, each under its base."""

from __future__ import annotations

import inspect
import re

from watcher import errors

# a line of the drawing: the tree's guides, then a class name
_NODE = re.compile(r"^(?P<guides>[ │├└─]*)(?P<name>[A-Z]\w+)(?:\s|$)")


def drawn() -> dict[str, str | None]:
    """Each class the docstring draws, with the class it is drawn under (None for the root)."""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    lines = (errors.__doc__ or "").splitlines()
    start = lines.index("WatcherError")
    end = lines.index("", start)  # the drawing ends at the first blank line
    for line in lines[start:end]:
        match = _NODE.match(line)
        assert match is not None, line
        depth = len(match["guides"]) // 4
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match["name"]] = stack[-1][1] if stack else None
        stack.append((depth, match["name"]))
    return parents


def test_the_drawing_is_the_hierarchy() -> None:
    """Every WatcherError class in errors.py is drawn, under its real base; nothing else is drawn."""
    classes = {
        name: cls
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.WatcherError) and cls.__module__ == errors.__name__
    }
    real = {name: (None if cls is errors.WatcherError else cls.__bases__[0].__name__) for name, cls in classes.items()}
    assert drawn() == real


def test_config_api_and_setup_errors_are_apart() -> None:
    """The person's mistakes and the API's answers never share a branch: an except for one cannot catch the other."""
    api = {c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.ApiError)}
    assert not any(issubclass(c, (errors.ConfigError, errors.SetupError)) for c in api)
    assert not issubclass(errors.ConfigError, errors.SetupError) and not issubclass(
        errors.SetupError, errors.ConfigError
    )
