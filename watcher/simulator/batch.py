"""One simulated batch: its wire fields, capped log buffers and the full history tests compare with."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from watcher.simulator.layouts import LEGACY

if TYPE_CHECKING:
    from collections.abc import Mapping

# set_field wire name -> SimBatch attribute; other names land in ``extra`` and are served as-is.
FIELD_ATTRS = {
    "appId": "app_id",
    "name": "name",
    "owner": "owner",
    "proxyUser": "proxy_user",
    "queue": "queue",
    "cluster_name": "cluster_name",
    "kind": "kind",
    "sc_type": "sc_type",
    "spark_version": "spark_version",
    "image": "image",
    "feature": "feature",
    "req_body": "req_body",
    "create_time": "create_time",
    "update_time": "update_time",
}

DEFAULT_CONF = {
    "spark.executor.memory": "4G",
    "spark.dynamicAllocation.enabled": "false",
    "spark.hadoop.fs.obs.secret.key": "sim-not-a-real-secret",
}


@dataclass(slots=True)
class SimBatch:
    """A batch as the simulator holds it; ``state`` is served verbatim."""

    id: str | int
    name: str
    owner: str
    queue: str
    state: str
    create_time: int
    update_time: int
    stdout: deque[str]
    stderr: deque[str]
    req_body: str = "{}"
    kind: str = "spark"
    sc_type: str = "A"
    spark_version: str = "3.3.1"
    image: str = ""
    feature: str = "basic"
    cluster_name: str = ""
    proxy_user: str | None = None
    app_id: str | None = None
    diagnostics: list[str] = field(default_factory=list)
    # how the log is laid out (watcher.simulator.layouts; empty: the flavour's) and whether /log keeps the markers
    layout: str = ""
    log_markers: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    stdout_all: list[str] = field(default_factory=list)
    stderr_all: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, wire_id: str | int, *, name: str, queue: str, owner: str, state: str, now: int, cap: int) -> SimBatch:
        """Make a fresh batch created at ``now`` (epoch ms) with log buffers capped at ``cap`` lines."""
        return cls(
            id=wire_id,
            name=name,
            owner=owner,
            queue=queue,
            state=state,
            create_time=now,
            update_time=now,
            stdout=deque(maxlen=cap),
            stderr=deque(maxlen=cap),
            cluster_name=queue,
            proxy_user=owner,
            states=[state],
        )

    @property
    def key(self) -> str:
        """The ID as tests and URLs address it."""
        return str(self.id)

    def changed(self) -> None:
        """Forget pre-rendered bodies after any mutation."""
        self.cache.clear()

    def append(self, stream: str, lines: list[str]) -> None:
        """Add lines to a capped buffer and to its full history."""
        if stream == "stderr" and self.layout == LEGACY:
            stream = "stdout"  # Livy <= 0.3 starts spark-submit with redirectErrorStream(true): one stream
        if stream == "stdout":
            self.stdout.extend(lines)
            self.stdout_all.extend(lines)
        else:
            self.stderr.extend(lines)
            self.stderr_all.extend(lines)
        self.changed()

    def set_field(self, name: str, value: object) -> None:
        """Set a wire field by its wire name."""
        attr = FIELD_ATTRS.get(name)
        if attr is None:
            self.extra[name] = value
        else:
            setattr(self, attr, value)
        self.changed()


def make_req_body(name: str, queue: str, sc_type: str, conf: Mapping[str, str] | None) -> str:
    """Encode the create request DLI echoes back in ``req_body``."""
    body = {
        "file": f"obs://sim-bucket/jobs/{name}.jar",
        "className": "com.example.sim.Main",
        "name": name,
        "queue": queue,
        "sc_type": sc_type,
        "conf": dict(DEFAULT_CONF if conf is None else conf),
    }
    return json.dumps(body, separators=(",", ":"))
