"""The suite's one request helper: a test-client request over WSGI or ASGI.

Tests get it as the ``call`` fixture (``tests/conftest.py``); support modules import it.
"""

from __future__ import annotations

import functools
from typing import Any

from asgiref.sync import async_to_sync
from django.http import HttpResponseBase
from django.test import AsyncClient, Client

TRANSPORTS = ("wsgi", "asgi")


def call(
    transport: str,
    method: str,
    url: str,
    *,
    csrf: bool = False,
    csrf_cookie: bool = False,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> HttpResponseBase:
    """One request through Django's test client for ``transport``; 5xx come back as responses.

    ``method`` is any HTTP method (``"get"`` or ``"GET"``); the keyword arguments are those of
    the client's method of that name (``data``, ``content_type``, ``query_params``, ...).
    ``csrf`` enforces CSRF checks; ``csrf_cookie`` also sends a well-formed CSRF cookie, so that
    ``CsrfViewMiddleware`` goes on to read ``request.POST`` (in the middleware phase).
    """
    if transport not in TRANSPORTS:
        raise ValueError(f"unknown transport {transport!r}")
    client_class = AsyncClient if transport == "asgi" else Client
    client: Any = client_class(raise_request_exception=False, enforce_csrf_checks=csrf)
    if csrf_cookie:
        client.cookies["csrftoken"] = "a" * 32
    send = getattr(client, method.lower(), None)
    if send is None:  # a method the client has no shortcut for, e.g. PROPFIND
        send = functools.partial(client.generic, method.upper())
    if transport == "asgi":
        return async_to_sync(send)(url, headers=headers, **extra)  # type: ignore[no-any-return]
    return send(url, headers=headers, **extra)  # type: ignore[no-any-return]
