"""The watcher's exception tree: what went wrong decides what a person is told and how the process ends.

WatcherError
├── ConfigError              bad config or credentials: exit 2, message names the key
├── SetupError               the environment cannot work (state file held or unusable, port busy): exit 2
└── ApiError                 a request to DLI/Livy failed; ``reason`` is the poll_failed reason
    ├── TransientApiError    timeouts, connect errors, 5xx, 429, APIG.0308: retry with backoff
    │   ├── TimeoutApiError  the request did not finish in time
    │   ├── ConnectApiError  no connection, or it broke mid-request
    │   └── ThrottledError   429 / APIG.0308: the whole client slows down
    ├── AuthError            401/403: refresh an IAM token once, else report
    ├── NotFoundError        DLI.0002 / 404: the batch does not exist (any more)
    ├── PermanentApiError    any other 4xx: not retried
    └── DecodeError          a body that is not the JSON we need

Three kinds, kept apart: the person's config or environment (ConfigError, SetupError: exit 2, one line),
the API's answers (ApiError: a poll fails with its ``reason``, a one-shot command with its exit code),
and everything else, which is a bug of the watcher's own: a poll counts it as reason ``internal`` (never
the API's fault) with one ``watcher.internal_error`` event and its traceback, and the CLI turns it into
one line. A few errors stay inside the module that raises and handles them (a recording's
``RecordingError``, the HTTP parsers' ``BadRequestError``) and are no part of this tree.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

# internal: not the API's fault but the watcher's own (a bug); no ApiError carries it
FailureReason = Literal["timeout", "connect", "http", "throttled", "auth", "decode", "internal"]
# every poll_failed reason; the metrics pre-fill their counters from it
REASONS: Final[tuple[FailureReason, ...]] = get_args(FailureReason)


class WatcherError(Exception):
    """Base of every error the watcher raises on purpose."""


class ConfigError(WatcherError):
    """Invalid configuration or credentials, naming the dotted key at fault."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class SetupError(WatcherError):
    """The environment cannot work as configured (a state file held by another watcher, a busy port).

    Restarting would not help, so the process exits 2 with one line; ``subject`` names the file or address.
    """

    def __init__(self, subject: str, problem: str) -> None:
        super().__init__(f"{subject}: {problem}")
        self.subject = subject
        self.problem = problem


class ApiError(WatcherError):
    """A DLI/Livy request that did not give a usable answer."""

    reason: FailureReason = "http"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_code = error_code
        self.retry_after = retry_after
        self.attempts = 1


class TransientApiError(ApiError):
    """Worth retrying: the server or the path to it is having trouble."""


class TimeoutApiError(TransientApiError):
    """The request did not finish within its timeout."""

    reason: FailureReason = "timeout"


class ConnectApiError(TransientApiError):
    """The connection could not be made or broke mid-request."""

    reason: FailureReason = "connect"


class ThrottledError(TransientApiError):
    """429 or APIG.0308: the client as a whole must slow down."""

    reason: FailureReason = "throttled"


class AuthError(ApiError):
    """401/403 or an IAM failure; secrets are never part of the message."""

    reason: FailureReason = "auth"


class NotFoundError(ApiError):
    """The batch does not exist: never created, or garbage-collected after it finished."""


class PermanentApiError(ApiError):
    """A 4xx that a retry will not fix."""


class DecodeError(ApiError):
    """A response body that is not JSON, truncated, or lacks what we need."""

    reason: FailureReason = "decode"
