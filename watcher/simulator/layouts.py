"""How each server lays out a batch's log, as its source does (Livy's ``SparkYarnApp.log()`` and kin).

``dli``: markers without newlines. ``livy``: Livy >= 0.4 on YARN, newline-prefixed markers.
``kubernetes``: Livy >= 0.9 on Kubernetes, ``Kubernetes Diagnostics`` for the last header.
``livy-0.3``: Livy <= 0.3, the process output (stderr merged into it) and, only while YARN reports
diagnostics, a bare ``YARN Diagnostics:`` and the diagnostics.
``local``: Livy >= 0.4 on local or standalone Spark (no YARN, ``livy.spark.master = local[*]`` or
``spark://``): ``SparkProcApp.log()`` is the ``stdout: `` marker and the output, then the newline-prefixed
``stderr: `` marker and the errors, with no diagnostics header and no diagnostics (apache/incubator-livy v0.5.0-v0.7.1,
``server/src/main/scala/org/apache/livy/utils/SparkProcApp.scala``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

MARKERS: Final = {
    "dli": ("stdout: ", "stderr: ", "YARN Diagnostics: "),
    "livy": ("stdout: ", "\nstderr: ", "\nYARN Diagnostics: "),
    "kubernetes": ("stdout: ", "\nstderr: ", "\nKubernetes Diagnostics: "),
}
LEGACY: Final = "livy-0.3"
LOCAL: Final = "local"
LAYOUTS: Final = (*MARKERS, LEGACY, LOCAL)


def render_log(layout: str, stdout: Iterable[str], stderr: Iterable[str], diagnostics: Iterable[str]) -> list[str]:
    """The whole log of one batch in ``layout``."""
    if layout == LEGACY:
        diag = list(diagnostics)
        return [*stdout, *stderr, *(["YARN Diagnostics:", *diag] if diag else [])]
    if layout == LOCAL:
        return ["stdout: ", *stdout, "\nstderr: ", *stderr]  # no cluster manager: nothing to diagnose
    out, err, diag_header = MARKERS[layout]
    return [out, *stdout, err, *stderr, diag_header, *diagnostics]


def check_layout(layout: str) -> str:
    """``layout`` if the simulator knows it; raises ValueError naming the known ones."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    return layout
