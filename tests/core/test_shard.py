"""Sharding: every batch in exactly one shard, stable, evenly spread; the spec forms and their errors."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.config.settings import parse
from watcher.core.shard import Shard, bucket, parse_shard
from watcher.errors import ConfigError

IDS = [str(uuid.UUID(int=i * 7919 + 12345, version=4)) for i in range(3000)]


@given(st.lists(st.text(min_size=1), max_size=50), st.integers(1, 12))
def test_union_of_shards_is_every_batch_and_none_is_in_two(ids, count):
    """For any IDs and any shard count, each ID is owned by exactly one shard."""
    for bid in ids:
        assert sum(Shard(i, count).owns(bid) for i in range(count)) == 1


def test_shards_are_even_and_stable():
    """3,000 IDs over 3 shards land within 10% of an even split, and the split never changes."""
    sizes = [len(Shard(i, 3).select(IDS)) for i in range(3)]
    assert all(900 <= n <= 1100 for n in sizes), sizes
    assert Shard(1, 3).owns("0a324461-d9d9-45da-a52a-3b3c7a3d809e") is True


def test_ordinal_comes_from_the_statefulset_pod_name():
    """The "ordinal/n" form takes i from $HOSTNAME's trailing -<ordinal>."""
    assert parse_shard("ordinal/4", {"HOSTNAME": "dli-watcher-2"}) == Shard(2, 4)
    assert parse_shard("", {}) == Shard()


@pytest.mark.parametrize(
    ("spec", "env", "fragment"),
    [
        ("3/3", {}, "0 <= i < n"),
        ("1-3", {}, '"i/n"'),
        ("ordinal/3", {"HOSTNAME": "box"}, "StatefulSet"),
        ("0/0", {}, "0 <= i < n"),
    ],
)
def test_bad_specs_are_config_errors_naming_watch_shard(spec, env, fragment):
    """A bad shard spec is a config error on watch.shard saying what is wrong."""
    with pytest.raises(ConfigError) as info:
        parse({"api": {"flavor": "livy", "endpoint": "http://livy:8998"}, "watch": {"shard": spec}}, env)
    assert info.value.key == "watch.shard" and fragment in info.value.problem


def test_config_keeps_the_resolved_shard():
    """The parsed config holds the resolved i/n, so reloads and restarts agree."""
    cfg = parse(
        {"api": {"flavor": "livy", "endpoint": "http://livy:8998"}, "watch": {"shard": "ordinal/5"}},
        {"HOSTNAME": "w-4"},
    )
    assert cfg.watch.shard == Shard(4, 5)


QUEUES = ("etl", "ml", "adhoc", "reports")
DLI = {"flavor": "dli", "endpoint": "https://dli.example", "project_id": "p1"}


def test_queue_buckets_are_fixed_across_processes():
    """The queue hash is blake2b, not Python's salted hash(): these values hold in every process and release."""
    assert [bucket(q, 2) for q in QUEUES] == [0, 1, 1, 0]
    assert [bucket(q, 4) for q in QUEUES] == [2, 3, 1, 0]
    assert Shard(0, 2).select_queues(QUEUES) == ("etl", "reports")
    assert Shard(1, 2).select_queues(QUEUES) == ("ml", "adhoc")


@given(st.lists(st.text(), max_size=30), st.integers(1, 8))
def test_every_queue_is_in_exactly_one_shard(queues, count):
    """For any queue names (a missing queue counts as ""), each is owned by exactly one shard."""
    for queue in [*queues, None]:
        assert sum(Shard(i, count).owns_queue(queue) for i in range(count)) == 1
    assert sorted(q for i in range(count) for q in Shard(i, count).select_queues(queues)) == sorted(queues)


def test_shard_by_queue_parses_with_discovery():
    """shard_by = "queue" with discovery on is kept; the default is "id"."""
    doc = {"api": DLI, "watch": {"shard": "1/2", "shard_by": "queue"}, "discovery": {"enabled": True}}
    assert parse(doc, {}, offline=True).watch.shard_by == "queue"
    assert parse({"api": DLI}, {}, offline=True).watch.shard_by == "id"


@pytest.mark.parametrize(
    ("api", "watch", "discovery", "fragment"),
    [
        (DLI, {"batch_ids": ["0a324461-d9d9-45da-a52a-3b3c7a3d809e"]}, {"enabled": True}, "batch_ids"),
        (DLI, {"batch_ids_file": "/nonexistent/ids"}, {"enabled": True}, "batch_ids_file"),
        (DLI, {}, {}, "discovery.enabled"),
        ({"flavor": "livy", "endpoint": "http://livy:8998"}, {}, {"enabled": True}, "flavor dli"),
        (DLI, {"shard_by": "name"}, {"enabled": True}, "queue"),
    ],
)
def test_shard_by_queue_without_discovery_is_a_config_error(api, watch, discovery, fragment):
    """Configured IDs (their queue unknown until read), no discovery or Livy: an error naming watch.shard_by."""
    doc = {"api": api, "watch": {"shard_by": "queue", **watch}, "discovery": discovery}
    with pytest.raises(ConfigError) as info:
        parse(doc, {}, offline=True)
    assert info.value.key == "watch.shard_by" and fragment in info.value.problem
