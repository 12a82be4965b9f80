"""Not found, said with the API's answer: batch.not_found's fields, and when every batch is not found alike."""

from __future__ import annotations

from watcher.core.model import Snapshot
from watcher.core.notfound import all_not_found
from watcher.core.tracker import Failure, LogResult, Track, observe, observe_missing
from watcher.output.messages import message

WRONG_PROJECT = Failure("http", "The job does not exist.", 400, "DLI.0002")


def not_found(bid: str, failure: Failure | None = WRONG_PROJECT) -> Track:
    return observe_missing(Track(bid), 100.0, failure)[0]


def test_batch_not_found_carries_the_api_error_and_says_it():
    """status_code, error_code and error_message as batch.poll_failed has them; the message names them."""
    track, (event,) = observe_missing(Track("typo"), 100.0, WRONG_PROJECT)
    assert (event.name, event.level) == ("batch.not_found", "warning")
    fields = {k: event.fields[k] for k in ("status_code", "error_code", "error_message")}
    assert fields == {"status_code": 400, "error_code": "DLI.0002", "error_message": "The job does not exist."}
    assert message(event) == "not found (400 DLI.0002): The job does not exist."
    assert (track.not_found_status, track.not_found_code) == (400, "DLI.0002")
    found, _ = observe(track, Snapshot("typo", "running", "running"), 200.0, LogResult())
    assert (found.not_found_status, found.not_found_code, found.not_found_message) == (None, None, None)


def test_all_not_found_needs_two_or_more_all_of_them_with_one_error():
    """Two batches not found with the same status and code: the common error; otherwise nothing."""
    assert all_not_found([not_found("a"), not_found("b")]) == (400, "DLI.0002", "The job does not exist.")
    assert all_not_found([not_found("a")]) is None
    assert all_not_found([not_found("a"), Track("b")]) is None
    other = Failure("http", "no such batch", 404, None)
    assert all_not_found([not_found("a"), not_found("b", other)]) is None
