"""Paced work: after a run of d seconds the next one waits until the work has had at most its share of the time."""

from __future__ import annotations

import pytest

from watcher.web.pacing import Paced


class FakeTime:
    """A clock that work and sleep advance."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_each_run_rests_as_long_as_the_share_asks():
    """At half the time, a 10 ms run makes the next wait 10 ms; a caller that came late waits less or not at all."""
    t = FakeTime()

    def work(cost: float) -> float:
        t.now += cost
        return cost

    paced = Paced(work, 0.5, clock=lambda: t.now, sleep=t.sleep)
    assert paced(0.010) == 0.010
    assert t.slept == []
    paced(0.020)
    t.now += 0.015  # the next caller arrives 15 ms after a 20 ms run: 5 ms of rest left
    paced(0.001)
    assert t.slept == pytest.approx([0.010, 0.005])


def test_a_failed_run_owes_its_rest_too():
    """Work that raises still counts its time."""
    t = FakeTime()

    def fail(_: None) -> None:
        t.now += 0.030
        raise RuntimeError("boom")

    paced = Paced(fail, 0.25, clock=lambda: t.now, sleep=t.sleep)
    with pytest.raises(RuntimeError):
        paced(None)
    with pytest.raises(RuntimeError):
        paced(None)
    assert t.slept == pytest.approx([0.090])


def test_the_share_must_be_a_fraction():
    """A share of zero or above one is a mistake."""
    for share in (0.0, 1.5):
        with pytest.raises(ValueError, match="share"):
            Paced(lambda k: k, share)
