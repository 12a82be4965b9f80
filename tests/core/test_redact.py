"""Redaction of req_body: secrets under keys, after flags, in name=value strings and URLs never survive it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.core.redact import REDACTED, redact, redact_req_body, redact_text

# secrets look like nothing else in the body: long, and drawn from letters the fixed text never uses
SECRETS = st.text(alphabet="QXZqxz0123456789", min_size=12, max_size=24)
SECRET_NAMES = st.sampled_from(
    [
        "spark.hadoop.fs.s3a.secret.key",
        "fs.obs.access.key",
        "db.password",
        "javax.jdo.option.ConnectionPassword",
        "jdbc.pwd",
        "api_token",
        "spark.ssl.keyStorePassword",
        "credentials",
        "mail.passwd",
    ]
)
# names Spark's own default spark.redaction.regex, (?i)secret|password|token|access[.]key, matches
SPARK_REDACTED_NAMES = st.builds(
    lambda pre, word, post: f"{pre}{word}{post}",
    st.sampled_from(["", "spark.", "spark.hadoop.fs.x.", "my_", "db."]),
    st.sampled_from(
        ["secret", "SECRET", "Secret", "password", "PassWord", "token", "TOKEN", "access.key", "Access.Key"]
    ),
    st.sampled_from(["", ".value", "2", "_file", "Id"]),
)
PLAIN = st.sampled_from(["spark.executor.memory", "4G", "com.example.Main", "--class", "obs://bucket/app.jar"])


def hidden_in(name: str, secret: str, shape: int) -> Any:
    """One of the shapes a secret takes in a Spark submit request."""
    shapes: list[Any] = [
        {name: secret},
        ["--" + name.replace(".", "-"), secret],
        f"-Dlog=info -D{name}={secret} -Xmx2g",
        f"--conf {name}={secret}",
        f"jdbc:postgresql://etl_user:{secret}@db.internal:5432/warehouse",
        f"s3a://AKIDEXAMPLE:{secret}@bucket/path",
        {"args": [f"--{name}={secret}"]},
        f'{name} = "{secret}"',
        ["-p", secret],
        f"--password {secret} --date 2026-01-01",
        f"curl -H 'Authorization: Bearer {secret}' https://x",
        json.dumps({"nested": {name: secret}}),
        f"https://h/x?{name}%3D{secret}&y=1",
        {"fs.obs.sk": secret, "fs.obs.ak": secret},
        f"Authorization: Basic {secret}",
        f"jdbc:postgresql://etl:{secret}@p@ss@db.internal:5432/warehouse",
    ]
    return shapes[shape % len(shapes)]


@given(
    st.lists(st.tuples(SECRET_NAMES | SPARK_REDACTED_NAMES, SECRETS, st.integers(0, 15)), min_size=1, max_size=6),
    st.lists(PLAIN, max_size=4),
)
def test_no_secret_survives_in_any_shape(hidden: list[tuple[str, str, int]], plain: list[str]):
    """Whatever mix of shapes and plain values a body has, no secret is left in the redacted body."""
    conf: dict[str, str] = {}
    extra: list[Any] = []
    for n, (name, secret, shape) in enumerate(hidden):
        extra.append(hidden_in(name, secret, shape))
        conf[f"k{n}"] = plain[n % len(plain)] if plain else "x"
    body = {"conf": conf, "args": [], "extra": extra}
    out = json.dumps(redact_req_body(json.dumps(body)))
    for _, secret, _ in hidden:
        assert secret not in out


def test_the_new_shapes_mask_only_the_secret():
    """-p, a flag's next word, Bearer/Basic, %3D, OBS ak/sk, JSON in a string, @ in a URL password."""
    assert redact(["-p", "hunter22", "-n", "x"]) == ["-p", REDACTED, "-n", "x"]
    assert redact_text("--password hunter22 --date x") == f"--password {REDACTED} --date x"
    assert redact_text("Authorization: Bearer abc.def") == f"Authorization: Bearer {REDACTED}"
    assert redact_text("Basic dXNlcjpwYXNz") == f"Basic {REDACTED}"
    assert redact_text("q?password%3Dhunter22&a=1") == f"q?password%3D{REDACTED}&a=1"
    assert redact({"fs.obs.ak": "AK1", "fs.obs.sk": "SK1", "fs.obs.endpoint": "obs"}) == {
        "fs.obs.ak": REDACTED,
        "fs.obs.sk": REDACTED,
        "fs.obs.endpoint": "obs",
    }
    assert json.loads(redact_text('{"db": {"password": "hunter22", "host": "h"}}')) == {
        "db": {"password": REDACTED, "host": "h"}
    }
    assert redact_text("jdbc:mysql://etl:p@ss@db:3306/x") == f"jdbc:mysql://etl:{REDACTED}@db:3306/x"
    assert redact_text("ask the desk about task=1") == "ask the desk about task=1"


def test_plain_values_are_left_alone():
    """Memory sizes, class names, file URLs and ordinary flags pass through unchanged."""
    body = {
        "file": "obs://bucket/app.jar",
        "className": "com.example.Main",
        "args": ["--date", "2026-11-30", "--input", "obs://bucket/in"],
        "conf": {"spark.executor.memory": "4G", "spark.driver.extraJavaOptions": "-Xmx2g -Dlog.level=info"},
    }
    assert redact(body) == body


def test_each_shape_masks_only_the_secret():
    """The name, the user and the host stay readable; only the secret part becomes ***."""
    assert redact_text("-Ddb.Password=hunter2 -Xmx1g") == f"-Ddb.Password={REDACTED} -Xmx1g"
    assert redact_text("jdbc:mysql://etl:hunter2@db:3306/x") == f"jdbc:mysql://etl:{REDACTED}@db:3306/x"
    assert redact(["--db-password", "hunter2", "--date", "x"]) == ["--db-password", REDACTED, "--date", "x"]
    assert redact({"spark.x.pwd": "hunter2"}) == {"spark.x.pwd": REDACTED}
    assert redact_req_body("not json") == REDACTED


@pytest.mark.parametrize("blob", ["a" * 200_000, "a=" * 100_000, "x://" * 50_000, "-Dk" * 60_000])
def test_a_huge_hostile_value_is_one_pass_not_a_quadratic_search(blob):
    """A 200 KB run (a base64 argument, repeated separators) is redacted in one pass: quadratic it took minutes.

    Before the patterns were possessive, 16 KB of letters took 8 s on the event loop; this size would
    outlast the suite's 300 s timeout.
    """
    body = {"args": [blob, f"--conf spark.x.secret.key=QXZ0123456789 {blob}"], "conf": {"spark.x": blob}}
    out = redact(body)
    assert "QXZ0123456789" not in str(out)
    assert out["conf"]["spark.x"] == redact_text(blob)
