"""Recording writes run off the poll loop's thread; a failing or stalled disk stops the recording, not the loop."""

from __future__ import annotations

import errno
import io
import threading
from typing import TYPE_CHECKING, Any

from watcher.daemon import recorder as recorder_module
from watcher.daemon.recorder import Recorder
from watcher.daemon.recordwriter import RecordWriter

if TYPE_CHECKING:
    import pytest

HEADER: dict[str, Any] = {"t": "header", "format": "dli-watcher-recording", "format_version": 1}


class Sink(io.BytesIO):
    """A file that remembers which thread wrote to it, and can fail or block its writes."""

    def __init__(self, *, fail: bool = False, gate: threading.Event | None = None) -> None:
        super().__init__()
        self.threads: set[str] = set()
        self.fail, self.gate = fail, gate
        self.kept = b""

    def write(self, data: Any) -> int:
        self.threads.add(threading.current_thread().name)
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)

    def close(self) -> None:
        self.kept = self.getvalue()
        super().close()


def recorder_over(sink: Sink, monkeypatch: pytest.MonkeyPatch) -> tuple[Recorder, list[int]]:
    """A started Recorder whose file is ``sink``, and the list its stop notices go to."""
    monkeypatch.setattr(Recorder, "_open", lambda _self: sink)
    rec = Recorder("unused.jsonl", HEADER, max_bytes=1 << 20, files=1)
    stops: list[int] = []
    rec.start(str, {"tracks": []}, on_stopped=lambda why: stops.append(1 if why["reason"] == "disk" else 2))
    return rec, stops


def test_writes_happen_in_the_writer_thread_in_order_and_close_waits_for_them():
    """Every write reaches the file from the recording's own thread, in order, before close returns."""
    sink = Sink()
    writer = RecordWriter(lambda: sink, "unused", 1)
    for n in range(100):
        writer.write(f"{n}\n".encode())
    writer.close()
    assert sink.kept == "".join(f"{n}\n" for n in range(100)).encode()
    assert sink.threads == {"dli-watcher-record"}
    assert writer.pending == 0


def test_a_failing_disk_stops_the_recording_once_and_the_caller_goes_on(monkeypatch):
    """ENOSPC in the writer thread: the recorder stops (one notice), later readings still return the time."""
    sink = Sink(fail=True)
    rec, stops = recorder_over(sink, monkeypatch)
    rec.close()  # the header's write failed in the thread; close waited for it
    assert rec.wall() > 0 and rec.wall() > 0  # the next reading sees the failure and stops, quietly after
    assert stops == [1]


def test_a_stalled_disk_bounds_what_waits_in_memory(monkeypatch):
    """A disk that does not take writes: past the pending bound the recording stops instead of growing."""
    monkeypatch.setattr(recorder_module, "MAX_PENDING_BYTES", 1000)
    gate = threading.Event()
    sink = Sink(gate=gate)
    rec, stops = recorder_over(sink, monkeypatch)
    for _ in range(200):  # about 40 bytes a reading: far past the bound if nothing stopped it
        rec.wall()
    pending = rec._writer.pending
    gate.set()
    rec.close()
    assert stops == [1]
    assert pending <= 1000 + 200  # the bound, plus the stop note
    assert sink.kept.endswith(b'"reason":"the disk failed or could not keep up"}\n')
