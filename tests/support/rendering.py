"""Errors rendered by a profile without a request: the pure half of every body-shape test.

This is the one place the suite calls a profile's ``render`` directly, so a change of its
signature is made here only.
"""

from __future__ import annotations

from django.http import HttpResponse

from counterbalance_errors import conf
from counterbalance_errors.catalog import from_exception
from counterbalance_errors.profiles import RenderContext, get_profile
from tests.views import RAISES

HASH = "0123456789abcdef0123456789abcdef01234567"


def render(kind: str) -> HttpResponse:
    """What the active profile answers for the exception of ``kind`` (``tests.views.RAISES``).

    The result is the response a view would send, minus the per-response headers a profile adds
    to every response (those need a request, and are tested through the client). The error gets
    the hash ``HASH`` when its canonical status is logged (``LOGGED_STATUSES``), as on a request.
    """
    error = from_exception(RAISES[kind]())
    logging_hash = HASH if error.status in conf.logged_statuses() else None
    rendered = get_profile().render(error, RenderContext(logging_hash=logging_hash))
    response = HttpResponse(rendered.content, status=rendered.status)
    if rendered.content_type is None:
        del response["Content-Type"]
    else:
        response["Content-Type"] = rendered.content_type
    if rendered.reason is not None:
        response.reason_phrase = rendered.reason
    for name, value in rendered.headers.items():
        response[name] = value
    return response
