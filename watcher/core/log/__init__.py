"""The log diff: what a poll's 10-line window and the log endpoint's answer add to what was seen of each stream.

``poll`` is the entry point the daemon calls before and after a ``/log`` read; ``diff`` reads a window,
``layout`` splits it into sections, ``bridge`` joins an answer without markers, ``fetch`` decides on reads,
``history`` labels a log read from its first line (``logs`` and ``wait``).
"""
