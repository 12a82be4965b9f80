"""The per-batch /metrics render alone, this checkout against another revision's, in one process.

    python tests/bench/exposition_render.py [--batches 100000] [--against HEAD] [--modes compact all] [--repeat 7]

Both ``watcher/metrics/exposition.py`` (the working tree's and the one ``git show REV:`` gives) render
the same N batches of ``pages.py``'s fleet (every batch running or just finished, its fields read), warm
(each batch's cache entry made by a first render), interleaved, ``--repeat`` times each. Printed: the
best and median CPU seconds per render and the ratio of this checkout to the other; the text must be
the same byte for byte, or the bench says so and exits 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pages import fleet

from watcher.core.states import FLAVOR_STATES
from watcher.metrics import exposition

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def module_at(rev: str, workdir: Path) -> ModuleType:
    """The exposition module as revision ``rev`` has it, imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{rev}:watcher/metrics/exposition.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    path = workdir / "exposition_other.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("exposition_other", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main() -> int:
    """Render with both modules, print the times and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=100_000)
    parser.add_argument("--against", default="HEAD")
    parser.add_argument("--modes", nargs="+", default=["compact"])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    now = time.time()
    tracks = list(fleet(args.batches, now)[0].values())
    code = 0
    with tempfile.TemporaryDirectory() as workdir:
        other = module_at(args.against, Path(workdir))
        for mode in args.modes:
            texts = {
                name: module.BatchText(module.BatchView(mode, FLAVOR_STATES["dli"]))
                for name, module in (("this", exposition), (args.against, other))
            }
            outputs = {name: text.render(tracks, now) for name, text in texts.items()}
            if len(set(outputs.values())) != 1:
                print(f"{mode}: the two renders differ")
                code = 1
            times: dict[str, list[float]] = {name: [] for name in texts}
            for _ in range(args.repeat):
                for name, text in texts.items():
                    start = time.process_time()
                    text.render(tracks, now)
                    times[name].append(time.process_time() - start)
            for name, seen in times.items():
                print(f"{mode:>8} {name:>10}: best {min(seen):.3f} s, median {statistics.median(seen):.3f} s")
            ratio = min(times["this"]) / min(times[args.against])
            median = statistics.median(times["this"]) / statistics.median(times[args.against])
            said = f"{ratio:.2f}x best, {median:.2f}x median ({args.batches:,} batches)"
            print(f"{mode:>8} this / {args.against}: {said}")
    return code


if __name__ == "__main__":
    sys.exit(main())
