"""Entry point for ``python -m watcher``."""

import sys

try:
    from watcher.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python is still importing: no traceback either
    sys.stderr.write("dli-watcher: interrupted\n")
    raise SystemExit(130) from None

raise SystemExit(main())
