"""``--record FILE`` and ``[record]``: open the recording a run appends its API exchanges to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from watcher.daemon.recorder import Recorder, header

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping

    from watcher.config.settings import Config


def add_record_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--record FILE`` option."""
    parser.add_argument(
        "--record",
        metavar="FILE",
        help="record every API exchange to FILE (secrets masked) for `dli-watcher replay`; overrides record.path",
    )


def open_recorder(cfg: Config, document: Mapping[str, Any], override: str | None) -> Recorder | None:
    """The recording ``--record`` or ``record.path`` asks for (``--record``: one file, stopping at the cap)."""
    path = override or cfg.record.path
    if not path:
        return None
    files = 1 if override else cfg.record.files
    return Recorder(
        path,
        header(cfg, document, {}),
        max_bytes=cfg.record.max_bytes,
        files=files,
        include_req_body=cfg.events.include_req_body,
    )
