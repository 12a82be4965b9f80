"""``--record FILE`` and ``[record]``: open the recording a run appends its API exchanges to."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from watcher.api.http import open_api
from watcher.daemon.recorder import Recorder, header

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator, Mapping

    from watcher.api.client import BatchApi
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


def target_document(cfg: Config, batch_ids: list[str]) -> dict[str, Any]:
    """The config a one-shot command ran with, as a header keeps it (it read no config file)."""
    api = cfg.api
    return {
        "api": {
            "flavor": api.flavor,
            "endpoint": api.endpoint,
            "project_id": api.project_id,
            "log_endpoint": api.log_endpoint,
            "state_map": dict(api.state_map),
        },
        "watch": {"batch_ids": batch_ids, "terminal_grace_seconds": cfg.watch.terminal_grace_seconds},
        "events": {"include_req_body": cfg.events.include_req_body},
    }


@asynccontextmanager
async def recorded_api(cfg: Config, recorder: Recorder | None) -> AsyncIterator[BatchApi]:
    """The batch API, every exchange recorded when there is a recorder; the recording closed after."""
    async with open_api(cfg, tap=recorder) as api:
        if recorder is None:
            yield api
            return
        recorder.start(api.mask, {"tracks": []})
        try:
            yield api
        finally:
            recorder.close()
