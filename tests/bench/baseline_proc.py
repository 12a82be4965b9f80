"""One baseline client in its own process: GET batch details at a paced rate, 50 at a time, and report CPU.

Kinds: ``aiohttp`` (bare ClientSession.get + json.loads, the floor), ``httpx`` (bare
httpx.AsyncClient with its default transport + json.loads; HTTP/2 with ``--http2``) and ``sdk`` (the official
huaweicloudsdkdli DliClient.show_spark_job from a pool of threads; it signs every request with
a made-up AK/SK, which a server with auth none ignores). Prints one JSON line:
``{"kind", "requests", "errors", "cpu", "wall", "user", "sys"}`` over the measured part, after a
warm-up that opens the connections. ``--tick`` starts the requests due within one tick together.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import resource
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

SDK_AK = "AKBENCH000000000000"
SDK_SK = "SKBENCHsecret00000000000000000000000000"


class Pace:
    """Hands out request slots ``1/rate`` apart (no pacing when rate is 0) and counts outcomes.

    With a ``tick``, each slot is rounded up to the next multiple of it, so the requests due within
    one tick start together, as the watcher's scheduler starts them.
    """

    def __init__(self, rate: float, tick: float = 0.0) -> None:
        """Start the clock now."""
        self.rate = rate
        self.tick = tick
        self.t0 = time.monotonic()
        self._next = itertools.count()
        self.done = 0
        self.errors = 0
        self.error_kinds: Counter[str] = Counter()

    def failed(self, exc: Exception) -> None:
        """Count a failed request by its exception type (reported, so an error rate can be explained)."""
        self.errors += 1
        self.error_kinds[f"{type(exc).__module__}.{type(exc).__name__}: {str(exc)[:80]}"] += 1

    def slot(self) -> tuple[int, float]:
        """The next request's index and how long to wait before sending it."""
        i = next(self._next)
        if not self.rate:
            return i, 0.0
        at = i / self.rate
        if self.tick:
            at = math.ceil(at / self.tick) * self.tick
        return i, self.t0 + at - time.monotonic()


def usage() -> tuple[float, float, float, float]:
    """(process CPU, user, sys, monotonic) now."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return time.process_time(), ru.ru_utime, ru.ru_stime, time.monotonic()


def result(kind: str, before: tuple[float, float, float, float], done0: int, err0: int, pace: Pace) -> dict[str, Any]:
    """The measured window's figures, from a snapshot taken at its start."""
    after = usage()
    return {
        "kind": kind,
        "requests": pace.done - done0,
        "errors": pace.errors - err0,
        "error_kinds": dict(pace.error_kinds),  # over the whole run, warm-up included
        "cpu": after[0] - before[0],
        "user": after[1] - before[1],
        "sys": after[2] - before[2],
        "wall": after[3] - before[3],
    }


async def run_async(
    kind: str, urls: list[str], concurrency: int, pace: Pace, warmup: float, seconds: float, *, http2: bool = False
) -> dict[str, Any]:
    """Drive ``concurrency`` asyncio workers with aiohttp or httpx."""
    stop_at = time.monotonic() + warmup + seconds
    get: Callable[[str], Awaitable[bytes]]
    if kind == "aiohttp":
        import aiohttp  # noqa: PLC0415 - each kind imports only its own client

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

        async def get(url: str) -> bytes:
            """One GET through aiohttp; the body."""
            async with session.get(url) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(resp.status)
                return body

        close: Callable[[], Awaitable[None]] = session.close
    else:
        import httpx  # noqa: PLC0415

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        # HTTP/2 over cleartext needs prior knowledge: no HTTP/1.1 to upgrade from
        client = httpx.AsyncClient(limits=limits, http1=not http2, http2=http2)

        async def get(url: str) -> bytes:
            """One GET through httpx; the body."""
            resp = await client.get(url)
            resp.raise_for_status()
            return resp.content

        close = client.aclose

    async def worker() -> None:
        """Take slots and GET + decode until the time is up."""
        while True:
            i, delay = pace.slot()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() >= stop_at:
                return
            try:
                json.loads(await get(urls[i % len(urls)]))
                pace.done += 1
            except Exception as exc:  # noqa: BLE001 - counted, the loop goes on
                pace.failed(exc)

    async def window() -> dict[str, Any]:
        """Skip the warm-up, then measure."""
        await asyncio.sleep(warmup)
        before, done0, err0 = usage(), pace.done, pace.errors
        await asyncio.sleep(seconds)
        return result(kind, before, done0, err0, pace)

    try:
        measured = asyncio.create_task(window())
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return await measured
    finally:
        await close()


def run_sdk(
    endpoint: str, project_id: str, ids: list[str], concurrency: int, pace: Pace, warmup: float, seconds: float
) -> dict[str, Any]:
    """Drive the official SDK's synchronous client from ``concurrency`` threads."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: PLC0415
    from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: PLC0415
    from huaweicloudsdkdli.v1 import DliClient, ShowSparkJobRequest  # noqa: PLC0415

    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    config.pool_maxsize = concurrency
    client = (
        DliClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(SDK_AK, SDK_SK, project_id))
        .with_endpoints([endpoint])
        .build()
    )
    lock = threading.Lock()
    stop_at = time.monotonic() + warmup + seconds

    def worker() -> None:
        """Take slots and call show_spark_job until the time is up."""
        while True:
            with lock:
                i, delay = pace.slot()
            if delay > 0:
                time.sleep(delay)
            if time.monotonic() >= stop_at:
                return
            try:
                client.show_spark_job(ShowSparkJobRequest(batch_id=ids[i % len(ids)]))
                with lock:
                    pace.done += 1
            except Exception as exc:  # noqa: BLE001
                with lock:
                    pace.failed(exc)

    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(worker) for _ in range(concurrency)]
        time.sleep(warmup)
        before, done0, err0 = usage(), pace.done, pace.errors
        time.sleep(seconds)
        measured = result("sdk", before, done0, err0, pace)
        for f in futures:
            f.result()
    return measured


def main() -> None:
    """Parse the options, run one baseline, print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=["aiohttp", "httpx", "sdk"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--project-id", required=True)
    parser.add_argument("--ids-file", required=True)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=float, default=0.0, help="requests per second (0: as fast as it goes)")
    parser.add_argument("--http2", action="store_true", help="httpx only: HTTP/2 with prior knowledge")
    parser.add_argument("--tick", type=float, default=0.0, help="start the requests due within a tick together")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with open(args.ids_file, encoding="utf-8") as f:
        ids = [line.strip() for line in f if line.strip()]
    pace = Pace(args.rate, args.tick)
    if args.kind == "sdk":
        out = run_sdk(args.url, args.project_id, ids, args.concurrency, pace, args.warmup, args.seconds)
    else:
        urls = [f"{args.url}/v2.0/{args.project_id}/batches/{bid}" for bid in ids]
        run = run_async(args.kind, urls, args.concurrency, pace, args.warmup, args.seconds, http2=args.http2)
        out = asyncio.run(run)
    out["rate"] = args.rate
    out["tick"] = args.tick
    out["http2"] = args.http2
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
