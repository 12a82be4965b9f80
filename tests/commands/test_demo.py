"""``dli-watcher demo``'s time scale: real time unset, a scale outside (0, 1] a config error naming the variable."""

from __future__ import annotations

import pytest

from watcher.commands.demo import TIME_SCALE_ENV, time_scale
from watcher.errors import ConfigError


def test_demo_time_scale_comes_from_the_environment():
    """Unset is real time; a scale outside (0, 1] is a config error naming the variable."""
    assert time_scale({}) == 1.0
    assert time_scale({TIME_SCALE_ENV: "0.1"}) == 0.1
    for bad in ("0", "-1", "2", "nan", "fast"):
        with pytest.raises(ConfigError, match=TIME_SCALE_ENV):
            time_scale({TIME_SCALE_ENV: bad})
