"""The pages' HTML frame: escaping, links to batches, the one stylesheet, and the headers that make them safe.

Every string from the API (job names, queues, log lines, messages) is untrusted. It is escaped where
it is written (``esc``, for text and attribute values alike); batch IDs in URLs are percent-encoded
first. The Content-Security-Policy allows no script at all and only our own stylesheet (by hash),
so even an escape missed somewhere could not run anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
from urllib.parse import quote

from watcher import __version__
from watcher.web.httpwire import Response

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 1.5em 2em;color:#1d2329;background:#fff}
nav{padding:.6em 0;border-bottom:1px solid #d0d7de;margin-bottom:1em}
nav a{margin-right:1.2em}
a{color:#0b5cad;text-decoration:none}
a:hover{text-decoration:underline}
h1{font-size:1.35em;margin:.4em 0}
h2{font-size:1.1em;margin:1.4em 0 .5em}
h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;white-space:nowrap}
td.id{font-family:ui-monospace,monospace;font-size:.92em;white-space:nowrap}
tr.failing td{background:#fff1f0}
tr.pending td,tr.not_found td,tr.gone td{background:#fffbe6}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1.2em}
dt{color:#57606a}
dd{margin:0;overflow-wrap:anywhere}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere}
form{margin:.8em 0}
form label{margin-right:1em}
.counts span{display:inline-block;margin:0 1.2em .3em 0}
.bad{color:#b42318;font-weight:600}
.ok{color:#1a7f37;font-weight:600}
.muted{color:#57606a}
.pager{margin:.8em 0}
td.good{color:#1a7f37;font-weight:600}
td.bad{color:#b42318;font-weight:600}
td.warn{color:#9a6700;font-weight:600}
.attention{padding:.5em .8em;margin:.6em 0;border-radius:4px}
.attention ul{margin:.2em 0;padding-left:1.4em}
.bad-box{background:#fff1f0;border:1px solid #ffccc7}
.ok-box{background:#f0fff4;border:1px solid #b7ebc6}
.headline{font-size:1.1em;font-weight:600}
.headline.bad{color:#b42318}
.headline.good{color:#1a7f37}
time{border-bottom:1px dotted #8c959f}
summary{cursor:pointer}
.pager a,.pager span{margin-right:1em}
"""
STYLE_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = (
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)
NAV = (
    '<nav><a href="/"><b>dli-watcher</b></a><a href="/metrics">/metrics</a>'
    '<a href="/healthz">/healthz</a><a href="/readyz">/readyz</a></nav>'
)


def esc(value: object) -> str:
    """Text as HTML, safe in element content and in quoted attribute values alike."""
    return html.escape(str(value), quote=True)


def batch_path(batch_id: str) -> str:
    """The path of a batch's page: its ID percent-encoded whole, slashes included (unescaped for HTML)."""
    return "/batches/" + quote(batch_id, safe="")


def batch_link(batch_id: str) -> str:
    """A link to a batch's page, showing its ID."""
    return f'<a href="{esc(batch_path(batch_id))}">{esc(batch_id)}</a>'


def page(title: str, body: str, refresh: int = 0) -> str:
    """A whole document; ``title`` and ``body`` are HTML already, ``refresh`` reloads it every so many seconds."""
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">{meta}'
        f"<title>{title}</title><style>{CSS}</style></head>"
        f'<body>{NAV}{body}<p class="muted">dli-watcher {esc(__version__)}</p></body></html>\n'
    )


def html_response(status: int, document: str) -> Response:
    """An HTML page with the headers that keep it inert: the CSP, nosniff, no referrer, no caching."""
    return Response(status, document.encode(), HEADERS)
