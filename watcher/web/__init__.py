"""The HTTP side: the bounded server of /metrics, /healthz, /readyz, its TLS and basic auth, and the status pages."""
