"""NO_PROXY matching as curl does it: names with their subdomains, .domains, ``*``, IPs and CIDR ranges."""

from __future__ import annotations

import pytest

from watcher.core.noproxy import parse_no_proxy, split_env

RULE = parse_no_proxy(["internal.example", ".corp.example", "*.lab.example", "10.0.0.0/8", "::1", "192.0.2.7"])


@pytest.mark.parametrize(
    ("host", "direct"),
    [
        ("internal.example", True),
        ("api.internal.example", True),
        ("INTERNAL.example.", True),
        ("notinternal.example", False),
        ("corp.example", True),
        ("dli.corp.example", True),
        ("lab.example", True),
        ("x.lab.example", True),
        ("10.1.2.3", True),
        ("11.1.2.3", False),
        ("[::1]", True),
        ("::2", False),
        ("192.0.2.7", True),
        ("192.0.2.8", False),
        ("dli.cn-north-4.myhuaweicloud.com", False),
    ],
)
def test_matching(host, direct):
    """A name covers itself and its subdomains, never a longer name that merely ends the same."""
    assert RULE.bypasses(host) is direct


def test_star_is_everything():
    """``*`` sends every request direct."""
    assert parse_no_proxy(["*"]).bypasses("anything.example")


def test_names_never_match_ip_ranges():
    """Nothing is resolved: a name is not checked against a CIDR range."""
    assert not parse_no_proxy(["127.0.0.0/8"]).bypasses("localhost")


def test_environment_value_is_read_leniently():
    """The environment's NO_PROXY is split on commas and spaces and its junk skipped, as curl does."""
    rule = parse_no_proxy(split_env(" a.example, b.example ,,bad entry/,10.0.0.0/8 "), strict=False)
    assert rule.bypasses("a.example")
    assert rule.bypasses("b.example")
    assert rule.bypasses("10.9.9.9")
    with pytest.raises(ValueError, match="must be a host name"):
        parse_no_proxy(["bad/"])
