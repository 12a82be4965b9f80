"""The event stream on stdout: the JSON writer and the readable renderer."""
