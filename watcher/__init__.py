"""dli-watcher: a read-only watcher of Huawei Cloud DLI and Apache Livy batch jobs."""

# First, before any other import: a SIGHUP's default action is death, and a reload asked for by a
# `systemctl reload` or a config tool right after start must not kill the process. Until the daemon
# installs its own handlers, a SIGHUP is only noted (cli.main acts on it once the daemon runs).
# Only a default disposition is replaced: a program that imports this package and set its own keeps it.
import signal as _signal

EARLY_HUPS: list[int] = []  # SIGHUPs that arrived before the daemon took over its signals


def remember_hup(signum: int, _: object) -> None:
    """A SIGHUP before the daemon's handlers: noted, not fatal."""
    EARLY_HUPS.append(signum)


try:
    if _signal.getsignal(_signal.SIGHUP) is _signal.SIG_DFL:
        _signal.signal(_signal.SIGHUP, remember_hup)
except ValueError:  # imported outside the main thread: the main program owns its signals
    pass

from importlib.metadata import PackageNotFoundError, version  # noqa: E402 - after the handler, on purpose

try:
    __version__ = version("dli-watcher")  # set from git by setuptools-scm when installed
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0.0.0+unknown"
