"""Whether the API is there at all, for the one-shot commands: how long it has given no usable answer in a row.

Counted as no answer: connection, DNS and TLS failures, timeouts, 5xx and ``DLI.0999``. Throttling
(429, ``APIG.0308``) and bodies that could not be decoded are answers of a kind: they neither count nor
reset. Credentials refused (401/403, IAM refusing the login) are not an outage but a mistake, kept apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher.errors import (
    ApiError,
    AuthError,
    ConnectApiError,
    DecodeError,
    ThrottledError,
    TimeoutApiError,
)

BUSY_CODE = "DLI.0999"


def counted(err: ApiError) -> bool:
    """Whether ``err`` is the API not being there (as opposed to an answer, however unwelcome)."""
    if isinstance(err, ThrottledError | DecodeError):
        return False
    if isinstance(err, ConnectApiError | TimeoutApiError):
        return True
    return (err.status_code is not None and err.status_code >= 500) or err.error_code == BUSY_CODE


def rejected(err: ApiError) -> bool:
    """Whether ``err`` says our credentials were refused (after the one token refresh the client makes)."""
    return isinstance(err, AuthError) and err.status_code is not None and 400 <= err.status_code < 500


@dataclass(slots=True)
class Reachability:
    """Since when the API has given no usable answer (None while it answers), and the last reason why."""

    failing_since: float | None = None
    last_failure: ApiError | None = None
    refusal: ApiError | None = None

    def answered(self) -> None:
        """A usable answer: the outage, if any, is over."""
        self.failing_since = None

    def failed(self, err: ApiError, now: float) -> None:
        """A call (or an attempt of one) ended in ``err`` at ``now``."""
        if rejected(err):
            self.refusal = err
        elif counted(err):
            self.last_failure = err
            if self.failing_since is None:
                self.failing_since = now
        elif not isinstance(err, ThrottledError | DecodeError):
            self.failing_since = None  # a 404 or another 4xx: the API is there

    def unreachable(self, now: float, timeout: float) -> bool:
        """Whether the API has given no usable answer for ``timeout`` seconds in a row (0: never give up)."""
        return timeout > 0 and self.failing_since is not None and now - self.failing_since >= timeout
