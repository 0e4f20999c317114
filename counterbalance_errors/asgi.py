"""An ASGI wrapper for the errors Django answers before any middleware runs.

In ``asgi.py``::

    from django.core.asgi import get_asgi_application
    from counterbalance_errors.asgi import ErrorEnvelopeASGI

    application = ErrorEnvelopeASGI(get_asgi_application())

Under ASGI, Django answers a query string that is not UTF-8 with an empty HTML 400 before the
middleware chain runs, and on Django 6.x an unparsable ``Content-Type`` escapes to the server.
The wrapper replaces such responses (an error status the middleware never saw) and such
exceptions with the envelope. The envelope is built, and a logged error stored, in Django's
sync thread (``sync_to_async``), never on the event loop.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponseBase

from counterbalance_errors import catalog
from counterbalance_errors.middleware import SEEN_KEY
from counterbalance_errors.wsgi import envelope, envelope_for_escaped

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApplication = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _send_response(response: HttpResponseBase, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": getattr(response, "content", b"")})


class ErrorEnvelopeASGI:
    """Wrap an ASGI application so that nothing leaves it unenveloped."""

    def __init__(self, application: ASGIApplication) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.application(scope, receive, send)
            return
        started = False
        replacing = False

        async def guarded_send(message: Message) -> None:
            nonlocal started, replacing
            if message["type"] == "http.response.start":
                started = True
                if message["status"] >= 400 and not scope.get(SEEN_KEY):
                    replacing = True
                    error = catalog.from_status(message["status"])
                    response = await sync_to_async(envelope, thread_sensitive=True)(error)
                    await _send_response(response, send)
                    return
            elif replacing:
                return  # the original body of a replaced response
            await send(message)

        try:
            await self.application(scope, receive, guarded_send)
        except Exception as exc:
            if started:
                raise
            build = functools.partial(ASGIRequest, scope, io.BytesIO())
            response = await sync_to_async(envelope_for_escaped, thread_sensitive=True)(exc, build)
            await _send_response(response, send)
