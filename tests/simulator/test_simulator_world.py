"""The simulator's pure parts: world, rendering, faults, parameters and scenario parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.simulator.recording import RecordingWorld
from watcher.simulator import World, demo_scenario, due_steps, load_scenario
from watcher.simulator.faults import FaultBook, make_fault
from watcher.simulator.params import ParamError, lenient_int, log_slice
from watcher.simulator.scenario import Step, parse_steps


class FakeClock:
    """A settable clock in epoch seconds."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_dli_window_is_last_ten_of_sectioned_log():
    """DLI's log window is the last 10 lines of stdout/stderr/diagnostics with plain markers."""
    world = World("dli")
    bid = world.add_batch(name="daily-etl")
    world.append_stdout(bid, [f"out {i}" for i in range(12)])
    world.append_stderr(bid, ["err 1"])
    world.set_diagnostics(bid, ["diag 1"])
    assert world.full_log(bid) == [
        "stdout: ",
        *[f"out {i}" for i in range(12)],
        "stderr: ",
        "err 1",
        "YARN Diagnostics: ",
        "diag 1",
    ]
    details = world.details(bid)
    assert details is not None
    assert details["log"] == [
        "out 6",
        "out 7",
        "out 8",
        "out 9",
        "out 10",
        "out 11",
        "stderr: ",
        "err 1",
        "YARN Diagnostics: ",
        "diag 1",
    ]
    assert details["id"] == bid
    assert json.loads(details["req_body"])["conf"]


def test_livy_03_layout_merges_stderr_and_shows_the_header_only_with_diagnostics():
    """Livy <= 0.3: one output stream; the bare 'YARN Diagnostics:' comes and goes with the diagnostics."""
    world = World("livy")
    bid = world.add_batch(layout="livy-0.3")
    world.append_stdout(bid, ["out 1"])
    world.append_stderr(bid, ["err 1"])
    assert world.full_log(bid) == ["out 1", "err 1"]
    world.set_diagnostics(bid, ["AM container is launched, waiting for AM container to Register with RM"])
    assert world.full_log(bid) == [
        "out 1",
        "err 1",
        "YARN Diagnostics:",
        "AM container is launched, waiting for AM container to Register with RM",
    ]
    assert world.truth_lines(bid, "stdout") == ["out 1", "err 1"]


def test_kubernetes_layout_and_a_log_endpoint_without_markers():
    """Livy on Kubernetes names its last header after Kubernetes; without markers /log serves the output alone."""
    world = World("livy")
    bid = world.add_batch(layout="kubernetes", log_markers=False)
    world.append_stdout(bid, ["Pi is roughly 3.14"])
    world.set_diagnostics(bid, ["spark-pi-driver.default:"])
    assert world.full_log(bid) == [
        "stdout: ",
        "Pi is roughly 3.14",
        "\nstderr: ",
        "\nKubernetes Diagnostics: ",
        "spark-pi-driver.default:",
    ]
    assert world.endpoint_log(bid) == ["Pi is roughly 3.14"]
    with pytest.raises(ValueError, match="layout must be one of"):
        world.add_batch(layout="yarn-2")


def test_livy_markers_and_integer_ids():
    """Livy prefixes the later markers with a newline and uses integer IDs."""
    world = World("livy")
    first, second = world.add_batch(), world.add_batch()
    assert (first, second) == ("1", "2")
    world.append_stdout(first, ["a"])
    details = world.details(first)
    assert details is not None
    assert details["id"] == 1
    assert details["log"] == ["stdout: ", "a", "\nstderr: ", "\nYARN Diagnostics: "]
    assert set(details) >= {"id", "name", "owner", "proxyUser", "state", "appId", "appInfo", "log"}


def test_eviction_at_cap_keeps_truth():
    """Buffers keep the newest ``stdout_cap`` lines while the truth keeps every line."""
    world = World("dli", stdout_cap=5)
    bid = world.add_batch()
    world.append_stdout(bid, [f"l{i}" for i in range(8)])
    world.append_stderr(bid, [f"e{i}" for i in range(7)])
    assert world.full_log(bid) == [
        "stdout: ",
        "l3",
        "l4",
        "l5",
        "l6",
        "l7",
        "stderr: ",
        "e2",
        "e3",
        "e4",
        "e5",
        "e6",
        "YARN Diagnostics: ",
    ]
    assert world.truth_lines(bid, "stdout") == [f"l{i}" for i in range(8)]
    assert world.truth_lines(bid, "stderr") == [f"e{i}" for i in range(7)]


def test_diagnostics_replaced_wholesale():
    """set_diagnostics replaces the section and records each version."""
    world = RecordingWorld("dli")
    bid = world.add_batch()
    world.set_diagnostics(bid, ["a", "b"])
    world.set_diagnostics(bid, ["c"])
    assert world.full_log(bid) == ["stdout: ", "stderr: ", "YARN Diagnostics: ", "c"]
    assert world.diagnostics_history(bid) == [["a", "b"], ["c"]]


def test_state_history_app_id_and_update_time():
    """States are kept verbatim in order; the first running assigns an appId; update_time follows."""
    clock = FakeClock()
    world = World("dli", clock=clock)
    bid = world.add_batch()
    clock.now += 5
    world.set_state(bid, "Running")
    details = world.details(bid)
    assert details is not None
    app_id = details["appId"]
    assert app_id
    assert details["update_time"] == details["create_time"] + 5000
    world.set_state(bid, "weird")
    world.set_state(bid, "running")
    assert world.state_history(bid) == ["starting", "Running", "weird", "running"]
    assert world.details(bid)["appId"] == app_id  # type: ignore[index]


def test_set_field_remove_and_missing():
    """set_field changes wire fields, remove hides the batch but keeps its truth, unknown IDs raise."""
    world = World("dli")
    bid = world.add_batch(name="old", sc_type="B")
    world.set_field(bid, "name", "new")
    world.set_field(bid, "appId", "app-1")
    world.set_field(bid, "custom", 7)
    details = world.details(bid)
    assert details is not None
    assert (details["name"], details["appId"], details["custom"], details["sc_type"]) == (
        "new",
        "app-1",
        7,
        "B",
    )
    world.append_stdout(bid, ["x"])
    world.remove(bid)
    assert not world.exists(bid)
    assert world.details(bid) is None
    assert world.truth_lines(bid, "stdout") == ["x"]
    with pytest.raises(KeyError):
        world.set_state(bid, "running")


def test_pre_rendered_body_follows_changes():
    """The cached details body is re-rendered after a change."""
    world = World("dli")
    bid = world.add_batch()
    first = world.details_body(bid)
    assert first is world.details_body(bid)
    world.set_state(bid, "running")
    body = world.details_body(bid)
    assert body is not None
    assert json.loads(body)["state"] == "running"


def test_fault_book_counts_and_paths():
    """Faults apply to their count of matching requests, by batch and path; latency combines."""
    book = FaultBook()
    book.add(make_fault("status", "b1", 2, {}))
    book.add(make_fault("throttle", None, None, {"path": "any"}))
    book.add(make_fault("latency", None, 1, {"seconds": 0.5, "path": "state"}))
    assert book.take("b1", "details").fault.kind == "status"  # type: ignore[union-attr]
    assert book.take("b2", "details").fault.kind == "throttle"  # type: ignore[union-attr]
    assert book.take("b1", "details").fault.kind == "status"  # type: ignore[union-attr]
    hit = book.take("b1", "state")
    assert (hit.delay, hit.fault.kind) == (0.5, "throttle")  # type: ignore[union-attr]
    assert book.take("b1", "state").delay == 0.0
    book.clear()
    assert book.take("b1", "details").fault is None


@pytest.mark.parametrize(
    ("kind", "count", "params"),
    [("nope", 1, {}), ("status", 0, {}), ("status", 1, {"path": "elsewhere"})],
)
def test_bad_faults_are_rejected(kind, count, params):
    """Unknown kinds, non-positive counts and unknown paths raise ValueError."""
    with pytest.raises(ValueError, match=r"kind|count|path"):
        World("dli").inject(kind, None, count, **params)


def test_lenient_int():
    """Integers parse from ints, padded strings and integral floats; junk raises."""
    assert lenient_int("from", " 10 ") == 10
    assert lenient_int("from", "10.0") == 10
    assert lenient_int("from", "") is None
    assert lenient_int("from", None) is None
    for junk in ("ten", "1.5", "nan"):
        with pytest.raises(ParamError):
            lenient_int("from", junk)


@given(
    st.lists(st.text(max_size=3), max_size=250),
    st.one_of(st.none(), st.integers(-5, 300)),
    st.one_of(st.none(), st.integers(-1, 300)),
)
def test_log_slice_matches_livy(lines, start, size):
    """log_slice is Livy's paging: 100 lines by default, size < 0 all; no ``from`` or one below 0 is the tail."""
    got_from, got = log_slice(lines, start, size)
    # SessionServlet.serializeLogs (apache/incubator-livy): a negative from counts from the end, as a missing one
    eff_size = len(lines) if size is not None and size < 0 else (100 if size is None else size)
    want_from = max(0, len(lines) - eff_size) if start is None or start < 0 else start
    assert got_from == want_from
    assert got == lines[want_from : want_from + eff_size]


def test_due_steps_is_pure_time_filter():
    """due_steps returns the steps at or before the elapsed time."""
    steps = parse_steps([{"at": 0, "action": "add", "batch": "a"}, {"at": 2, "action": "remove", "batch": "a"}])
    assert [s.at for s in due_steps(steps, 1.9)] == [0]
    assert len(due_steps(steps, 2)) == 2


@pytest.mark.parametrize(
    "raw",
    [
        [{"at": 0, "action": "explode", "batch": "a"}],
        [{"at": -1, "action": "add", "batch": "a"}],
        [{"at": 1, "action": "state", "batch": "a", "state": "running"}],
        [{"at": 0, "action": "add", "batch": "a"}, {"at": 1, "action": "stdout", "batch": "a"}],
        [{"at": 0, "action": "add", "batch": "a"}, {"at": 1, "action": "state", "batch": "a"}],
    ],
)
def test_bad_steps_are_rejected(raw):
    """Unknown actions, negative times, unknown batch keys and missing arguments raise."""
    with pytest.raises(ValueError, match=r"step|batch"):
        parse_steps(raw)


def test_template_lines():
    """A template with a repeat count expands to numbered lines."""
    (step,) = parse_steps([{"at": 0, "action": "fault", "kind": "status"}])
    assert step.batch is None
    steps = parse_steps(
        [
            {"at": 0, "action": "add", "batch": "a"},
            {"at": 1, "action": "stdout", "batch": "a", "template": "l{i}/{n}", "repeat": 3},
        ]
    )
    assert steps[1].args["lines"] == ["l1/3", "l2/3", "l3/3"]


def test_load_scenario_toml_and_json(tmp_path):
    """Scenarios load from TOML [[steps]] and from JSON lists or objects."""
    toml_file = tmp_path / "s.toml"
    toml_file.write_text('[[steps]]\nat = 0\naction = "add"\nbatch = "a"\nname = "x"\n', encoding="utf-8")
    json_file = tmp_path / "s.json"
    json_file.write_text(json.dumps({"steps": [{"at": 1, "action": "add", "batch": "b"}]}), encoding="utf-8")
    assert load_scenario(toml_file) == [Step(0.0, "add", "a", {"name": "x"})]
    assert load_scenario(json_file)[0].batch == "b"
    json_file.write_text("[1]", encoding="utf-8")
    with pytest.raises(ValueError, match=r"list of steps"):
        load_scenario(json_file)


def test_demo_story_has_every_episode():
    """The demo covers success, a failure with diagnostics, a 40-line burst and a recovery, in ~50 s."""
    steps = demo_scenario()
    assert 40 <= max(s.at for s in steps) <= 55
    by_batch: dict[str, list[Step]] = {}
    for step in steps:
        by_batch.setdefault(step.batch or "", []).append(step)
    states = {k: [s.args["state"] for s in v if s.action == "state"] for k, v in by_batch.items()}
    assert ["running", "success"] in states.values()
    assert ["running", "dead", "recovering", "running", "success"] in states.values()
    bursts = [s for s in steps if s.action == "stdout" and len(s.args["lines"]) >= 40]
    assert bursts
    assert any(s.action == "diagnostics" and s.args["lines"] for s in steps)
    names = [s.args["name"] for s in steps if s.action == "add"]
    assert "daily-etl" in names
    assert "ml-train" in names
