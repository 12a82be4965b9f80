"""The status pages for people: ``/`` (the watched batches, filtered, sorted, paged) and ``/batches/{id}``."""
