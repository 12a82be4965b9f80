"""Simulator auth over real sockets: IAM tokens, AK/SK signatures, and the official Huawei Cloud SDK."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdli.v1 import (
    DliClient,
    ListSparkJobsRequest,
    ListSparkJobsResponse,
    ShowSparkJobLogRequest,
    ShowSparkJobLogResponse,
    ShowSparkJobRequest,
    ShowSparkJobResponse,
    ShowSparkJobStatusRequest,
    ShowSparkJobStatusResponse,
    SparkJob,
)

from watcher.api.signer import SignedRequest, authorization, sdk_date
from watcher.simulator import SimAuth, SimServer, World

AK, SK = "AKEXAMPLE0000000000", "SKEXAMPLEsecret0000000000000000000000000"
PID = "0123456789abcdef0123456789abcdef"
BASE = f"/v2.0/{PID}/batches"


class FakeClock:
    """A settable clock in epoch seconds."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def _serve(world, auth):
    """Start a server for the world in a thread; returns (server, client)."""
    server = SimServer(world, auth)
    url = server.start_in_thread()
    return server, httpx.Client(base_url=url, timeout=5)


@pytest.fixture
def token_env():
    """A DLI world requiring tokens, with one static token and one IAM user, on a fake clock."""
    clock = FakeClock()
    world = World("dli", clock=clock)
    auth = SimAuth(mode="token", tokens=("static-token",), users={"alice": "pw"}, domain="acme", token_lifetime=60)
    server, client = _serve(world, auth)
    with client:
        yield world, clock, client
    server.stop()


@pytest.fixture
def aksk_env():
    """A DLI world requiring AK/SK signatures."""
    world = World("dli")
    server, client = _serve(world, SimAuth(mode="aksk", keys={AK: SK}))
    with client:
        yield world, server, client
    server.stop()


def _iam_body(password="pw", project=None):
    """A password-auth IAM request body."""
    user = {"name": "alice", "password": password, "domain": {"name": "acme"}}
    scope = project if project is not None else {"name": "cn-north-4"}
    return {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": scope},
        }
    }


def test_token_auth_static_and_missing(token_env):
    """A static token passes; a missing or unknown token gets 401 APIG.0301."""
    world, _, client = token_env
    bid = world.add_batch()
    assert client.get(f"{BASE}/{bid}", headers={"X-Auth-Token": "static-token"}).status_code == 200
    for headers in ({}, {"X-Auth-Token": "bogus"}):
        resp = client.get(f"{BASE}/{bid}", headers=headers)
        assert resp.status_code == 401
        assert resp.json()["error_code"] == "APIG.0301"


def test_iam_token_issue_use_expiry(token_env):
    """IAM issues a 201 with X-Subject-Token that works until its lifetime passes on the world clock."""
    world, clock, client = token_env
    bid = world.add_batch()
    resp = client.post("/v3/auth/tokens", json=_iam_body())
    assert resp.status_code == 201
    token = resp.headers["x-subject-token"]
    assert resp.json()["token"]["expires_at"].endswith("Z")
    assert world.tokens_issued == 1
    assert client.get(f"{BASE}/{bid}", headers={"X-Auth-Token": token}).status_code == 200
    clock.now += 61
    assert client.get(f"{BASE}/{bid}", headers={"X-Auth-Token": token}).status_code == 401
    fresh = client.post("/v3/auth/tokens", json=_iam_body(project={"id": PID})).headers["x-subject-token"]
    assert client.get(f"{BASE}/{bid}", headers={"X-Auth-Token": fresh}).status_code == 200
    world.revoke_tokens()
    assert client.get(f"{BASE}/{bid}", headers={"X-Auth-Token": fresh}).status_code == 401
    assert world.tokens_issued == 2


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (_iam_body(password="wrong"), 401),
        (_iam_body(project={}), 400),
        (_iam_body(project={"id": "other"}), 400),
        ({"auth": {"identity": {"methods": ["token"]}}}, 400),
        ("not json", 400),
    ],
)
def test_iam_rejections(token_env, body, status):
    """Wrong passwords are 401; bad methods, scopes and bodies are 400; nothing is issued."""
    world, _, client = token_env
    resp = (
        client.post("/v3/auth/tokens", content=body)
        if isinstance(body, str)
        else client.post("/v3/auth/tokens", json=body)
    )
    assert resp.status_code == status
    assert "error" in resp.json()
    assert "x-subject-token" not in resp.headers
    assert world.tokens_issued == 0


def _signed(client, path, *, query=(), sk=SK, when=None, extra=None):
    """Headers for a GET signed with watcher.signer, as the watcher's client would send."""
    headers = {
        "Host": client.base_url.netloc.decode(),
        "Content-Type": "application/json",
        "X-Project-Id": PID,
        "X-Sdk-Date": sdk_date(when or datetime.now(UTC)),
        **(extra or {}),
    }
    headers["Authorization"] = authorization(SignedRequest("GET", path, tuple(query), headers), AK, sk)
    return headers


def test_aksk_accepts_signed_requests(aksk_env):
    """Requests signed with the right key pass, with and without a query."""
    world, _, client = aksk_env
    bid = world.add_batch()
    path = f"{BASE}/{bid}"
    assert client.get(path, headers=_signed(client, path)).status_code == 200
    query = [("from", "0"), ("size", "5")]
    resp = client.get(f"{path}/log", params=query, headers=_signed(client, f"{path}/log", query=query))
    assert resp.status_code == 200
    query = [("job_name", "a b/c"), ("queue_name", "q")]
    assert client.get(BASE, params=query, headers=_signed(client, BASE, query=query)).status_code == 200


def test_aksk_rejections(aksk_env):
    """Bad signatures, wrong SKs, changed queries, missing headers: APIG.0301; stale dates: APIG.0303."""
    world, server, client = aksk_env
    path = f"{BASE}/{world.add_batch()}"
    good = _signed(client, path)
    tampered = {**good, "Authorization": good["Authorization"][:-4] + "0000"}
    cases = [
        tampered,
        _signed(client, path, sk="wrong-secret"),
        {k: v for k, v in good.items() if k != "Authorization"},
        {k: v for k, v in good.items() if k != "X-Sdk-Date"},
    ]
    for headers in cases:
        resp = client.get(path, headers=headers)
        assert (resp.status_code, resp.json()["error_code"]) == (401, "APIG.0301")
    assert client.get(path, params={"size": 1}, headers=good).status_code == 401
    stale = _signed(client, path, when=datetime.now(UTC) - timedelta(minutes=16))
    resp = client.get(path, headers=stale)
    assert (resp.status_code, resp.json()["error_code"]) == (401, "APIG.0303")
    assert server.requests["unauthorized"] == 6


def test_aksk_security_token():
    """With a security token configured it must be sent and signed."""
    world = World("dli")
    server, client = _serve(world, SimAuth(mode="aksk", keys={AK: SK}, security_token="sts"))
    path = f"{BASE}/{world.add_batch()}"
    with client:
        assert client.get(path, headers=_signed(client, path)).status_code == 401
        headers = _signed(client, path, extra={"X-Security-Token": "sts"})
        assert client.get(path, headers=headers).status_code == 200
    server.stop()


def _sdk(url, sk=SK):
    """The official DLI client pointed at the simulator."""
    creds = BasicCredentials(AK, sk, PID)
    return DliClient.new_builder().with_credentials(creds).with_endpoints([url]).build()


def test_official_sdk_reads_simulated_batches(aksk_env):
    """The Huawei Cloud SDK signs, calls and decodes details, state, list and log."""
    world, _, client = aksk_env
    url = str(client.base_url).rstrip("/")
    bid = world.add_batch(name="daily-etl", queue="etl")
    world.set_state(bid, "running")
    world.append_stdout(bid, ["hello"])
    sdk = _sdk(url)
    job = sdk.show_spark_job(ShowSparkJobRequest(batch_id=bid))
    assert (job.id, job.name, job.state, job.queue) == (bid, "daily-etl", "running", "etl")
    assert job.log == ["stdout: ", "hello", "stderr: ", "YARN Diagnostics: "]
    assert sdk.show_spark_job_status(ShowSparkJobStatusRequest(batch_id=bid)).state == "running"
    jobs = sdk.list_spark_jobs(ListSparkJobsRequest(queue_name="etl", _from=0, size=10))
    assert (jobs.total, jobs.sessions[0].id) == (1, bid)
    log = sdk.show_spark_job_log(ShowSparkJobLogRequest(batch_id=bid, _from=1, size=1))
    assert (log.total, log.log) == (4, ["hello"])


def test_official_sdk_wrong_secret_and_not_found(aksk_env):
    """The SDK sees 401 for a wrong SK and 400 DLI.0002 for an unknown batch."""
    world, _, client = aksk_env
    url = str(client.base_url).rstrip("/")
    bid = world.add_batch()
    with pytest.raises(ClientRequestException) as err:
        _sdk(url, sk="wrong").show_spark_job(ShowSparkJobRequest(batch_id=bid))
    assert (err.value.status_code, err.value.error_code) == (401, "APIG.0301")
    with pytest.raises(ClientRequestException) as err:
        _sdk(url).show_spark_job(ShowSparkJobRequest(batch_id="0a324461-d9d9-45da-a52a-3b3c7a3d809e"))
    assert (err.value.status_code, err.value.error_code) == (400, "DLI.0002")


def _parsed_whole(model: object, raw: dict[str, Any], moving: tuple[str, ...] = ()) -> None:
    """The SDK model took every field the simulator sent, with its value, and knows no field it did not get.

    ``moving``: fields that change between the raw read and the SDK's (the list's server time): typed only.
    """
    wire = dict(type(model).attribute_map)  # type: ignore[attr-defined]
    assert set(raw) == set(wire.values()), (type(model).__name__, set(raw) ^ set(wire.values()))
    for attr, name in wire.items():
        value = getattr(model, attr)
        if name in moving:
            assert type(value) is type(raw[name]), (attr, value)
        elif not (isinstance(raw[name], list) and raw[name] and isinstance(raw[name][0], dict)):
            # nested models (the list's sessions) are compared one by one by the caller
            assert value == raw[name], (type(model).__name__, attr, value, raw[name])


def test_official_sdk_parses_every_field_of_every_call_the_watcher_makes(aksk_env):
    """ShowSparkJob, ListSparkJobs, ShowSparkJobLog, ShowSparkJobStatus: the simulator sends the models' fields.

    Each answer has exactly the wire fields of huaweicloudsdkdli 3.1.219's model, and the SDK decodes each one.
    """
    world, _, client = aksk_env
    url = str(client.base_url).rstrip("/")
    bid = world.add_batch(name="daily-etl", queue="etl", owner="alice")
    world.set_state(bid, "running")
    world.append_stdout(bid, ["hello"])
    world.set_state(bid, "success")
    sdk = _sdk(url)
    raw = client.get(f"{BASE}/{bid}", headers=_signed(client, f"{BASE}/{bid}")).json()
    job = sdk.show_spark_job(ShowSparkJobRequest(batch_id=bid))
    assert isinstance(job, ShowSparkJobResponse)
    _parsed_whole(job, raw)
    assert isinstance(job.create_time, int) and isinstance(job.update_time, int)
    status = sdk.show_spark_job_status(ShowSparkJobStatusRequest(batch_id=bid))
    assert isinstance(status, ShowSparkJobStatusResponse)
    _parsed_whole(status, {"id": bid, "state": "success"})
    query = [("queue_name", "etl")]
    listing_raw = client.get(BASE, params=query, headers=_signed(client, BASE, query=query))
    jobs = sdk.list_spark_jobs(ListSparkJobsRequest(queue_name="etl"))
    assert isinstance(jobs, ListSparkJobsResponse)
    _parsed_whole(jobs, listing_raw.json(), moving=("create_time",))
    (item,) = jobs.sessions
    assert isinstance(item, SparkJob)
    _parsed_whole(item, listing_raw.json()["sessions"][0])
    assert item.duration == job.update_time - job.create_time
    log_raw = client.get(f"{BASE}/{bid}/log", headers=_signed(client, f"{BASE}/{bid}/log")).json()
    log = sdk.show_spark_job_log(ShowSparkJobLogRequest(batch_id=bid))
    assert isinstance(log, ShowSparkJobLogResponse)
    _parsed_whole(log, log_raw)
    assert log.log == world.full_log(bid)
