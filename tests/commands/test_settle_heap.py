"""The run command's step after its first cycle: the start's heap frozen out of full collections, once."""

from __future__ import annotations

import subprocess
import sys


def test_settle_heap_collects_then_freezes_once() -> None:
    """In a fresh process: cyclic garbage is collected first, the rest frozen; a second call changes nothing."""
    code = (
        "import gc, weakref\n"
        "from watcher.cli import settle_heap\n"
        "class C: pass\n"
        "a = C(); a.me = a; dead = weakref.ref(a); del a\n"
        "gc.disable()\n"
        "settle_heap(); first = gc.get_freeze_count()\n"
        "settle_heap(); print(dead() is None, first > 0, gc.get_freeze_count() == first)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["True", "True", "True"]
