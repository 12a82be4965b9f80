"""Where the HTTP edge reports each exchange it makes, for a recording: the one hook the API client calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from watcher.core.recordformat import KEPT_HEADERS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import httpx


class Tap(Protocol):
    """Receives every API exchange (the answer's body as read) and the status of every IAM request."""

    def exchange(  # noqa: D102
        self,
        request: httpx.Request,
        status: int,
        headers: dict[str, str],
        body: bytes,
        error: tuple[str, str] | None = None,
    ) -> None: ...

    def iam(self, method: str, path: str, status: int) -> None: ...  # noqa: D102


def kept_headers(headers: httpx.Headers) -> dict[str, str]:
    """The response headers a recording keeps (never an auth or cookie header)."""
    return {name: headers[name] for name in KEPT_HEADERS if name in headers}


def iam_hook(tap: Tap) -> Callable[[httpx.Response], Awaitable[None]]:
    """An httpx response event hook that reports an IAM request's method, path and status only."""

    async def hook(response: httpx.Response) -> None:
        tap.iam(response.request.method, response.request.url.path, response.status_code)

    return hook
