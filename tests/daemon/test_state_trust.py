"""The state file trusts no other user: foreign or shared files and open directories are refused, before opening."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from watcher.commands.preflight import state_file
from watcher.daemon.store import Store


def _chmod(path: Path, mode: int) -> None:
    if not path.exists():
        path.write_bytes(b"")
    path.chmod(mode)


@pytest.mark.parametrize(
    ("name", "mode", "words"),
    [
        ("state.db", 0o664, "writable by group"),
        ("state.db-wal", 0o646, "writable by others"),
        ("state.db.lock", 0o666, ".lock"),
        (".", 0o777, "writable by others without the sticky bit"),
    ],
)
def test_shared_files_and_open_directories_are_refused(tmp_path: Path, name: str, mode: int, words: str):
    """Writable by group or others, or in a directory anyone may replace files in: refused, before opening."""
    directory = tmp_path / "d"
    directory.mkdir(mode=0o700)
    state = directory / "state.db"
    store, _ = Store.open(str(state))
    store.close()
    _chmod(directory / name, mode)
    with pytest.raises(Exception, match=words) as caught:
        Store.open(str(state))
    assert type(caught.value).__name__ == "SetupError"
    assert state_file(str(state)).status == "failed"


def test_new_files_are_private_and_a_group_directory_of_ours_is_fine(tmp_path: Path):
    """State and lock files are created 0600; a root-owned group-writable directory of our group is trusted."""
    directory = tmp_path / "volume"
    directory.mkdir()
    directory.chmod(0o2770)  # the Kubernetes fsGroup volume: group-writable, setgid, our group
    os.chown(directory, 0, os.getegid())
    state = directory / "state.db"
    store, _ = Store.open(str(state))
    store.close()
    for name in (state, Path(f"{state}.lock")):
        assert stat.S_IMODE(os.stat(name).st_mode) == 0o600, name
