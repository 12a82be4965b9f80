"""How a batch's log is laid out: section markers by their shape, the layout a log shows, and its sections.

Three layouts are served (the Livy source of each version, ``SparkYarnApp.log()`` and since 0.9
``SparkKubernetesApp.log()``, is where they come from):

- ``sectioned``: ``stdout: `` / lines / ``stderr: `` / lines / a diagnostics header / lines. Livy >= 0.4
  prefixes the last two markers with a newline, DLI does not; the header is ``YARN Diagnostics: ``, or
  ``Kubernetes Diagnostics: `` for Livy on Kubernetes.
- ``local``: Livy >= 0.4 without YARN (``SparkProcApp.log()``, local or standalone Spark): ``stdout: `` / lines /
  the newline-prefixed ``stderr: `` / lines, and no diagnostics at all.
- ``legacy``: Livy <= 0.3 has no stdout/stderr markers: the process output, then, only while YARN reports
  diagnostics, a bare ``YARN Diagnostics:`` (no newline, no trailing space) and the diagnostics.
- ``plain``: no marker seen yet; the whole log is one ``log`` stream.

A window that shows the stderr marker shows everything after it, and YARN and Kubernetes always
follow stderr with their header: so such a window tells ``sectioned`` from ``local`` for sure, and
the layout is the one the last such window showed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence

Layout = Literal["plain", "legacy", "sectioned", "local"]
# the layouts with stdout and stderr markers
MARKED: tuple[Layout, ...] = ("sectioned", "local")
WINDOW_SIZE = 10
STREAMS = ("stdout", "stderr", "diagnostics")
# every stream a line can be reported in, in the order a log lays them out
ORDER = ("log", *STREAMS)
# a header by its shape, not one spelling: "YARN Diagnostics:", "Kubernetes Diagnostics:", and whichever comes next
_DIAGNOSTICS = re.compile(r"[A-Z][A-Za-z]* Diagnostics:")
_OUTPUT = {"stdout:": "stdout", "stderr:": "stderr"}


@dataclass(frozen=True, slots=True)
class Section:
    """The lines of one stream visible in a window; ``starts`` when its beginning is visible too."""

    stream: str
    lines: tuple[str, ...]
    starts: bool


def marker(line: str) -> str | None:
    """The stream a marker line opens (whatever whitespace surrounds it), else None."""
    text = line.strip()
    return _OUTPUT.get(text) or ("diagnostics" if _DIAGNOSTICS.fullmatch(text) else None)


def _bare_header(line: str) -> bool:
    """Livy <= 0.3's header: a diagnostics header with nothing around it; every later version pads it."""
    return line == line.strip() and marker(line) == "diagnostics"


def layout_of(previous: Layout, lines: Sequence[str]) -> Layout:
    """The layout once ``lines`` are seen.

    No marker: as before. A stderr marker with no header after it: local. Bare headers alone, before
    any output marker was seen: legacy. Any other marker: sectioned.
    """
    found = [marker(line) for line in lines if marker(line)]
    if not found:
        return previous
    if "stderr" in found and "diagnostics" not in found[len(found) - found[::-1].index("stderr") :]:
        return "local"
    if previous not in MARKED and all(_bare_header(line) for line in lines if marker(line)):
        return "legacy"
    return "sectioned"


def _before(first: str, layout: Layout) -> str:
    """The stream of lines above a window's first marker: the one laid out before it."""
    if first == "diagnostics" and layout != "sectioned":
        return "log"  # Livy <= 0.3: above the header is the process output
    return {"stdout": "log", "stderr": "stdout", "diagnostics": "stderr"}[first]


def split_window(window: Sequence[str], layout: Layout, complete: bool, unmarked: str = "log") -> list[Section]:
    """Split a window into sections; a window without any marker is one section of stream ``unmarked``."""
    positions = [i for i, line in enumerate(window) if marker(line)]
    if not positions:
        return [Section(unmarked, tuple(window), complete)] if window else []
    sections = []
    head = tuple(window[: positions[0]])
    if head:
        sections.append(Section(_before(marker(window[positions[0]]) or "log", layout), head, starts=complete))
    for n, pos in enumerate(positions):
        end = positions[n + 1] if n + 1 < len(positions) else len(window)
        sections.append(Section(marker(window[pos]) or "log", tuple(window[pos + 1 : end]), True))
    return sections


def output_stream(layout: Layout) -> str:
    """The stream the job's own output is reported in."""
    return "stdout" if layout in MARKED else "log"


def output_hidden(sections: Sequence[Section], layout: Layout, complete: bool) -> bool:
    """Whether a marked log's window shows nothing of the job's output: it starts inside a later section.

    A ``complete`` window (shorter than the API's 10 lines) shows the log from its start: an output
    without lines is empty, not hidden.
    """
    if layout == "plain" or complete or not sections:
        return False
    return not any(s.stream in ("stdout", "log") for s in sections)


def stream_rank(stream: str) -> int:
    """Where a stream sits in the log, for putting lines of several streams in order."""
    return ORDER.index(stream) if stream in ORDER else len(ORDER)


def interleave(lines: Sequence[tuple[str, str]], gaps: Sequence[str]) -> list[tuple[str, str | None]]:
    """A poll's ``(stream, line)`` lines with a ``(stream, None)`` for each of ``gaps`` where its lines are missing.

    Missed lines of a stream precede the lines the poll found after them and follow the lines of the
    streams laid out before it: a gap goes before the first line of its stream or of a later one.
    """
    out: list[tuple[str, str | None]] = []
    pending = list(gaps)
    for stream, line in lines:
        if pending:
            rank = stream_rank(stream)
            due = [gap for gap in pending if gap == stream or stream_rank(gap) < rank]
            out += [(gap, None) for gap in due]
            pending = [gap for gap in pending if gap not in due]
        out.append((stream, line))
    return out + [(gap, None) for gap in pending]
