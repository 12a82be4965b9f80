"""Bugs look like bugs: an exception no poll should raise fails that poll with reason internal and is reported once."""

from __future__ import annotations

import re

import anyio
import httpx
import pytest

from tests.helpers import make_config, start_watch
from watcher.daemon import listpoll, poller
from watcher.daemon.bugs import MAX_TRACEBACK_CHARS, BugReporter, exception_name, site

pytestmark = pytest.mark.anyio


def _raise(exc: BaseException) -> None:
    raise exc


def _caught(exc: Exception) -> Exception:
    """``exc`` with a traceback, as an except clause sees it."""
    try:
        _raise(exc)
    except Exception as caught:  # noqa: BLE001 - the test's own exception, handed back
        return caught
    raise AssertionError("unreachable")


def test_the_reporter_writes_once_per_type_and_site():
    """Two KeyErrors from one site make one event; a ValueError there, or a KeyError elsewhere, one more each."""
    said = []
    report = BugReporter(lambda name, fields, level: said.append((name, fields, level)))
    report(_caught(KeyError("a")))
    report(_caught(KeyError("b")))
    report(_caught(ValueError("c")))
    try:
        dict[str, int]()["elsewhere"]
    except KeyError as exc:
        report(exc)
    assert [(name, level) for name, _, level in said] == [("watcher.internal_error", "error")] * 3
    assert [fields["exception"] for _, fields, _ in said] == ["KeyError", "ValueError", "KeyError"]
    first = said[0][1]
    assert re.fullmatch(r"test_bugs\.py:\d+ in _raise", first["where"]), first["where"]  # no package frame
    assert "Traceback (most recent call last)" in first["traceback"] and "KeyError: 'a'" in first["traceback"]
    assert said[2][1]["where"] != first["where"]


def test_groups_report_each_leaf_and_tracebacks_are_bounded():
    """An exception group is its leaves; a huge message keeps only the traceback's tail (the message)."""
    said = []
    report = BugReporter(lambda _name, fields, _level: said.append(fields))
    report(ExceptionGroup("two", [_caught(KeyError("k")), _caught(RuntimeError("x" * 20_000))]))
    assert [f["exception"] for f in said] == ["KeyError", "RuntimeError"]
    assert len(said[1]["traceback"]) == MAX_TRACEBACK_CHARS and said[1]["traceback"].endswith("x\n")


def test_names_and_sites():
    """A builtin is named bare, anything else with its module; the site is the innermost frame in the package."""
    assert exception_name(KeyError()) == "KeyError"
    assert exception_name(httpx.ConnectError("x")) == "httpx.ConnectError"
    assert site(KeyError()) == "unknown"  # never raised: no frame at all
    with pytest.raises(AttributeError) as info:
        poller.failure_of(None)  # type: ignore[arg-type]
    assert site(info.value).startswith("watcher/daemon/poller.py:") and site(info.value).endswith(" in failure_of")


async def test_a_bug_in_a_poll_fails_it_as_internal_and_is_reported_once(sim, monkeypatch):
    """Every poll of two batches hits the same bug: each fails with internal, and one internal_error tells it."""

    def broken(*_args, **_kw):
        raise KeyError("not-a-field")

    monkeypatch.setattr(poller, "observe", broken)
    a, b = sim.world.add_batch(name="a"), sim.world.add_batch(name="b")
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, [a, b]))
        await run.wait_for(lambda: run.daemon.stats.failures["internal"] >= 6)
        async with httpx.AsyncClient() as client:
            text = (await client.get(run.metrics_url + "/metrics")).text
        run.stopped.set()
    bugs = [e for e in run.events if e.name == "watcher.internal_error"]
    assert len(bugs) == 1, bugs
    assert bugs[0].level == "error"
    assert bugs[0].fields["exception"] == "KeyError"
    assert bugs[0].fields["where"].startswith("watcher/daemon/poller.py:")
    assert "KeyError: 'not-a-field'" in bugs[0].fields["traceback"]
    for bid in (a, b):
        failed = run.of(bid, "batch.poll_failed")
        assert failed and failed[0].fields["reason"] == "internal", failed
        assert "KeyError" in failed[0].fields["error_message"]
    assert run.daemon.stats.failures["decode"] == 0  # the API is not blamed
    assert 'dli_watcher_poll_failures_total{reason="internal"}' in text


async def test_a_bug_reading_list_pages_is_reported_once_and_polling_goes_on(sim, monkeypatch):
    """List mode: a bug while reading pages is reported once however many cycles hit it; the batches are polled."""

    def broken(*_args, **_kw):
        raise ZeroDivisionError("page arithmetic")

    monkeypatch.setattr(listpoll, "pages_left", broken)
    a, b = sim.world.add_batch(name="a"), sim.world.add_batch(name="b")
    async with anyio.create_task_group() as tg:
        run = await start_watch(tg, make_config(sim, [a, b], watch={"mode": "list"}))
        await run.wait_for(lambda: sim.requests["list"] >= 3 and run.of(a, "batch.discovered"))
        sim.world.set_state(a, "running")
        await run.wait_for(lambda: run.of(a, "batch.state_changed"))
        run.stopped.set()
    bugs = [e for e in run.events if e.name == "watcher.internal_error"]
    assert [(e.fields["exception"], e.fields["where"].split(":")[0]) for e in bugs] == [
        ("ZeroDivisionError", "watcher/daemon/listpoll.py")
    ]
    assert run.of(b, "batch.discovered")
    assert not run.of(a, "batch.poll_failed") and not run.of(b, "batch.poll_failed")
