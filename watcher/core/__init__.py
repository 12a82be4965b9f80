"""The pure core: states, decoding, the log diff, the per-batch state machine, scheduling. No I/O, no clock."""
