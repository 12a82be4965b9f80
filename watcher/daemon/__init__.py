"""The running watcher: composition and lifecycle, the poll loop, list polling, discovery, the state file."""
