"""docs/profiles.md: every example is replayed and compared with the real response.

Each ``## `name` `` section is one profile; its examples are pairs of fenced ``http`` blocks
(request, then response: status line with reason phrase, the headers, the JSON body). Values
that change per request are checked by form: a 40-hex logging hash, ``Response-Time``
digits, and a ``Content-MD5`` that must be the MD5 of the real body. Every header the library
adds must be shown, so the examples cannot leave one out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from counterbalance_errors.profiles import BUILTIN
from tests.support.docexamples import DOCS, _split
from tests.support.docexamples import _same as same
from tests.support.profiletools import HASH, call, content_md5, use_profile

#: The settings the examples are written with (the docs say so).
SETTINGS = {"COMPUTE_NODE": "web-1", "API_VERSION": "1.0.0", "GATEWAY_NODE": "gw-1", "REALM": "eu"}
#: Headers Django and its middleware add, not the profile.
NOT_OURS = frozenset(
    {
        "Vary",
        "Allow",
        "Content-Length",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Cross-Origin-Opener-Policy",
        "X-Frame-Options",
    }
)
_BLOCK = re.compile(r"```http\n(.*?)```", re.S)
_SECTION = re.compile(r"^## `(\w+)`$", re.M)


@dataclass
class Example:
    profile: str
    method: str
    path: str
    request_headers: dict[str, str]
    request_body: str
    status_line: str
    headers: dict[str, str]
    body: str


def examples() -> list[Example]:
    text = (DOCS / "profiles.md").read_text()
    found = []
    sections = list(_SECTION.finditer(text))
    for section in sections:
        end = text.find("\n## ", section.end())
        end = len(text) if end == -1 else end
        blocks = list(_BLOCK.finditer(text, section.end(), end))
        for request, response in zip(blocks[::2], blocks[1::2], strict=True):
            req_lines, req_body = _split(request.group(1))
            method, path = req_lines[0].split()[:2]
            resp_lines, resp_body = _split(response.group(1))
            found.append(
                Example(
                    profile=section.group(1),
                    method=method,
                    path=path,
                    request_headers=dict(line.split(": ", 1) for line in req_lines[1:]),
                    request_body=req_body,
                    status_line=resp_lines[0],
                    headers=dict(line.split(": ", 1) for line in resp_lines[1:]),
                    body=resp_body,
                )
            )
    return found


def check_header(name: str, documented: str, response: Any) -> None:
    actual = response[name]
    if name in ("Response-Time", "X-Response-Time"):
        assert actual.isdigit(), (name, actual)
    elif name == "Content-MD5":
        assert actual == content_md5(response.content)
        if not HASH.search(response.content.decode()):
            assert actual == documented, (name, actual)
    elif HASH.match(documented):
        assert HASH.match(actual), (name, actual)
    else:
        assert actual == documented, (name, actual)


EXAMPLES = examples()


def test_every_profile_has_its_four_examples() -> None:
    by_profile: dict[str, list[str]] = {}
    for example in EXAMPLES:
        by_profile.setdefault(example.profile, []).append(example.path)
    assert set(by_profile) >= set(BUILTIN)
    for name in BUILTIN:
        assert by_profile[name] == ["/orders/", "/orders/42/", "/search/", "/reports/"], name


@pytest.mark.django_db
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"{e.profile}-{e.method}-{e.path}")
def test_example_matches_a_real_response(settings: Any, example: Example) -> None:
    settings.ROOT_URLCONF = "tests.support.profile_docs_urls"
    use_profile(settings, example.profile, **SETTINGS)
    extra = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in example.request_headers.items()
        if name != "Content-Type"
    }
    if example.request_body:
        extra["content_type"] = example.request_headers["Content-Type"]
        extra["data"] = example.request_body
    response = call("wsgi", example.method, example.path, **extra)
    assert f"HTTP/1.1 {response.status_code} {response.reason_phrase}" == example.status_line
    for name, value in example.headers.items():
        check_header(name, value, response)
    ours = {name for name in response.headers if name not in NOT_OURS}
    assert ours == set(example.headers), (example.path, sorted(ours ^ set(example.headers)))
    if not example.body:
        assert response.content == b""
        return
    body = json.loads(response.content)
    assert same(json.loads(example.body), body), body
    # The hash in the body, when there is one, is the one in the header.
    in_body = set(re.findall(r"[0-9a-f]{40}", response.content.decode()))
    in_headers = {response[n] for n, v in example.headers.items() if HASH.match(v)}
    if in_body:
        assert in_body == in_headers
