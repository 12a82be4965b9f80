"""The simulator over real loopback sockets: routes, shapes, faults, admin and load."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from watcher.simulator import SimServer, World

PID = "0123456789abcdef0123456789abcdef"
BASE = f"/v2.0/{PID}/batches"


@pytest.fixture
def dli():
    """A DLI world served from a thread, with an httpx client."""
    world = World("dli")
    server = SimServer(world)
    with server as url, httpx.Client(base_url=url, timeout=5) as client:
        yield world, server, client


@pytest.fixture
def livy():
    """A Livy world served from a thread, with an httpx client."""
    world = World("livy")
    with SimServer(world) as url, httpx.Client(base_url=url, timeout=5) as client:
        yield world, client


def test_dli_details_state_log(dli):
    """Details, state and log carry the documented DLI fields and the last-10 window."""
    world, server, client = dli
    bid = world.add_batch(name="daily-etl", queue="q1")
    world.set_state(bid, "running")
    world.append_stdout(bid, [f"line {i}" for i in range(20)])
    details = client.get(f"{BASE}/{bid}").json()
    assert set(details) == {
        "id",
        "appId",
        "name",
        "owner",
        "proxyUser",
        "state",
        "kind",
        "log",
        "sc_type",
        "cluster_name",
        "queue",
        "create_time",
        "update_time",
        "req_body",
        "image",
        "feature",
        "spark_version",
    }
    assert details["log"] == [*[f"line {i}" for i in range(12, 20)], "stderr: ", "YARN Diagnostics: "]
    assert (details["state"], details["queue"], details["name"]) == ("running", "q1", "daily-etl")
    assert client.get(f"{BASE}/{bid}/state").json() == {"id": bid, "state": "running"}
    log = client.get(f"{BASE}/{bid}/log").json()
    assert (log["id"], log["from"], log["total"]) == (bid, 0, 23)
    assert log["log"] == world.full_log(bid)
    page = client.get(f"{BASE}/{bid}/log", params={"from": " 3 ", "size": "2"}).json()
    assert page == {"id": bid, "from": 3, "total": 23, "log": ["line 2", "line 3"]}
    assert client.get(f"{BASE}/{bid}/log", params={"size": -1, "from": 0}).json()["log"] == world.full_log(bid)
    assert client.get(f"{BASE}/{bid}/log", params={"from": "x"}).json()["error_code"] == "DLI.0001"
    assert (server.requests["details"], server.requests["state"], server.requests["log"]) == (1, 1, 4)


def test_dli_log_default_is_last_hundred(dli):
    """Without from/size the DLI log endpoint answers the last 100 lines."""
    world, _, client = dli
    bid = world.add_batch()
    world.append_stdout(bid, [str(i) for i in range(150)])
    log = client.get(f"{BASE}/{bid}/log").json()
    assert (log["from"], log["total"], len(log["log"])) == (53, 153, 100)
    assert log["log"][-1] == "YARN Diagnostics: "


def test_dli_list_filters_order_paging(dli):
    """The DLI list filters by queue/state/name/id, orders newest first and pages."""
    world, _, client = dli
    ids = [world.add_batch(name=f"job-{i}", queue="a" if i % 2 else "b", create_time=1000 + i) for i in range(5)]
    world.set_state(ids[1], "Success")
    body = client.get(BASE).json()
    assert set(body) == {"from", "total", "sessions", "create_time"}
    assert [s["id"] for s in body["sessions"]] == ids[::-1]
    assert all("duration" in s for s in body["sessions"])
    assert client.get(BASE, params={"queue_name": "a"}).json()["total"] == 2
    assert [s["id"] for s in client.get(BASE, params={"state": "success"}).json()["sessions"]] == [ids[1]]
    assert client.get(BASE, params={"job_name": "job-3"}).json()["sessions"][0]["id"] == ids[3]
    assert client.get(BASE, params={"job-id": ids[4]}).json()["total"] == 1
    assert client.get(BASE, params={"start": 1003}).json()["total"] == 2
    page = client.get(BASE, params={"from": 1, "size": 2, "order": "CREATE_TIME_ASC"}).json()
    assert (page["from"], page["total"], [s["id"] for s in page["sessions"]]) == (1, 5, ids[1:3])
    assert client.get(BASE, params={"order": "SIDEWAYS"}).status_code == 400


def test_list_pages_follow_changes_between_requests(dli):
    """Pages come from a remembered selection, yet a batch added, changed or removed shows in the next answer."""
    world, _, client = dli
    ids = [world.add_batch(queue="a", create_time=1000 + i) for i in range(4)]
    asc = {"order": "CREATE_TIME_ASC", "size": 2}

    def listed(**params):
        return [s["id"] for s in client.get(BASE, params={**asc, **params}).json()["sessions"]]

    assert listed() == ids[:2]
    late = world.add_batch(queue="a", create_time=999)
    assert listed() == [late, ids[0]]
    world.set_field(ids[0], "queue", "b")
    assert listed(queue_name="a") == [late, ids[1]]
    world.remove(late)
    assert listed(**{"from": 2}) == ids[2:]
    world.set_state(ids[3], "running")
    assert client.get(BASE, params={**asc, "from": 3}).json()["sessions"][0]["state"] == "running"


def test_livy_routes(livy):
    """Livy serves integer IDs, appInfo, its markers and plain paging."""
    world, client = livy
    bid = world.add_batch(name="etl")
    world.set_state(bid, "running")
    world.append_stdout(bid, ["a", "b"])
    details = client.get(f"/batches/{bid}").json()
    assert details["id"] == int(bid)
    assert details["appId"].startswith("application_")
    assert details["appInfo"]["sparkUiUrl"]
    assert details["log"] == ["stdout: ", "a", "b", "\nstderr: ", "\nYARN Diagnostics: "]
    assert client.get(f"/batches/{bid}/state").json() == {"id": int(bid), "state": "running"}
    log = client.get(f"/batches/{bid}/log", params={"from": 1, "size": 2}).json()
    assert log == {"id": int(bid), "from": 1, "total": 5, "log": ["a", "b"]}
    world.add_batch()
    listing = client.get("/batches", params={"from": 1}).json()
    assert (listing["from"], listing["total"], len(listing["sessions"])) == (1, 2, 1)
    assert "duration" not in listing["sessions"][0]


def test_not_found_shapes(dli, livy):
    """Unknown batches: DLI 400 DLI.0002, Livy 404 msg; wrong project and unknown paths are DLI errors."""
    _, _, dclient = dli
    resp = dclient.get(f"{BASE}/0a324461-d9d9-45da-a52a-3b3c7a3d809e")
    assert resp.status_code == 400
    assert resp.json()["error_code"] == "DLI.0002"
    assert "does not exist" in resp.json()["error_msg"]
    assert dclient.get(f"{BASE}/x/log").json()["error_code"] == "DLI.0002"
    wrong = dclient.get("/v2.0/ffffffffffffffffffffffffffffffff/batches/x")
    assert (wrong.status_code, wrong.json()["error_code"]) == (404, "DLI.0023")
    assert dclient.get("/v1.0/whatever").status_code == 404
    assert dclient.delete(f"{BASE}/x").status_code == 405
    _, lclient = livy
    resp = lclient.get("/batches/5")
    assert (resp.status_code, resp.json()) == (404, {"msg": "Session '5' not found."})


def test_removed_batch_is_gone(dli):
    """A removed batch answers not-found from then on."""
    world, _, client = dli
    bid = world.add_batch()
    assert client.get(f"{BASE}/{bid}").status_code == 200
    world.remove(bid)
    assert client.get(f"{BASE}/{bid}").json()["error_code"] == "DLI.0002"


def test_raw_states_served_verbatim(dli):
    """Title-case and unknown states are served exactly as set."""
    world, _, client = dli
    bid = world.add_batch()
    world.set_state(bid, "Success")
    assert client.get(f"{BASE}/{bid}/state").json()["state"] == "Success"
    world.set_state(bid, "weird")
    assert client.get(f"{BASE}/{bid}").json()["state"] == "weird"


def test_log_endpoint_disabled():
    """With log_endpoint=False the log route fails: DLI 400 DLI.0007, Livy 404."""
    for flavor, status in (("dli", 400), ("livy", 404)):
        world = World(flavor, log_endpoint=False)  # type: ignore[arg-type]
        bid = world.add_batch()
        path = f"{BASE}/{bid}/log" if flavor == "dli" else f"/batches/{bid}/log"
        with SimServer(world) as url:
            resp = httpx.get(url + path)
        assert resp.status_code == status
        if flavor == "dli":
            assert resp.json()["error_code"] == "DLI.0007"


@pytest.mark.parametrize(
    ("kind", "params", "status", "check"),
    [
        ("status", {"status": 500}, 500, lambda r: r.json()["error_code"] == "DLI.0999"),
        ("status", {"status": 502}, 502, lambda r: "error_msg" in r.json()),
        ("status", {"status": 503, "error_code": "X.1"}, 503, lambda r: r.json()["error_code"] == "X.1"),
        (
            "throttle",
            {"retry_after": 3},
            429,
            lambda r: r.headers["retry-after"] == "3" and r.json()["error_code"] == "APIG.0308",
        ),
        (
            "apig0308",
            {},
            429,
            lambda r: "retry-after" not in r.headers and r.json()["error_code"] == "APIG.0308",
        ),
        ("apig0308", {"status": 400}, 400, lambda r: r.json()["error_code"] == "APIG.0308"),
        ("malformed", {}, 200, lambda r: r.text.startswith("<html>")),
        ("truncated", {}, 200, lambda r: r.text.startswith("{") and not r.text.endswith("}")),
        ("not_object", {}, 200, lambda r: r.json() == [1, 2]),
        ("missing_field", {}, 200, lambda r: "state" not in r.json() and "id" in r.json()),
        ("missing_field", {"field": "id"}, 200, lambda r: "id" not in r.json()),
        ("wrong_type", {}, 200, lambda r: r.json()["state"] == 5),
    ],
)
def test_fault_kinds_on_details(dli, kind, params, status, check):
    """Each fault kind breaks the next details request its way, then the batch answers normally."""
    world, _, client = dli
    bid = world.add_batch()
    world.inject(kind, bid, **params)
    resp = client.get(f"{BASE}/{bid}")
    assert resp.status_code == status
    assert check(resp)
    assert client.get(f"{BASE}/{bid}").json()["state"] == "starting"


def test_fault_paths_counts_and_scope(dli):
    """Faults hit only their batch and path, for their count; count=None lasts until cleared."""
    world, _, client = dli
    one, two = world.add_batch(), world.add_batch()
    world.inject("status", one, count=2)
    assert client.get(f"{BASE}/{two}").status_code == 200
    assert client.get(f"{BASE}/{one}/state").status_code == 200
    assert [client.get(f"{BASE}/{one}").status_code for _ in range(3)] == [503, 503, 200]
    world.inject("wrong_type", path="list")
    assert all(s["state"] == 5 for s in client.get(BASE).json()["sessions"])
    world.inject("not_object", path="any", count=None)
    assert [client.get(p).text for p in (f"{BASE}/{one}", f"{BASE}/{two}/state", BASE)] == ["[1,2]"] * 3
    world.clear_faults()
    assert client.get(BASE).json()["total"] == 2


def test_log_endpoint_down_fault(dli, livy):
    """log_endpoint_down fails the log route of one batch only."""
    world, _, client = dli
    one, two = world.add_batch(), world.add_batch()
    world.inject("log_endpoint_down", one, count=None)
    assert client.get(f"{BASE}/{one}/log").json()["error_code"] == "DLI.0007"
    assert client.get(f"{BASE}/{two}/log").status_code == 200
    assert client.get(f"{BASE}/{one}").status_code == 200
    lworld, lclient = livy
    bid = lworld.add_batch()
    lworld.inject("log_endpoint_down", bid)
    assert lclient.get(f"/batches/{bid}/log").status_code == 404


def test_drop_and_latency(dli):
    """A drop closes the connection without an answer; latency delays the answer."""
    world, _, client = dli
    bid = world.add_batch()
    world.inject("drop", bid)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(f"{BASE}/{bid}")
    world.inject("latency", bid, seconds=0.2)
    started = time.monotonic()
    assert client.get(f"{BASE}/{bid}").status_code == 200
    assert time.monotonic() - started >= 0.15
    world.inject("latency", bid, seconds=0.2)
    with pytest.raises(httpx.ReadTimeout):
        client.get(f"{BASE}/{bid}", timeout=0.05)


def test_livy_fault_shapes(livy):
    """Livy-flavoured server errors carry a msg body."""
    world, client = livy
    bid = world.add_batch()
    world.inject("status", bid, status=500)
    resp = client.get(f"/batches/{bid}")
    assert resp.status_code == 500
    assert "msg" in resp.json()


def test_admin_routes(dli):
    """The /_sim/ admin API adds batches, changes them and injects faults."""
    world, server, client = dli
    bid = client.post("/_sim/batches", json={"name": "adm", "queue": "q"}).json()["id"]
    assert client.post(f"/_sim/batches/{bid}/state", json={"state": "running"}).status_code == 200
    assert client.post(f"/_sim/batches/{bid}/stdout", json={"lines": ["hi"]}).status_code == 200
    assert client.post(f"/_sim/batches/{bid}/diagnostics", json={"lines": ["d"]}).status_code == 200
    assert client.post(f"/_sim/batches/{bid}/field", json={"name": "queue", "value": "q2"}).status_code == 200
    details = client.get(f"{BASE}/{bid}").json()
    assert (details["state"], details["queue"], details["log"][1]) == ("running", "q2", "hi")
    assert client.post("/_sim/faults", json={"kind": "status", "batch_id": bid}).status_code == 201
    assert client.get(f"{BASE}/{bid}").status_code == 503
    assert client.get("/_sim/batches").json() == {"batches": [bid]}
    assert client.post(f"/_sim/batches/{bid}/state", json={}).status_code == 400
    assert client.post("/_sim/batches/nope/state", json={"state": "x"}).status_code == 404
    assert client.delete(f"/_sim/batches/{bid}").status_code == 200
    assert not world.exists(bid)
    assert server.requests["admin"] == 10


def _read_response(sock_file):
    """Read one HTTP response from a socket file; returns (status line, body)."""
    status = sock_file.readline()
    length = 0
    while (line := sock_file.readline()) != b"\r\n":
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return status, sock_file.read(length)


def test_pipelined_keep_alive_and_bad_request(dli):
    """Pipelined requests are answered in order on one connection; garbage gets 400 and a close."""
    world, server, _ = dli
    bid = world.add_batch()
    with socket.create_connection(("127.0.0.1", server.port)) as sock, sock.makefile("rb") as f:
        request = f"GET {BASE}/{bid}/state HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        sock.sendall(request * 3 + f"GET {BASE}/nope HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        answers = [_read_response(f) for _ in range(4)]
        assert [a[0][:12] for a in answers] == [b"HTTP/1.1 200"] * 3 + [b"HTTP/1.1 400"]
        sock.sendall(b"NONSENSE\r\n\r\n")
        assert _read_response(f)[0].startswith(b"HTTP/1.1 400")
        assert f.read() == b""


def test_load_smoke(dli):
    """Two thousand keep-alive requests all succeed."""
    world, server, client = dli
    ids = [world.add_batch() for _ in range(20)]
    codes = [client.get(f"{BASE}/{ids[i % 20]}").status_code for i in range(2000)]
    assert codes == [200] * 2000
    assert server.requests["details"] == 2000


def test_dli_list_items_are_the_sdks_spark_job(dli):
    """List items carry SparkJob's fields (duration, no feature or spark_version); details keep theirs."""
    world, _, client = dli
    bid = world.add_batch(name="etl", queue="a")
    (item,) = client.get(BASE).json()["sessions"]
    assert "duration" in item and "feature" not in item and "spark_version" not in item
    assert {"feature", "spark_version"} <= set(client.get(f"{BASE}/{bid}").json())


def test_dli_list_honours_the_owner_filter(dli):
    """The documented ``owner`` parameter (dli_02_0125) selects the submitting user's batches."""
    world, _, client = dli
    mine = world.add_batch(owner="alice")
    world.add_batch(owner="bob")
    body = client.get(BASE, params={"owner": "alice"}).json()
    assert (body["total"], [s["id"] for s in body["sessions"]]) == (1, [mine])


def test_dli_app_id_is_built_from_the_whole_job_id(dli):
    """``batch-session-<job id>:<port>``, as the SDK's example shows it."""
    world, _, client = dli
    bid = world.add_batch()
    world.set_state(bid, "running")
    app_id = client.get(f"{BASE}/{bid}").json()["appId"]
    assert app_id.startswith(f"batch-session-{bid}:")


def test_livy_log_from_minus_one_is_the_tail_and_list_size_minus_one_is_empty(livy):
    """As Livy's SessionServlet: a negative ``from`` reads the last lines; a negative list ``size`` none."""
    world, client = livy
    bid = world.add_batch()
    world.append_stdout(bid, [str(n) for n in range(20)])
    whole = world.full_log(bid)
    tail = client.get(f"/batches/{bid}/log", params={"from": -1, "size": 3}).json()
    assert (tail["from"], tail["log"]) == (len(whole) - 3, whole[-3:])
    assert client.get(f"/batches/{bid}/log", params={"from": -1}).json()["log"] == whole[-100:]
    world.add_batch()
    listing = client.get("/batches", params={"size": -1}).json()
    assert (listing["total"], listing["sessions"]) == (2, [])


def test_livy_version_and_executor_log_urls(livy):
    """``GET /version`` answers the build's fields; ``appInfo`` has Livy 0.9's ``executorLogUrls``."""
    world, client = livy
    version = client.get("/version").json()
    assert set(version) == {"version", "user", "revision", "branch", "date", "url"}
    bid = world.add_batch()
    assert client.get(f"/batches/{bid}").json()["appInfo"] == {
        "driverLogUrl": None,
        "sparkUiUrl": None,
        "executorLogUrls": None,
    }
    world.set_state(bid, "running")
    assert set(client.get(f"/batches/{bid}").json()["appInfo"]) == {"driverLogUrl", "sparkUiUrl", "executorLogUrls"}
