"""The HTTP server for the endpoints: its own thread and event loop, bounded in connections, time and threads.

A thread per connection let 1,000 half-open clients make 1,000 threads, starve the file descriptors
and then render /metrics 1,000 times at once. Here one event loop thread owns every connection: a
client that does not finish its TLS handshake and request head within ``HEAD_TIMEOUT_SECONDS`` is
dropped, at most ``max_connections()`` are open (at the cap a new client pushes out the oldest one
still sending its head, so a flood cannot lock a probe out), /healthz and /readyz are answered on
the loop itself and never wait for a render, and /metrics renders in one worker thread, once for
all the scrapes that arrive while it runs (``SharedRender``); the status pages render in that same
thread, one at a time. Rendering off the watcher's own loop keeps a scrape or a page from delaying
a poll.

Password checks run one at a time in a thread of their own; at most ``MAX_AUTH_WAITING`` wait for it
and a connection that waits gives up its slot, so a flood of wrong passwords gets 503s at once and
never holds the slots a probe needs. When every slot is being answered all the same, a newcomer gets
one of ``PROBE_LANE`` more slots, in which only /healthz and /readyz are answered (anything else 503).
Who sees the status pages is ``access.PageAccess``'s decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import resource
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import anyio

from watcher.errors import SetupError
from watcher.metrics.exposition import negotiate
from watcher.web import occupant
from watcher.web.access import PageAccess, loopback_peer
from watcher.web.basicauth import CHALLENGE, credentials
from watcher.web.endpoints import landing, not_found, reload_answer
from watcher.web.httpwire import MAX_HEAD_BYTES, BadRequestError, Request, Response, encode, parse_head, text
from watcher.web.pacing import Paced
from watcher.web.shared import SharedRender
from watcher.web.status.jsonview import wants_json
from watcher.web.status.pages import serves
from watcher.web.tlsserver import sans

if TYPE_CHECKING:
    from anyio.abc import TaskStatus

    from watcher.metrics.exposition import Variant
    from watcher.web.basicauth import BasicAuth
    from watcher.web.endpoints import Endpoints
    from watcher.web.webconfig import WebConfig

HEAD_TIMEOUT_SECONDS = 10.0  # TLS handshake and request head
WRITE_TIMEOUT_SECONDS = 10.0  # a client that does not read its answer
ANSWER_TIMEOUT_SECONDS = 30.0  # waiting for the render (or a password check)
CLOSE_TIMEOUT_SECONDS = 2.0
STOP_TIMEOUT_SECONDS = 5.0
BACKLOG = 128
MAX_CONNECTIONS = 1024
PAGE_SHARE = 0.5  # of the render thread's time, at most, for the status pages
ALLOW = ("Allow", "GET, HEAD")
RELOAD_PATH = "/-/reload"
# password checks queued for the check thread; past this a request is answered 503 at once
MAX_AUTH_WAITING = 8
# connections beyond the cap whose every slot is being answered: read for a probe, anything else is 503
PROBE_LANE = 32
# a method's request body we read (and drop) before answering 405, so closing does not reset the answer away
MAX_DRAINED_BYTES = 64 * 1024


def max_connections() -> int:
    """The cap on open connections: half the file descriptors the process may have, at most 1,024."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    # the other half is for the API connections, the state file and the rest; RLIM_INFINITY is -1
    return MAX_CONNECTIONS if soft < 0 else max(16, min(MAX_CONNECTIONS, soft // 2))


def where(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 host."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a busy or impossible address is a SetupError naming it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SetupError(where(host, port), f"address already in use; {occupant.describe(host, port)}") from None
        raise SetupError(where(host, port), f"cannot listen there: {exc.strerror or exc}") from None


class Slots:
    """The open connections, at most ``cap``: at the cap a newcomer pushes out the oldest one still sending its head.

    A flood of clients that never finish their request thus costs them their own connections,
    not the probe's; a connection that sent its head is being answered and keeps its slot.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: set[asyncio.StreamWriter] = set()
        self._sending: dict[asyncio.StreamWriter, None] = {}  # in arrival order, oldest first

    def __len__(self) -> int:
        return len(self._open)

    @property
    def answering_count(self) -> int:
        """Connections that sent their head and are being answered."""
        return len(self._open) - len(self._sending)

    def admit(self, writer: asyncio.StreamWriter) -> bool:
        """Make room for a new connection if it is needed and possible; False when every slot is answering."""
        if len(self._open) >= self.cap:
            if not self._sending:
                return False
            oldest = next(iter(self._sending))
            self.leave(oldest)
            oldest.transport.abort()
        self._open.add(writer)
        self._sending[writer] = None
        return True

    def answering(self, writer: asyncio.StreamWriter) -> None:
        """The connection sent its head: it is no longer the one to push out."""
        self._sending.pop(writer, None)

    def leave(self, writer: asyncio.StreamWriter) -> None:
        """The connection is done."""
        self._open.discard(writer)
        self._sending.pop(writer, None)

    def abort_all(self) -> None:
        """Drop every connection now (the server stops)."""
        for writer in list(self._open):
            self.leave(writer)
            writer.transport.abort()


class MetricsServer:
    """The endpoints served from a thread of their own; the address is bound at construction (or given bound).

    ``run`` (a task of the daemon's task group) starts the thread and stops it when cancelled.
    """

    def __init__(
        self,
        host: str,
        port: int,
        endpoints: Endpoints,
        web: WebConfig | None = None,
        access: PageAccess | None = None,
        *,
        sock: socket.socket | None = None,
    ) -> None:
        # a socket bound earlier by the caller: a busy port is refused before anything else is set up
        self._sock = bind(host, port) if sock is None else sock
        self.web = web  # TLS and basic auth; replaced whole by configure(), read once per connection
        self.access = access or PageAccess()  # who sees the status pages; replaced whole on a reload
        sockname = self._sock.getsockname()
        self.address = (str(sockname[0]), int(sockname[1]))
        self._endpoints = endpoints
        self._slots = Slots(max_connections())
        # when every slot is being answered (slow renders, a flood), probes still get in by a lane of their own
        self._probe_lane = Slots(PROBE_LANE)
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()  # the loop handle and the stop decision, across threads
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stopping = False
        self._up = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._thread_main, name="dli-watcher-http", daemon=True)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="dli-watcher-render")
        self.renders: SharedRender[Variant, Response] = SharedRender(endpoints.metrics, self._executor)
        # the same thread: a page waits for a scrape's render and the other way round, so neither adds a core's
        # load; pages rest between renders, so people paging through the fleet take at most half of that thread
        self.pages: SharedRender[tuple[str, str], Response] | None = None
        if endpoints.pages is not None:
            self.pages = SharedRender(Paced(endpoints.pages.answer, PAGE_SHARE), self._executor)
        # bcrypt is slow on purpose: one thread of its own, so password checks never delay a render
        self._auth_executor = ThreadPoolExecutor(1, thread_name_prefix="dli-watcher-auth")
        # checks submitted and not finished (counted until the thread is done, not until the waiter gives up)
        self._auth_pending = 0
        self._auth_count_lock = threading.Lock()
        self.auth_refused = 0  # requests answered 503 because the check queue was full

    def configure(self, web: WebConfig | None, access: PageAccess | None = None) -> None:
        """Use a new web config (and page access) from the next connection on (SIGHUP)."""
        self.web = web
        if access is not None:
            self.access = access

    @property
    def connections(self) -> tuple[int, int]:
        """(open, being answered) connections; read from another thread it is a snapshot, for tests and bounds."""
        return len(self._slots), self._slots.answering_count

    async def run(self, *, task_status: TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; reports the bound address once the server answers."""
        try:
            self._thread.start()
            await anyio.to_thread.run_sync(self._up.wait)
            if self._failure is not None:
                raise self._failure
            task_status.started(self.address)
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.stop)

    def stop(self) -> None:
        """Stop serving and close every connection; safe before, during and after ``run``, and more than once."""
        with self._lock:
            self._stopping = True
            loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT_SECONDS)
        self._sock.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._auth_executor.shutdown(wait=False, cancel_futures=True)

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - handed to run(), which raises it in the daemon's task group
            self._failure = exc
        finally:
            self._up.set()

    async def _main(self) -> None:
        with self._lock:
            if self._stopping:
                return
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self._connection, sock=self._sock, limit=MAX_HEAD_BYTES, backlog=BACKLOG)
        self._up.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            self._slots.abort_all()
            self._probe_lane.abort_all()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        slots = self._slots if self._slots.admit(writer) else self._probe_lane
        if slots is self._probe_lane and not slots.admit(writer):
            writer.transport.abort()
            return
        self._tasks.add(task)
        try:
            answer = await self._exchange(reader, writer, slots)
            if answer is not None:
                async with asyncio.timeout(WRITE_TIMEOUT_SECONDS):
                    writer.write(answer)
                    await writer.drain()
                writer.close()
                async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                    await writer.wait_closed()
        except (OSError, TimeoutError, EOFError):
            pass  # a client that went away or dawdled: nothing to tell it
        except asyncio.CancelledError:
            # the server stops; ending normally keeps asyncio's stream callback from logging each cancelled task
            pass
        finally:
            slots.leave(writer)
            self._tasks.discard(task)
            writer.transport.abort()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, slots: Slots) -> bytes | None:
        """The bytes to answer a connection with (only a probe's in the probe lane), or None to just close it."""
        web = self.web
        try:
            async with asyncio.timeout(HEAD_TIMEOUT_SECONDS):
                if web is not None and web.tls is not None:
                    await writer.start_tls(web.tls)
                head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            return encode(text(431, "request head too large\n"), extra=_headers(web))
        except (asyncio.IncompleteReadError, TimeoutError, OSError):
            return None
        slots.answering(writer)
        try:
            request = parse_head(head)
        except BadRequestError as exc:
            return encode(text(400, f"{exc}\n"), extra=_headers(web))
        if slots is self._probe_lane and self._endpoints.probe(request.path) is None:
            return encode(text(503, "busy, try again\n", ("Retry-After", "1")), extra=_headers(web))
        if request.method not in ("GET", "HEAD"):
            await _drain(reader, request)
            return encode(await self._other_method(request, web, writer), extra=_headers(web))
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT_SECONDS):
                response = await self._answer(request, web, writer)
        except TimeoutError:
            response = text(503, "busy, try again\n", ("Retry-After", "1"))
        return encode(response, head_only=request.method == "HEAD", extra=_headers(web))

    async def _answer(self, request: Request, web: WebConfig | None, writer: asyncio.StreamWriter) -> Response:
        probe = self._endpoints.probe(request.path)
        if probe is not None:
            return probe  # probes need no authentication, so that kubelets and load balancers can ask
        denied = await self._denied(request, web, writer)
        if denied is not None:
            return denied
        if request.path == "/metrics":
            return await self.renders.get(negotiate(request.header("accept"), request.header("accept-encoding")))
        if serves(request.path):
            return await self._page(request, web, writer)
        return not_found()

    async def _other_method(self, request: Request, web: WebConfig | None, writer: asyncio.StreamWriter) -> Response:
        """A method other than GET and HEAD: POST /-/reload, or 405."""
        if request.method == "POST" and request.path == RELOAD_PATH:
            return await self._reload(request, web, writer)
        return text(405, "only GET and HEAD (and POST /-/reload when enabled)\n", ALLOW)

    async def _reload(self, request: Request, web: WebConfig | None, writer: asyncio.StreamWriter) -> Response:
        """POST /-/reload: 405 while the lifecycle API is off, else (once authenticated) a reload and its result."""
        reload = self._endpoints.lifecycle()
        if reload is None:
            return text(405, "the lifecycle API is off (metrics.enable_lifecycle, --web.enable-lifecycle)\n", ALLOW)
        denied = await self._denied(request, web, writer)
        if denied is not None:
            return denied
        # the reload runs on the watcher's loop; this thread only waits for its answer
        return reload_answer(await asyncio.get_running_loop().run_in_executor(None, reload))

    async def _page(self, request: Request, web: WebConfig | None, writer: asyncio.StreamWriter) -> Response:
        """A status page, the landing page, 404 or 421, as the page access rules decide."""
        access = self.access
        if not access.host_allowed(request.header("host")):
            # a name that is not ours: a DNS-rebinding page in a browser on this host, or a wrong proxy
            return text(421, "misdirected request: this Host is not in status.allowed_hosts\n")
        authenticated = web is not None and (web.auth is not None or web.client_certs == "required")
        if self.pages is None or not access.shown(authenticated=authenticated, loopback=loopback_peer(writer)):
            # the landing page for people; a JSON view, like every batch page, is not there at all
            shown_landing = request.path == "/" and not wants_json(request.query)
            return landing(hint=self.pages is not None) if shown_landing else not_found()
        return await self.pages.get((request.path, request.query))

    async def _denied(self, request: Request, web: WebConfig | None, writer: asyncio.StreamWriter) -> Response | None:
        """Why the web config refuses this request (a client certificate or a password missing), or None."""
        if web is None:
            return None
        refused = _certificate_refusal(web, writer.get_extra_info("peercert"))
        if refused is not None or web.auth is None:
            return refused
        given = credentials(request.header("authorization"))
        if given is None:
            return text(401, "unauthorized\n", CHALLENGE)
        if web.auth.remembered(*given):
            return None  # a scraper's usual case: no bcrypt, no thread
        with self._auth_count_lock:
            full = self._auth_pending >= MAX_AUTH_WAITING
            if not full:
                self._auth_pending += 1
        if full:
            self.auth_refused += 1
            return text(503, "busy checking passwords, try again\n", ("Retry-After", "1"))
        # waiting on the check thread, the connection holds no slot: a flood of guesses cannot crowd out a probe
        self._slots.leave(writer)
        ok = await asyncio.get_running_loop().run_in_executor(self._auth_executor, self._check, web.auth, *given)
        return None if ok else text(401, "unauthorized\n", CHALLENGE)

    def _check(self, auth: BasicAuth, user: str, password: str) -> bool:
        """One password check, in the check thread; it leaves the queue when it is done, waited for or not."""
        try:
            return auth.verify(user, password)
        finally:
            with self._auth_count_lock:
                self._auth_pending -= 1


def _certificate_refusal(web: WebConfig, peercert: object) -> Response | None:
    if web.client_certs == "required" and not peercert:
        return text(403, "a client certificate is required\n")
    if web.allowed_sans and not sans(peercert) & web.allowed_sans:
        return text(403, "the client certificate names no allowed subject\n")
    return None


def _headers(web: WebConfig | None) -> tuple[tuple[str, str], ...]:
    return () if web is None else web.headers


async def _drain(reader: asyncio.StreamReader, request: Request) -> None:
    """Read a small request body away, so that closing the connection does not reset the answer."""
    length = request.header("content-length")
    if length.isdigit() and 0 < int(length) <= MAX_DRAINED_BYTES:
        with contextlib.suppress(asyncio.IncompleteReadError, TimeoutError, OSError):
            async with asyncio.timeout(1.0):
                await reader.readexactly(int(length))
