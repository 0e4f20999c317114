"""The server boundary: ``ErrorEnvelopeWSGI`` and ``ErrorEnvelopeASGI`` envelope what Django
answers (or lets escape) before any middleware runs (J22), and leave everything else
untouched: a stream that fails after its headers (J21), a client that disconnects (J25).

WSGI requests run through wsgiref's real handler (what ``runserver`` uses), ASGI requests
through Django's real ASGI handler with hand-made scopes."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from asgiref.sync import async_to_sync
from django.core import signals
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import SimpleTestCase

from counterbalance_errors.asgi import ErrorEnvelopeASGI
from counterbalance_errors.testing import HASH_RE
from counterbalance_errors.wsgi import ErrorEnvelopeWSGI
from tests.support.docexamples import Example, examples
from tests.support.servers import WSGIResult, run_asgi, run_wsgi, scope_for

BAD_RFC2231 = "application/json; charset*=nonexist''abc"
LONG_CONTENT_TYPE = "application/x-www-form-urlencoded; x=" + "a" * (10_001 - 37)
DJANGO_6 = django.VERSION >= (6,)


@pytest.fixture(autouse=True)
def _keep_the_test_database_connection() -> Iterator[None]:
    """Django's real handlers close "old" connections on request_started/finished; its test
    client disconnects that receiver around each request, and so do these tests."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# --- WSGI ----------------------------------------------------------------------------------


def test_unwrapped_django_lets_the_server_answer_a_bad_rfc2231_content_type() -> None:
    """What the wrapper is for (Django 5.2 raises ValueError while building the request)."""
    result = run_wsgi(get_wsgi_application(), "/plain/form/", "POST", CONTENT_TYPE=BAD_RFC2231)
    assert result.status == 500
    assert result.headers["Content-Type"].startswith("text/plain")
    assert "ValueError" in result.errors or "BadRequest" in result.errors


@pytest.mark.parametrize("path", ["/plain/form/", "/no/such/url/"])
def test_wsgi_bad_rfc2231_content_type_is_enveloped(path: str) -> None:
    app = ErrorEnvelopeWSGI(get_wsgi_application())
    result = run_wsgi(app, path, "POST", b"{}", CONTENT_TYPE=BAD_RFC2231)
    assert result.status == 400
    body = result.json()
    assert body["error"]["code"] == "BadRequest"
    assert "nonexist" not in result.body.decode()
    assert HASH_RE.match(body["logging_hash"])
    assert result.headers["X-Counterbalance-Log-Hash"] == body["logging_hash"]
    assert result.headers["X-Counterbalance-Compute-Node"]
    assert int(result.headers["Content-Length"]) == len(result.body)


def test_wsgi_over_long_content_type() -> None:
    """Django 6 refuses a Content-Type over 10,000 characters while building the request
    (the wrapper answers BadRequest); Django 5.2 builds it and the (CSRF-exempt) view runs."""
    assert len(LONG_CONTENT_TYPE) == 10_001
    app = ErrorEnvelopeWSGI(get_wsgi_application())
    path = "/dj/form-without-csrf/"
    result = run_wsgi(app, path, "POST", b"a=1", CONTENT_TYPE=LONG_CONTENT_TYPE)
    if DJANGO_6:
        assert result.status == 400
        assert result.json()["error"]["code"] == "BadRequest"
    else:
        assert result.status == 200
        assert json.loads(result.body) == {"keys": ["a"]}


@pytest.mark.parametrize(
    ("path", "status"),
    [("/plain/success/", 200), ("/no/such/url/", 400), ("/plain/raise/unhandled/", 500)],
)
def test_wsgi_wrapper_passes_every_django_response_through_untouched(
    path: str, status: int
) -> None:
    wrapped = run_wsgi(ErrorEnvelopeWSGI(get_wsgi_application()), path)
    plain = run_wsgi(get_wsgi_application(), path)
    assert wrapped.status == plain.status == status

    def comparable(result: WSGIResult) -> Any:
        headers = {k: v for k, v in result.headers.items() if k != "Date"}
        body = json.loads(result.body)
        if isinstance(body, dict):
            body.pop("logging_hash", None)
        headers.pop("X-Counterbalance-Log-Hash", None)
        return result.status_line, headers, body

    assert comparable(wrapped) == comparable(plain)


def _starts_then_raises(write_first: bool) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        if write_first:
            write(b"partial")
        raise RuntimeError("after start")

    return app


def test_wsgi_exception_after_the_response_started_is_reraised() -> None:
    """Headers already sent: PEP 3333's start_response re-raises, the server handles it."""
    result = run_wsgi(ErrorEnvelopeWSGI(_starts_then_raises(write_first=True)))
    assert result.status == 200
    assert result.body == b"partial"
    assert "RuntimeError: after start" in result.errors


def test_wsgi_exception_after_start_response_but_before_any_byte_is_enveloped() -> None:
    result = run_wsgi(ErrorEnvelopeWSGI(_starts_then_raises(write_first=False)))
    assert result.status == 500
    assert result.json()["error"]["code"] == "InternalError"


# --- ASGI ----------------------------------------------------------------------------------


def test_j21_a_django_stream_that_fails_after_the_headers_is_left_to_the_server() -> None:
    """Headers and the first chunk are out: the wrapper cannot envelope, so the server sees the
    exception (wsgiref logs it and closes the connection)."""
    result = run_wsgi(ErrorEnvelopeWSGI(get_wsgi_application()), "/dj/streaming-then-raises/")
    assert result.status == 200
    assert result.body.startswith(b"partial")
    assert b"secret" not in result.body
    assert "RuntimeError: secret while streaming" in result.errors


def test_j25_client_disconnect_cancels_the_view_and_sends_nothing(settings: Any) -> None:
    """The client is gone before the slow async view ends: Django cancels the view (no
    RequestAborted escapes), and nothing is sent, neither a response nor an envelope."""
    # An async-capable chain: a sync-only middleware (BoomMiddleware) would hold the cancelled
    # request in its thread until the view returned.
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "tests.middleware.BoomMiddleware"]
    app = ErrorEnvelopeASGI(get_asgi_application())
    sent: list[dict[str, Any]] = []
    messages = iter(
        [
            {"type": "http.request", "body": b"", "more_body": False},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def go() -> None:
        # The view sleeps an hour unless it is cancelled; the timeout only bounds a failure.
        await asyncio.wait_for(
            app(scope_for("/profiles/slow-async/", b"s=3600"), receive, send), 30
        )

    async_to_sync(go)()
    assert sent == []


def test_unwrapped_django_answers_a_non_utf8_query_string_with_an_empty_400() -> None:
    status, headers, content, _ = async_to_sync(run_asgi)(
        get_asgi_application(), scope_for("/plain/success/", b"q=\xff\xfe")
    )
    assert status == 400
    assert content == b""
    assert headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/plain/success/", "/no/such/url/"])
def test_asgi_non_utf8_query_string_is_enveloped(path: str) -> None:
    app = ErrorEnvelopeASGI(get_asgi_application())
    status, headers, content, messages = async_to_sync(run_asgi)(
        app, scope_for(path, b"q=\xff\xfe")
    )
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    body = json.loads(content)
    assert body["error"]["code"] == "BadRequest"
    assert headers["X-Counterbalance-Log-Hash"] == body["logging_hash"]
    assert int(headers["Content-Length"]) == len(content)
    assert [m["type"] for m in messages] == ["http.response.start", "http.response.body"]


def test_asgi_bad_rfc2231_content_type() -> None:
    """Django 5.2 builds an ASGI request with it (no J22 there): the middleware sees it."""
    app = ErrorEnvelopeASGI(get_asgi_application())
    scope = scope_for("/plain/form/", headers=[(b"content-type", BAD_RFC2231.encode())])
    status, headers, content, _ = async_to_sync(run_asgi)(app, scope, b"{}")
    assert headers["Content-Type"] == "application/json" or status == 200
    if DJANGO_6:
        assert status == 400
        assert json.loads(content)["error"]["code"] == "BadRequest"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/plain/success/", 200), ("/no/such/url/", 400), ("/plain/raise/unhandled/", 500)],
)
def test_asgi_wrapper_passes_every_django_response_through_untouched(
    path: str, status: int
) -> None:
    wrapped = async_to_sync(run_asgi)(ErrorEnvelopeASGI(get_asgi_application()), scope_for(path))
    plain = async_to_sync(run_asgi)(get_asgi_application(), scope_for(path))
    assert wrapped[0] == plain[0] == status

    def comparable(result: Any) -> Any:
        _, headers, content, _ = result
        headers = {k: v for k, v in headers.items() if k != "X-Counterbalance-Log-Hash"}
        body = json.loads(content)
        if isinstance(body, dict):
            body.pop("logging_hash", None)
        return headers, body

    assert comparable(wrapped) == comparable(plain)


class ASGIWrapperTests(SimpleTestCase):
    async def test_exception_after_the_response_started_is_reraised(self) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise RuntimeError("after start")

        with pytest.raises(RuntimeError, match="after start"):
            await run_asgi(ErrorEnvelopeASGI(app), scope_for("/"))

    async def test_exception_before_the_response_started_is_enveloped(self) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            raise RuntimeError("secret before start")

        status, _, content, _ = await run_asgi(ErrorEnvelopeASGI(app), scope_for("/"))
        assert status == 500
        assert json.loads(content)["error"]["code"] == "InternalError"
        assert b"secret" not in content

    async def test_non_http_scopes_pass_through(self) -> None:
        seen: list[str] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope["type"])

        async def nothing() -> dict[str, Any]:
            return {}

        async def ignore(message: Any) -> None:
            return None

        await ErrorEnvelopeASGI(app)({"type": "lifespan"}, nothing, ignore)
        assert seen == ["lifespan"]

    async def test_an_error_status_the_middleware_saw_is_not_replaced(self) -> None:
        status, _, content, _ = await run_asgi(
            ErrorEnvelopeASGI(get_asgi_application()), scope_for("/no/such/url/")
        )
        assert status == 400
        assert json.loads(content)["error"]["code"] == "EndpointNotFound"


def test_the_wrappers_import_without_settings() -> None:
    """wsgi.py/asgi.py may import them before DJANGO_SETTINGS_MODULE is set (docs/servers.md)."""
    code = "import counterbalance_errors.wsgi, counterbalance_errors.asgi"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "."}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


# --- docs/servers.md cannot drift ----------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def test_servers_md_snippets_are_the_test_projects_entry_points() -> None:
    """The suite (and test_live_servers.py) serve exactly the documented wsgi.py/asgi.py."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs/servers.md").read_text(), re.S)
    assert len(blocks) == 2
    for block, module in zip(blocks, ["tests/wsgi.py", "tests/asgi.py"], strict=True):
        documented = block.replace("mysite.settings", "tests.settings").strip()
        assert documented in (ROOT / module).read_text()


@pytest.mark.parametrize("example", examples("servers.md"), ids=lambda e: e.title)
def test_servers_md_example(example: Example, settings: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"COMPUTE_NODE": "web-1"}
    app = ErrorEnvelopeWSGI(get_wsgi_application())
    environ = {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in example.request_headers.items()
        if name != "Content-Type"
    }
    result = run_wsgi(
        app,
        example.path,
        example.method,
        example.request_body.encode(),
        CONTENT_TYPE=example.request_headers.get("Content-Type", ""),
        **environ,
    )
    assert result.status == example.status
    body = result.json()
    for name, value in example.headers.items():
        expected = body["logging_hash"] if name == "X-Counterbalance-Log-Hash" else value
        assert result.headers[name] == expected
    documented = json.loads(example.body)
    documented["logging_hash"] = body["logging_hash"]
    assert body == documented
