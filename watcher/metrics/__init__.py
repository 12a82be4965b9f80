"""Prometheus metrics: the collectors and the /metrics exposition (served by ``watcher.web``)."""
