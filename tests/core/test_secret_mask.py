"""The one masking function: every secret the process holds, in raw, base64, URL-encoded and JSON-quoted forms."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from watcher.core.secrets import MASK, SecretMask, mask_secrets, secret_forms
from watcher.core.untrusted import Scrubber

# long secrets with characters every encoding treats differently: quotes, slashes, @, %, +, non-ASCII
LONG = st.text(alphabet='QXZqxz019"\\/@%+: é€', min_size=8, max_size=40).filter(lambda s: s.strip() == s)
FILLER = st.text(alphabet="abcdefghijklmnop ", max_size=30)


def shapes(secret: str, user: str = "alice") -> list[str]:
    """Every way a held secret comes back in server text."""
    pair = f"{user}:{secret}"
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(pair.encode()).decode(),
        base64.urlsafe_b64encode(b"x" + secret.encode()).decode(),
        base64.b64encode(b"yy" + secret.encode() + b"zz").decode(),
        quote(secret, safe=""),
        re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), quote(secret, safe="")),
        quote_plus(secret),
        json.dumps(secret),
        json.dumps(secret, ensure_ascii=False),
        json.dumps({"Proxy-Authorization": [f"Basic {base64.b64encode(pair.encode()).decode()}"]}),
        json.dumps(json.dumps({"password": secret})),  # JSON in a JSON string: quoted twice
    ]


@given(LONG, FILLER, FILLER, st.integers(0, 11))
def test_no_shape_of_a_long_secret_survives(secret: str, before: str, after: str, shape: int):
    """Whatever the shape and the text around it, the masked text holds none of the secret's forms."""
    mask = SecretMask([secret, f"alice:{secret}"])
    text = before + shapes(secret)[shape] + after
    out = mask(text)
    assert secret not in out
    assert base64.b64encode(f"alice:{secret}".encode()).decode() not in out
    assert MASK in out


def test_a_short_secret_is_masked_only_as_a_whole_value():
    """Under 8 characters: masked where it stands alone, never inside a longer word or in encodings."""
    mask = SecretMask(["hunter2"])
    assert mask("hunter2") == MASK
    assert mask("password: hunter2.") == f"password: {MASK}."
    assert mask("hunter22 xhunter2 hunter2x") == "hunter22 xhunter2 hunter2x"
    assert secret_forms("hunter2") == set()


def test_the_forms_of_one_secret():
    """Raw, JSON-escaped, percent-encoded (both cases) and base64 at every alignment."""
    forms = secret_forms('pa"ss/wörd@1')
    assert {'pa"ss/wörd@1', 'pa\\"ss/w\\u00f6rd@1', 'pa\\"ss/wörd@1', "pa%22ss%2Fw%C3%B6rd%401"} <= forms
    assert "pa%22ss%2fw%c3%b6rd%401" in forms
    encoded = base64.b64encode(b"prefix" + 'pa"ss/wörd@1'.encode()).decode()
    assert any(form in encoded for form in forms)


def test_mask_secrets_and_the_scrubber_share_it():
    """The one-call form and the scrubber (server text) mask the same shapes; a new IAM token is picked up."""
    tokens = ["iam-token-0000000001"]
    scrub = Scrubber(["PLANTED-proxy-pw"], dynamic=lambda: tokens)
    echoed = base64.b64encode(b"u:PLANTED-proxy-pw").decode()
    assert mask_secrets(f"x {echoed} y", ["u:PLANTED-proxy-pw"]) == f"x {MASK} y"
    assert "PLANTED" not in scrub(quote("PLANTED-proxy-pw"))
    tokens.append("iam-token-0000000002")
    assert scrub.mask(json.dumps({"t": "iam-token-0000000002"})) == json.dumps({"t": MASK})
    assert SecretMask([])("nothing to hide") == "nothing to hide"
