"""The DLI/Livy API client: HTTP client and transport, authentication and signing, the request policy."""
