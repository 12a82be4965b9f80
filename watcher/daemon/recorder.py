"""A recording of a run: every API exchange as one JSON line, secrets masked, capped and rotated; files 0600.

The first line of each file is a header: the format and its version, the flavor, the watcher's version,
the config with every secret taken out and the state the run started from (``continued`` in a rotated
segment). Then each API exchange, each reading of the poller's wall clock (so a replay stamps its events
with the same times) and, when the cap stops it, a ``recording_stopped`` note.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import parse_qsl

from watcher import __version__
from watcher.core.recordformat import FORMAT, VERSION, exchange_line
from watcher.daemon.recordwriter import MAX_PENDING_BYTES, RecordWriter
from watcher.daemon.stateperms import check_trusted
from watcher.errors import SetupError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import httpx

    from watcher.config.settings import Config

# a URL's user:pass (a proxy's), whatever the mask knows
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
# auth keys a replay needs none of: it sends nothing anywhere
_AUTH_KEPT = ("method",)
_REQ_BODY = b'"req_body"'
_REASONS = {"max_bytes": "the recording reached record.max_bytes", "disk": "the disk failed or could not keep up"}


def _note(reason: str) -> bytes:
    """The last line of a stopped recording."""
    note = {"t": "note", "event": "watcher.recording_stopped", "reason": _REASONS[reason]}
    return json.dumps(note, separators=(",", ":")).encode() + b"\n"


# the cap leaves room for the longest stop note
_STOPPED_MAX = max(len(_note(reason)) for reason in _REASONS)


def clean_document(document: Mapping[str, Any], mask: Callable[[str], str]) -> dict[str, Any]:
    """The config file's document for a header: no credential settings, no URL userinfo, every secret masked."""
    doc = {section: value for section, value in document.items() if section != "auth"}
    auth = document.get("auth", {})
    doc["auth"] = {k: auth[k] for k in _AUTH_KEPT if isinstance(auth, dict) and k in auth}
    text = _USERINFO.sub("***@", mask(json.dumps(doc, ensure_ascii=False)))
    cleaned: dict[str, Any] = json.loads(text)
    return cleaned


def drop_req_body(body: bytes) -> bytes:
    """A details or list answer without its ``req_body`` fields (they may hold a job's passwords)."""
    if _REQ_BODY not in body:
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return body
    items = [data, *(data.get("sessions") or [] if isinstance(data, dict) else [])]
    for item in items:
        if isinstance(item, dict):
            item.pop("req_body", None)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


class Recorder:
    """Appends a run's exchanges to ``path``; ``files`` segments of at most ``max_bytes`` (1: stop at the cap).

    ``mask`` is the API client's (every secret the process holds, in every shape), set once it exists;
    lines are masked whole, so a secret in a header, a body, an error or the query never reaches the file.
    """

    def __init__(
        self,
        path: str,
        header: dict[str, Any],
        *,
        max_bytes: int,
        files: int,
        include_req_body: bool = False,
    ) -> None:
        self.path, self._header, self.max_bytes, self._files = path, header, max_bytes, files
        self._include_req_body = include_req_body
        self.mask: Callable[[str], str] = str
        # the cap or the disk stopped the recording (an event says so): its reason and, for the disk, the error
        self._on_stopped: Callable[[dict[str, str]], None] = lambda _why: None
        self._stopped = True  # until start(): nothing is written before the header
        self._writer = RecordWriter(self._open, path, files)
        self._size = 0

    def start(
        self,
        mask: Callable[[str], str],
        state: dict[str, Any],
        on_stopped: Callable[[dict[str, str]], None] | None = None,
    ) -> None:
        """Write the header, with the state the run starts from; ``mask`` is the API client's.

        ``on_stopped`` is told why the recording stopped early (the running watcher says it as an event).
        """
        self.mask, self._stopped = mask, False
        if on_stopped is not None:
            self._on_stopped = on_stopped
        self._write_line({**self._header, "state": state, "continued": False})

    def _open(self) -> BinaryIO:
        check_trusted(self.path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise SetupError(self.path, f"cannot write the recording: {exc.strerror}") from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise SetupError(self.path, "the recording is not a regular file")
        os.fchmod(fd, 0o600)  # an existing file keeps the mode it had otherwise
        # buffered: a write per exchange and clock reading was most of the recording's cost; a stop flushes
        return os.fdopen(fd, "wb", buffering=64 * 1024)

    def wall(self) -> float:
        """The wall clock, noted: a replay's poller reads the same times."""
        now = time.time()
        if not self._stopped:  # a number holds no secret: no JSON encoder, no mask
            self._write_bytes(f'{{"t":"clock","wall":{now!r}}}\n'.encode())
        return now

    def exchange(
        self,
        request: httpx.Request,
        status: int,
        headers: dict[str, str],
        body: bytes,
        error: tuple[str, str] | None = None,
    ) -> None:
        """One API exchange: method, path, query, status, the kept headers, the body, the times."""
        if self._stopped:
            return
        if not self._include_req_body:
            body = drop_req_body(body)
        url = request.url
        query = parse_qsl(url.query.decode("ascii", "replace"), keep_blank_values=True)
        line = exchange_line(
            request.method, url.path, query, status, headers, body, time.time(), time.monotonic(), error
        )
        self._write_line(line)

    def iam(self, method: str, path: str, status: int) -> None:
        """An IAM request: method, path and status, nothing else."""
        self._write_line({"t": "iam", "method": method, "path": path, "status": status, "wall": time.time()})

    def _write_line(self, line: dict[str, Any]) -> None:
        if self._stopped:
            return
        text = self.mask(json.dumps(line, ensure_ascii=False, separators=(",", ":"))) + "\n"
        self._write_bytes(text.encode("utf-8", "replace"))

    def _write_bytes(self, data: bytes) -> None:
        failed = self._writer.failed
        if failed is not None or self._writer.pending > MAX_PENDING_BYTES:
            # the disk failed or cannot keep up: what is written stays whole, the loop goes on
            self._stop({"reason": "disk", "error_message": failed or "writes are not keeping up"})
            return
        # with one file, room is kept for the note that says recording stopped: the cap holds with it
        reserve = _STOPPED_MAX if self._files <= 1 else 0
        if self._size + len(data) + reserve > self.max_bytes and self._size > 0:
            if self._files <= 1:
                self._stop({"reason": "max_bytes"})
                return
            self._rotate()
        self._writer.write(data)
        self._size += len(data)

    def _stop(self, why: dict[str, str]) -> None:
        """The cap is reached (or the disk gave out): one last line says so, and nothing more is written."""
        self._writer.write(_note(why["reason"]))
        self._writer.flush()
        self._stopped = True
        self._on_stopped(why)

    def _rotate(self) -> None:
        """Start a new segment; the oldest of ``files`` goes."""
        self._writer.rotate()
        self._size = 0
        header = {**self._header, "continued": True, "state": {}}
        self._write_line(header)

    def close(self) -> None:
        """Write what is queued, then close the file."""
        self._writer.close()


def header(cfg: Config, document: Mapping[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """A header line's fields (masked when it is written, as every line is)."""
    return {
        "t": "header",
        "format": FORMAT,
        "format_version": VERSION,
        "flavor": cfg.api.flavor,
        "watcher_version": __version__,
        "config": clean_document(document, str),
        "state": state,
    }
