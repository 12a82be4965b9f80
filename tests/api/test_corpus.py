"""Real public Livy and DLI answers, as recordings, replayed through the daemon's poller, decoder, backfill and tracker.

Each file in ``tests/corpus/`` is a recording (the format ``dli-watcher replay`` reads) whose header
keeps, under ``case``, the published payloads' ``source``, a ``label`` saying how real they are
(``captured``: published verbatim; ``composite``: real payloads of one batch chained; ``derived``:
built from a server's source or documented layout, never presented as captured), what they exercise,
and the events the replay must give. ``tests/corpus/README.md`` tables them; ``tests/corpus/convert.py``
turns a case of the older JSON shape into recordings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.helpers import make_config, start_watch
from watcher.api.client import error_from_response
from watcher.api.recordfile import read_recording
from watcher.core.log.layout import marker
from watcher.core.recordformat import Exchange
from watcher.daemon.replay import replay
from watcher.errors import TransientApiError
from watcher.simulator import SimServer, World
from watcher.simulator.replayserver import ReplayApp

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
FILES = sorted(CORPUS.glob("*.jsonl"))
LABELS = {"captured", "composite", "derived"}


def case_of(path: Path) -> dict[str, Any]:
    """The header's ``case``: source, label, exercises, and what the replay must give."""
    header = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    return header["case"] | {"flavor": header["flavor"]}  # type: ignore[no-any-return]


def answers(path: Path) -> list[Exchange]:
    """The recording's exchanges that carry a payload (not the 404s standing for an absent /log)."""
    _, items = read_recording(str(path))
    exchanges = [x for x in items if isinstance(x, Exchange)]
    return [x for x in exchanges if x.status < 300 or not x.path.endswith("/log")]


def test_the_corpus_is_labelled_and_sourced():
    """Every file says where it comes from and how real it is; both flavours and 15+ distinct payloads are there."""
    cases = [case_of(path) for path in FILES]
    for path, case in zip(FILES, cases, strict=True):
        assert case["label"] in LABELS, path.name
        assert case["source"] and case["exercises"], path.name
        assert answers(path), path.name
    assert {case["flavor"] for case in cases} == {"dli", "livy"}
    assert len({x.body for path in FILES for x in answers(path)}) >= 15
    assert {"captured", "composite", "derived"} <= {case["label"] for case in cases}


def test_the_readme_tables_every_file():
    """tests/corpus/README.md has a row per recording, with its label."""
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for path in FILES:
        row = next((line for line in readme.splitlines() if f"`{path.name}`" in line), "")
        assert f"| {case_of(path)['label']} |" in row, path.name


REPLAYS = [p for p in FILES if "expect" in case_of(p)]


@pytest.mark.anyio
@pytest.mark.parametrize("path", REPLAYS, ids=lambda p: p.stem)
async def test_replay_gives_the_expected_events(path):
    """Each line once, in order, in its stream; gaps, states and the finish as the payloads imply."""
    header, items = read_recording(str(path))
    outcome = await replay(header, items)
    events, expect = outcome.events, case_of(path)["expect"]
    assert outcome.divergences == []
    logged = [[e.fields["stream"], e.fields["line"]] for e in events if e.name == "batch.log"]
    assert logged == expect["log"]
    assert [e.fields["stream"] for e in events if e.name == "batch.log_gap"] == expect["gaps"]
    assert [e.fields["to_state"] for e in events if e.name == "batch.state_changed"] == expect["states"]
    finished = [{k: e.fields[k] for k in ("outcome", "duration_seconds")} for e in events if e.name == "batch.finished"]
    assert finished == ([expect["finished"]] if expect["finished"] else [])
    if "log_reads" in expect:
        served = sum(1 for x in items if isinstance(x, Exchange) and x.path.endswith("/log"))
        unused = sum(1 for u in outcome.unused if u.endswith("/log"))
        assert served - unused == expect["log_reads"]
    assert not [line for _, line in logged if marker(line)], "a section header was reported as a line"


@pytest.mark.parametrize("path", [p for p in FILES if "errors" in case_of(p)], ids=lambda p: p.stem)
def test_error_answers_are_classified(path):
    """Error bodies map to the documented class: transient ones are retried."""
    _, items = read_recording(str(path))
    exchanges = [x for x in items if isinstance(x, Exchange)]
    for error, ex in zip(case_of(path)["errors"], exchanges, strict=True):
        assert ex.status == error["status"]
        err = error_from_response(ex.status, ex.body, None)
        assert isinstance(err, TransientApiError) == error["transient"]


LIVE = ["livy-hdinsight-starting-then-success.jsonl", "dli-derived-markerless-backfill.jsonl"]


@pytest.mark.anyio
@pytest.mark.parametrize("name", LIVE)
async def test_a_case_served_live_gives_the_expected_lines_and_states(name):
    """A corpus recording served by a replay server: a real daemon run over HTTP logs the expected lines."""
    path = CORPUS / name
    header, items = read_recording(str(path))
    expect, bid = case_of(path)["expect"], case_of(path)["batch_id"]
    server = SimServer(World("dli" if header.flavor == "dli" else "livy"), handler=ReplayApp(items))
    server.start_in_thread()
    try:
        async with anyio.create_task_group() as tg:
            cfg = make_config(server, [bid])
            run = await start_watch(tg, cfg)
            goal = len(expect["log"]) + len(expect["states"])
            await run.wait_for(lambda: len(run.of(bid, "batch.log")) + len(run.of(bid, "batch.state_changed")) >= goal)
            run.stopped.set()
    finally:
        server.stop()
    assert [[e.fields["stream"], e.fields["line"]] for e in run.of(bid, "batch.log")] == expect["log"]
    assert [e.fields["to_state"] for e in run.of(bid, "batch.state_changed")] == expect["states"]
