#!/usr/bin/env python3
"""Write base/prometheusrule.yaml from ../prometheus/alerts.yml, the one source of the alert rules.

Usage: ``python3 deploy/kubernetes/sync_prometheusrule.py [--check]``. With ``--check`` nothing is
written and the exit status is 1 when base/prometheusrule.yaml is out of date. Standard library
only. The sharded overlay takes the PrometheusRule from the base unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ALERTS = HERE.parent / "prometheus" / "alerts.yml"
TARGET = HERE / "base" / "prometheusrule.yaml"

HEADER = """\
# GENERATED from deploy/prometheus/alerts.yml by deploy/kubernetes/sync_prometheusrule.py:
# edit alerts.yml and run the script again (the tests fail while the two differ).
# Needs the Prometheus Operator; its Prometheus must select this object (kube-prometheus-stack:
# by default the label `release: <its release name>`, or ruleSelectorNilUsesHelmValues=false).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: dli-watcher
  labels:
    app.kubernetes.io/name: dli-watcher
spec:
"""


def render(alerts_text: str) -> str:
    """Render the PrometheusRule manifest whose ``spec`` is the ``groups:`` part of alerts.yml."""
    lines = alerts_text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("groups:"))
    except StopIteration:
        raise SystemExit(f"{ALERTS}: no top-level 'groups:' key") from None
    body = "".join(f"  {line}\n" if line.strip() else "\n" for line in lines[start:])
    return HEADER + body


def main(argv: list[str]) -> int:
    """Write (or with --check, compare) base/prometheusrule.yaml; 0 when it is up to date."""
    wanted = render(ALERTS.read_text(encoding="utf-8"))
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if "--check" in argv:
        if current != wanted:
            sys.stderr.write(f"{TARGET} is out of date: run {Path(__file__).name}\n")
            return 1
        return 0
    if current != wanted:
        TARGET.write_text(wanted, encoding="utf-8")
        sys.stderr.write(f"wrote {TARGET}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
