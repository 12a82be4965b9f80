"""The simulated world: batches, faults and issued IAM tokens behind one lock."""

from __future__ import annotations

import itertools
import random
import secrets
import threading
import time
import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from watcher.simulator import render
from watcher.simulator.batch import SimBatch, make_req_body
from watcher.simulator.faults import Fault, FaultBook, make_fault
from watcher.simulator.layouts import check_layout

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping

Flavor = Literal["dli", "livy"]
Session = dict[str, Any]
# (batch key, list item) pairs, as a list selection filters and orders them
Items = list[tuple[str, Session]]
# list selections remembered at once (each is one filter and order over every batch)
MAX_SELECTIONS = 32
DEFAULT_PROJECT_ID = "0123456789abcdef0123456789abcdef"


class World:
    """Every simulated batch of one DLI project or Livy server; all methods are thread-safe."""

    def __init__(
        self,
        flavor: Flavor = "dli",
        project_id: str = DEFAULT_PROJECT_ID,
        clock: Callable[[], float] = time.time,
        stdout_cap: int = 200,
        log_endpoint: bool = True,
        seed: int | None = None,
    ) -> None:
        if flavor not in {"dli", "livy"}:
            raise ValueError(f"flavor must be 'dli' or 'livy', not {flavor!r}")
        self.flavor: Flavor = flavor
        self.project_id = project_id
        self.clock = clock
        self.stdout_cap = stdout_cap
        self.log_endpoint = log_endpoint
        self.faults = FaultBook()
        # --seed: DLI IDs from a seeded generator, so a restarted simulator serves the same batch IDs
        self._ids = random.Random(seed) if seed is not None else None  # noqa: S311 - test IDs, not secrets
        self._lock = threading.Lock()
        self._batches: dict[str, SimBatch] = {}
        self._removed: dict[str, SimBatch] = {}
        self._next_int = itertools.count(1)
        self._app_seq = itertools.count(1)
        self._tokens: dict[str, float] = {}
        self._tokens_issued = 0
        # bumped by every change a list answer could show, so remembered selections know they are stale
        self._version = 0
        self._selections: dict[Hashable, tuple[int, list[str]]] = {}

    def now_ms(self) -> int:
        """Read the world clock in epoch milliseconds."""
        return int(self.clock() * 1000)

    def allocate_id(self) -> str:
        """Reserve a fresh batch ID of this flavour (a UUID on DLI, the next integer on Livy)."""
        if self.flavor == "dli":
            return self._fresh_uuid()
        with self._lock:
            return str(self._fresh_int())

    def _fresh_uuid(self) -> str:
        """A random (version 4) UUID; from the seeded generator when the world has one."""
        if self._ids is None:
            return str(uuid.uuid4())
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def _fresh_int(self) -> int:
        """Return the next unused Livy integer ID (call with the lock held)."""
        while True:
            candidate = next(self._next_int)
            if str(candidate) not in self._batches and str(candidate) not in self._removed:
                return candidate

    def add_batch(
        self,
        batch_id: str | int | None = None,
        *,
        name: str = "spark-job",
        queue: str = "default",
        owner: str = "sim-user",
        state: str = "starting",
        conf: Mapping[str, str] | None = None,
        layout: str = "",
        log_markers: bool = True,
        **fields: object,
    ) -> str:
        """Create a batch and return its ID; other keywords are wire fields (``sc_type=``, ``proxyUser=``).

        ``layout`` renders its log like another server (``watcher.simulator.layouts``); without
        ``log_markers`` the log endpoint serves only its output, without section markers.
        """
        now = self.now_ms()
        layout = check_layout(layout) if layout else ""
        with self._lock:
            wire_id = self._wire_id(batch_id)
            if str(wire_id) in self._batches:
                raise ValueError(f"batch {wire_id} already exists")
            batch = SimBatch.new(
                wire_id, name=name, queue=queue, owner=owner, state=state, now=now, cap=self.stdout_cap
            )
            batch.layout, batch.log_markers = layout, log_markers
            for key, value in fields.items():
                batch.set_field(key, value)
            if "req_body" not in fields:
                batch.req_body = make_req_body(name, queue, batch.sc_type, conf)
            self._batches[batch.key] = batch
            self._removed.pop(batch.key, None)
            self._version += 1
            return batch.key

    def _wire_id(self, batch_id: str | int | None) -> str | int:
        """Return the ID as the flavour puts it on the wire."""
        if self.flavor == "dli":
            return self._fresh_uuid() if batch_id is None else str(batch_id)
        return self._fresh_int() if batch_id is None else int(batch_id)

    @contextmanager
    def _edit(self, batch_id: str | int) -> Iterator[SimBatch]:
        """Hold the lock over a batch and drop its rendered bodies afterwards."""
        with self._lock:
            batch = self._batches.get(str(batch_id))
            if batch is None:
                raise KeyError(f"no batch {batch_id}")
            yield batch
            batch.changed()
            self._version += 1

    def set_state(self, batch_id: str | int, state: str) -> None:
        """Change the raw state; bumps ``update_time`` and assigns an appId on first ``running``."""
        now = self.now_ms()
        with self._edit(batch_id) as batch:
            batch.state = state
            batch.states.append(state)
            batch.update_time = max(now, batch.update_time)
            if batch.app_id is None and state.strip().lower() == "running":
                batch.app_id = self._new_app_id(batch)

    def _new_app_id(self, batch: SimBatch) -> str:
        """Make up an application ID in the flavour's style."""
        seq = next(self._app_seq)
        if self.flavor == "dli":
            # the whole job ID, as huaweicloudsdkdli 3.1.219 shows it (create_spark_job_response.py:
            # "batch-session-ca2a4042-0db9-45ab-bc7f-ae6a56846348:30671")
            return f"batch-session-{batch.key}:{30000 + seq}"
        return f"application_{batch.create_time}_{seq:04d}"

    def append_stdout(self, batch_id: str | int, lines: Iterable[str]) -> None:
        """Append stdout lines; the oldest beyond ``stdout_cap`` are evicted."""
        with self._edit(batch_id) as batch:
            batch.append("stdout", list(lines))

    def append_stderr(self, batch_id: str | int, lines: Iterable[str]) -> None:
        """Append stderr lines; the oldest beyond ``stdout_cap`` are evicted."""
        with self._edit(batch_id) as batch:
            batch.append("stderr", list(lines))

    def set_diagnostics(self, batch_id: str | int, lines: Iterable[str]) -> None:
        """Replace the YARN diagnostics wholesale."""
        with self._edit(batch_id) as batch:
            batch.diagnostics = list(lines)

    def set_field(self, batch_id: str | int, name: str, value: object) -> None:
        """Set any wire field by its wire name (``appId``, ``name``, ``queue``...)."""
        with self._edit(batch_id) as batch:
            batch.set_field(name, value)

    def remove(self, batch_id: str | int) -> None:
        """Make a batch disappear: every request for it is not-found from now on."""
        with self._lock:
            batch = self._batches.pop(str(batch_id))
            self._removed[batch.key] = batch
            self._version += 1

    def exists(self, batch_id: str | int) -> bool:
        """Whether the batch is currently served."""
        with self._lock:
            return str(batch_id) in self._batches

    def batch_ids(self) -> list[str]:
        """List the IDs currently served, in creation order."""
        with self._lock:
            return list(self._batches)

    def inject(self, kind: str, batch_id: str | int | None = None, count: int | None = 1, **params: object) -> Fault:
        """Make the next ``count`` matching requests fail (``count=None``: until cleared)."""
        fault = make_fault(kind, batch_id, count, params)
        self.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.faults.clear()

    # --- truth for tests -------------------------------------------------------------------------

    def _any(self, batch_id: str | int) -> SimBatch:
        """Find a batch, served or removed (call with the lock held)."""
        key = str(batch_id)
        batch = self._batches.get(key) or self._removed.get(key)
        if batch is None:
            raise KeyError(f"no batch {batch_id}")
        return batch

    def truth_lines(self, batch_id: str | int, stream: str) -> list[str]:
        """Every line ever appended to ``stdout`` or ``stderr``, uncapped."""
        if stream not in {"stdout", "stderr"}:
            raise ValueError("stream must be 'stdout' or 'stderr'")
        with self._lock:
            batch = self._any(batch_id)
            return list(batch.stdout_all if stream == "stdout" else batch.stderr_all)

    def state_history(self, batch_id: str | int) -> list[str]:
        """Every raw state the batch had, in order, starting with its initial one."""
        with self._lock:
            return list(self._any(batch_id).states)

    # --- rendering ---------------------------------------------------------------------------------

    def details(self, batch_id: str | int) -> dict[str, Any] | None:
        """Render a fresh details object, or None when the batch is not served."""
        with self._lock:
            batch = self._batches.get(str(batch_id))
            return None if batch is None else render.details(self.flavor, batch)

    def full_log(self, batch_id: str | int) -> list[str] | None:
        """Render the whole log, or None when the batch is not served."""
        with self._lock:
            batch = self._batches.get(str(batch_id))
            return None if batch is None else render.full_log(self.flavor, batch)

    def endpoint_log(self, batch_id: str | int) -> list[str] | None:
        """What the log endpoint serves of a batch, or None when the batch is not served."""
        with self._lock:
            batch = self._batches.get(str(batch_id))
            return None if batch is None else render.endpoint_log(self.flavor, batch)

    def details_body(self, batch_id: str) -> bytes | None:
        """Return the details JSON, rendered once per change."""
        return self._cached(batch_id, "details", lambda b: render.details(self.flavor, b))

    def state_body(self, batch_id: str) -> bytes | None:
        """Return the ``/state`` JSON, rendered once per change."""
        return self._cached(batch_id, "state", lambda b: {"id": b.id, "state": b.state})

    def _cached(self, batch_id: str, key: str, build: Callable[[SimBatch], Any]) -> bytes | None:
        """Return a rendered body, rendering it once per change."""
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                return None
            body: bytes | None = batch.cache.get(key)
            if body is None:
                body = batch.cache[key] = render.dumps(build(batch))
            return body

    def select(self, key: Hashable | None, pick: Callable[[Items], Items]) -> list[str]:
        """The batches ``pick`` keeps of every list item, in its order; remembered under ``key`` until one changes.

        Paging through 100,000 batches asks the same question a thousand times: it is answered once.
        A ``key`` of None (an order by duration, which moves with the clock) is never remembered.
        """
        with self._lock:
            hit = self._selections.get(key) if key is not None else None
            if hit is not None and hit[0] == self._version:
                return hit[1]
            now = self.now_ms()
            picked = [k for k, _ in pick([(k, render.session(self.flavor, b, now)) for k, b in self._batches.items()])]
            if key is not None:
                if len(self._selections) >= MAX_SELECTIONS:
                    self._selections.clear()
                self._selections[key] = (self._version, picked)
            return picked

    def sessions(self, keys: Iterable[str]) -> list[Session]:
        """Fresh list items of these batches (those still served), in the given order."""
        now = self.now_ms()
        with self._lock:
            return [render.session(self.flavor, b, now) for k in keys if (b := self._batches.get(k)) is not None]

    # --- IAM tokens --------------------------------------------------------------------------------

    @property
    def tokens_issued(self) -> int:
        """How many IAM tokens ``POST /v3/auth/tokens`` has issued."""
        return self._tokens_issued

    def issue_token(self, lifetime: float) -> tuple[str, float]:
        """Mint a token valid for ``lifetime`` seconds of world time; returns it and its expiry."""
        token = "MIIsim" + secrets.token_urlsafe(48)
        expires = self.clock() + lifetime
        with self._lock:
            self._tokens[token] = expires
            self._tokens_issued += 1
        return token, expires

    def token_valid(self, token: str) -> bool:
        """Whether an issued token exists and has not expired on the world clock."""
        with self._lock:
            expires = self._tokens.get(token)
        return expires is not None and self.clock() < expires

    def revoke_tokens(self) -> None:
        """Invalidate every issued token (as a password change would)."""
        with self._lock:
            self._tokens.clear()
