"""BatchApi over httpx.MockTransport: paths, decoding tolerance, malformed bodies and error mapping."""

from __future__ import annotations

import contextlib
import json
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import make_config
from tests.props import examples
from watcher.api.client import (
    BatchApi,
    ListPage,
    LogPage,
    error_from_response,
    map_errors,
    parse_error_body,
    parse_retry_after,
)
from watcher.commands.check import check
from watcher.config.settings import ApiConfig
from watcher.core.untrusted import Scrubber
from watcher.core.window import unpack
from watcher.errors import (
    ApiError,
    AuthError,
    ConnectApiError,
    DecodeError,
    NotFoundError,
    PermanentApiError,
    ThrottledError,
    TimeoutApiError,
    TransientApiError,
)

PID = "0123456789abcdef0123456789abcdef"
BID = "0a324461-d9d9-45da-a52a-3b3c7a3d809e"
DLI = ApiConfig(flavor="dli", endpoint="https://dli.example.com/", project_id=PID, timeout_seconds=3)
LIVY = ApiConfig(flavor="livy", endpoint="http://livy.example.com:8998")


@pytest.fixture
def anyio_backend():
    """Run the async tests on asyncio (the simulator's loop is asyncio too)."""
    return "asyncio"


def _details(**overrides):
    """A DLI details body as the docs show it."""
    body = {
        "id": BID,
        "appId": "",
        "name": "TestDemo4",
        "owner": "testuser",
        "proxyUser": "",
        "state": "starting",
        "kind": "",
        "log": ["stdout: ", "stderr: ", "YARN Diagnostics: "],
        "sc_type": "A",
        "cluster_name": "test",
        "queue": "test",
        "create_time": 1531906043036,
        "update_time": 1531906043036,
    }
    body.update(overrides)
    return body


DETAILS_BYTES = json.dumps(_details()).encode()


class Server:
    """A MockTransport handler answering with a fixed response, recording each request."""

    def __init__(self, status=200, body=None, *, content=None, headers=None):
        self.status, self.headers = status, headers or {}
        self.content = content if content is not None else json.dumps(body).encode()
        self.requests: list[httpx.Request] = []

    def __call__(self, request):
        self.requests.append(request)
        return httpx.Response(self.status, content=self.content, headers=self.headers)


def api_for(server, cfg=DLI):
    """A BatchApi whose client talks to ``server``."""
    return BatchApi(httpx.AsyncClient(transport=httpx.MockTransport(server)), cfg)


# --- paths ----------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("cfg", "batch_id", "prefix"),
    [(DLI, BID, f"https://dli.example.com/v2.0/{PID}/batches"), (LIVY, "7", "http://livy.example.com:8998/batches")],
    ids=["dli", "livy"],
)
async def test_paths(cfg, batch_id, prefix):
    """Details, log and list hit the documented paths with the documented query parameters."""
    wire_id = batch_id if cfg is DLI else int(batch_id)
    server = Server(body={})
    api = api_for(server, cfg)
    server.content = json.dumps(_details(id=wire_id)).encode()
    await api.details(batch_id)
    server.content = json.dumps({"id": wire_id, "from": 5, "total": 9, "log": ["a"]}).encode()
    await api.log(batch_id, 5, 20)
    await api.log(batch_id, 0, 10, log_type="driver")
    server.content = json.dumps({"from": 0, "total": 0, "sessions": []}).encode()
    await api.list(0, 100, queue_name="q1", state="", job_name="etl")
    urls = [str(r.url) for r in server.requests]
    assert urls == [
        f"{prefix}/{batch_id}",
        f"{prefix}/{batch_id}/log?from=5&size=20",
        f"{prefix}/{batch_id}/log?from=0&size=10&type=driver",
        f"{prefix}?from=0&size=100&queue_name=q1&job_name=etl",
    ]
    assert {r.method for r in server.requests} == {"GET"}
    assert all(r.extensions["timeout"]["read"] == cfg.timeout_seconds for r in server.requests)


@pytest.mark.anyio
async def test_details_url_is_cached_per_batch_until_forgotten():
    """A batch's details URL is parsed once and reused; forgetting the batch drops it, and it is rebuilt."""
    server = Server(content=DETAILS_BYTES)
    api = api_for(server)
    other = "0a324461-d9d9-45da-a52a-3b3c7a3d809f"
    await api.details(BID)
    cached = api._urls[BID]  # the cache is private; what it holds is what bounds its memory
    server.content = json.dumps(_details(id=other)).encode()
    await api.details(other)
    server.content = DETAILS_BYTES
    await api.details(BID)
    assert api._urls[BID] is cached
    api.forget([BID, "never-seen"])
    assert set(api._urls) == {other}
    await api.details(BID)
    assert api._urls[BID] is not cached
    prefix = f"https://dli.example.com/v2.0/{PID}/batches"
    assert [str(r.url) for r in server.requests] == [f"{prefix}/{b}" for b in (BID, other, BID, BID)]


@pytest.mark.anyio
async def test_details_decodes_the_documented_example():
    """The documented details example decodes field by field; '' becomes None."""
    snap = await api_for(Server(body=_details())).details(BID)
    assert snap.batch_id == BID
    assert (snap.state, snap.raw_state) == ("starting", "starting")
    assert snap.app_id is None
    assert snap.proxy_user is None
    assert (snap.name, snap.owner, snap.queue, snap.sc_type) == ("TestDemo4", "testuser", "test", "A")
    assert snap.create_time == snap.update_time == 1531906043036
    assert unpack(snap.log) == ("stdout: ", "stderr: ", "YARN Diagnostics: ")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"state": "Success"}, "state", "success"),
        ({"state": " RUNNING "}, "state", "running"),
        ({"state": "Success"}, "raw_state", "Success"),
        ({"appId": ""}, "app_id", None),
        ({"appId": None}, "app_id", None),
        ({"appId": ["application_1_0001"]}, "app_id", "application_1_0001"),
        ({"appId": []}, "app_id", None),
        ({"appId": "batch-session-83ce2d53:30663"}, "app_id", "batch-session-83ce2d53:30663"),
        ({"create_time": 1531906043036.0}, "create_time", 1531906043036),
        ({"update_time": None}, "update_time", None),
        ({"queue": None}, "queue", "test"),  # falls back to cluster_name
        ({"log": None}, "log", ()),
        ({"spark_version": "3.3.1", "image": "img:1"}, "spark_version", "3.3.1"),
        (
            {"brand_new_field": {"nested": [1, 2]}, "duration": 123, "appInfo": {"sparkUiUrl": None}},
            "name",
            "TestDemo4",
        ),
    ],
)
async def test_details_decoding_tolerance(overrides, field, expected):
    """Title-case states, appId as ''/null/list, int ids, float ms times and extra fields are accepted."""
    snap = await api_for(Server(body=_details(**overrides))).details(BID)
    got = getattr(snap, field)
    assert (unpack(got) if field == "log" else got) == expected


@pytest.mark.anyio
async def test_livy_batch_object():
    """A Livy batch object (int id, null name, appInfo, no DLI fields) decodes."""
    body: dict[str, Any] = {
        "id": 3,
        "name": None,
        "owner": None,
        "proxyUser": None,
        "state": "dead",
        "appId": "application_1700000000000_0001",
        "appInfo": {"driverLogUrl": None},
        "log": [],
    }
    snap = await api_for(Server(body=body), LIVY).details("3")
    assert (snap.batch_id, snap.state, snap.name, snap.create_time) == ("3", "dead", None, None)
    assert snap.app_id == "application_1700000000000_0001"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"id": BID, "from": 5, "total": 120, "log": ["a", "b"]}, LogPage(5, 120, ("a", "b"))),
        ({"id": BID, "from": "5", "total": "120", "log": ["a"]}, LogPage(5, 120, ("a",))),
        ({"id": 1, "log": ["x"]}, LogPage(7, 1, ("x",))),
        ({"id": 1, "from": 0, "total": 0, "log": []}, LogPage(0, 0, ())),
    ],
    ids=["ints", "from-as-string", "defaults", "empty"],
)
async def test_log_page(body, expected):
    """The log page takes from/total as ints or digit strings, defaulting to the request."""
    assert await api_for(Server(body=body)).log(BID, 7, 100) == expected


@pytest.mark.anyio
async def test_list_page():
    """List pages decode every session with the same tolerance as details."""
    sessions = [_details(id="a", state="Running", appId=None), _details(id=2, state="success")]
    body = {"from": "0", "total": 2, "sessions": sessions, "create_time": 1}
    page = await api_for(Server(body=body)).list(0, 100)
    assert isinstance(page, ListPage)
    assert (page.start, page.total) == (0, 2)
    assert [(s.batch_id, s.state) for s in page.sessions] == [("a", "running"), ("2", "success")]


# --- malformed bodies -----------------------------------------------------------------------------

MALFORMED_DETAILS = {
    "not-json": b"<html>502 Bad Gateway</html>",
    "empty": b"",
    "truncated": json.dumps(_details()).encode()[:57],
    "array": b"[1, 2, 3]",
    "string": b'"running"',
    "null": b"null",
    "number": b"42",
    "missing-id": json.dumps({k: v for k, v in _details().items() if k != "id"}).encode(),
    "missing-state": json.dumps({k: v for k, v in _details().items() if k != "state"}).encode(),
    "empty-state": json.dumps(_details(state="  ")).encode(),
    "state-int": json.dumps(_details(state=3)).encode(),
    "state-null": json.dumps(_details(state=None)).encode(),
    "id-null": json.dumps(_details(id=None)).encode(),
    "id-empty": json.dumps(_details(id="")).encode(),
    "id-bool": json.dumps(_details(id=True)).encode(),
    "id-float": json.dumps(_details(id=1.5)).encode(),
    "id-object": json.dumps(_details(id={"a": 1})).encode(),
    "bad-utf8-id": b'{"id": "\xff\xfe", "state": "running"}',
    "other-batch": json.dumps(_details(id="0a324461-d9d9-45da-a52a-3b3c7a3d8000")).encode(),
    "traversal-id": json.dumps(_details(id="../../evil/path?x=")).encode(),
    "int-id-for-uuid": json.dumps(_details(id=42)).encode(),
    "deep": b"[" * 100_000 + b"]" * 100_000,
}


# one bad field is repaired and the rest of the answer used: (body, field, attribute, repaired value)
REPAIRED_DETAILS = {
    "log-string": (json.dumps(_details(log="stdout: ")).encode(), "log", "log", ()),
    "log-mixed": (json.dumps(_details(log=["a", 1])).encode(), "log", "log", ("a",)),
    "time-string": (json.dumps(_details(update_time="yesterday")).encode(), "update_time", "update_time", None),
    "time-bool": (json.dumps(_details(create_time=True)).encode(), "create_time", "create_time", None),
    "time-nan": (json.dumps(_details(update_time=float("nan"))).encode(), "update_time", "update_time", None),
    "time-inf": (json.dumps(_details(update_time=float("inf"))).encode(), "update_time", "update_time", None),
    "time-1e999": (
        json.dumps(_details()).encode()[:-1] + b', "update_time": 1e999}',
        "update_time",
        "update_time",
        None,
    ),
    "time-1e20": (json.dumps(_details(update_time=1e20)).encode(), "update_time", "update_time", None),
    "time-negative": (json.dumps(_details(create_time=-(10**15))).encode(), "create_time", "create_time", None),
    "time-year-10000": (json.dumps(_details(update_time=253402300800000)).encode(), "update_time", "update_time", None),
    "time-4000-digits": (json.dumps(_details(update_time=10**3999)).encode(), "update_time", "update_time", None),
    "name-object": (json.dumps(_details(name={"x": 1})).encode(), "name", "name", None),
    "name-bool": (json.dumps(_details(name=False)).encode(), "name", "name", None),
    "name-surrogate": (json.dumps(_details(name="a\ud800b")).encode(), "name", "name", "a\ufffdb"),
    "line-surrogate": (json.dumps(_details(log=["x \ud83d y"])).encode(), "log", "log", ("x \ufffd y",)),
    "appid-mixed-list": (json.dumps(_details(appId=["a", None])).encode(), "appId", "app_id", None),
    "log-too-long": (json.dumps(_details(log=["l"] * 5000)).encode(), "log", "log", ("l",) * 1000),
    "bad-utf8-name": (json.dumps(_details(name="@")).encode().replace(b"@", b"\xff"), "body", "name", "\ufffd"),
}


@pytest.mark.anyio
@pytest.mark.parametrize(("content", "field", "attr", "value"), REPAIRED_DETAILS.values(), ids=REPAIRED_DETAILS.keys())
async def test_one_bad_field_is_repaired_and_the_rest_used(content, field, attr, value):
    """An out-of-range time, a mistyped or invalid-Unicode field becomes null/U+FFFD, noted once; the rest stays."""
    snap = await api_for(Server(content=content)).details(BID)
    got = getattr(snap, attr)
    assert (unpack(got) if attr == "log" else got) == value
    assert field in dict(snap.repairs)
    assert snap.state == "starting"
    assert snap.queue == "test"


@pytest.mark.anyio
async def test_livy_session_watched_by_name_takes_the_numeric_answer():
    """A Livy batch watched by name answers with its numeric id: accepted, and kept under the watched name."""
    snap = await api_for(Server(body={"id": 7, "state": "running"}), LIVY).details("nightly-etl")
    assert snap.batch_id == "nightly-etl"
    with pytest.raises(DecodeError):
        await api_for(Server(body={"id": 8, "state": "running"}), LIVY).details("7")


@pytest.mark.anyio
@pytest.mark.parametrize("content", MALFORMED_DETAILS.values(), ids=MALFORMED_DETAILS.keys())
async def test_malformed_details_raise_decode_error(content):
    """Every malformed details body is a DecodeError (reason 'decode'), never KeyError/TypeError."""
    with pytest.raises(DecodeError) as info:
        await api_for(Server(content=content)).details(BID)
    assert info.value.reason == "decode"


MALFORMED_OTHERS = [
    ("log", {"id": BID, "from": 0}),
    ("log", {"id": BID, "log": "a\nb"}),
    ("log", {"id": BID, "log": [None]}),
    ("log", {"id": BID, "from": "abc", "log": []}),
    ("log", {"id": BID, "from": "--5", "log": []}),
    ("log", {"id": BID, "from": "\u00b2", "log": []}),
    ("log", {"id": BID, "from": "9" * 5000, "log": []}),
    ("log", {"id": BID, "from": 1.5, "log": []}),
    ("log", {"id": BID, "total": True, "log": []}),
    ("log", {"id": BID, "total": None, "log": []}),
    ("list", {"from": 0, "total": 1}),
    ("list", {"sessions": {"a": 1}}),
    ("list", {"sessions": [], "total": 10**16}),
    ("list", {"sessions": [], "total": "many"}),
    ("list", [_details()]),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("route", "body"), MALFORMED_OTHERS)
async def test_malformed_log_and_list_bodies_raise_decode_error(route, body):
    """Log and list bodies with missing or mistyped fields are DecodeError too."""
    api = api_for(Server(body=body))
    call = {"log": lambda: api.log(BID, 0, 10), "list": lambda: api.list(0, 10)}
    with pytest.raises(DecodeError):
        await call[route]()


@pytest.mark.anyio
async def test_bad_content_encoding_is_decode_error():
    """A gzip-labelled body that is not gzip is a DecodeError, not a raw httpx.DecodingError."""
    server = Server(content=b"definitely not gzip", headers={"Content-Encoding": "gzip"})
    with pytest.raises(DecodeError):
        await api_for(server).details(BID)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "id",
        "state",
        "appId",
        "name",
        "queue",
        "cluster_name",
        "log",
        "create_time",
        "update_time",
        "proxyUser",
        "req_body",
        "from",
        "total",
        "sessions",
        "owner",
    ]
)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(FIELDS, JSON, max_size=8) | JSON, route=st.sampled_from(["details", "log", "list"]))
@pytest.mark.anyio
async def test_any_json_is_a_result_or_decode_error(body, route):
    """Arbitrary JSON (NaN and infinities included) gives a result or DecodeError, nothing else."""
    content = json.dumps(body).encode()
    api = api_for(Server(content=content))
    call = {"details": lambda: api.details(BID), "log": lambda: api.log(BID, 0, 10), "list": lambda: api.list(0, 10)}
    with contextlib.suppress(DecodeError):
        await call[route]()


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=64) | st.integers(0, 250).map(lambda n: DETAILS_BYTES[:n]))
@pytest.mark.anyio
async def test_any_bytes_are_a_result_or_decode_error(content):
    """Arbitrary bytes on a 200 are DecodeError unless they happen to be a valid details object."""
    with contextlib.suppress(DecodeError):
        await api_for(Server(content=content)).details(BID)


# --- error mapping --------------------------------------------------------------------------------


def dli_error(code, msg="something"):
    """A DLI/APIG error body."""
    return json.dumps({"error_code": code, "error_msg": msg, "request_id": "r1"}).encode()


ERROR_TABLE = [
    # status, body, Retry-After, class, reason, error_code
    (500, dli_error("DLI.0999", "Server error"), None, TransientApiError, "http", "DLI.0999"),
    # DLI's error code table lists DLI.0999 "Server-side errors occur." with HTTP 400: still the server's trouble
    (400, dli_error("DLI.0999", "Server-side errors occur."), None, TransientApiError, "http", "DLI.0999"),
    (502, dli_error("APIG.0202"), None, TransientApiError, "http", "APIG.0202"),
    (503, b"", "7", TransientApiError, "http", None),
    (504, b"<html>gateway timeout</html>", None, TransientApiError, "http", None),
    (429, dli_error("APIG.0308"), "3", ThrottledError, "throttled", "APIG.0308"),
    (429, b"Too Many Requests", None, ThrottledError, "throttled", None),
    (400, dli_error("APIG.0308", "over ratelimit"), "2.5", ThrottledError, "throttled", "APIG.0308"),
    (401, dli_error("APIG.0301", "Incorrect IAM authentication information"), None, AuthError, "auth", "APIG.0301"),
    (401, dli_error("DLI.0013"), None, AuthError, "auth", "DLI.0013"),
    (403, json.dumps({"msg": "forbidden"}).encode(), None, AuthError, "auth", None),
    (404, json.dumps({"msg": "Session '7' not found."}).encode(), None, NotFoundError, "http", None),
    (404, dli_error("DLI.0023"), None, NotFoundError, "http", "DLI.0023"),
    (400, dli_error("DLI.0002", "The batch does not exist."), None, NotFoundError, "http", "DLI.0002"),
    (400, dli_error("DLI.0001", "Parameter check error"), None, PermanentApiError, "http", "DLI.0001"),
    (405, dli_error("DLI.0007"), None, PermanentApiError, "http", "DLI.0007"),
    (409, b"conflict", None, PermanentApiError, "http", None),
    (422, b"", None, PermanentApiError, "http", None),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "content", "retry_after", "cls", "reason", "code"), ERROR_TABLE)
async def test_error_mapping_table(status, content, retry_after, cls, reason, code):
    """Each status/code combination maps to the documented error class, reason and error code."""
    headers = {"Retry-After": retry_after} if retry_after else {}
    with pytest.raises(ApiError) as info:
        await api_for(Server(status, content=content, headers=headers)).details(BID)
    err = info.value
    assert type(err) is cls
    assert err.reason == reason
    assert err.status_code == status
    assert err.error_code == code
    assert err.retry_after == (float(retry_after) if retry_after else None)
    assert err.message


def test_error_classes_are_retryable_where_the_spec_says():
    """Throttling, timeouts and connect errors are transient; auth, not-found and permanent are not."""
    for cls in (ThrottledError, TimeoutApiError, ConnectApiError):
        assert issubclass(cls, TransientApiError)
    for other in (AuthError, NotFoundError, PermanentApiError, DecodeError):
        assert not issubclass(other, TransientApiError)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (dli_error("DLI.0002", "There is no queue named q"), ("DLI.0002", "There is no queue named q")),
        (json.dumps({"errorCode": "X.1", "errorMsg": "camel"}).encode(), ("X.1", "camel")),
        (json.dumps({"code": "Y.2", "message": "plain"}).encode(), ("Y.2", "plain")),
        (
            json.dumps({"error": {"code": 401, "message": "Wrong password.", "title": "Unauthorized"}}).encode(),
            ("401", "Wrong password."),
        ),
        (json.dumps({"error": {"error_code": "APIG.0308", "error_msg": "nested"}}).encode(), ("APIG.0308", "nested")),
        (json.dumps({"msg": "Session '7' not found."}).encode(), (None, "Session '7' not found.")),
        (b"Service Unavailable\n", (None, "Service Unavailable")),
        (b"", (None, "")),
        (b"[1, 2]", (None, "")),
        (json.dumps({"error_msg": "no code"}).encode(), (None, "no code")),
        (b"\xff\xfe broken", (None, "\ufffd\ufffd broken")),
    ],
    ids=[
        "dli",
        "camel",
        "code-message",
        "iam-nested",
        "nested-dli",
        "livy",
        "plain",
        "empty",
        "array",
        "msg-only",
        "bad-utf8",
    ],
)
def test_parse_error_body_shapes(content, expected):
    """DLI, camelCase, code/message, nested, Livy and plain-text bodies give (code, message)."""
    assert parse_error_body(content) == expected


def test_error_messages_are_bounded():
    """Huge error bodies are cut to a bounded message."""
    code, message = parse_error_body(dli_error("DLI.0999", "x" * 10_000))
    assert code == "DLI.0999"
    assert 0 < len(message) <= 200
    assert len(parse_error_body(b"y" * 10_000)[1]) <= 200
    err = error_from_response(500, b"", None)
    assert err.message == "HTTP 500"


NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("soon", None),
        ("inf", None),
        ("nan", None),
        (format_datetime(datetime(2024, 1, 2, 3, 4, 35, tzinfo=UTC), usegmt=True), 30.0),
        ("Tue, 02 Jan 2024 03:04:15 GMT", 10.0),
        ("Tue, 02 Jan 2024 03:00:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value, expected):
    """Delta-seconds and HTTP dates give seconds to wait; nonsense and non-finite values give None."""
    assert parse_retry_after(value, now=NOW) == expected


# --- transport errors -----------------------------------------------------------------------------

TRANSPORT = [
    (httpx.ConnectError("connection refused"), ConnectApiError, "connect"),
    (httpx.ConnectTimeout("connect timed out"), TimeoutApiError, "timeout"),
    (httpx.ReadTimeout("read timed out"), TimeoutApiError, "timeout"),
    (httpx.PoolTimeout("pool exhausted"), TimeoutApiError, "timeout"),
    (httpx.RemoteProtocolError("Server disconnected without a response."), ConnectApiError, "connect"),
    (httpx.ReadError("connection reset by peer"), ConnectApiError, "connect"),
    (httpx.ProxyError("proxy said no"), ConnectApiError, "connect"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("exc", "cls", "reason"), TRANSPORT, ids=[type(t[0]).__name__ for t in TRANSPORT])
async def test_transport_errors(exc, cls, reason):
    """Transport failures become ConnectApiError/TimeoutApiError with the matching reason."""

    def fail(request):
        raise exc

    api = BatchApi(httpx.AsyncClient(transport=httpx.MockTransport(fail)), DLI)
    with pytest.raises(cls) as info:
        await api.details(BID)
    assert type(info.value) is cls
    assert info.value.reason == reason
    assert info.value.status_code is None
    assert "dli.example.com:443" in str(info.value) or (cls is ConnectApiError and "malformed" in str(info.value))
    assert type(exc).__name__ in str(info.value) or "proxy answered proxy said no" in str(info.value)
    assert info.value.__cause__ is exc  # kept for whoever debugs it; the message alone is what is shown


def test_map_errors_maps_whatever_a_transport_raises():
    """Anything a transport raises beyond httpx's errors is one failed request too, its text scrubbed."""
    with pytest.raises(ConnectApiError, match="ValueError") as info, map_errors(Scrubber(["s3cr3t-value"])):
        raise ValueError("Bad status line 'x-auth-token: s3cr3t-value'")
    assert "s3cr3t" not in info.value.message


def test_map_errors_lets_api_errors_through():
    """An ApiError raised inside the boundary (a body over the cap) keeps its own class."""
    with pytest.raises(DecodeError), map_errors():
        raise DecodeError("too big")


# --- hostile answers: size, redirects, echoed secrets ----------------------------------------------

CAPPED = replace(DLI, max_response_bytes=64 * 1024)


@pytest.mark.anyio
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_body_over_the_cap_is_a_decode_error(declared):
    """A body over api.max_response_bytes fails the request, whether its length is declared or not."""
    body = json.dumps(_details(log=["x" * 100] * 2000)).encode()

    def handler(request):
        if declared:
            return httpx.Response(200, content=body)

        async def chunks():
            for i in range(0, len(body), 4096):
                yield body[i : i + 4096]

        return httpx.Response(200, content=chunks())

    with pytest.raises(DecodeError, match="limit"):
        await BatchApi(httpx.AsyncClient(transport=httpx.MockTransport(handler)), CAPPED).details(BID)


@pytest.mark.anyio
async def test_gzip_bomb_stops_at_the_cap():
    """A gzip body that inflates far past the cap is refused once the cap is crossed, not inflated whole."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = packer.compress(b'{"id": "' + b"0" * (64 * 1024 * 1024)) + packer.flush()
    server = Server(content=bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(DecodeError, match="limit"):
        await api_for(server, CAPPED).details(BID)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [301, 302, 307])
async def test_redirect_with_a_json_body_is_not_an_answer(status):
    """A 3xx is never taken as the batch's details, even with a valid details body beside it."""
    server = Server(status, content=DETAILS_BYTES, headers={"Location": "https://elsewhere.example.com/"})
    with pytest.raises(PermanentApiError) as info:
        await api_for(server).details(BID)
    assert info.value.reason == "http"
    assert len(server.requests) == 1


@pytest.mark.anyio
async def test_echoed_secrets_are_masked_and_the_message_capped():
    """A gateway echoing our headers in its error text gets our token masked and its text cut short."""
    token = "tok-" + "q" * 40
    echo = f"bad request\nx-auth-token: {token}\nX-Other: {token}\n" + "z" * 100_000
    api = BatchApi(
        httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(400, text=echo))),
        DLI,
        Scrubber([token]),
    )
    with pytest.raises(PermanentApiError) as info:
        await api.details(BID)
    assert token not in info.value.message
    assert "q" * 10 not in info.value.message
    assert len(info.value.message) <= 200
    assert "\n" not in info.value.message


@pytest.mark.anyio
async def test_log_page_longer_than_asked_keeps_its_end():
    """A log page with more lines than asked for keeps the last ones, with ``start`` moved to match."""
    lines = [f"l{i}" for i in range(3000)]
    page = await api_for(Server(body={"from": 0, "total": 3000, "log": lines})).log(BID, 0, 1000)
    assert page.lines == tuple(lines[-1000:])
    assert page.start == 2000


@pytest.mark.anyio
async def test_bad_list_items_are_skipped():
    """A list item that cannot be trusted is left out (it falls back to details); the rest are used."""
    body = {"from": 0, "total": 3, "sessions": [_details(), "oops", _details(state=None)]}
    page = await api_for(Server(body=body)).list(0, 10)
    assert [s.batch_id for s in page.sessions] == [BID]


@pytest.mark.anyio
async def test_check_retries_a_server_side_error_sent_as_400(sim):
    """DLI.0999 with HTTP 400 (as DLI documents it) is retried like a 5xx: `check` reads the batch."""
    bid = sim.world.add_batch(name="nightly", state="running")
    sim.world.inject("status", bid, 2, status=400, error_code="DLI.0999", error_msg="Server-side errors occur.")
    report = await check(make_config(sim, [bid]), "config.toml", deadline=30.0, env={})
    [row] = report.rows
    assert row.error is None
    assert row.snapshot is not None and row.snapshot.state == "running"
