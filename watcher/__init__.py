"""dli-watcher: a read-only watcher of Huawei Cloud DLI and Apache Livy batch jobs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dli-watcher")  # set from git by setuptools-scm when installed
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0.0.0+unknown"
