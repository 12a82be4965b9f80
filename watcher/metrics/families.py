"""Which metric families /metrics exposes: kube-state-metrics' allow/deny list semantics, for every collector."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from prometheus_client.core import Metric


class FamilyFilter:
    """An allowlist or a denylist of regular expressions, searched (unanchored) in each exposed family name.

    As kube-state-metrics' ``--metric-allowlist``/``--metric-denylist``: the two are mutually exclusive
    (the config refuses both), an exact name is its own pattern, and ``^...$`` anchors one.
    """

    def __init__(self, allow: Iterable[str] = (), deny: Iterable[str] = ()) -> None:
        self._allow = [re.compile(p) for p in allow]
        self._deny = [re.compile(p) for p in deny]
        self._cache: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        """Whether the family called ``name`` (a counter with its ``_total``) is exposed."""
        known = self._cache.get(name)
        if known is None:
            if self._allow:
                known = any(p.search(name) for p in self._allow)
            else:
                known = not any(p.search(name) for p in self._deny)
            self._cache[name] = known
        return known


def exposed_name(metric: Metric) -> str:
    """A family's name as the text format shows it: a counter's with ``_total``."""
    return metric.name + "_total" if metric.type == "counter" else metric.name


class Filtered(Collector):
    """Another collector with the families the filter refuses left out."""

    def __init__(self, inner: Collector, allowed: FamilyFilter) -> None:
        self._inner, self._allowed = inner, allowed

    def describe(self) -> Iterator[Metric]:
        """The inner collector's description, filtered (registering must see the same names collect gives)."""
        describe = getattr(self._inner, "describe", None)
        metrics = describe() if describe is not None else self._inner.collect()
        return (m for m in metrics if self._allowed(exposed_name(m)))

    def collect(self) -> Iterator[Metric]:
        """The inner collector's families that the filter allows."""
        return (m for m in self._inner.collect() if self._allowed(exposed_name(m)))
