"""Requests through real WSGI and ASGI handlers (wsgiref's, Django's), not the test client."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.handlers import SimpleHandler
from wsgiref.util import setup_testing_defaults


class WSGIResult:
    def __init__(self, raw: bytes, errors: str) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        self.status_line = status_line
        self.headers = dict(line.split(": ", 1) for line in header_lines)
        self.errors = errors

    def json(self) -> Any:
        assert self.headers["Content-Type"] == "application/json", self.headers
        return json.loads(self.body)


def run_wsgi(
    app: Callable[..., Iterable[bytes]],
    path: str = "/",
    method: str = "GET",
    body: bytes = b"",
    **environ: str,
) -> WSGIResult:
    """One request through wsgiref's handler, as ``runserver`` would serve it."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        **environ,
    }
    setup_testing_defaults(env)
    stdout, stderr = io.BytesIO(), io.StringIO()
    handler = SimpleHandler(io.BytesIO(body), stdout, stderr, env, multithread=False)
    handler.run(app)
    return WSGIResult(stdout.getvalue(), stderr.getvalue())


# --- ASGI ----------------------------------------------------------------------------------


def scope_for(
    path: str, query_string: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST" if headers else "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string,
        "root_path": "",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def run_asgi(
    app: Any, scope: dict[str, Any], body: bytes = b""
) -> tuple[int, dict[str, str], bytes, list[dict[str, Any]]]:
    messages: list[dict[str, Any]] = []
    received = False
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            # A client that stays connected until the response is complete (Django cancels
            # the view when it sees a disconnect).
            await done.wait()
            return {"type": "http.disconnect"}
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    start = messages[0]
    assert start["type"] == "http.response.start"
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    content = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], headers, content, messages
