"""Recordings are safe to attach and safe to open: no secret in any form, a cap that holds, hostile files refused."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from tests.helpers import make_config, simulator
from watcher.api.recordfile import read_lines, read_recording
from watcher.api.tap import kept_headers
from watcher.commands import replay as replay_cmd
from watcher.core.recordformat import FORMAT, VERSION
from watcher.core.secrets import SecretMask, secret_forms
from watcher.core.secretscan import scan
from watcher.daemon.app import Daemon
from watcher.daemon.recorder import Recorder, clean_document, header
from watcher.daemon.replay import replay
from watcher.errors import SetupError
from watcher.output.writer import EventWriter
from watcher.simulator import SimAuth
from watcher.simulator import cli as sim_cli

if TYPE_CHECKING:
    from collections.abc import Callable

TOKEN = "tok-Sup3rSecretValue-0123456789"
SK = "SKsecretKEY0123456789abcdefABCDEF01234567"
PASSWORD = "hunter2-Passw0rd!"
PROXY_PAIR = "proxyuser:proxyPa55word"
SECRETS = (TOKEN, SK, PASSWORD, PROXY_PAIR, "proxyPa55word")
PID = "0123456789abcdef0123456789abcdef"
BID = "0a324461-d9d9-45da-a52a-3b3c7a3d809e"
HEADER = {"t": "header", "format": FORMAT, "format_version": VERSION, "flavor": "dli", "watcher_version": "t"}


def recorder(
    path: Path,
    *,
    max_bytes: int = 1 << 20,
    files: int = 1,
    document: dict[str, Any] | None = None,
    on_stopped: Callable[[dict[str, str]], None] | None = None,
) -> Recorder:
    doc = document or {"api": {"flavor": "dli", "endpoint": "http://127.0.0.1:9", "project_id": PID}}
    rec = Recorder(str(path), {**HEADER, "config": clean_document(doc, str)}, max_bytes=max_bytes, files=files)
    rec.start(SecretMask(SECRETS), {"tracks": []}, on_stopped)
    return rec


def request(query: str = "") -> httpx.Request:
    return httpx.Request("GET", f"http://127.0.0.1:9/v2.0/{PID}/batches/{BID}{query}")


def every_form(secret: str) -> set[str]:
    return secret_forms(secret) | {secret}


def test_secrets_in_every_form_never_reach_the_file(tmp_path):
    """Headers, bodies, error text, query, config and proxy URL: no secret in any shape, auth headers dropped."""
    path = tmp_path / "rec.jsonl"
    proxy = f"http://{PROXY_PAIR}@proxy.example:3128"
    document = {
        "api": {"flavor": "dli", "endpoint": "http://127.0.0.1:9", "project_id": PID, "proxy": proxy},
        "auth": {"method": "password", "password_env": "DLI_PASSWORD", "user": "u"},
    }
    rec = recorder(path, document=document)
    response_headers = httpx.Headers(
        {
            "Content-Type": "application/json",
            "X-Request-Id": f"req-{TOKEN}",
            "Set-Cookie": f"session={TOKEN}",
            "Authorization": f"Bearer {TOKEN}",
            "X-Subject-Token": TOKEN,
        }
    )
    basic = base64.b64encode(PROXY_PAIR.encode()).decode()
    body = {
        "id": BID,
        "state": "running",
        "log": [
            f"token {TOKEN}",
            f"Proxy-Authorization: Basic {basic}",
            json.dumps({"echo": json.dumps({"password": PASSWORD})}),
            "url-encoded: " + PASSWORD.replace("!", "%21"),
            f"sk={SK}",
        ],
        "req_body": json.dumps({"args": ["--password", "job-password-123"]}),
    }
    rec.exchange(request(f"?token={TOKEN}"), 200, kept_headers(response_headers), json.dumps(body).encode())
    rec.exchange(request(), 0, {}, b"", ("connect", f"proxy said {PROXY_PAIR} is refused"))
    rec.exchange(request(), 500, {}, f'{{"error_msg": "bad key {SK}"}}'.encode())
    rec.iam("POST", "/v3/auth/tokens", 201)
    rec.close()
    text = path.read_text()
    for secret in SECRETS:
        leaked = [form for form in every_form(secret) if form in text]
        assert leaked == [], f"{secret!r} reached the recording as {leaked}"
    assert "job-password-123" not in text  # req_body dropped (include_req_body is off)
    lines = [json.loads(line) for line in text.splitlines()]
    assert set(lines[1]["headers"]) == {"Content-Type", "X-Request-Id"}  # no cookie, no auth header
    assert lines[1]["headers"]["X-Request-Id"] == "req-***"
    assert lines[0]["config"]["auth"] == {"method": "password"}
    assert lines[-1] == {
        "t": "iam",
        "method": "POST",
        "path": "/v3/auth/tokens",
        "status": 201,
        "wall": lines[-1]["wall"],
    }


def test_the_file_is_0600_and_another_users_or_shared_file_is_refused(tmp_path):
    """A new recording is 0600; an existing group-writable one is refused like a state file, as is a symlink."""
    path = tmp_path / "rec.jsonl"
    recorder(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    shared = tmp_path / "shared.jsonl"
    shared.write_text("")
    shared.chmod(0o664)
    with pytest.raises(SetupError):
        recorder(shared)
    link = tmp_path / "link.jsonl"
    link.symlink_to(path)
    with pytest.raises(SetupError):
        recorder(link)


def test_one_file_stops_at_the_cap_with_a_last_line_saying_so(tmp_path):
    """record.files = 1 (--record): the file never passes max_bytes; its last line is watcher.recording_stopped."""
    path = tmp_path / "rec.jsonl"
    stops: list[str] = []
    rec = recorder(path, max_bytes=64 * 1024, on_stopped=lambda why: stops.append(f"stopped: {why['reason']}"))
    for n in range(400):
        rec.exchange(request(), 200, {}, json.dumps({"id": BID, "log": [f"line {n} " + "x" * 400]}).encode())
    rec.close()
    data = path.read_bytes()
    assert len(data) <= 64 * 1024
    assert json.loads(data.splitlines()[-1])["event"] == "watcher.recording_stopped"
    assert stops == ["stopped: max_bytes"]


def test_rotation_keeps_files_segments_within_the_cap(tmp_path):
    """record.files = 3: path, path.1, path.2 of at most max_bytes each; a rotated segment says it continues."""
    path = tmp_path / "rec.jsonl"
    rec = recorder(path, max_bytes=64 * 1024, files=3)
    for n in range(1000):
        rec.exchange(request(), 200, {}, json.dumps({"id": BID, "log": [f"line {n} " + "x" * 400]}).encode())
    rec.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["rec.jsonl", "rec.jsonl.1", "rec.jsonl.2"]
    for p in tmp_path.iterdir():
        assert p.stat().st_size <= 64 * 1024
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        first = json.loads(p.read_text().splitlines()[0])
        assert first["t"] == "header" and first["continued"] is True
    assert "line 999 " in path.read_text()


def good_header() -> str:
    config = {"api": {"flavor": "dli", "endpoint": "http://127.0.0.1:9", "project_id": PID}}
    return json.dumps({**HEADER, "config": config, "state": {}})


def exchange(**override: Any) -> str:
    line = {"t": "exchange", "method": "GET", "path": f"/v2.0/{PID}/batches/{BID}", "query": [], "status": 200}
    return json.dumps({**line, "headers": {}, "body": "{}", "wall": 1.0, **override})


HOSTILE = {
    "not JSON": "garbage\n",
    "empty": "",
    "another format": json.dumps({"t": "header", "format": "other"}) + "\n",
    "a later version": json.dumps({**HEADER, "format_version": 99, "config": {}}) + "\n",
    "an escape in the header": json.dumps({**HEADER, "flavor": "\x1b[31mred", "config": {}}) + "\n",
    "an unknown line": good_header() + "\n" + json.dumps({"t": "\x1b]0;title\x07"}) + "\n",
    "a header it never keeps": good_header() + "\n" + exchange(headers={"Set-Cookie": "a=b"}) + "\n",
    "a line break in a header": good_header() + "\n" + exchange(headers={"Date": "x\r\nEvil: 1"}) + "\n",
    "a relative path": good_header() + "\n" + exchange(path="../../etc/passwd") + "\n",
    "a status as text": good_header() + "\n" + exchange(status="200") + "\n",
    "deep nesting": good_header() + "\n" + "[" * 200_000 + "\n",
    "bad base64": good_header() + "\n" + exchange(body_b64="%%%") + "\n",
    "an unknown error kind": good_header() + "\n" + exchange(error={"kind": "rm -rf"}) + "\n",
    "a config that does not validate": json.dumps({**HEADER, "config": {"api": {"flavor": "x"}}, "state": {}}) + "\n",
}


@pytest.mark.parametrize("content", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_recording_is_refused_with_one_escaped_line(tmp_path, capsys, content):
    """Both replay and simulate --replay: exit 2, one line on stderr, no terminal escape from the file."""
    path = tmp_path / "hostile.jsonl"
    path.write_text(content)
    out, err = io.StringIO(), io.StringIO()
    assert replay_cmd.run(Namespace(file=str(path), check=False, format="json", no_color=True), out, err) == 2
    message = err.getvalue()
    assert message.startswith("dli-watcher: cannot replay ") and message.count("\n") == 1
    assert "\x1b" not in message and "\x07" not in message and "\r" not in message
    assert out.getvalue() == ""
    if '"flavor": "x"' in content:
        return  # the server serves answers only: a config it never reads is not its refusal
    assert sim_cli.run(Namespace(replay=str(path), host="127.0.0.1", port=0)) == 2
    served = capsys.readouterr()
    assert served.err.startswith("simulate: cannot replay ") and served.err.count("\n") == 1
    assert "\x1b" not in served.err and served.out == ""


def test_caps_per_file_and_per_line_and_bytes_that_are_not_text(tmp_path):
    """A file or a line over its cap, invalid UTF-8 and a directory are refused before anything is parsed."""
    path = tmp_path / "rec.jsonl"
    path.write_text(good_header() + "\n" + "x" * 5000 + "\n")
    with pytest.raises(ValueError, match="larger than 1000 bytes"):
        read_lines(str(path), max_bytes=1000)
    with pytest.raises(ValueError, match="line 2: a line is longer than 4096 bytes"):
        read_lines(str(path), max_line=4096)
    path.write_bytes(good_header().encode() + b"\n\xff\xfe\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        read_lines(str(path))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        read_lines(str(fifo))
    args = Namespace(replay=str(tmp_path / "missing.jsonl"), host="127.0.0.1", port=0)
    assert sim_cli.run(args) == 2


CLEAN_LINE = (
    f'{{"t":"exchange","method":"GET","path":"/v2.0/{PID}/batches/{BID}","query":[["size","100"]],"status":200,'
    '"headers":{"X-Request-Id":"5c1b2a3f8e9d4c7ba6e5f4d3c2b1a098"},"body":"{\\"appId\\":'
    '\\"application_1492415936046_0015\\",\\"log\\":[\\"17/04/19 INFO Client: Application report\\"],'
    '\\"sparkUiUrl\\":\\"https://spkdbg.azurehdinsight.net/yarnui/hn/proxy/application_1492415936046_0015/\\",'
    '\\"token\\":\\"***\\"}","wall":1796613308.39}'
)
PLANTED = {
    "AWS access key": "AKIAIOSFODNN7EXAMPLE",
    "Huawei Cloud access key": "HPUAL2ZQ8K4N7Y1W3XEE",
    "IAM token": "MIIE" + "aB3d" * 30,
    "JWT": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "authorization": "Authorization: Bearer abcdefgh12345678",
    "password-like pair": "spark.hadoop.fs.obs.secret.key=hunter2hunter2",
    "URL password": "http://user:p4ssw0rd@proxy.example:3128",
    "base64 of 32+ characters": "c2VjcmV0LWtleS0xMjM0NTY3ODkwLWFiY2RlZmdo",
    "private key": "-----BEGIN RSA PRIVATE KEY-----",
}


def test_the_check_is_clean_on_ids_uuids_and_masked_values():
    """UUIDs, hex IDs, YARN application IDs, URLs and *** are not findings."""
    assert scan(CLEAN_LINE, 2) == []


@pytest.mark.parametrize(("kind", "secret"), PLANTED.items(), ids=PLANTED.keys())
def test_the_check_finds_each_shape_without_printing_it(tmp_path, kind, secret):
    """The check (replay --check): exit 1 naming the line and the kind; the report shows the first characters only."""
    path = tmp_path / "rec.jsonl"
    path.write_text(good_header() + "\n" + CLEAN_LINE + "\n" + exchange(body=f"log: {secret} end") + "\n")
    out = io.StringIO()
    assert replay_cmd.run(Namespace(file=str(path), check=True), out, io.StringIO()) == 1
    report = out.getvalue()
    assert f"line 3: {kind}: " in report
    assert secret not in report


def test_the_check_exit_codes_for_clean_and_unreadable(tmp_path):
    """Clean: exit 0 with a line saying so; unreadable: exit 2."""
    path = tmp_path / "rec.jsonl"
    path.write_text(good_header() + "\n" + CLEAN_LINE + "\n")
    out = io.StringIO()
    assert replay_cmd.run(Namespace(file=str(path), check=True), out, io.StringIO()) == 0
    assert out.getvalue().startswith("clean: ")
    err = io.StringIO()
    missing = Namespace(file=str(tmp_path / "none.jsonl"), check=True)
    assert replay_cmd.run(missing, io.StringIO(), err) == 2
    assert os.path.basename(str(tmp_path / "none.jsonl")) in err.getvalue()


@pytest.mark.anyio
async def test_a_token_the_run_holds_never_reaches_the_recording(tmp_path):
    """A run with token auth whose job log echoes the token: masked in the file, and the replay says what run said."""
    path = tmp_path / "rec.jsonl"
    with simulator("dli", auth=SimAuth(mode="token", tokens=(TOKEN,))) as sim:
        bid = sim.world.add_batch(name="job", state="running")
        sim.world.append_stdout(bid, [f"curl -H 'X-Auth-Token: {TOKEN}'", f"token={TOKEN}"])
        cfg = make_config(sim, [bid], auth={"method": "token", "token": TOKEN})
        doc = {"api": {"flavor": "dli", "endpoint": sim.url, "project_id": cfg.api.project_id}}
        rec = Recorder(str(path), header(cfg, doc, {}), max_bytes=1 << 20, files=1)
        logs: list[Any] = []
        two_lines = anyio.Event()

        def seen(event: Any) -> None:
            logs.extend([event] if event.name == "batch.log" else [])
            if len(logs) >= 2:
                two_lines.set()

        out = io.StringIO()
        writer = EventWriter.for_format("json", "info", out)
        daemon = Daemon(cfg, lambda: cfg, {}, on_event=seen, writer=writer, recorder=rec)
        with anyio.fail_after(20):
            await daemon.run(until=two_lines.wait)
    text = path.read_text()
    assert [form for form in every_form(TOKEN) if form in text] == []
    head, items = read_recording(str(path))
    replayed = io.StringIO()
    EventWriter.for_format("json", "info", replayed).write((await replay(head, items)).events)
    run_lines = [line for line in out.getvalue().splitlines() if '"batch_id"' in line]
    assert replayed.getvalue().splitlines() == run_lines
    assert TOKEN not in out.getvalue() and "***" in replayed.getvalue()


def test_the_published_corpus_is_clean():
    """Every corpus recording (public answers: paths, YARN IDs, URLs) passes the check: no false alarm."""
    corpus = sorted((Path(__file__).resolve().parents[1] / "corpus").glob("*.jsonl"))
    assert corpus
    for path in corpus:
        out = io.StringIO()
        assert replay_cmd.run(Namespace(file=str(path), check=True), out, io.StringIO()) == 0, out.getvalue()
