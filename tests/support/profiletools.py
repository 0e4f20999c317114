"""Helpers for the profile tests."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from typing import Any
from wsgiref.util import setup_testing_defaults

from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from tests.support.client import call

__all__ = ["HASH", "NODE", "call", "content_md5", "use_profile", "wsgi"]

HASH = re.compile(r"^[0-9a-f]{40}$")
NODE = "node-7"


def use_profile(settings: Any, name: str, **extra: Any) -> None:
    settings.COUNTERBALANCE_ERRORS = {"PROFILE": name, "COMPUTE_NODE": NODE, **extra}


def wsgi(path: str, method: str = "GET", **environ: str) -> tuple[str, dict[str, str], bytes]:
    """The status line, headers and body a WSGI server gets from Django for one request."""
    env: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": method, **environ}
    setup_testing_defaults(env)
    env["wsgi.input"] = io.BytesIO(b"")
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    # As Django's test client does: the test database must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = WSGIHandler()(env, start_response)
        body = b"".join(result)
        result.close()  # type: ignore[attr-defined]
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return seen["status"], seen["headers"], body


def content_md5(content: bytes) -> str:
    return base64.b64encode(hashlib.md5(content, usedforsecurity=False).digest()).decode()
