"""The Poller against an in-memory API, in trio's virtual time: backoff, Retry-After, throttle, readiness, list mode."""

from __future__ import annotations

import itertools
import random
import uuid
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

import anyio
import pytest
import trio
import trio.testing

from watcher.api.client import ListPage, LogPage
from watcher.api.policy import RequestPolicy
from watcher.config.settings import ApiConfig, Config, WatchConfig
from watcher.core.board import Board
from watcher.core.model import Snapshot
from watcher.core.schedule import TICK, first_poll
from watcher.daemon.poller import Clocks, Poller, PollerHooks
from watcher.errors import ApiError, ThrottledError, TransientApiError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from watcher.core.events import Event
    from watcher.core.tracker import Track
    from watcher.errors import FailureReason

pytestmark = pytest.mark.anyio

INTERVAL = 10.0
EPS = 1e-6
CFG = Config(
    api=ApiConfig(
        endpoint="http://fake",
        project_id="p",
        max_attempts=3,
        backoff_base_seconds=0.5,
        backoff_max_seconds=2.0,
        timeout_seconds=5,
    ),
    watch=WatchConfig(interval_seconds=INTERVAL),
)


@pytest.fixture
def anyio_backend():
    # virtual time: whenever every task is blocked, the clock jumps to the next deadline
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


def bid(n: int) -> str:
    """A DLI batch ID (a UUID), stable per ``n`` and spread like real ones."""
    return str(uuid.UUID(int=random.Random(n).getrandbits(128), version=4))


def snap(batch_id: str, state: str = "running") -> Snapshot:
    return Snapshot(batch_id, state, state, queue="q1", create_time=1_700_000_000_000)


def http_503(retry_after: float | None = None) -> TransientApiError:
    return TransientApiError("HTTP 503", status_code=503, retry_after=retry_after)


class TopJitter(random.Random):
    """Jitter pinned just under 1, so each backoff delay sits just under its ceiling."""

    def random(self) -> float:
        return 0.999


class Gate:
    """Holds a request open: ``entered`` when it starts, it returns once ``release`` is set."""

    def __init__(self) -> None:
        self.entered, self.release = anyio.Event(), anyio.Event()


class FakeApi:
    """Answers each batch from its script, then as a running batch; records (virtual time, operation, what)."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str, str]] = []
        self.script: dict[str, list[Snapshot | ApiError]] = {}
        self.failing: set[str] = set()  # batches whose details always fail (once the script is spent)
        self.gates: dict[str, Gate] = {}
        self.listed: tuple[Snapshot, ...] = ()
        self.filters: list[dict[str, str]] = []
        self.forgotten: set[str] = set()
        self.list_gate: Gate | None = None  # holds the next list request open

    def times(self, batch_id: str, op: str = "details") -> list[float]:
        return [t for t, o, what in self.calls if o == op and what == batch_id]

    async def details(self, batch_id: str) -> Snapshot:
        self.calls.append((trio.current_time(), "details", batch_id))
        if gate := self.gates.get(batch_id):
            gate.entered.set()
            await gate.release.wait()
        reply = self.script[batch_id].pop(0) if self.script.get(batch_id) else snap(batch_id)
        if batch_id in self.failing and not isinstance(reply, ApiError):
            reply = http_503()
        if isinstance(reply, ApiError):
            raise reply
        return reply

    async def log(self, batch_id: str, start: int | None, size: int, log_type: str | None = None) -> LogPage:  # noqa: ARG002
        self.calls.append((trio.current_time(), "log", batch_id))
        return LogPage(0, 0, ())

    def forget(self, batch_ids: Iterable[str]) -> None:
        self.forgotten.update(batch_ids)

    async def list(self, start: int, size: int, /, known: object = None, **filters: str) -> ListPage:  # noqa: ARG002
        self.calls.append((trio.current_time(), "list", str(start)))
        self.filters.append(filters)
        if gate := self.list_gate:
            self.list_gate = None
            gate.entered.set()
            await gate.release.wait()
        return ListPage(start, len(self.listed), self.listed[start : start + size])


class Sink:
    """Every poll result the poller hands on, with its virtual time."""

    def __init__(self) -> None:
        self.got: list[tuple[float, Track, list[Event]]] = []
        # each track's time of success as handed on (a quiet poll moves it in place in the track handed on before)
        self.successes: list[float | None] = []

    def __call__(self, track: Track, events: list[Event], changed: bool) -> None:  # noqa: ARG002
        self.got.append((trio.current_time(), track, events))
        self.successes.append(track.last_success)

    def tracks(self, batch_id: str) -> list[Track]:
        return [t for _, t, _ in self.got if t.batch_id == batch_id]

    def events(self, batch_id: str, name: str | None = None) -> list[Event]:
        return [e for _, t, evs in self.got if t.batch_id == batch_id for e in evs if name in (None, e.name)]


class Telemetry:
    def poll_done(self, seconds: float, reason: FailureReason | None) -> None:
        pass


class Rig:
    """A Poller over a FakeApi on trio's virtual clock, with its policy, board and sink."""

    def __init__(self, cfg: Config = CFG) -> None:
        self.api, self.sink, self.board = FakeApi(), Sink(), Board()
        self.ready_at: list[tuple[float, set[str]]] = []  # (when, batches the sink had heard of by then)
        self.retried: list[tuple[float, str]] = []  # (when, reason) of each request tried again
        self.policy = RequestPolicy(
            cfg.api, cfg.watch.concurrency, clock=trio.current_time, rng=TopJitter(), on_retry=self._retried
        )
        self.holding = False  # what hold_poll answers: the output or state file is stuck
        hooks = PollerHooks(on_ready=self._ready, hold_poll=lambda: self.holding)
        self.poller = Poller(
            self.api,
            self.policy,
            cfg,
            self.board,
            self.sink,
            Telemetry(),
            hooks=hooks,
            clocks=Clocks(trio.current_time, trio.current_time),
        )

    def _retried(self, err: ApiError) -> None:
        self.retried.append((trio.current_time(), err.reason))

    def _ready(self) -> None:
        self.ready_at.append((trio.current_time(), {t.batch_id for _, t, _ in self.sink.got}))

    @asynccontextmanager
    async def running(self, batch_ids: list[str]) -> AsyncIterator[float]:
        """Watch the batches and run the loop; yields the virtual start time, stops the loop on exit."""
        async with anyio.create_task_group() as tg:
            start = trio.current_time()
            self.poller.watch(batch_ids)
            tg.start_soon(self.poller.run, tg)
            yield start
            tg.cancel_scope.cancel()


def capped_at(backoff_max: float) -> Config:
    return replace(CFG, api=replace(CFG.api, backoff_max_seconds=backoff_max))


async def test_transient_errors_back_off_under_exponential_ceilings():
    """Retries wait under base*2**(n-1) (capped); a recovered poll reports no attempts, an exhausted one reports all."""
    ok, bad = bid(1), bid(2)
    rig = Rig()
    rig.api.script[ok] = [http_503(), http_503()]
    rig.api.failing.add(bad)
    async with rig.running([ok, bad]):
        await anyio.sleep(INTERVAL + 3)
    first, second, third = rig.api.times(ok)[:3]
    ceilings = [min(2.0, 0.5 * 2 ** (n - 1)) for n in (1, 2)]
    assert [second - first, third - second] == pytest.approx([0.999 * c for c in ceilings])
    assert all(d <= c for d, c in zip([second - first, third - second], ceilings, strict=True))
    assert rig.sink.tracks(ok)[0].up
    assert not any("attempts" in e.fields for e in rig.sink.events(ok))
    failed = rig.sink.events(bad, "batch.poll_failed")
    assert [(e.fields["attempts"], e.fields["reason"], e.fields["status_code"]) for e in failed] == [(3, "http", 503)]
    # the retries hook hears of every request tried again: ok's two, and two per three-attempt poll of bad
    bad_polls = len(rig.api.times(bad)) // 3
    assert bad_polls >= 1
    assert [reason for _, reason in rig.retried].count("http") == 2 + 2 * bad_polls


@pytest.mark.parametrize(
    ("cap", "retry_after", "low", "high"), [(30.0, 5.0, 5.0, 30.0), (2.0, 1e9, 2.0, 2.0)], ids=["floor", "capped"]
)
async def test_retry_after_is_a_floor_capped_at_backoff_max(cap, retry_after, low, high):
    """A 503's Retry-After delays the next attempt at least that long, but never past backoff_max_seconds."""
    b = bid(1)
    rig = Rig(capped_at(cap))
    rig.api.script[b] = [http_503(retry_after)]
    async with rig.running([b]):
        await anyio.sleep(2 * INTERVAL)
    calls = rig.api.times(b)
    assert len(calls) >= 2
    assert low - EPS <= calls[1] - calls[0] <= high + EPS
    assert rig.sink.tracks(b)[0].up


async def test_throttle_on_one_batch_pauses_every_batch():
    """A 429 on batch A holds back B's requests too until the pause ends; the policy says throttled meanwhile."""
    a, b = bid(1), bid(2)
    rig = Rig(capped_at(30.0))
    rig.api.script[a] = [ThrottledError("HTTP 429", status_code=429, retry_after=15.0)]
    async with rig.running([a, b]) as start:
        await anyio.sleep_until(first_poll(a, start, rig.poller.timing) + 0.5)
        throttled_at = rig.api.times(a)[0]
        samples = [rig.policy.throttle.active(trio.current_time())]
        await anyio.sleep_until(throttled_at + 14.9)
        samples.append(rig.policy.throttle.active(trio.current_time()))
        await anyio.sleep_until(throttled_at + 25)
    until = throttled_at + 15
    assert samples == [True, True]
    assert rig.policy.throttle.until == pytest.approx(until)
    assert [c for c in rig.api.calls if throttled_at < c[0] < until - EPS] == []
    # the pause is longer than an interval, so one of B's slots fell inside it: that request waited for the end
    assert any(until - EPS <= t <= until + EPS for t in rig.api.times(b))
    assert any(until - EPS <= t <= until + EPS for t in rig.api.times(a))


async def test_ready_once_every_batch_polled_even_a_failing_one():
    """on_ready fires once, only after every watched batch's first poll, a failed poll counting as one."""
    ids = [bid(n) for n in range(1, 5)]
    rig = Rig()
    rig.api.failing.add(ids[0])
    async with rig.running(ids) as start:
        await anyio.sleep(3 * INTERVAL)
    assert len(rig.ready_at) == 1
    at, polled = rig.ready_at[0]
    assert polled == set(ids)
    assert rig.board.ready
    assert at < start + INTERVAL + 3  # first polls, the failing one's retries, one scheduler wake
    assert rig.sink.events(ids[0], "batch.poll_failed")


async def test_batch_unwatched_while_in_flight_leaves_no_trace():
    """A batch dropped by watch() while its details request is in flight reaches neither the sink nor the board."""
    gone, kept = bid(1), bid(2)
    rig = Rig()
    gate = rig.api.gates[gone] = Gate()
    async with rig.running([gone, kept]):
        await gate.entered.wait()
        changed = rig.poller.watch([kept])
        gate.release.set()
        await anyio.sleep(3 * INTERVAL)
    assert changed == ([], [gone])
    assert rig.sink.tracks(gone) == []
    assert gone not in rig.board.tracks
    assert gone in rig.api.forgotten
    assert len(rig.api.times(gone)) == 1  # and it is never polled again
    assert len(rig.sink.tracks(kept)) >= 3


async def test_list_mode_reads_seen_batches_from_pages_and_falls_back_to_details():
    """List mode reads seen batches from pages; one on no page falls back to details; a new one is read at once."""
    # a handful of new batches (too few for a sweep) is read by details, without waiting for the shared slot
    a, b, c, missing = (bid(n) for n in range(1, 5))
    rig = Rig(replace(CFG, watch=replace(CFG.watch, mode="list", list_page_size=2)))
    # two pages; c is listed too, but was never seen, so it must be read through its details
    rig.api.listed = (snap(a, "success"), snap(c, "success"), snap(b, "success"))
    async with rig.running([a, b, missing]) as start:
        cycle = first_poll(a, start, rig.poller.timing)  # list mode: new batches are read at once
        await anyio.sleep_until(cycle + 1)
        first = list(rig.api.calls)
        rig.poller.watch([a, b, missing, c])
        await anyio.sleep_until(cycle + INTERVAL + 1)
    second = [(op, what) for _, op, what in rig.api.calls[len(first) :] if op != "log"]  # finishing: log backfill
    assert sorted((op, what) for _, op, what in first) == sorted(("details", x) for x in (a, b, missing))
    assert sorted(second) == sorted([("list", "0"), ("list", "2"), ("details", c), ("details", missing)])
    assert {f["queue_name"] for f in rig.api.filters} == {"q1"}
    assert [t.state for t in rig.sink.tracks(a)] == ["running", "success"]
    assert [t.state for t in rig.sink.tracks(b)] == ["running", "success"]
    assert [t.state for t in rig.sink.tracks(c)] == ["running", "success"]


def list_mode(page_size: int) -> Config:
    return replace(CFG, watch=replace(CFG.watch, mode="list", list_page_size=page_size))


async def test_list_mode_first_cycle_finds_never_polled_batches_in_a_sweep():
    """A cold first cycle sweeps every queue oldest first; only the batch on no page is read by details."""
    ids = [bid(n) for n in range(1, 13)]
    stranger = bid(99)  # listed, not watched: ignored
    rig = Rig(list_mode(5))
    rig.api.listed = (*(snap(b) for b in ids[:6]), snap(stranger), *(snap(b) for b in ids[6:11]))
    async with rig.running(ids) as start:
        cycle = first_poll(ids[0], start, rig.poller.timing)
        await anyio.sleep_until(cycle + 1)
        first = [(op, what) for _, op, what in rig.api.calls]
        await anyio.sleep_until(cycle + INTERVAL + 1)
    assert sorted(first) == sorted([("list", "0"), ("list", "5"), ("list", "10"), ("details", ids[11])])
    assert rig.api.filters[0] == {"order": "CREATE_TIME_ASC", "start": "0"}  # virtual time is near the epoch
    assert len(rig.ready_at) == 1
    assert rig.ready_at[0][1] == set(ids)
    assert stranger not in rig.board.tracks
    # known now: the next cycle reads their queue
    assert rig.api.filters[3:] and all(f["queue_name"] == "q1" for f in rig.api.filters[3:])
    assert all(len(rig.sink.events(b, "batch.discovered")) == 1 for b in ids)


async def test_list_mode_sweep_stops_when_pages_would_cost_more_than_details():
    """When the pages left outnumber the batches still missing, the sweep stops and those go to details."""
    ids = [bid(n) for n in range(1, 11)]
    rig = Rig(list_mode(5))
    rig.api.listed = (*(snap(bid(1000 + n)) for n in range(100)), *(snap(b) for b in ids))
    async with rig.running(ids) as start:
        await anyio.sleep_until(first_poll(ids[0], start, rig.poller.timing) + 1)
    ops = Counter(op for _, op, _ in rig.api.calls)
    assert (ops["list"], ops["details"]) == (1, len(ids))


async def test_list_mode_first_cycle_held_while_output_is_stuck_is_swept_again():
    """Answers set aside by hold_poll advance nothing and leave readiness open; the next cycle sweeps again."""
    ids = [bid(n) for n in range(1, 11)]
    rig = Rig(list_mode(5))
    rig.api.listed = tuple(snap(b) for b in ids)
    rig.holding = True
    async with rig.running(ids) as start:
        cycle = first_poll(ids[0], start, rig.poller.timing)
        await anyio.sleep_until(cycle + 1)
        held = (list(rig.sink.got), rig.board.ready)
        rig.holding = False
        await anyio.sleep_until(cycle + INTERVAL + 2)  # readiness is seen at the scheduler's next pass
    assert held == ([], False)
    assert rig.board.ready
    assert [f.get("queue_name") for f in rig.api.filters] == [None, None, None, None]  # two sweeps of two pages
    assert all(len(rig.sink.events(b, "batch.discovered")) == 1 for b in ids)


async def test_list_mode_runs_one_cycle_at_a_time():
    """A cycle that outlasts the interval holds the next back; a batch due meanwhile waits for its end."""
    # a wait behind a cycle that polls nothing counts as overdue, as a stalled scheduler would (/healthz)
    ids, extra = [bid(n) for n in range(1, 11)], bid(11)
    rig = Rig(replace(list_mode(5), api=replace(CFG.api, timeout_seconds=60.0)))
    rig.api.listed = tuple(snap(b) for b in ids)
    async with rig.running(ids) as start:
        await anyio.sleep_until(start + 1)  # the first cycle, at once
        gate = rig.api.list_gate = Gate()
        await gate.entered.wait()  # the next cycle's first page, held
        held_at = trio.current_time()
        rig.poller.watch([*ids, extra])
        await anyio.sleep(2.5 * INTERVAL)
        overdue = rig.poller.overdue(trio.current_time())
        gate.release.set()
        await anyio.sleep(INTERVAL + 1)
    released = held_at + 2.5 * INTERVAL
    assert [t for t, op, _ in rig.api.calls if op == "list" and held_at < t < released] == []
    assert min(rig.api.times(extra)) >= released
    assert overdue > 2 * INTERVAL
    assert all(len(rig.sink.tracks(b)) == 3 for b in ids)  # the first cycle, the held one, the next slot's


async def test_scheduler_spreads_batches_over_the_interval():
    """First polls land at each batch's own offset within the first interval; then one poll per interval each."""
    ids = [bid(n) for n in range(1, 21)]
    rig = Rig()
    async with rig.running(ids) as start:
        await anyio.sleep(4 * INTERVAL)
    firsts = {b: rig.api.times(b)[0] for b in ids}
    assert all(start <= t < start + INTERVAL for t in firsts.values())
    assert all(t == pytest.approx(first_poll(b, start, rig.poller.timing), abs=TICK) for b, t in firsts.items())
    assert max(Counter(int(t - start) for t in firsts.values()).values()) <= len(ids) // 4
    for b in ids:
        times = rig.api.times(b)
        assert len(times) >= 3
        assert [t2 - t1 for t1, t2 in itertools.pairwise(times)] == pytest.approx(
            [INTERVAL] * (len(times) - 1), abs=TICK
        )


@pytest.mark.parametrize(
    ("concurrency", "plan"),
    [
        # B queues for the only slot behind A, whose 429 at t=1 asks for 10 s
        (1, [("A", 0.0, 1.0, 10.0), ("B", 0.5, 0.0, None)]),
        # B waits out A's 2 s pause; C's 429 at t=1 extends the pause to t=11 meanwhile
        (16, [("A", 0.0, 0.0, 2.0), ("C", 0.0, 1.0, 10.0), ("B", 0.5, 0.0, None)]),
    ],
    ids=["queued-for-a-slot", "pause-extended-while-waiting"],
)
async def test_no_request_starts_during_a_pause(concurrency, plan):
    """A request waiting for a slot, or for a pause another 429 then extends, starts only once the pause is over."""
    start = trio.current_time()
    api = replace(CFG.api, backoff_max_seconds=30.0)  # Retry-After of 10 s is honoured whole
    policy = RequestPolicy(api, concurrency, clock=trio.current_time, rng=random.Random(1))
    starts: list[tuple[str, float]] = []
    pauses: list[tuple[float, float]] = []

    async def run(name: str, when: float, hold: float, retry_after: float | None) -> None:
        async def request() -> None:
            first = name not in {n for n, _ in starts}
            starts.append((name, trio.current_time() - start))
            await anyio.sleep(hold if first else 0)
            if first and retry_after is not None:
                now = trio.current_time() - start
                pauses.append((now, now + retry_after))
                raise ThrottledError("HTTP 429", status_code=429, retry_after=retry_after)

        await anyio.sleep_until(start + when)
        await policy.call(request)

    async with anyio.create_task_group() as tg:
        for step in plan:
            tg.start_soon(run, *step)
    early = [(n, t) for n, t in starts if any(a < t < b for a, b in pauses)]
    assert not early, f"requests started during a pause {pauses}: {early}"
    assert ("B", 11.0) in starts


async def test_a_wall_clock_step_back_never_delays_polling():
    """The wall clock steps back an hour after every poll: each batch is still polled once per interval."""
    ids = [bid(n) for n in range(1, 6)]
    rig = Rig()
    steps = itertools.count()

    def stepping_wall() -> float:
        # every read is an hour earlier than the last, as if the clock were set back between any two reads
        return trio.current_time() - 3600.0 * next(steps)

    rig.poller = Poller(
        rig.api,
        rig.policy,
        CFG,
        rig.board,
        rig.sink,
        Telemetry(),
        clocks=Clocks(stepping_wall, trio.current_time),
    )
    async with rig.running(ids) as start:
        await anyio.sleep(5 * INTERVAL)
    for b in ids:
        times = rig.api.times(b)
        assert times[0] < start + INTERVAL + TICK
        assert len(times) >= 4
        assert max(t2 - t1 for t1, t2 in itertools.pairwise(times)) <= INTERVAL + TICK


class KeptApi(FakeApi):
    """Lists an unchanged batch as its kept snapshot itself, as BatchApi.list does with ``known``."""

    async def list(self, start: int, size: int, /, known: object = None, **filters: str) -> ListPage:
        page = await super().list(start, size, known, **filters)
        assert callable(known)
        same = [(s, known(s.batch_id)) for s in page.sessions]
        return replace(page, sessions=tuple(k if k is not None and k == s else s for s, k in same))


async def test_list_mode_takes_an_unchanged_item_at_once_with_what_the_full_poll_gives():
    """Items that are the kept snapshot (taken without a coroutine) give the sink what fresh equal items do."""
    ids = [bid(n) for n in range(1, 4)]
    rigs = [Rig(list_mode(2)), Rig(list_mode(2))]
    for rig, api in zip(rigs, (FakeApi(), KeptApi()), strict=True):
        rig.api = rig.poller._api = rig.poller._lists._api = api
        api.listed = tuple(snap(b) for b in ids)
    taken: list[bool] = []
    take_now = rigs[1].poller._lists._take_now

    def counted(batch_id: str, listed: Snapshot) -> bool:
        taken.append(take_now(batch_id, listed))
        return taken[-1]

    rigs[1].poller._lists._take_now = counted
    async with rigs[0].running(ids) as start, rigs[1].running(ids):  # side by side: the same virtual times
        await anyio.sleep_until(first_poll(ids[0], start, rigs[0].poller.timing) + 3 * INTERVAL + 1)
    full, kept = (rig.sink for rig in rigs)
    assert len(kept.got) == len(full.got) == 4 * len(ids)  # the first cycle by details, then three list cycles
    assert kept.got == full.got
    assert taken == [True] * 3 * len(ids)
    # taken at once: the kept snapshot stays the very object; the full poll keeps a new one each time
    later = [t for _, t, _ in kept.got[len(ids) :]]
    assert all(t.snapshot is kept.tracks(t.batch_id)[0].snapshot for t in later)
    assert not any(t.snapshot is full.tracks(t.batch_id)[0].snapshot for _, t, _ in full.got[len(ids) :])
    # and the very track, its time of success moved in place: what a new track each time gave, poll by poll
    assert all(t is kept.tracks(t.batch_id)[0] for t in later)
    assert kept.successes == full.successes
    assert set(kept.successes) == {at for at, _, _ in kept.got}  # each cycle moved it to its own time
    # the cycle's batches wait for one slot: one float for all (``Poller._schedule``), not one each
    due = rigs[1].poller._due
    assert len({id(due.when(b)) for b in ids}) == 1


def test_one_slot_shares_its_poll_time_only_within_a_tick():
    """Batches queued on the same wall-clock slot share one monotonic time, unless the clocks moved apart since."""
    mono = [0.0]
    rig = Rig(list_mode(2))
    rig.poller = Poller(
        rig.api,
        rig.policy,
        list_mode(2),
        rig.board,
        rig.sink,
        Telemetry(),
        clocks=Clocks(lambda: 50.0, lambda: mono[0]),
    )
    schedule, due = rig.poller._schedule, rig.poller._due
    schedule("a", 100.0, 50.0)
    mono[0] = 0.01
    schedule("b", 100.0, 50.0)
    assert due.when("a") is due.when("b") and due.when("a") == 50.0
    mono[0] = 5.0  # the same slot, read when the monotonic clock has gone on without the wall clock
    schedule("c", 100.0, 50.0)
    assert due.when("c") == 55.0
    assert due.pop_due(54.0) == ["a", "b"] and due.pop_due(60.0) == ["c"]
