"""Check the HTTP examples written in docs/*.md against real responses.

An example is two consecutive fenced ``http`` blocks: the request (``METHOD /path``, optional
header lines, optional body after a blank line) and the response (``HTTP/1.1 <status> …``, the
headers that must be present, then the JSON body, if any). A 40-hex value in the documented
response stands for "any logging hash"; the body's hash must equal the hash header.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.test import Client

DOCS = Path(__file__).resolve().parents[2] / "docs"
HASH = re.compile(r"^[0-9a-f]{40}$")
_BLOCK = re.compile(r"```http\n(.*?)```", re.S)


@dataclass
class Example:
    title: str
    method: str
    path: str
    request_headers: dict[str, str]
    request_body: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


def _split(block: str) -> tuple[list[str], str]:
    head, _, body = block.partition("\n\n")
    return [line for line in head.splitlines() if line.strip()], body.strip()


def examples(doc: str) -> list[Example]:
    text = (DOCS / doc).read_text()
    found = []
    matches = list(_BLOCK.finditer(text))
    for request, response in zip(matches[::2], matches[1::2], strict=True):
        title = text[: request.start()].rstrip().rsplit("\n### ", 1)[-1].splitlines()[0]
        req_lines, req_body = _split(request.group(1))
        method, path = req_lines[0].split()[:2]
        resp_lines, resp_body = _split(response.group(1))
        assert resp_lines[0].startswith("HTTP/1.1 "), resp_lines[0]
        found.append(
            Example(
                title=title,
                method=method,
                path=path,
                request_headers=dict(line.split(": ", 1) for line in req_lines[1:]),
                request_body=req_body,
                status=int(resp_lines[0].split()[1]),
                headers=dict(line.split(": ", 1) for line in resp_lines[1:]),
                body=resp_body,
            )
        )
    return found


def _same(documented: Any, actual: Any) -> bool:
    if isinstance(documented, str) and HASH.match(documented):
        return isinstance(actual, str) and bool(HASH.match(actual))
    if isinstance(documented, dict):
        return (
            isinstance(actual, dict)
            and documented.keys() == actual.keys()
            and all(_same(v, actual[k]) for k, v in documented.items())
        )
    if isinstance(documented, list):
        return (
            isinstance(actual, list)
            and len(documented) == len(actual)
            and all(_same(d, a) for d, a in zip(documented, actual, strict=True))
        )
    return bool(documented == actual)


def check(example: Example, client: Client) -> None:
    extra = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in example.request_headers.items()
        if name.lower() != "content-type"
    }
    content_type = example.request_headers.get("Content-Type", "application/octet-stream")
    response = client.generic(
        example.method,
        example.path,
        data=example.request_body.encode(),
        content_type=content_type,
        **extra,
    )
    assert response.status_code == example.status, (example.title, response.content)
    for name, value in example.headers.items():
        actual = response.get(name)
        if HASH.match(value):
            assert actual is not None, (example.title, name)
            assert HASH.match(actual), (example.title, name, actual)
        else:
            assert actual == value, (example.title, name, actual)
    if not example.body:
        assert response.content == b"", (example.title, response.content)
        return
    body = json.loads(response.content)
    assert _same(json.loads(example.body), body), (example.title, body)
    hash_headers = [v for v in example.headers.values() if HASH.match(v)]
    if hash_headers and isinstance(body, dict) and "logging_hash" in body:
        assert body["logging_hash"] in response.headers.values()
