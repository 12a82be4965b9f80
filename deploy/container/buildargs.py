#!/usr/bin/env python3
"""Check the image's VERSION and REVISION build arguments before the wheel is built with VERSION as its version.

The Containerfile runs this in its builder stage; tests/test_release.py runs it the same way. It exits 1 with
one line naming the fix when the pair would mislabel the image: above all, a plain ``X.Y.Z`` with no
REVISION would read as the tagged release ``X.Y.Z`` (``dli_watcher_build_info{revision=""}``).
Usage: ``python3 buildargs.py VERSION [REVISION]``.
"""

from __future__ import annotations

import re
import sys

# PEP 440, the forms setuptools-scm writes: 1.2.3, 1.2.3rc1, 1.3.0.dev4+g1a2b3c4(.d20261207), 0.0.0+unknown
VERSION = re.compile(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9]+(\.[a-z0-9]+)*)?")
RELEASE = re.compile(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?")
REVISION = re.compile(r"[0-9a-f]{7,40}")
HASH = re.compile(r"\+g([0-9a-f]+)")


def problem(version: str, revision: str) -> str:
    """What is wrong with the pair, or "" when the image may be built as ``version``."""
    if not VERSION.fullmatch(version):
        return f"VERSION {version!r} is not a version: give what `python -m setuptools_scm` prints"
    if revision and not REVISION.fullmatch(revision):
        return f"REVISION {revision!r} is not a git commit: give `git rev-parse HEAD`"
    return _mislabelled(version, revision)


def _mislabelled(version: str, revision: str) -> str:
    """Whether a well-formed pair would make the image claim to be something it is not."""
    if "+" not in version:
        if not RELEASE.fullmatch(version):
            return f"VERSION {version} is a dev version without its commit: give the whole setuptools-scm version"
        if not revision:
            return f"VERSION {version} without REVISION would read as the tagged release: give `git rev-parse HEAD`"
        return ""
    found = HASH.search(version)
    if found and revision and not revision.startswith(found.group(1)):
        return f"VERSION {version} was built at commit {found.group(1)}, not REVISION {revision}"
    return ""


def main(argv: list[str]) -> int:
    """Exit 0 for a usable pair; 1 with the reason on stderr otherwise."""
    if len(argv) not in (1, 2):
        sys.stderr.write("usage: buildargs.py VERSION [REVISION]\n")
        return 1
    version, revision = argv[0], argv[1] if len(argv) == 2 else ""
    reason = problem(version, revision)
    if reason:
        sys.stderr.write(f"dli-watcher image: {reason}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
