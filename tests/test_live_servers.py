"""Smoke test on real servers: the test project under uvicorn (ASGI, ``tests/asgi.py``) and
gunicorn (WSGI, ``tests/wsgi.py``), both wrapped as docs/servers.md shows, on loopback."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVERS = {
    "uvicorn": ["-m", "uvicorn", "tests.asgi:application", "--lifespan", "off"],
    "gunicorn": ["-m", "gunicorn", "tests.wsgi:application", "--workers", "1"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, int]]:
    """Both servers, started in parallel (one start-up time, not two)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
        # In-memory SQLite whatever CB_DATABASE says: the servers must not write to a shared DB.
        "CB_DATABASE": "sqlite",
    }
    started: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    try:
        for name, args in SERVERS.items():
            port = free_port()
            bind = (
                ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
                if name == "uvicorn"
                else ["--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
            )
            process = subprocess.Popen(
                [sys.executable, *args, *bind],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            started[name] = (port, process)
        for port, process in started.values():
            wait_for(port, process)
        yield {name: port for name, (port, _) in started.items()}
    finally:
        for _, process in started.values():
            process.terminate()
        for _, process in started.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stderr is not None:
                process.stderr.close()


def get(
    port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=b"{}" if method == "POST" else None, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_unknown_url_and_unhandled_error_are_json_envelopes(
    servers: dict[str, int], server: str
) -> None:
    port = servers[server]

    status, headers, body = get(port, "/no/such/url/")
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "EndpointNotFound"
    assert headers["X-Counterbalance-Compute-Node"]

    status, headers, body = get(port, "/plain/raise/unhandled/")
    assert status == 500
    envelope = json.loads(body)
    assert envelope["error"]["code"] == "InternalError"
    assert headers["X-Counterbalance-Log-Hash"] == envelope["logging_hash"]
    assert b"secret" not in body

    status, headers, body = get(port, "/plain/success/")
    assert status == 200
    assert json.loads(body) == {"hello": "plain"}


def test_gunicorn_bad_rfc2231_content_type_is_an_envelope(servers: dict[str, int]) -> None:
    """J22 on a real WSGI server: without the wrapper gunicorn answers its own HTML 500."""
    status, headers, body = get(
        servers["gunicorn"],
        "/plain/form/",
        {"Content-Type": "application/json; charset*=nonexist''abc"},
        method="POST",
    )
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "BadRequest"


def test_uvicorn_itself_refuses_a_non_ascii_request_target(servers: dict[str, int]) -> None:
    """docs/servers.md: uvicorn answers a raw non-UTF-8 query string itself, before the
    application runs, so ErrorEnvelopeASGI only sees one from servers that pass it on (the
    direct ASGI tests in test_wsgi_asgi.py cover that path)."""
    request = b"GET /plain/success/?q=\xff HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    head, _, _ = raw(servers["uvicorn"], request).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"application/json" not in head
