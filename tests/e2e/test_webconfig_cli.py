"""``dli-watcher run`` with a bad web config file exits 2 with one line naming the key."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def web_file(directory: Path, text: str) -> str:
    path = directory / "web.yml"
    path.write_text(text)
    return str(path)


def test_run_with_a_bad_web_config_exits_2_naming_the_key(tmp_path):
    """``dli-watcher run`` with a web config typo exits 2 with one line naming the key and the file."""
    web = web_file(tmp_path, "tls_server_config:\n  cert_fil: x\n")
    config = tmp_path / "config.toml"
    config.write_text(
        '[api]\nflavor = "livy"\nendpoint = "http://127.0.0.1:9"\n[watch]\nbatch_ids = ["1"]\n'
        f'[metrics]\nlisten = "127.0.0.1:0"\nweb_config_file = "{web}"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "watcher", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"dli-watcher: config error: tls_server_config.cert_fil ({web}): unknown key (did you mean 'cert_file'?)"
    ]
