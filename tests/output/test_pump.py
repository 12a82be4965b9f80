"""The output pump: order kept, tickets that mean "written", a bounded backlog, and a dead output never acknowledged."""

from __future__ import annotations

import fcntl
import os
import threading

import anyio
import pytest

from watcher.output.pump import OutputPump, stream_writer

pytestmark = pytest.mark.anyio


class Gate:
    """A writer that blocks until opened, as a pipe nobody reads does, and keeps what it wrote."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.entered = threading.Event()  # the writer thread is blocked in a write
        self.text: list[str] = []

    def __call__(self, text: str) -> None:
        self.entered.set()
        self.open.wait()
        self.text.append(text)


async def test_lines_come_out_in_order_and_tickets_mean_written():
    """Every line once, in order; ``written`` reaches a put's ticket only once its lines are out."""
    gate = Gate()
    pump = OutputPump(gate, limit=100)
    tickets = [pump.put([f"{n}.{k}\n" for k in range(3)]) for n in range(5)]
    assert await anyio.to_thread.run_sync(gate.entered.wait, 5.0)  # its first write is under way, and held
    assert pump.written < tickets[0]
    gate.open.set()
    assert await pump.drain(5.0)
    assert pump.written == tickets[-1] == 15
    assert "".join(gate.text).splitlines() == [f"{n}.{k}" for n in range(5) for k in range(3)]


async def test_a_stalled_reader_fills_the_backlog_and_nothing_is_refused():
    """Past the limit the pump says it is full but still takes lines; once read again it empties."""
    gate = Gate()
    pump = OutputPump(gate, limit=10)
    for n in range(12):
        pump.put([f"{n}\n"])
    assert pump.full and pump.backlog == 12
    assert not await pump.drain(0.2)
    gate.open.set()
    assert await pump.drain(5.0)
    assert not pump.full and len("".join(gate.text).splitlines()) == 12


async def test_a_failed_output_ends_run_and_is_never_acknowledged():
    """A write error (a closed pipe, a full disk) is raised by run; later puts get tickets never reached."""

    def broken(_: str) -> None:
        raise OSError(28, "No space left on device")

    pump = OutputPump(broken)
    pump.put(["lost\n"])
    with pytest.raises(OSError, match="No space left"):
        with anyio.fail_after(5):
            await pump.run()
    assert pump.put(["also lost\n"]) > pump.written


async def test_a_non_blocking_stdout_is_waited_on_not_fatal():
    """A pipe its parent made non-blocking fills up: the writer waits for room instead of failing (EAGAIN)."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    write = stream_writer(os.fdopen(write_end, "w", closefd=False))
    pump = OutputPump(write)
    ticket = pump.put([f"{n:05d} {'x' * 200}\n" for n in range(200)])  # ~41 KB: ten times the pipe
    received = bytearray()
    with anyio.fail_after(10):
        while pump.written < ticket and pump.failure is None:
            received += os.read(read_end, 65536)
            await anyio.sleep(0.01)
    assert pump.failure is None
    while len(received) < 200 * 207:
        received += os.read(read_end, 65536)
    os.close(read_end)
    os.close(write_end)
    assert received.decode().splitlines()[-1].startswith("00199 ")


async def test_long_lines_fill_the_backlog_by_bytes_before_lines():
    """A few long lines reach the byte bound long before the line bound: producers are held all the same."""
    gate = Gate()
    pump = OutputPump(gate, limit=10_000, byte_limit=64 * 1024)
    long_line = "x" * 20_000 + "\n"
    for _ in range(3):
        pump.put([long_line])
    assert not pump.full and pump.backlog_bytes == 3 * len(long_line)
    pump.put([long_line])
    assert pump.full and pump.backlog == 4
    gate.open.set()
    assert await pump.drain(5.0)
    assert not pump.full and pump.backlog_bytes == 0
