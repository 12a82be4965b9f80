"""The per-batch alert tests at fleet size: split into promtool files by batch, and able to fail."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests import alerts_at_scale

if TYPE_CHECKING:
    from pathlib import Path


def test_a_fleet_splits_by_batch_with_up_in_every_group() -> None:
    """Each group has at most GROUP batches, every series of a batch sits in one group, and each has ``up``."""
    series = alerts_at_scale.series_of(alerts_at_scale.exposed(alerts_at_scale.fleet(4500)))
    groups = alerts_at_scale.split(series, 2000)
    assert [len({m.group(1) for s in g if (m := re.search(r'batch_id="([^"]*)"', s["series"]))}) for g in groups] == [
        2000,
        2000,
        500,
    ]
    assert all(g[0] == alerts_at_scale.UP for g in groups)
    home: dict[str, int] = {}
    for index, group in enumerate(groups):
        for item in group[1:]:
            bid = re.search(r'batch_id="([^"]*)"', item["series"])
            assert bid is not None
            assert home.setdefault(bid.group(1), index) == index, f"{bid.group(1)} is split over two files"
    assert sum(len(g) - 1 for g in groups) == len(series)


def test_every_kind_of_batch_is_expected_to_fire_its_own_alert() -> None:
    """The expected samples count, per alert, the distinct batches of the kind that must fire it."""
    series = alerts_at_scale.series_of(alerts_at_scale.exposed(alerts_at_scale.fleet(1000)))
    expected = {s["labels"]: s["value"] for s in alerts_at_scale.expected(series)}
    assert expected == {
        '{alertname="DLIBatchNotFound",role="missing"}': 10,
        '{alertname="DLIBatchRunningTooLong",role="long"}': 10,
        '{alertname="DLIBatchStuckStarting",role="stuck"}': 10,
        '{alertname="DLIBatchUnreadable",role="failing"}': 10,
    }


@pytest.mark.slow
def test_per_batch_alerts_fire_across_several_promtool_files(tmp_path: Path) -> None:
    """1,200 batches in three files of 400, two promtool processes at once: every file passes."""
    code, output, _ = alerts_at_scale.check(1200, tmp_path, jobs=2, group_size=400)
    assert code == 0, output
    assert len(list(tmp_path.glob("alerts_at_scale_*_test.yml"))) == 3
    assert "SUCCESS" in output


@pytest.mark.slow
def test_a_normal_batch_that_fires_fails_the_generated_tests(tmp_path: Path) -> None:
    """A batch with a normal ID that is stuck starting makes promtool fail, naming the unexpected pair."""
    code, output, _ = alerts_at_scale.check(1000, tmp_path, rogue=50)
    assert code != 0
    assert '{alertname="DLIBatchStuckStarting", role="ok"} 1' in output
