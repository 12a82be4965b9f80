"""Convert a corpus case of the old shape (``*.json``: payloads + replays/errors) into recordings (``*.jsonl``).

    python tests/corpus/convert.py tests/corpus/*.json      # writes NAME.jsonl (NAME-2.jsonl ... per replay)

Each replay becomes one recording a ``dli-watcher replay`` runs as it would a user's: the header keeps
the case's ``source``, ``label``, ``exercises`` and the events it must ``expect`` under ``case``; each
poll is a details exchange (a list payload gives that batch's item), answered 15 s apart; the case's
``/log`` answers are served in turn (the last one again), and a case without any answers ``/log``
with 404, as the old test's log endpoint did. An ``errors`` case becomes one exchange per error body.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FORMAT, VERSION = "dli-watcher-recording", 1
ENDPOINT = "http://corpus.invalid"
PROJECT = "0123456789abcdef0123456789abcdef"
START = 1_700_000_000.0
CLOCKS_PER_POLL = 4  # more readings than a poll takes: the next poll starts from its own
BACKFILL_MAX = "1000"  # the size the log reader asks for (watcher.core.log.diff.BACKFILL_MAX)


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _base(flavor: str) -> str:
    return f"/v2.0/{PROJECT}/batches" if flavor == "dli" else "/batches"


def _exchange(path: str, body: object, status: int = 200, query: list[list[str]] | None = None) -> str:
    return _line(
        {
            "t": "exchange", "method": "GET", "path": path, "query": query or [], "status": status,
            "headers": {"Content-Type": "application/json"}, "body": json.dumps(body, ensure_ascii=False),
            "wall": START, "mono": 0.0,
        }
    )  # fmt: skip


def _details(payload: dict[str, Any], batch_id: str) -> dict[str, Any]:
    if "sessions" not in payload:
        return payload
    return next(s for s in payload["sessions"] if str(s["id"]) == batch_id)


def _header(case: dict[str, Any], extra: dict[str, Any], api: dict[str, Any] | None = None) -> str:
    config = {"api": {"flavor": case["flavor"], "endpoint": ENDPOINT, "project_id": PROJECT, **(api or {})}}
    meta = {k: case[k] for k in ("source", "label", "exercises")}
    return _line(
        {
            "t": "header", "format": FORMAT, "format_version": VERSION, "flavor": case["flavor"],
            "watcher_version": "corpus", "config": config, "state": {}, "case": {**meta, **extra},
        }
    )  # fmt: skip


def replay_lines(case: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """One replay of a case as recording lines."""
    bid, payloads, flavor = spec["batch_id"], case["payloads"], case["flavor"]
    api = {"state_map": spec["state_map"]} if "state_map" in spec else {}
    lines = [_header(case, {"batch_id": bid, "expect": spec["expect"]}, api), _line({"t": "clock", "wall": START})]
    logs = [payloads[i] for i in spec.get("log_endpoint", [])]
    missing = {"error_code": "DLI.0002", "error_msg": "no log"} if flavor == "dli" else {"msg": "not found"}
    path = f"{_base(flavor)}/{bid}"
    for n, index in enumerate(spec["polls"]):
        lines.append(_exchange(path, _details(payloads[index], bid)))
        log = logs[min(n, len(logs) - 1)] if logs else missing
        status = 200 if logs else (400 if flavor == "dli" else 404)
        lines.append(_exchange(path + "/log", log, status, [["size", BACKFILL_MAX]]))
        lines += [_line({"t": "clock", "wall": START + 15 * n})] * CLOCKS_PER_POLL
    return lines


def error_lines(case: dict[str, Any]) -> list[str]:
    """An errors case: each error body as the answer to one request."""
    expected = [{"status": e["status"], "transient": e["transient"]} for e in case["errors"]]
    lines = [_header(case, {"errors": expected})]
    path = f"{_base(case['flavor'])}/0a324461-d9d9-45da-a52a-3b3c7a3d809e"
    lines += [_exchange(path, case["payloads"][e["payload"]], e["status"]) for e in case["errors"]]
    return lines


def convert(case: dict[str, Any]) -> list[list[str]]:
    """Every recording one old-shape case makes (one per replay; one for its errors)."""
    out = [replay_lines(case, spec) for spec in case.get("replays", [])]
    if "errors" in case:
        out.append(error_lines(case))
    return out


def main(paths: list[str]) -> int:
    """Write NAME.jsonl (NAME-2.jsonl, ...) beside each NAME.json."""
    for name in paths:
        path = Path(name)
        for n, lines in enumerate(convert(json.loads(path.read_text(encoding="utf-8"))), start=1):
            target = path.with_name(path.stem + ("" if n == 1 else f"-{n}") + ".jsonl")
            target.write_text("\n".join(lines) + "\n", encoding="utf-8")
            print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
