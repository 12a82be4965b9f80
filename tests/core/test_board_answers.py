"""A batch's first answer is added to the board's answers in place: a copy each made a first cycle quadratic."""

from __future__ import annotations

from watcher.core.board import Board
from watcher.core.readiness import Rejection


def test_first_answers_grow_the_same_dict() -> None:
    """10,000 first answers: one dict all along (a copy per answer cost N² entries at a first cycle)."""
    board = Board()
    answers = board.answers
    for n in range(10_000):
        board.answered(f"b{n}", None)
    board.answered("b1", Rejection("auth", 401, None, "no"))
    assert board.answers is answers
    assert len(answers) == 10_000
    assert answers["b1"] == Rejection("auth", 401, None, "no")
    assert answers["b2"] is None
