"""Real public Livy and DLI answers replayed through decoding, the log diff, the backfill and the tracker.

Each file in ``tests/corpus/`` holds published payloads with their ``source``, a ``label`` saying how
real they are (``captured``: published verbatim; ``composite``: real payloads of one batch chained;
``derived``: built from a server's source or documented layout, never presented as captured), what
they exercise, and the events each replay must give. ``tests/corpus/README.md`` tables them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from watcher.api.client import LogPage, error_from_response
from watcher.api.policy import RequestPolicy
from watcher.config.settings import ApiConfig
from watcher.core.flavor import BY_NAME
from watcher.core.loglayout import marker
from watcher.core.model import decode_snapshot
from watcher.core.tracker import Track, observe
from watcher.daemon.backfill import LogReader
from watcher.errors import NotFoundError, TransientApiError

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
FILES = sorted(CORPUS.glob("*.json"))
LABELS = {"captured", "composite", "derived"}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def replays() -> list[Any]:
    return [
        pytest.param(load(path), replay, id=f"{path.stem}[{replay['batch_id']}]")
        for path in FILES
        for replay in load(path).get("replays", [])
    ]


def details(payload: dict[str, Any], batch_id: str) -> dict[str, Any]:
    """A poll's answer: the payload itself, or this batch's item of a list page."""
    if "sessions" not in payload:
        return payload
    return next(s for s in payload["sessions"] if str(s["id"]) == batch_id)


class PublishedLog:
    """A log endpoint answering the case's /log payloads in turn (the last one again); none: not found."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers, self.reads = answers, 0

    async def log(self, batch_id: str, start: int | None, size: int, log_type: str | None = None) -> LogPage:  # noqa: ARG002
        self.reads += 1
        if not self.answers:
            raise NotFoundError("no published /log answer")
        body = self.answers[min(self.reads, len(self.answers)) - 1]
        return LogPage(body["from"], body["total"], tuple(body["log"][-size:]))


async def replay(case: dict[str, Any], spec: dict[str, Any]) -> tuple[list[Any], int]:
    """Feed the polls through decode -> LogReader -> tracker, 15 s apart; the events and the /log reads."""
    bid, payloads = spec["batch_id"], case["payloads"]
    endpoint = PublishedLog([payloads[i] for i in spec.get("log_endpoint", [])])
    reader = LogReader(endpoint, RequestPolicy(ApiConfig(endpoint="http://corpus.invalid"), 1), enabled=True)
    track, events = Track(bid), []
    for n, index in enumerate(spec["polls"]):
        snap = decode_snapshot(details(payloads[index], bid), spec.get("state_map"))
        now = 1_700_000_000.0 + 15 * n
        log = await reader.diff(track, snap, now)
        track, new = observe(track, snap, now, log)
        events += new
    return events, endpoint.reads


def test_the_corpus_is_labelled_and_sourced():
    """Every file says where it comes from and how real it is; both flavours and 15+ payloads are there."""
    cases = [load(path) for path in FILES]
    for path, case in zip(FILES, cases, strict=True):
        assert case["label"] in LABELS, path.name
        assert case["source"] and case["exercises"] and case["payloads"], path.name
    assert {case["flavor"] for case in cases} == {"dli", "livy"}
    assert sum(len(case["payloads"]) for case in cases) >= 15
    assert {"captured", "composite", "derived"} <= {case["label"] for case in cases}


def test_the_readme_tables_every_file():
    """tests/corpus/README.md has a row per payload file, with its label."""
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for path in FILES:
        row = next((line for line in readme.splitlines() if f"`{path.name}`" in line), "")
        assert f"| {load(path)['label']} |" in row, path.name


@pytest.mark.parametrize(("case", "spec"), replays())
def test_each_replayed_batch_can_be_watched(case, spec):
    """The replay's batch ID is one the config accepts for its flavour, and every polled answer is that batch's."""
    flavor = BY_NAME[case["flavor"]]
    bid = spec["batch_id"]
    assert flavor.valid_id(bid)
    for index in spec["polls"]:
        answered = decode_snapshot(details(case["payloads"][index], bid)).batch_id
        assert flavor.answer_id_matches(bid, answered)


@pytest.mark.anyio
@pytest.mark.parametrize(("case", "spec"), replays())
async def test_replay_gives_the_expected_events(case, spec):
    """Each line once, in order, in its stream; gaps, states and the finish as the payloads imply."""
    events, reads = await replay(case, spec)
    expect = spec["expect"]
    logged = [[e.fields["stream"], e.fields["line"]] for e in events if e.name == "batch.log"]
    assert logged == expect["log"]
    assert [e.fields["stream"] for e in events if e.name == "batch.log_gap"] == expect["gaps"]
    assert [e.fields["to_state"] for e in events if e.name == "batch.state_changed"] == expect["states"]
    finished = [{k: e.fields[k] for k in ("outcome", "duration_seconds")} for e in events if e.name == "batch.finished"]
    assert finished == ([expect["finished"]] if expect["finished"] else [])
    if "log_reads" in expect:
        assert reads == expect["log_reads"]
    assert not [line for _, line in logged if marker(line)], "a section header was reported as a line"


@pytest.mark.parametrize("path", [p for p in FILES if "errors" in load(p)], ids=lambda p: p.stem)
def test_error_answers_are_classified(path):
    """Error bodies map to the documented class: transient ones are retried."""
    case = load(path)
    for error in case["errors"]:
        body = json.dumps(case["payloads"][error["payload"]]).encode()
        err = error_from_response(error["status"], body, None)
        assert isinstance(err, TransientApiError) == error["transient"]
