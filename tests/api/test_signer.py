"""SDK-HMAC-SHA256: published vectors, cross-checks against the official SDK signer, and verify()."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.props import examples
from watcher.api.auth import sign_request
from watcher.api.signer import (
    EMPTY_SHA256,
    SignedRequest,
    authorization,
    canonical_query,
    canonical_request,
    canonical_uri,
    parse_authorization,
    sdk_date,
    signature,
    signed_header_names,
    string_to_sign,
    verify,
)

# --- reference vectors (shared/reference/aksk-vectors.txt, produced by huaweicloudsdkcore 3.1.219) ---

AK, SK = "AKEXAMPLE0000000000", "SKEXAMPLEsecret0000000000000000000000000"
PID = "0123456789abcdef0123456789abcdef"
HOST = "dli.cn-north-4.myhuaweicloud.com"
DATE = "20240102T030405Z"
BATCH = "0a324461-d9d9-45da-a52a-3b3c7a3d809e"
NAMES = ["content-type", "host", "x-project-id", "x-sdk-date"]
HEADERS = {"Content-Type": "application/json", "Host": HOST, "X-Project-Id": PID, "X-Sdk-Date": DATE}
HEADER_BLOCK = (
    f"content-type:application/json\nhost:{HOST}\nx-project-id:{PID}\nx-sdk-date:{DATE}\n\n"
    "content-type;host;x-project-id;x-sdk-date\n"
)


def _vector(method, uri, query, body_hash, sts_hash, sig):
    """One DLI-shaped vector: canonical request, string to sign and Authorization, as published."""
    canonical = f"{method}\n{uri}\n{query}\n{HEADER_BLOCK}{body_hash}"
    return {
        "canonical": canonical,
        "string_to_sign": f"SDK-HMAC-SHA256\n{DATE}\n{sts_hash}",
        "authorization": (
            f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature={sig}"
        ),
    }


DETAILS = _vector(
    "GET",
    f"/v2.0/{PID}/batches/{BATCH}/",
    "",
    EMPTY_SHA256,
    "4c5a530b860ca7c4e3107eec665f017956c12296691dbb3fdcf99dfcc4b26e30",
    "133a4aee4261b0f3658dff162d0f2a053ffb5de27010369c83f69aa6d9c1c61b",
)
LOG = _vector(
    "GET",
    f"/v2.0/{PID}/batches/{BATCH}/log/",
    "from=0&size=100",
    EMPTY_SHA256,
    "f4a36a6a816613485b7183d78c8df122ad3fba418f9b88809842b81050edba83",
    "bdc3b8dba40f4952037bcdfabd5d66ef3469dd3fd43c4875b91d7e9b14c65fd4",
)
CREATE_BODY_HASH = "5bdfeb38db44f50c380ad5a58a376bc0193f8d5638033aa855c0393551be41eb"
CREATE = _vector(
    "POST",
    f"/v2.0/{PID}/batches/",
    "",
    CREATE_BODY_HASH,
    "4cfbcdb4ad851a297fa704ce638e44549a943411fc4088b29073b51951c20d21",
    "aca60480477fc4e38eca31e68fe6f46426f9e425a765b79222cea5ac91ae0a86",
)


@pytest.mark.parametrize(
    ("vector", "path", "query"),
    [
        (DETAILS, f"/v2.0/{PID}/batches/{BATCH}", ()),
        (LOG, f"/v2.0/{PID}/batches/{BATCH}/log", (("from", "0"), ("size", "100"))),
    ],
    ids=["details", "log"],
)
def test_dli_get_vectors(vector, path, query):
    """The details and log vectors: canonical request, string to sign and Authorization, byte for byte."""
    req = SignedRequest("GET", path, query, HEADERS)
    assert signed_header_names(HEADERS) == NAMES
    canonical = canonical_request(req, NAMES)
    assert canonical == vector["canonical"]
    assert string_to_sign(canonical, DATE) == vector["string_to_sign"]
    assert authorization(req, AK, SK) == vector["authorization"]


def test_dli_create_vector():
    """The POST vector: everything but the (unpublished) body reproduces; the rest signs as published."""
    req = SignedRequest("POST", f"/v2.0/{PID}/batches", (), HEADERS, b'{"placeholder": true}')
    canonical = canonical_request(req, NAMES)
    head, _, body_hash = canonical.rpartition("\n")
    assert body_hash == hashlib.sha256(b'{"placeholder": true}').hexdigest()
    canonical = f"{head}\n{CREATE_BODY_HASH}"
    assert canonical == CREATE["canonical"]
    sts = string_to_sign(canonical, DATE)
    assert sts == CREATE["string_to_sign"]
    sig = hmac.new(SK.encode(), sts.encode(), hashlib.sha256).hexdigest()
    assert CREATE["authorization"].endswith(f"Signature={sig}")


@pytest.mark.parametrize("vector", [DETAILS, LOG], ids=["details", "log"])
def test_dli_vectors_through_httpx_sign_request(vector):
    """Signing the real httpx request for the same URL gives exactly the published Authorization."""
    suffix = "/log" if vector is LOG else ""
    params = {"from": 0, "size": 100} if vector is LOG else None
    request = httpx.Request(
        "GET",
        f"https://{HOST}/v2.0/{PID}/batches/{BATCH}{suffix}",
        params=params,
        headers={"User-Agent": "dli-watcher/test"},
    )
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    sign_request(request, AK, SK, now, project_id=PID)
    assert request.headers["X-Sdk-Date"] == DATE
    assert request.headers["Authorization"] == vector["authorization"]


APIG_AK, APIG_SK = "QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
APIG_HOST = "service.region.example.com"
APIG_PATH = "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
APIG_QUERY = (("limit", "2"), ("marker", "13551d6b-755d-4757-b956-536f674975c0"))
APIG_HEADERS = {"Content-Type": "application/json", "Host": APIG_HOST, "X-Sdk-Date": "20191115T033655Z"}


def test_published_apig_vector():
    """The APIG signing guide's example: hashed canonical request and signature as published."""
    req = SignedRequest("GET", APIG_PATH, APIG_QUERY, APIG_HEADERS)
    names = signed_header_names(APIG_HEADERS)
    assert names == ["content-type", "host", "x-sdk-date"]
    canonical = canonical_request(req, names)
    assert hashlib.sha256(canonical.encode()).hexdigest() == (
        "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    )
    assert authorization(req, APIG_AK, APIG_SK) == (
        f"SDK-HMAC-SHA256 Access={APIG_AK}, SignedHeaders=content-type;host;x-sdk-date, "
        "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    )


def test_published_apig_vector_matches_sdk():
    """The official SDK, driven as the reference documents, agrees with the published signature."""
    req = SdkRequest(
        method="GET",
        schema="https",
        host=APIG_HOST,
        resource_path=APIG_PATH,
        query_params=[("limit", 2), ("marker", APIG_QUERY[1][1])],
        header_params={"Content-Type": "application/json", "X-Sdk-Date": "20191115T033655Z"},
    )
    Signer(BasicCredentials(APIG_AK, APIG_SK)).sign(req)
    assert req.header_params["Authorization"] == authorization(
        SignedRequest("GET", APIG_PATH, APIG_QUERY, APIG_HEADERS), APIG_AK, APIG_SK
    )


# --- pieces --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/abc", "/v1/abc/"),
        ("/v1/abc/", "/v1/abc/"),
        ("/", "/"),
        ("/a b/c", "/a%20b/c/"),
        ("/a%20b/c", "/a%20b/c/"),
        ("/caf\u00e9", "/caf%C3%A9/"),
        ("/caf%C3%A9", "/caf%C3%A9/"),
        ("/a~b/-._", "/a~b/-._/"),
        ("/a%2Fb", "/a/b/"),
        ("/a%252F", "/a%252F/"),
        ("/x+y:z@", "/x%2By%3Az%40/"),
    ],
)
def test_canonical_uri(path, expected):
    """Paths are decoded, split, re-encoded with only unreserved characters literal, and end in '/'."""
    assert canonical_uri(path) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ((), ""),
        ((("b", "2"), ("a", "1")), "a=1&b=2"),
        ((("a", "2"), ("a", "1"), ("a", "")), "a=&a=1&a=2"),
        ((("k", "a b/c~"),), "k=a%20b%2Fc~"),
        ((("a b", "x"), ("a+b", "y")), "a%20b=x&a%2Bb=y"),
        ((("a:", "1"), ("a5", "2")), "a5=2&a%3A=1"),
        ((("", "v"),), "=v"),
        ((("\u00fc", "\u4e2d"),), "%C3%BC=%E4%B8%AD"),
    ],
)
def test_canonical_query(query, expected):
    """Raw pairs are sorted (as the SDK does, before encoding), then encoded with only unreserved literal."""
    assert canonical_query(query) == expected


def test_underscore_headers_are_not_signed():
    """Header names containing '_' never enter SignedHeaders; the rest are lower-cased and sorted."""
    names = signed_header_names({"X-B": "1", "x_a": "2", "A-C": "3", "Host": "h", "X-Sdk-Date": DATE})
    assert names == ["a-c", "host", "x-b", "x-sdk-date"]


def test_header_values_are_trimmed_and_empty_body_hashes_empty():
    """Canonical header values are stripped; an empty body hashes as empty even with UNSIGNED-PAYLOAD."""
    headers = {"Host": " h ", "X-Sdk-Date": DATE, "X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"}
    canonical = canonical_request(SignedRequest("GET", "/", (), headers), signed_header_names(headers))
    assert "host:h\n" in canonical
    assert canonical.endswith("\n" + EMPTY_SHA256)
    with_body = canonical_request(SignedRequest("PUT", "/", (), headers, b"x"), signed_header_names(headers))
    assert with_body.endswith("\nUNSIGNED-PAYLOAD")


def test_sdk_date_is_utc():
    """X-Sdk-Date is the UTC basic format whatever the input's zone."""
    local = datetime(2024, 1, 2, 11, 4, 5, tzinfo=timezone(timedelta(hours=8)))
    assert sdk_date(local) == DATE


# --- cross-check against huaweicloudsdkcore's Signer ---------------------------------------------

SEGMENT_CHARS = st.characters(
    codec="utf-8", categories=("L", "N", "P", "S", "Zs"), include_characters="~%/-._ +\u00e9\u4e2d"
)
QUERY_CHARS = st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00")
# reserved characters a client may or may not escape in a path; '%', '?', '#' and '/' always are
PATH_SAFE = st.sampled_from(["", "~", "~@:!$&'()*+,;=", "~:@+"])
RESERVED_HEADERS = {
    "host",
    "content-type",
    "x-sdk-date",
    "authorization",
    "x-project-id",
    "x-security-token",
    "accept",
    "accept-encoding",
    "connection",
    "user-agent",
    "content-length",
    "x-sdk-content-sha256",
}


@st.composite
def raw_paths(draw):
    """A path as it goes on the wire: segments with spaces, unicode, '~', '%2F', encoded per segment."""
    segments = draw(st.lists(st.text(SEGMENT_CHARS, max_size=8), min_size=1, max_size=5))
    segments = [s for s in segments if s not in {".", ".."} and s.strip(".")]  # httpx resolves dot segments
    safe = draw(PATH_SAFE)
    path = "/" + "/".join(quote(s, safe=safe) for s in segments)
    return path + ("/" if draw(st.booleans()) else "")


def queries():
    """Query pairs with repeated keys, empty values and keys that need encoding."""
    keys = st.one_of(st.sampled_from(["from", "size", "queue_name", "a", "a5", "a:"]), st.text(QUERY_CHARS, max_size=6))
    values = st.one_of(st.sampled_from(["", "0", "100", "x y", "a+b", "~/?&="]), st.text(QUERY_CHARS, max_size=8))
    return st.lists(st.tuples(keys, values), max_size=6)


def extra_headers():
    """Additional headers, some with '_' in their name (left unsigned), values with stray spaces."""
    names = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_-]{0,12}\Z").filter(lambda n: n.lower() not in RESERVED_HEADERS)
    values = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)
    padded = st.tuples(st.sampled_from(["", " "]), values, st.sampled_from(["", "  "])).map("".join)
    pairs = st.lists(st.tuples(names, padded), max_size=4, unique_by=lambda p: p[0].lower())
    return pairs.map(dict)


def json_bodies():
    """JSON request bodies like a create call would send (unicode kept raw), or none."""
    leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10))
    obj = st.dictionaries(st.text(max_size=6), st.one_of(leaf, st.lists(leaf, max_size=3)), max_size=4)
    return obj.map(lambda o: json.dumps(o, ensure_ascii=False).encode())


@st.composite
def requests(draw):
    """A whole request: method, wire path, query, extra headers, body, optional project and STS token."""
    method = draw(st.sampled_from(["GET", "POST", "DELETE", "PUT"]))
    body = draw(json_bodies()) if method in {"POST", "PUT"} else b""
    token = draw(st.one_of(st.just(""), st.from_regex(r"\A[A-Za-z0-9+/=]{1,40}\Z")))
    project = draw(st.sampled_from(["", PID]))
    return method, draw(raw_paths()), draw(queries()), draw(extra_headers()), body, project, token


def _sdk_authorization(method, path, query, headers, body, project, token, host=HOST):
    """What huaweicloudsdkcore's Signer puts in Authorization for the same request."""
    header_params = {"Content-Type": "application/json", "X-Sdk-Date": DATE, **headers}
    if project:
        header_params["X-Project-Id"] = project
    if token:
        header_params["X-Security-Token"] = token
    req = SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=path,
        query_params=list(query),
        header_params=header_params,
        body=body or None,
    )
    Signer(BasicCredentials(AK, SK)).sign(req)
    return req.header_params["Authorization"]


def _our_headers(headers, project, token, host=HOST):
    """The final header set our pure signer is given for the same request."""
    out = {"Content-Type": "application/json", "X-Sdk-Date": DATE, "Host": host, **headers}
    if project:
        out["X-Project-Id"] = project
    if token:
        out["X-Security-Token"] = token
    return out


CROSS = settings(max_examples=examples(250), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@CROSS
@given(requests())
def test_signer_matches_official_sdk(request_parts):
    """watcher.signer.authorization equals the SDK's Authorization header for arbitrary requests."""
    method, path, query, headers, body, project, token = request_parts
    ours = authorization(SignedRequest(method, path, tuple(query), _our_headers(headers, project, token), body), AK, SK)
    assert ours == _sdk_authorization(method, path, query, headers, body, project, token)


@CROSS
@given(requests())
def test_httpx_sign_request_matches_official_sdk(request_parts):
    """auth.sign_request on a real httpx.Request (what goes on the wire) matches the SDK."""
    method, path, query, headers, body, project, token = request_parts
    request = httpx.Request(method, f"https://{HOST}{path}", params=query, headers=headers, content=body)
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    sign_request(request, AK, SK, now, project_id=project, security_token=token)
    assert request.headers["Authorization"] == _sdk_authorization(method, path, query, headers, body, project, token)
    parsed = parse_authorization(request.headers["Authorization"])
    assert parsed is not None
    assert not any("_" in name for name in parsed.signed_headers)
    assert ("x-security-token" in parsed.signed_headers) == bool(token)


@pytest.mark.parametrize(
    ("path", "query", "headers", "body"),
    [
        (f"/v2.0/{PID}/batches/{BATCH}", [], {}, b""),
        ("/v2.0/p/batches/a b/caf\u00e9", [("from", "0"), ("size", "")], {}, b""),
        ("/v2.0/p/batches/a%2Fb/~x", [("k", "v1"), ("k", "v0"), ("k", "")], {}, b""),
        ("/batches", [("a b", "c&d"), ("\u00fc", "="), ("x", "a+b")], {"X-Request-Id": " r1 "}, b""),
        ("/batches", [], {"X_Custom_Header": "unsigned", "X-Extra": "signed"}, b'{"file":"a.jar"}'),
        ("/batches", [("doAs", "bob")], {}, json.dumps({"name": "\u4e2d\u6587", "conf": {}}).encode()),
    ],
    ids=["details", "unicode-path", "slash-and-repeats", "encoded-keys", "underscore-header", "post-json"],
)
@pytest.mark.parametrize("token", ["", "STS-token-value"])
def test_named_cases_match_official_sdk(path, query, headers, body, token):
    """Hand-picked awkward requests agree with the SDK, with and without an STS token."""
    method = "POST" if body else "GET"
    ours = authorization(SignedRequest(method, path, tuple(query), _our_headers(headers, PID, token), body), AK, SK)
    assert ours == _sdk_authorization(method, path, query, headers, body, PID, token)


def test_non_json_content_type_matches_sdk():
    """A non-JSON body is signed as UNSIGNED-PAYLOAD with X-Sdk-Content-Sha256, like the SDK."""
    body = b"plain text body"
    request = httpx.Request("PUT", f"https://{HOST}/x", headers={"Content-Type": "text/plain"}, content=body)
    sign_request(request, AK, SK, datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())
    assert request.headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    sdk = SdkRequest(
        method="PUT",
        schema="https",
        host=HOST,
        resource_path="/x",
        query_params=[],
        header_params={"Content-Type": "text/plain", "X-Sdk-Date": DATE},
        body=body,
    )
    Signer(BasicCredentials(AK, SK)).sign(sdk)
    assert request.headers["Authorization"] == sdk.header_params["Authorization"]


# --- verify ---------------------------------------------------------------------------------------


def _signed(method="GET", path=f"/v2.0/{PID}/batches/{BATCH}", query=(("from", "0"),), body=b"", **extra):
    """A request carrying our own Authorization header."""
    headers = {**HEADERS, "X-Security-Token": "sts", **extra}
    req = SignedRequest(method, path, query, headers, body)
    return SignedRequest(method, path, query, {**headers, "Authorization": authorization(req, AK, SK)}, body)


def _with(req, **changes):
    """A copy of a signed request with some parts replaced (the Authorization header kept)."""
    parts = {
        "method": req.method,
        "path": req.path,
        "query": req.query,
        "headers": req.headers,
        "body": req.body,
        **changes,
    }
    return SignedRequest(**parts)


def test_verify_accepts_own_signatures():
    """verify() accepts what authorization() produced, including for the published vectors."""
    assert verify(_signed(), {AK: SK})
    assert verify(_signed("POST", body=b'{"a": 1}'), {AK: SK, "OTHER": "x"})
    vector = {**HEADERS, "Authorization": DETAILS["authorization"]}
    assert verify(SignedRequest("GET", f"/v2.0/{PID}/batches/{BATCH}", (), vector), {AK: SK})


def test_verify_accepts_equivalent_encodings_and_unsigned_changes():
    """A differently escaped path, lower-cased header names, or a changed unsigned header still verify."""
    req = _signed(path="/v2.0/p/batches/a b", X_Trace="one")
    assert verify(_with(req, path="/v2.0/p/batches/a%20b"), {AK: SK})
    assert verify(_with(req, headers={k.lower(): v for k, v in req.headers.items()}), {AK: SK})
    assert verify(_with(req, headers={**req.headers, "X_Trace": "two", "User-Agent": "x"}), {AK: SK})


def _tamper_signature(req):
    """Flip the last hex digit of the signature."""
    auth = req.headers["Authorization"]
    flipped = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    return _with(req, headers={**req.headers, "Authorization": flipped})


TAMPERS = {
    "method": lambda r: _with(r, method="DELETE"),
    "path": lambda r: _with(r, path=r.path + "x"),
    "path-slash": lambda r: _with(r, path=r.path.replace("batches/", "batches%2F", 1) + "/y"),
    "query-value": lambda r: _with(r, query=(("from", "1"),)),
    "query-added": lambda r: _with(r, query=(*r.query, ("size", "10"))),
    "query-dropped": lambda r: _with(r, query=()),
    "body": lambda r: _with(r, body=b'{"a": 2}'),
    "signed-header": lambda r: _with(r, headers={**r.headers, "X-Project-Id": "f" * 32}),
    "security-token": lambda r: _with(r, headers={**r.headers, "X-Security-Token": "other"}),
    "date": lambda r: _with(r, headers={**r.headers, "X-Sdk-Date": "20240102T030406Z"}),
    "host": lambda r: _with(r, headers={**r.headers, "Host": "evil.example.com"}),
    "signature": _tamper_signature,
    "signed-header-missing": lambda r: _with(r, headers={k: v for k, v in r.headers.items() if k != "X-Project-Id"}),
}


@pytest.mark.parametrize("tamper", TAMPERS.values(), ids=TAMPERS.keys())
def test_verify_rejects_tampering(tamper):
    """Any change to method, path, query, body, a signed header or the signature fails verification."""
    req = _signed("POST", body=b'{"a": 1}')
    assert verify(req, {AK: SK})
    assert not verify(tamper(req), {AK: SK})


def test_verify_rejects_unknown_or_wrong_keys_and_bad_headers():
    """Unknown AK, wrong SK, malformed or missing Authorization, and an unsigned date are all refused."""
    req = _signed()
    assert not verify(req, {})
    assert not verify(req, {"AKOTHER": SK})
    assert not verify(req, {AK: SK + "x"})
    for bad in ("", "Bearer abc", "SDK-HMAC-SHA256 Access=x", "SDK-HMAC-SHA256 garbage, more"):
        assert not verify(_with(req, headers={**req.headers, "Authorization": bad}), {AK: SK})
    no_date = {k: v for k, v in req.headers.items() if k != "X-Sdk-Date"}
    assert not verify(_with(req, headers=no_date), {AK: SK})


def test_verify_requires_the_date_to_be_signed():
    """A signature whose SignedHeaders leave out x-sdk-date is refused even when it is correct."""
    req = SignedRequest("GET", "/", (), HEADERS)
    names = [n for n in NAMES if n != "x-sdk-date"]

    def header(signed):
        sig = signature(req, signed, SK)
        return f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={';'.join(signed)}, Signature={sig}"

    assert not verify(SignedRequest("GET", "/", (), {**HEADERS, "Authorization": header(names)}), {AK: SK})
    assert verify(SignedRequest("GET", "/", (), {**HEADERS, "Authorization": header(NAMES)}), {AK: SK})


def test_parse_authorization_fields():
    """The three fields come back; other schemes and missing fields give None."""
    parsed = parse_authorization(DETAILS["authorization"])
    assert parsed is not None
    assert parsed.access_key == AK
    assert parsed.signed_headers == NAMES
    assert parsed.signature == "133a4aee4261b0f3658dff162d0f2a053ffb5de27010369c83f69aa6d9c1c61b"
    assert parse_authorization("SDK-HMAC-SM3 Access=a, SignedHeaders=b, Signature=c") is None
    assert parse_authorization("SDK-HMAC-SHA256 Access=a, Signature=c") is None
