"""The output stage needs no structlog: a subprocess with structlog impossible to import writes the golden bytes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.output.test_golden_lines import FORMATS, GOLDEN


def test_the_formats_need_no_structlog() -> None:
    """With structlog impossible to import, the writer still writes the golden bytes of every format."""
    script = (
        "import sys; sys.modules['structlog'] = None\n"
        "from tests.output.test_golden_lines import FORMATS, rendered\n"
        "sys.stdout.buffer.write(b''.join(rendered(f) for f in FORMATS))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, check=True, timeout=60)
    assert out.stdout == b"".join((GOLDEN / f"{fmt}.txt").read_bytes() for fmt in FORMATS)
