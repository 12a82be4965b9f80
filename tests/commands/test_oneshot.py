"""`wait`, `logs` and `ls` in process: exit codes by outcome, the grace, a missing endpoint, a log that won't page."""

from __future__ import annotations

import os

import pytest

from watcher.api.client import LogPage
from watcher.api.policy import RequestPolicy
from watcher.cli import main
from watcher.commands.follow import read_history
from watcher.config.settings import ApiConfig
from watcher.core.model import Snapshot
from watcher.core.outcome import EXIT_CODES, exit_code, final_outcome
from watcher.core.tracker import Track

# --- the pure part: outcomes and exit codes -------------------------------------------------------------


def test_exit_code_is_the_most_severe_outcome():
    """3 before 4 before 5 before 6; all succeeded is 0."""
    assert exit_code(["succeeded", "succeeded"]) == 0
    assert exit_code(["timed_out", "not_found", "killed"]) == EXIT_CODES["killed"] == 4
    assert exit_code(["timed_out", "failed", "killed"]) == 3
    assert exit_code(["timed_out", "not_found"]) == 5
    assert exit_code(["succeeded", "timed_out"]) == 6


def test_dead_is_final_only_after_the_grace_where_it_can_be_revived():
    """DLI's dead waits out the grace; Livy's is final at once; a batch not found is final at once."""
    dead = Track("b", presence="present", snapshot=Snapshot("b", "dead", "dead"), terminal_at=100.0)
    assert final_outcome(dead, 101.0, 5.0, revivable=True) is None
    assert final_outcome(dead, 106.0, 5.0, revivable=True) == "failed"
    assert final_outcome(dead, 101.0, 5.0, revivable=False) == "failed"
    assert final_outcome(Track("b", presence="not_found"), 0.0, 5.0, revivable=True) == "not_found"


# --- wait -----------------------------------------------------------------------------------------------


def test_a_missing_endpoint_names_the_flag_and_the_variable(monkeypatch, capsys):
    """Without a config file or an endpoint, the error says which flag or variable to set."""
    for name in [n for n in os.environ if n.startswith("DLI_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DLI_WATCHER_CONFIG", "/nonexistent/config.toml")
    code = main(["wait", "x"])
    assert code == 2
    assert "--endpoint / $DLI_WATCHER_ENDPOINT" in capsys.readouterr().err


# --- ls -------------------------------------------------------------------------------------------------


class LyingLog:
    """A log endpoint that answers every page with the first one and claims an endless log."""

    def __init__(self) -> None:
        self.calls = 0

    async def log(self, batch_id: str, start: int | None, size: int, log_type: str | None = None) -> LogPage:
        """Whatever was asked, the first page."""
        del batch_id, start, log_type
        self.calls += 1
        return LogPage(0, 10**12, tuple(f"line {n}" for n in range(size)))


@pytest.mark.anyio
async def test_a_log_endpoint_that_does_not_page_is_read_once_not_for_ever():
    """`from` not what was asked: the history stops there, instead of a million repeated lines."""
    api = LyingLog()
    shown: list[tuple[str, str]] = []
    history = await read_history(api, RequestPolicy(ApiConfig(), 1), "b", shown.extend)  # type: ignore[arg-type]
    assert api.calls == 2
    assert [line for _, line in shown] == [f"line {n}" for n in range(1000)]
    assert history.lines == 1000 and "asked for line 1000" in history.cut
