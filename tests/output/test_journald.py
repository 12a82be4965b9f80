"""Syslog priorities for journald: which stdout is the journal stream, and the ``<N>`` prefix it gets."""

from __future__ import annotations

import io
import json
import os
import re

from tests.samples import SAMPLES
from watcher.output.journald import is_journal, stream_identity
from watcher.output.writer import EventWriter

PRIORITY = {"debug": "7", "info": "6", "warning": "4", "error": "3"}


def test_only_the_stream_systemd_named_is_the_journal(tmp_path):
    """A pipe matches its own device:inode; another pipe, a file, an unset or garbled value do not."""
    read, write = os.pipe()
    other_read, other_write = os.pipe()
    with os.fdopen(write, "w") as stream, os.fdopen(other_write, "w") as other, (tmp_path / "f").open("w") as file:
        named = {"JOURNAL_STREAM": stream_identity(write)}
        assert is_journal(stream, named)
        assert not is_journal(other, named)
        assert not is_journal(file, named)
        assert not is_journal(stream, {})
        assert not is_journal(stream, {"JOURNAL_STREAM": "garbage"})
        assert not is_journal(io.StringIO(), named)
    os.close(read)
    os.close(other_read)


def test_each_line_on_the_journal_starts_with_its_priority():
    """On the journal a warning is <4>, an error <3>, info <6>; the JSON after the prefix is unchanged."""
    read, write = os.pipe()
    with os.fdopen(write, "w") as stream:
        writer = EventWriter.for_format("json", "debug", stream, env={"JOURNAL_STREAM": stream_identity(write)})
        lines = writer.lines(SAMPLES.values())
    os.close(read)
    for line in lines:
        prefix, body = re.match(r"^<(\d)>(.*)$", line, re.DOTALL).groups()  # type: ignore[union-attr]
        assert prefix == PRIORITY[json.loads(body)["level"]]
