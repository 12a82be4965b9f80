"""Prometheus metrics: collectors, the /metrics exposition and the HTTP endpoints."""
