r"""Text from the network made safe for a person's terminal: the one escaping every human-facing output uses.

A job name, a state or a log line is untrusted. Printed raw, it could clear the screen, retitle the
window, write the clipboard (OSC 52), reorder text (bidi overrides) or, under journald, start a new
line with a forged ``<0>`` priority. These characters are shown as escapes (``\x1b``, ``\u2028``)
instead, on a pipe as on a terminal; TAB is kept (Java stack frames start with ``\tat``).
"""

from __future__ import annotations

import re

from watcher.core.untrusted import valid_unicode

# C0 but TAB, DEL, C1, the line and paragraph separators, the bidi marks, embeddings/overrides and isolates
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# what `logs --raw` still never lets through: a line break or the start of an escape sequence
_RAW_UNSAFE = re.compile("[\r\n\x1b]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` for a terminal: every unsafe character spelled as an escape, so it stays on one line."""
    value = valid_unicode(text if isinstance(text, str) else str(text))
    return _UNSAFE.sub(_escape, value)


def raw_line(text: str) -> str:
    """``text`` as unchanged as a line can be: only CR, LF and ESC escaped (``logs --raw``)."""
    return _RAW_UNSAFE.sub(_escape, valid_unicode(text))
