"""dli-watcher: a read-only watcher of Huawei Cloud DLI and Apache Livy batch jobs."""

__version__ = "0.1.0"
